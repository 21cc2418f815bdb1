//! The CRM groups screen (`/portal/crm-groups`) through the real app: create a group and add
//! terms versions through the forms (with CSRF), errors kept next to their field, a name taken,
//! the members' consent after a keyword journey with links to the message and the agreement,
//! escaping, another partner's group answering 404, and a form without its CSRF token refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    portal_list::charity_with_a_member,
    support::{INBOUND_TOKEN, TestApp, portal::PortalClient},
};

const LIST: &str = "/portal/crm-groups";

/// Creates a group named `name` through the form; the answer (a 303 to its page, or the form
/// again).
async fn create_group(portal: &PortalClient, name: &str) -> crate::support::portal::Page {
    portal.submit(LIST, LIST, &[("name", name)]).await
}

/// Adds a terms version to the group page `group` (a path) through its form.
async fn add_terms(portal: &PortalClient, group: &str, text: &str) -> crate::support::portal::Page {
    let action = format!("{group}/terms");
    portal.submit(group, &action, &[("text", text)]).await
}

/// The partner's groups through the JSON API.
async fn api_groups(app: &TestApp, key: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/v1/crm-groups", key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn creates_a_group_adds_terms_versions_and_offers_it_in_the_dialogue_form() {
    let app = TestApp::spawn().await;
    let (partner, key) = app.partner("CRM charity").await;
    let portal = app.portal_login(&partner).await;

    let empty = portal.get(LIST).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.html);
    assert!(empty.html.contains("id=\"no-groups\""), "{}", empty.html);
    assert!(
        empty.html.contains("aria-current=\"page\">CRM groups"),
        "the nav marks the screen"
    );
    let form = portal.get("/portal/dialogues/new").await;
    assert!(form.html.contains("href=\"/portal/crm-groups\""));

    let created = create_group(&portal, "  Donors ").await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.html);
    let group = created.location().to_owned();
    let id = group
        .strip_prefix("/portal/crm-groups/")
        .unwrap()
        .to_owned();
    let page = portal.get(&group).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>Donors</h1>"), "{}", page.html);
    assert!(page.html.contains("The CRM group is created."), "the flash");
    assert!(page.html.contains("id=\"no-terms\""));
    assert!(
        !page.html.contains("id=\"create-dialogue\""),
        "no terms yet"
    );
    let list = portal.get(LIST).await;
    assert!(list.html.contains("No terms yet"), "{}", list.html);
    assert!(list.html.contains(&format!("href=\"{group}#new-terms\"")));
    let form = portal.get("/portal/dialogues/new").await;
    assert!(
        !form.html.contains(&format!("value=\"{id}\"")),
        "a group without terms is not offered"
    );

    let first = "You agree to be charged\nevery month until you stop.";
    let added = add_terms(&portal, &group, first).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.html);
    assert_eq!(added.location(), group);
    let page = portal.get(&group).await;
    assert!(
        page.html.contains("The new terms version is saved."),
        "flash"
    );
    assert!(page.html.contains("Version 1 of "), "{}", page.html);
    assert!(
        page.html
            .contains(&format!("id=\"current-terms\">{first}</div>"))
    );
    assert!(page.html.contains("name=\"text\" rows"));
    assert!(
        page.html.contains(&format!("{first}</textarea>")),
        "prefilled"
    );
    assert!(
        page.html
            .contains("Members keep the version they consented to")
    );
    assert!(page.html.contains(&portal.email), "the author of version 1");
    assert!(page.html.contains(&format!(
        "href=\"/portal/dialogues/new?crm_group_id={id}\" id=\"create-dialogue\""
    )));

    assert_eq!(
        add_terms(&portal, &group, "Version two.").await.status,
        StatusCode::SEE_OTHER
    );
    let page = portal.get(&group).await;
    let v2 = page.html.find("data-version=\"2\"").expect("version 2");
    let v1 = page
        .html
        .find("data-version=\"1\"")
        .expect("version 1 kept");
    assert!(v2 < v1, "newest first");
    assert!(
        page.html
            .contains("id=\"current-terms\">Version two.</div>")
    );
    let list = portal.get(LIST).await;
    assert!(list.html.contains("Version 2 of "), "{}", list.html);

    let form = portal
        .get(&format!("/portal/dialogues/new?crm_group_id={id}"))
        .await;
    assert!(
        form.html
            .contains(&format!("<option value=\"{id}\" selected>Donors</option>")),
        "offered, and chosen: {}",
        form.html
    );
    let (_, terms) = app
        .get(&format!("/api/v1/crm-groups/{id}/terms"), &key)
        .await;
    assert_eq!(terms["items"][0]["version"], 2, "{terms}");
}

#[tokio::test]
async fn errors_are_shown_next_to_the_field_with_what_was_typed() {
    let app = TestApp::spawn().await;
    let (partner, key) = app.partner("CRM charity").await;
    let portal = app.portal_login(&partner).await;

    let blank = create_group(&portal, "   ").await;
    assert_eq!(
        blank.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        blank.html
    );
    assert!(blank.html.contains("id=\"name-error\""), "{}", blank.html);
    assert!(blank.html.contains("aria-invalid=\"true\""));
    let long = "x".repeat(101);
    let too_long = create_group(&portal, &long).await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.html.contains(&format!("value=\"{long}\"")), "kept");

    let group = create_group(&portal, "Donors").await.location().to_owned();
    let taken = create_group(&portal, "Donors").await;
    assert_eq!(
        taken.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        taken.html
    );
    assert!(
        taken.html.contains("already exists</p>") && taken.html.contains("value=\"Donors\""),
        "{}",
        taken.html
    );
    assert_eq!(api_groups(&app, &key).await.len(), 1, "nothing more saved");

    let empty = add_terms(&portal, &group, " \n ").await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.html
    );
    assert!(empty.html.contains("id=\"text-error\""), "{}", empty.html);
    let huge = format!("Terms {}", "y".repeat(20_000));
    let refused = add_terms(&portal, &group, &huge).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.html.contains(&format!("{huge}</textarea>")), "kept");
    assert!(refused.html.contains("id=\"no-terms\""), "nothing saved");
}

#[tokio::test]
async fn members_show_their_consent_with_the_message_and_the_agreement() {
    let app = TestApp::spawn().await;
    let (partner, key, dialogue, agreement) = charity_with_a_member(&app).await;
    app.run_pending_jobs().await;
    let groups = api_groups(&app, &key).await;
    let id = groups[0]["id"].as_str().unwrap();
    let (_, members) = app
        .get(&format!("/api/v1/crm-groups/{id}/members"), &key)
        .await;
    let member = &members["items"][0];
    assert_eq!(member["agreement_id"], agreement.as_str(), "{members}");
    let message = member["inbound_message_id"].as_str().unwrap();

    let portal = app.portal_login(&partner).await;
    let list = portal.get(LIST).await;
    let row = &list.html[list.html.find(&format!("data-group=\"{id}\"")).unwrap()..];
    assert!(row.contains("data-stat=\"members\">1<"), "{row}");
    let page = portal.get(&format!("{LIST}/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let row = &page.html[page
        .html
        .find("data-member=\"+4791234567\"")
        .expect("the member")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("data-stat=\"terms_version\">1<"), "{row}");
    let message_link = format!("/portal/messages/{message}");
    assert!(row.contains(&format!("href=\"{message_link}\"")), "{row}");
    let anchor = format!("agreement-{agreement}");
    assert!(
        row.contains(&format!("href=\"/portal/dialogues/{dialogue}#{anchor}\"")),
        "{row}"
    );
    assert_eq!(portal.get(&message_link).await.status, StatusCode::OK);
    let dialogue_page = portal.get(&format!("/portal/dialogues/{dialogue}")).await;
    assert!(dialogue_page.html.contains(&format!("id=\"{anchor}\"")));

    // STOPP by SMS: the member left, and when and why is shown.
    let stop =
        json!({ "message_id": "gw-stop", "from": "+4791234567", "to": "2160", "text": "STOPP" });
    let (status, body) = app
        .call(
            Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(stop),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    app.run_pending_jobs().await;
    let page = portal.get(&format!("{LIST}/{id}")).await;
    let row = &page.html[page.html.find("data-member=\"+4791234567\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("(sms stop)"), "{row}");
    assert!(
        page.html.contains("data-stat=\"members\">0<"),
        "no current member"
    );
    app.stop().await;
}

#[tokio::test]
async fn another_partners_group_is_not_found_on_every_route() {
    let app = TestApp::spawn().await;
    let (_, key) = app.partner("Owner").await;
    let id = app.crm_group_with_terms(&key, "Secret donors").await;
    let (other, _) = app.partner("Someone else").await;
    let stranger = app.portal_login(&other).await;

    let list = stranger.get(LIST).await;
    assert!(!list.html.contains("Secret donors"), "{}", list.html);
    let page = stranger.get(&format!("{LIST}/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    let added = stranger
        .submit(LIST, &format!("{LIST}/{id}/terms"), &[("text", "Mine now")])
        .await;
    assert_eq!(added.status, StatusCode::NOT_FOUND, "{}", added.html);
    let (_, terms) = app
        .get(&format!("/api/v1/crm-groups/{id}/terms"), &key)
        .await;
    assert_eq!(terms["items"].as_array().unwrap().len(), 1, "{terms}");
    let members_page = stranger.get(&format!("{LIST}/{id}?cursor=zzz")).await;
    assert_eq!(members_page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hostile_names_and_terms_are_escaped() {
    let app = TestApp::spawn().await;
    let (partner, _) = app.partner("CRM charity").await;
    let portal = app.portal_login(&partner).await;
    let hostile = "<script>alert(1)</script>";
    let group = create_group(&portal, hostile).await.location().to_owned();
    add_terms(&portal, &group, &format!("{hostile}\n<b>bold</b>")).await;
    for path in [LIST, group.as_str(), "/portal/dialogues/new"] {
        let page = portal.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.html.contains(hostile), "{path}: {}", page.html);
        assert!(!page.html.contains("<b>bold"), "{path}");
        assert!(page.html.contains("&#60;script&#62;"), "{path}");
    }
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let (partner, key) = app.partner("CRM charity").await;
    let portal = app.portal_login(&partner).await;
    let refused = portal.post_form(LIST, &[("name", "Donors")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert!(api_groups(&app, &key).await.is_empty(), "nothing created");

    let group = create_group(&portal, "Donors").await.location().to_owned();
    let refused = portal
        .post_form(
            &format!("{group}/terms"),
            &[("text", "T"), ("csrf_token", "forged")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let page = portal.get(&group).await;
    assert!(page.html.contains("id=\"no-terms\""), "no terms added");
}
