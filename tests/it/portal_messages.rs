//! The portal's Messages tab through the real app: a keyword and its reply are listed newest
//! first with their status, filters narrow the list, Details shows Status and Date with the
//! history (as an htmx panel and as a page), the CSV export has the same rows, hostile texts
//! are escaped, and another partner's messages are never shown.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{INBOUND_TOKEN, TestApp};

/// A partner with a live GIVE dialogue whose reply carries `reply`, and one keyword from
/// `phone` handled (in + reply out). Returns the partner id and API key.
async fn keyword_texted(app: &TestApp, phone: &str, text: &str) -> (String, String) {
    let (partner, key) = app.partner("Messages charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    app.monthly_give_dialogue(&key, &group, "Takk! <b>{vipps_link}</b>")
        .await;
    let sms =
        json!({ "message_id": format!("gw-{phone}"), "from": phone, "to": "2160", "text": text });
    app.call(
        Method::POST,
        "/webhooks/sms/inbound",
        Some(INBOUND_TOKEN),
        Some(sms),
    )
    .await;
    app.run_pending_jobs().await;
    (partner, key)
}

#[tokio::test]
async fn the_messages_tab_lists_in_and_out_and_details_show_status_and_date() {
    let app = TestApp::spawn().await;
    let (partner, key) = keyword_texted(&app, "+4791234567", "give").await;
    let portal = app.portal_login(&partner).await;
    let page = portal.get("/portal/messages").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_eq!(
        page.html.matches("data-message=").count(),
        2,
        "{}",
        page.html
    );
    assert!(
        page.html.contains("aria-current=\"page\">Messages"),
        "the nav marks the tab"
    );
    // The reply is escaped: its <b> is text, not markup.
    assert!(page.html.contains("&#60;b&#62;"), "{}", page.html);
    assert!(!page.html.contains("<b>https"), "{}", page.html);

    let (_, api) = app.get("/api/v1/messages", &key).await;
    let inbound = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "in")
        .unwrap();
    let id = inbound["id"].as_str().unwrap();

    let only_in = portal.get("/portal/messages?direction=in").await;
    assert_eq!(only_in.html.matches("data-message=").count(), 1);
    assert!(only_in.html.contains(&format!("data-message=\"{id}\"")));
    let by_phone = portal.get("/portal/messages?phone=91234567").await;
    assert_eq!(
        by_phone.html.matches("data-message=").count(),
        2,
        "a phone in any form"
    );

    let panel = portal
        .get_htmx(&format!("/portal/messages/details?id={id}"))
        .await;
    assert_eq!(panel.status, StatusCode::OK);
    assert!(
        panel.html.contains("id=\"detail-status\">processed"),
        "{}",
        panel.html
    );
    assert!(panel.html.contains("id=\"detail-date\">"), "{}", panel.html);
    assert!(
        panel.html.contains("id=\"status-history\""),
        "{}",
        panel.html
    );
    assert!(!panel.html.contains("<html"), "a fragment, not a page");

    // Without JavaScript, Details is a page of its own.
    let no_js = portal
        .get(&format!("/portal/messages/details?id={id}"))
        .await;
    assert_eq!(no_js.status, StatusCode::SEE_OTHER);
    assert_eq!(no_js.location(), format!("/portal/messages/{id}"));
    let own = portal.get(&format!("/portal/messages/{id}")).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.html.contains("Status history"));
    let none = portal.get("/portal/messages/details").await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_export_has_the_filtered_rows_as_csv_with_a_byte_order_mark() {
    let app = TestApp::spawn().await;
    let (partner, _) = keyword_texted(&app, "+4791234568", "GIVE").await;
    let portal = app.portal_login(&partner).await;
    let csv = portal.get("/portal/messages.csv?direction=in").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.content_type().starts_with("text/csv"),
        "{}",
        csv.content_type()
    );
    assert!(csv.html.starts_with('\u{feff}'), "UTF-8 with a BOM");
    let lines: Vec<&str> = csv.html.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(
        "id,created_at,direction,from,to,dialogue_id,status,outcome,segments,encoding,text,error"
    ));
    assert!(lines[1].contains(",in,+4791234568,2160,"), "{}", lines[1]);
}

#[tokio::test]
async fn another_partners_messages_are_never_shown() {
    let app = TestApp::spawn().await;
    let (_, key) = keyword_texted(&app, "+4791234569", "GIVE").await;
    let (other, _) = app.partner("Someone else").await;
    let (_, api) = app.get("/api/v1/messages", &key).await;
    let id = api["items"][0]["id"].as_str().unwrap().to_owned();
    let stranger = app.portal_login(&other).await;
    let list = stranger.get("/portal/messages").await;
    assert_eq!(list.html.matches("data-message=").count(), 0);
    assert_eq!(
        stranger.get(&format!("/portal/messages/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let panel = stranger
        .get_htmx(&format!("/portal/messages/details?id={id}"))
        .await;
    assert_eq!(panel.status, StatusCode::NOT_FOUND);
    let csv = stranger.get("/portal/messages.csv").await;
    assert_eq!(
        csv.html.trim_end().split("\r\n").count(),
        1,
        "only the header"
    );
}
