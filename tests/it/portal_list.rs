//! The Dialogue list (`/portal/`): the period in the URL, the figures per dialogue with their
//! totals and chart, the empty state, escaping, isolation, and the same figures as the JSON
//! API's `GET /api/v1/dialogues?from&to` for the same data.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{INBOUND_TOKEN, Options, TestApp};

pub(crate) const PHONE: &str = "+4791234567";

async fn spawn_quiet() -> TestApp {
    TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await
}

/// A monthly dialogue named `name` with keyword `keyword`; its id.
pub async fn dialogue(app: &TestApp, key: &str, group: &str, name: &str, keyword: &str) -> String {
    let today = app.state.clock.today_oslo();
    let body = json!({
        "name": name, "crm_group_id": group,
        "start_date": today.to_string(), "end_date": (today + chrono::Days::new(365)).to_string(),
        "module_type": "vipps_payments", "recurring": true, "period": "month",
        "product_name": "Fast giver", "product_description": "Monthly support",
        "amount": "49.90", "sender": "2160", "reply_message": "Takk! {vipps_link}", "keyword": keyword
    });
    let (status, d) = app.post("/api/v1/dialogues", key, body).await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    d["id"].as_str().unwrap().to_owned()
}

/// Two partners with a dialogue each: (Charity's id, its key, its dialogue `name` with GIVE,
/// Other's dialogue with THEIRS), for isolation tests.
pub async fn mine_and_theirs(app: &TestApp, name: &str) -> (String, String, String, String) {
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let mine = dialogue(app, &key, &group, name, "GIVE").await;
    let (_, other_key) = app.partner("Other").await;
    let other_group = app.crm_group_with_terms(&other_key, "Theirs").await;
    let theirs = dialogue(app, &other_key, &other_group, "Theirs", "THEIRS").await;
    (partner, key, mine, theirs)
}

/// A partner "Charity" with a monthly GIVE dialogue and one member whose agreement is approved
/// in the simulator: (partner id, API key, dialogue id, agreement id).
pub async fn charity_with_a_member(app: &TestApp) -> (String, String, String, String) {
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let id = app
        .monthly_give_dialogue(&key, &group, "Takk! Bli fast giver: {vipps_link}")
        .await;
    let agreement = active_agreement(app, &key, &id).await;
    (partner, key, id, agreement)
}

/// A keyword texted to `dialogue` (keyword GIVE on 2160) and the agreement approved in the
/// simulator; its id, once drafted (the first payment follows the approval).
async fn active_agreement(app: &TestApp, key: &str, id: &str) -> String {
    // A keyword, the agreement approved in the simulator, its first payment charged.
    let body = json!({ "message_id": "gw-1", "from": PHONE, "to": "2160", "text": "GIVE" });
    let (status, reply) = app
        .call(
            Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(body),
        )
        .await;
    assert!(status.is_success(), "{status} {reply}");
    app.run_pending_jobs().await;
    let (_, page) = app
        .get(&format!("/api/v1/dialogues/{id}/agreements"), key)
        .await;
    let agreement = page["items"]
        .as_array()
        .and_then(|items| items.first())
        .filter(|a| a["vipps_agreement_id"].is_string())
        .cloned()
        .expect("a drafted agreement");
    let vipps_id = agreement["vipps_agreement_id"].as_str().unwrap();
    app.simulator
        .as_ref()
        .unwrap()
        .approve(vipps_id, None)
        .unwrap();

    agreement["id"].as_str().unwrap().to_owned()
}

/// The `<tr>` of `row` (a dialogue id, or `total`).
pub fn row<'a>(html: &'a str, row: &str) -> &'a str {
    let start = html
        .find(&format!(r#"data-dialogue="{row}""#))
        .unwrap_or_else(|| panic!("no row {row} in:\n{html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap()]
}

/// The text of the cell `data-stat="{stat}"` in a row.
pub fn stat(row: &str, stat: &str) -> String {
    let marker = format!(r#"data-stat="{stat}">"#);
    let at = row
        .find(&marker)
        .unwrap_or_else(|| panic!("no {stat} in {row}"))
        + marker.len();
    row[at..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn without_dialogues_it_invites_to_create_one() {
    let app = spawn_quiet().await;
    let (partner, _) = app.partner("Charity").await;
    let portal = app.portal_login(&partner).await;
    let page = portal.get("/portal/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.html.contains("<h1>Dialogues</h1>"));
    assert!(page.html.contains("No dialogues yet"));
    assert!(page.html.contains(r#"href="/portal/dialogues/new""#));
    assert!(page.html.contains(r#"aria-current="page""#));
    assert!(!page.html.contains(r#"id="dialogue-table""#));

    let anonymous = app.portal_client().get("/portal/").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(anonymous.location().starts_with("/portal/login"));
    app.stop().await;
}

#[tokio::test]
async fn lists_its_own_dialogues_escaped_with_state_period_and_amount() {
    let app = spawn_quiet().await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let id = dialogue(&app, &key, &group, "<script>alert(1)</script> & co", "GIVE").await;
    let (_, other_key) = app.partner("Other").await;
    let other_group = app.crm_group_with_terms(&other_key, "Theirs").await;
    let other = dialogue(&app, &other_key, &other_group, "Not yours", "THEIRS").await;

    let portal = app.portal_login(&partner).await;
    let page = portal.get("/portal/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("<script>alert"), "{}", page.html);
    assert!(
        page.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; co")
            || page
                .html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        "{}",
        page.html
    );
    let tr = row(&page.html, &id);
    assert!(tr.contains(&format!(r#"href="/portal/dialogues/{id}""#)));
    assert!(tr.contains("<strong>GIVE</strong> on 2160"), "{tr}");
    assert!(tr.contains("Month · 49,90\u{a0}kr"), "{tr}");
    assert!(tr.contains(r#"<span class="badge badge-good" data-stat="state">live</span>"#));
    assert_eq!(stat(tr, "keyword_messages"), "0");
    assert_eq!(stat(tr, "amount_charged"), "0,00\u{a0}kr");
    let total = row(&page.html, "total");
    assert_eq!(stat(total, "agreements_activated"), "0");
    assert!(page.html.contains(r#"<svg class="chart-svg""#));
    assert!(page.html.contains(r#"id="chart-table""#));
    // Another partner's dialogue is not listed.
    assert!(!page.html.contains(&other) && !page.html.contains("Not yours"));
    app.stop().await;
}

#[tokio::test]
async fn the_period_is_kept_in_the_url_and_htmx_gets_only_the_figures() {
    let app = spawn_quiet().await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    dialogue(&app, &key, &group, "Monthly", "GIVE").await;
    let portal = app.portal_login(&partner).await;
    let today = app.state.clock.today_oslo();

    let page = portal.get("/portal/?period=last-7-days").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains(r#"<option value="last-7-days" selected>"#)
    );
    let week_ago = today - chrono::Days::new(6);
    assert!(
        page.html
            .contains(&format!(r#"data-from="{week_ago}" data-to="{today}""#))
    );
    // 7 days: one bar per day.
    assert_eq!(page.html.matches(r#"<rect class="chart-bar""#).count(), 7);

    let page = portal
        .get("/portal/?period=custom&from=2026-01-01&to=2026-01-31")
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(r#"<option value="custom" selected>"#));
    assert!(page.html.contains("Figures for 01.01.2026 – 31.01.2026"));
    assert!(page.html.contains(r#"value="2026-01-01""#));
    // A shared link with dates only is a custom period too.
    let page = portal.get("/portal/?from=2026-01-01&to=2026-01-31").await;
    assert!(page.html.contains(r#"<option value="custom" selected>"#));

    let partial = portal.get_htmx("/portal/?period=today").await;
    assert_eq!(partial.status, StatusCode::OK);
    assert!(!partial.html.contains("<html") && !partial.html.contains("<form"));
    assert!(partial.html.contains(r#"id="dialogue-table""#));
    assert_eq!(
        partial.html.matches(r#"<rect class="chart-bar""#).count(),
        1
    );

    for bad in [
        "/portal/?period=yesterday",
        "/portal/?period=custom&from=2026-02-01&to=2026-01-01",
        "/portal/?from=soon",
    ] {
        let page = portal.get(bad).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.content_type().starts_with("text/html"));
    }
    app.stop().await;
}

#[tokio::test]
async fn pages_by_cursor_and_keeps_the_period() {
    let app = spawn_quiet().await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    for i in 0..51 {
        dialogue(&app, &key, &group, &format!("D{i}"), &format!("KW{i}")).await;
    }
    let portal = app.portal_login(&partner).await;
    let page = portal.get("/portal/?period=last-30-days").await;
    assert_eq!(
        page.html.matches("<tr data-dialogue=").count(),
        51,
        "50 and the total"
    );
    let marker = r#"<p class="pager"><a href=""#;
    let at = page.html.find(marker).expect("a next page") + marker.len();
    let next = page.html[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(
        next.starts_with("/portal/?period=last-30-days&cursor="),
        "{next}"
    );
    let second = portal.get(&next).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(second.html.matches("<tr data-dialogue=").count(), 2);
    assert!(second.html.contains("Total of this page"));
    assert!(
        second
            .html
            .contains(r#"<option value="last-30-days" selected>"#)
    );
    app.stop().await;
}

#[tokio::test]
async fn shows_the_same_figures_as_the_json_api() {
    let app = TestApp::spawn_with(Options::default()).await;
    let (partner, key, id, _) = charity_with_a_member(&app).await;

    let today = app.state.clock.today_oslo();
    let from = today - chrono::Days::new(6);
    app.run_pending_jobs().await;
    let (status, page) = app
        .get(&format!("/api/v1/dialogues?from={from}&to={today}"), &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let api_stats: Value = page["items"][0]["stats"].clone();
    assert!(
        api_stats["agreements_activated"] == 1 && api_stats["charges_charged"] == 1,
        "the first payment in the statistics: {api_stats}"
    );

    let portal = app.portal_login(&partner).await;
    let page = portal
        .get(&format!("/portal/?from={from}&to={today}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    for tr in [row(&page.html, &id), row(&page.html, "total")] {
        for name in [
            "keyword_messages",
            "agreements_drafted",
            "agreements_activated",
            "agreements_stopped",
            "agreements_expired",
            "charges_charged",
            "charges_failed",
        ] {
            assert_eq!(stat(tr, name), api_stats[name].to_string(), "{name}");
        }
        let nok = api_stats["amount_charged"]
            .as_str()
            .unwrap()
            .replace('.', ",");
        assert_eq!(stat(tr, "amount_charged"), format!("{nok}\u{a0}kr"));
    }
    assert_eq!(api_stats["keyword_messages"], 1);
    assert_eq!(api_stats["amount_charged"], "100.00");
    // Today's bar and its row in the chart's table.
    assert!(
        page.html.contains("100,00\u{a0}kr</title>"),
        "{}",
        page.html
    );
    app.stop().await;
}
