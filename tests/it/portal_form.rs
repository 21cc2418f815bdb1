//! The Create / edit Dialogue form through the real app: the seed's twelve fields in order,
//! only CRM groups with terms, every error at once with what was typed (and nothing saved), a
//! decimal comma, CSRF, tenant isolation, and the reply counter and keyword check fragments.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    Options, TestApp,
    portal::{Page, PortalClient},
};

async fn spawn() -> TestApp {
    TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await
}

/// A partner with a portal user logged in: (api key, client).
async fn partner(app: &TestApp, name: &str) -> (String, String, PortalClient) {
    let (id, key) = app.partner(name).await;
    let client = app.portal_login(&id).await;
    (id, key, client)
}

/// A valid form for `group`, with `overrides` replacing fields.
fn form<'a>(
    app: &TestApp,
    group: &'a str,
    overrides: &[(&'a str, &'a str)],
) -> Vec<(&'a str, String)> {
    let today = app.state.clock.today_oslo();
    let mut fields: Vec<(&str, String)> = vec![
        ("name", "Monthly giver".into()),
        ("crm_group_id", group.into()),
        ("start_date", today.to_string()),
        ("end_date", (today + chrono::Days::new(365)).to_string()),
        ("module_type", "vipps_payments".into()),
        ("recurring", "on".into()),
        ("period", "month".into()),
        ("product_name", "Fast giver".into()),
        ("product_description", "Monthly support".into()),
        ("amount", "100".into()),
        ("sender", "2160".into()),
        (
            "reply_message",
            "Thank you! Confirm here: {vipps_link}".into(),
        ),
        ("keyword", "JOIN".into()),
    ];
    for (name, value) in overrides {
        match fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = (*value).to_owned(),
            None => fields.push((name, (*value).to_owned())),
        }
    }
    fields
}

async fn submit(client: &PortalClient, page: &str, fields: &[(&str, String)]) -> Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    client.submit(page, page, &fields).await
}

/// An htmx POST to a fragment, with the page's CSRF token in the header as `base.html` sends it.
async fn fragment(client: &PortalClient, path: &str, fields: &[(&str, &str)]) -> Page {
    let token = client.get("/portal/dialogues/new").await.csrf_token();
    let resp = client
        .http
        .post(format!("{}{path}", client.base))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(fields)
        .send()
        .await
        .unwrap();
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

#[tokio::test]
async fn the_form_shows_the_seeds_twelve_fields_in_order() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Form order").await;
    app.crm_group_with_terms(&key, "Givers").await;
    let page = client.get("/portal/dialogues/new").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let labels = [
        r#"<label for="name">Name</label>"#,
        r#"<label for="crm_group_id">CRM Group</label>"#,
        "<legend>Start Date &amp; End Date</legend>",
        r#"<label for="start_date">Start Date</label>"#,
        r#"<label for="end_date">End Date</label>"#,
        r#"<label for="module_type">Module type</label>"#,
        r#"<label for="recurring">Recurring payments</label>"#,
        r#"<label for="period">Recurring period</label>"#,
        r#"<label for="product_name">Product name</label>"#,
        r#"<label for="product_description">Product description</label>"#,
        r#"<label for="amount">Amount in NOK</label>"#,
        r#"<label for="sender">Sender</label>"#,
        r#"<label for="reply_message">Reply message for incoming keyword</label>"#,
        r#"<label for="keyword">Keyword</label>"#,
    ];
    let mut last = 0;
    for label in labels {
        let at = page.html[last..]
            .find(label)
            .unwrap_or_else(|| panic!("{label} missing or out of order"))
            + last;
        last = at;
    }
    for needle in [
        r#"<option value="vipps_payments" selected>Vipps Payments</option>"#,
        r#"<option value="week">Week</option>"#,
        r#"<option value="month" selected>Month</option>"#,
        r#"<option value="year">Year</option>"#,
        r#"data-insert="{vipps_link}""#,
        ">Add Vipps link</button>",
        r#"hx-trigger="input changed delay:300ms""#,
        r#"hx-post="/portal/dialogue-form/reply-info""#,
        r#"hx-post="/portal/dialogue-form/keyword""#,
        r#"id="keyword-hint" aria-live="polite""#,
        r#"<script src="/portal/assets/portal-2.js" defer></script>"#,
        // The counter on first load, for an empty reply.
        "0 characters",
    ] {
        assert!(page.html.contains(needle), "{needle} missing");
    }
    let js = client.get("/portal/assets/portal-2.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.content_type().starts_with("text/javascript"));
    assert!(js.html.contains("setSelectionRange"));
}

#[tokio::test]
async fn the_crm_dropdown_lists_only_groups_with_terms() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Groups").await;
    let page = client.get("/portal/dialogues/new").await;
    assert!(page.html.contains("no CRM group with Terms and Conditions"));
    assert!(page.html.contains(r#"href="/portal/crm-groups""#));

    let with = app.crm_group_with_terms(&key, "With terms").await;
    let (status, without) = app
        .post(
            "/api/v1/crm-groups",
            &key,
            json!({ "name": "No terms yet" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let page = client.get("/portal/dialogues/new").await;
    assert!(
        page.html
            .contains(&format!(r#"<option value="{with}">With terms</option>"#))
    );
    assert!(!page.html.contains("No terms yet"));
    assert!(!page.html.contains(without["id"].as_str().unwrap()));
}

#[tokio::test]
async fn a_save_with_bad_fields_shows_every_error_keeps_what_was_typed_and_saves_nothing() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Errors").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    let fields = form(
        &app,
        &group,
        &[
            ("name", "<script>alert(1)</script>"),
            ("start_date", "31.02.2027"),
            ("amount", "0,50"),
            ("sender", "not a number"),
            ("reply_message", "No link in here, æøå"),
            ("keyword", "two words"),
        ],
    );
    let page = submit(&client, "/portal/dialogues/new", &fields).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    for field in ["start_date", "amount", "sender", "reply_message", "keyword"] {
        assert!(
            page.html.contains(&format!(
                r#"aria-invalid="true" aria-describedby="{field}-error""#
            )) || page.html.contains(&format!(r#"{field}-error""#)),
            "{field} not marked"
        );
        assert!(
            page.html
                .contains(&format!(r#"<p class="field-error" id="{field}-error">"#)),
            "{field} has no error"
        );
    }
    assert!(page.html.contains("must be a date (yyyy-mm-dd)"));
    // The summary names the fields by their labels, in the form's order.
    let summary = [
        "Start Date:",
        "Amount in NOK:",
        "Sender:",
        "Reply message:",
        "Keyword:",
    ]
    .map(|label| page.html.find(label).unwrap_or_else(|| panic!("{label}")));
    assert!(summary.is_sorted(), "{summary:?}");
    assert!(page.html.contains("must be at least 1.00 NOK"));
    // What was typed, escaped.
    assert!(
        page.html
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(!page.html.contains("<script>alert(1)"));
    for kept in [
        r#"value="31.02.2027""#,
        r#"value="0,50""#,
        r#"value="not a number""#,
        ">No link in here, æøå</textarea>",
        r#"value="two words""#,
        &format!(r#"<option value="{group}" selected>"#),
    ] {
        assert!(page.html.contains(kept), "{kept} not kept");
    }
    let (status, list) = app.get("/api/v1/dialogues", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}

#[tokio::test]
async fn an_amount_with_a_decimal_comma_is_saved_in_ore_and_the_save_goes_to_the_dialogue() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Comma").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    let page = submit(
        &client,
        "/portal/dialogues/new",
        &form(&app, &group, &[("amount", "49,90")]),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let id = page
        .location()
        .strip_prefix("/portal/dialogues/")
        .expect("to the dialogue's page")
        .to_owned();
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("portal_flash=saved"))
    );
    let (status, d) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["amount_ore"], 4990);
    assert_eq!(d["keyword"], "JOIN");

    // Edit shows it as a Norwegian types it, and saves a change.
    let edit = format!("/portal/dialogues/{id}/edit");
    let page = client.get(&edit).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(r#"value="49,90""#));
    assert!(page.html.contains(r#"value="Monthly giver""#));
    let page = submit(&client, &edit, &form(&app, &group, &[("amount", "59.90")])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let (_, d) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(d["amount_ore"], 5990);
}

#[tokio::test]
async fn a_keyword_in_use_is_an_error_at_the_keyword() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Taken").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    app.monthly_give_dialogue(&key, &group, "Hi {vipps_link}")
        .await;
    let page = submit(
        &client,
        "/portal/dialogues/new",
        &form(&app, &group, &[("keyword", "GIVE")]),
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains(r#"<p class="field-error" id="keyword-error">keyword GIVE is already used"#),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn a_post_without_a_csrf_token_is_refused() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Csrf").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    let fields = form(&app, &group, &[]);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let page = client.post_form("/portal/dialogues/new", &fields).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = client
        .post_form(
            "/portal/dialogue-form/reply-info",
            &[("reply_message", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (_, list) = app.get("/api/v1/dialogues", &key).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn another_partners_dialogue_is_not_found() {
    let app = spawn().await;
    let (_, key, _) = partner(&app, "Owner").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    let id = app
        .monthly_give_dialogue(&key, &group, "Hi {vipps_link}")
        .await;
    let (_, _, other) = partner(&app, "Other").await;
    let edit = format!("/portal/dialogues/{id}/edit");
    assert_eq!(other.get(&edit).await.status, StatusCode::NOT_FOUND);
    let token = other.get("/portal/dialogues/new").await.csrf_token();
    let mut fields = form(&app, &group, &[("name", "Stolen")]);
    fields.push(("csrf_token", token));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        other.post_form(&edit, &fields).await.status,
        StatusCode::NOT_FOUND
    );
    let (_, d) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(d["name"], "Monthly giver");
}

#[tokio::test]
async fn the_reply_counter_uses_the_servers_rules() {
    let app = spawn().await;
    let (_, _, client) = partner(&app, "Counter").await;
    let gsm = fragment(
        &client,
        "/portal/dialogue-form/reply-info",
        &[("reply_message", "Takk, æøå! {vipps_link}")],
    )
    .await;
    assert_eq!(gsm.status, StatusCode::OK, "{}", gsm.html);
    assert!(gsm.html.contains("GSM-7"), "{}", gsm.html);
    assert!(gsm.html.contains("1 SMS part<"), "{}", gsm.html);
    let ucs = fragment(
        &client,
        "/portal/dialogue-form/reply-info",
        &[("reply_message", "Takk 🎉 {vipps_link}")],
    )
    .await;
    assert!(ucs.html.contains("UCS-2"), "{}", ucs.html);
    assert!(ucs.html.contains("2 SMS parts"), "{}", ucs.html);
    assert!(!ucs.html.contains("<html"), "a fragment, not a page");
}

#[tokio::test]
async fn the_keyword_check_says_taken_for_a_keyword_in_use() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Check").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    app.monthly_give_dialogue(&key, &group, "Hi {vipps_link}")
        .await;
    let today = app.state.clock.today_oslo().to_string();
    let ask = |keyword: &'static str| {
        let client = client.clone();
        let today = today.clone();
        async move {
            fragment(
                &client,
                "/portal/dialogue-form/keyword",
                &[
                    ("keyword", keyword),
                    ("sender", "2160"),
                    ("start_date", &today),
                    ("end_date", &today),
                ],
            )
            .await
        }
    };
    let taken = ask("give").await;
    assert_eq!(taken.status, StatusCode::OK, "{}", taken.html);
    assert!(taken.html.contains("keyword-taken"), "{}", taken.html);
    assert!(taken.html.contains("Taken:"), "{}", taken.html);
    let free = ask("JOIN").await;
    assert!(free.html.contains("keyword-available"), "{}", free.html);
    let bad = ask("two words").await;
    assert!(bad.html.contains("keyword-invalid"), "{}", bad.html);
}

#[tokio::test]
async fn with_agreements_period_and_amount_are_read_only_with_the_reason() {
    let app = spawn().await;
    let (_, key, client) = partner(&app, "Agreed").await;
    let group = app.crm_group_with_terms(&key, "Givers").await;
    let id = app
        .monthly_give_dialogue(&key, &group, "Hi {vipps_link}")
        .await;
    let edit = format!("/portal/dialogues/{id}/edit");
    let before = client.get(&edit).await;
    assert!(before.html.contains(r#"<select id="period" name="period""#));
    assert!(!before.html.contains("agreements exist"));

    crate::support::db::insert_agreement(&app.state.db, &id, "+4791234567").await;
    let page = client.get(&edit).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("agreements exist: their price and period are agreed with Vipps users")
    );
    assert!(
        page.html.contains(r#"value="100,00 kr" readonly"#),
        "{}",
        page.html
    );
    assert!(page.html.contains(r#"value="Month" readonly"#));
    assert!(!page.html.contains(r#"<select id="period""#));

    // A request that tries to change them anyway changes only the rest.
    let fields = form(
        &app,
        &group,
        &[
            ("name", "Renamed"),
            ("keyword", "GIVE"),
            ("amount", "1,00"),
            ("period", "week"),
        ],
    );
    let page = submit(&client, &edit, &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let (_, d) = app.get(&format!("/api/v1/dialogues/{id}"), &key).await;
    assert_eq!(d["name"], "Renamed");
    assert_eq!(d["amount_ore"], 10000);
    assert_eq!(d["period"], "month");
}
