//! "Try it" (`/portal/dialogues/{id}/try`): the whole loop through the real app (the form with
//! CSRF, the inbound job, the reply with the simulator's link, the approval as the simulator's
//! PIN page posts it, ACTIVE with the first payment on the polled fragment), and what it
//! refuses: live Vipps (404, no link), another partner's dialogue (404), no CSRF token (403), a
//! bad phone (the form again with the field's error).

use reqwest::StatusCode;

use crate::{
    portal_list::{dialogue, mine_and_theirs, stat},
    support::{Options, TestApp},
};

const PHONE: &str = "+47 412 34 567";

/// The `href` of the Vipps link on a phone screen.
fn vipps_link(html: &str) -> String {
    let marker = r#"<a href=""#;
    let at = html
        .find(&format!(r#"{marker}http"#))
        .unwrap_or_else(|| panic!("a link in {html}"))
        + marker.len();
    html[at..].split('"').next().unwrap().replace("&#x2f;", "/")
}

#[tokio::test]
async fn texts_the_keyword_and_follows_the_agreement_until_it_is_active_and_paid() {
    let app = TestApp::spawn_with(Options::manual_billing()).await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let id = dialogue(&app, &key, &group, "Monthly giver", "GIVE").await;
    let portal = app.portal_login(&partner).await;

    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let try_path = format!("/portal/dialogues/{id}/try");
    assert!(
        page.html.contains(&format!(r#"href="{try_path}""#)),
        "the entry point"
    );
    let form = portal.get(&try_path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(
        form.html
            .contains(r#"name="text" type="text" value="GIVE""#)
    );
    assert!(
        form.html
            .contains(r#"name="phone" type="tel" value="+47 4"#)
    );
    assert!(!form.html.contains(r#"id="try-screen""#), "no phone yet");

    let sent = portal
        .submit(&try_path, &try_path, &[("phone", PHONE), ("text", "give")])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    let screen_page = format!("{try_path}?phone=%2B4741234567");
    assert_eq!(sent.location(), screen_page);
    let screen = format!("{try_path}/screen?phone=%2B4741234567");

    app.run_pending_jobs().await;
    let fragment = portal.get_htmx(&screen).await;
    assert_eq!(fragment.status, StatusCode::OK, "{}", fragment.html);
    assert!(!fragment.html.contains("<html"), "a fragment");
    assert!(
        fragment.html.contains(r#"data-direction="in""#),
        "the SMS sent"
    );
    assert!(fragment.html.contains("Takk! "), "the reply");
    assert!(
        fragment.html.contains(r#"hx-trigger="every 2s""#),
        "still polling"
    );
    assert_eq!(stat(&fragment.html, "agreement_status"), "PENDING");
    let link = vipps_link(&fragment.html);
    assert!(link.contains("/vipps-sim/landing/"), "{link}");
    assert!(
        fragment
            .html
            .contains("/vipps-sim/app/4741234567/recurring")
    );
    assert!(
        fragment
            .html
            .contains("/portal/messages?phone=%2B4741234567")
    );
    let whole = portal.get(&screen_page).await;
    assert!(whole.html.contains(r#"id="try-screen""#) && whole.html.contains("<html"));

    // The simulator's pages, as the browser walks them: the landing, the app, the PIN.
    let landing = portal.get(&link).await;
    assert_eq!(landing.status, StatusCode::OK);
    assert!(landing.html.contains("Open in the Vipps app?"));
    let back = "?back=%2Fportal%2Fdialogues%2F";
    assert!(
        fragment.html.contains(&format!(r#"href="{link}{back}"#)),
        "the way back"
    );
    let paid = portal
        .post_form(
            &format!("{link}/confirm"),
            &[("phone", "4741234567"), ("pin", "1234")],
        )
        .await;
    assert!(paid.html.contains("Paid"), "{}", paid.html);
    app.run_pending_jobs().await;

    let fragment = portal.get_htmx(&screen).await;
    assert_eq!(stat(&fragment.html, "agreement_status"), "ACTIVE");
    assert!(
        fragment.html.contains(r#"data-payment="CHARGED""#),
        "{}",
        fragment.html
    );
    assert!(fragment.html.contains("49,90\u{a0}kr"));
    assert!(!fragment.html.contains("hx-trigger"), "polling stops");
    assert!(!fragment.html.contains("Open the Vipps link"));
    app.stop().await;
}

#[tokio::test]
async fn refuses_another_partners_dialogue_no_token_and_a_bad_phone() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (partner, key, mine, theirs) = mine_and_theirs(&app, "Mine").await;
    let portal = app.portal_login(&partner).await;
    let try_mine = format!("/portal/dialogues/{mine}/try");

    for path in [
        format!("/portal/dialogues/{theirs}/try"),
        format!("/portal/dialogues/{theirs}/try?phone=%2B4741234567"),
        format!("/portal/dialogues/{theirs}/try/screen?phone=%2B4741234567"),
    ] {
        assert_eq!(
            portal.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let theirs_post = format!("/portal/dialogues/{theirs}/try");
    let sent = portal
        .submit(
            &try_mine,
            &theirs_post,
            &[("phone", PHONE), ("text", "THEIRS")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::NOT_FOUND);

    let refused = portal
        .post_form(&try_mine, &[("phone", PHONE), ("text", "GIVE")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    let bad = portal
        .submit(&try_mine, &try_mine, &[("phone", "12<b>"), ("text", " ")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(bad.html.contains(r#"id="phone-error""#), "{}", bad.html);
    assert!(bad.html.contains("may contain only digits"));
    assert!(bad.html.contains(r#"id="text-error""#));
    assert!(
        bad.html.contains(r#"value="12&#60;b&#62;""#) && !bad.html.contains("12<b>"),
        "what was typed, escaped: {}",
        bad.html
    );
    assert_eq!(
        portal.get(&format!("{try_mine}?phone=nope")).await.status,
        StatusCode::BAD_REQUEST
    );
    let (_, messages) = app.get("/api/v1/messages", &key).await;
    assert_eq!(
        messages["items"].as_array().map(Vec::len),
        Some(0),
        "{messages}"
    );
    app.stop().await;
}

#[tokio::test]
async fn is_not_there_when_payments_go_to_vipps() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        overrides: vec![
            ("vipps.mode", "live".into()),
            ("vipps.base_url", "http://127.0.0.1:9/vipps".into()),
            ("vipps.client_id", "live".into()),
            ("vipps.client_secret", "live".into()),
            ("vipps.subscription_key", "live".into()),
        ],
        ..Default::default()
    })
    .await;
    let (partner, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let id = dialogue(&app, &key, &group, "Mine", "GIVE").await;
    let portal = app.portal_login(&partner).await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("/try"), "no link to it");
    let try_path = format!("/portal/dialogues/{id}/try");
    for path in [
        try_path.clone(),
        format!("{try_path}?phone=%2B4741234567"),
        format!("{try_path}/screen?phone=%2B4741234567"),
    ] {
        assert_eq!(
            portal.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let sent = portal
        .submit(
            &format!("/portal/dialogues/{id}"),
            &try_path,
            &[("phone", PHONE), ("text", "GIVE")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
