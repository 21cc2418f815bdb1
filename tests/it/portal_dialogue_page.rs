//! The Dialogue page (`/portal/dialogues/{id}`): its figures by day/week/month, its agreements
//! with their payment history, stopping one after a confirmation (with CSRF), escaping and
//! isolation.

use reqwest::StatusCode;

use crate::{
    portal_list::{charity_with_a_member, mine_and_theirs},
    support::{Options, TestApp},
};

/// The text after `data-stat="{stat}">` in `html`, up to the next tag.
fn stat(html: &str, stat: &str) -> String {
    crate::portal_list::stat(html, stat)
}

#[tokio::test]
async fn shows_agreements_with_payments_and_stops_one_after_confirming() {
    let app = TestApp::spawn_with(Options::default()).await;
    let (partner, key, id, agreement) = charity_with_a_member(&app).await;
    app.run_pending_jobs().await;
    let (_, a) = app
        .get(&format!("/api/v1/agreements/{agreement}"), &key)
        .await;
    assert!(
        a["status"] == "ACTIVE" && a["charges"][0]["status"] == "CHARGED",
        "the first payment: {a}"
    );

    let portal = app.portal_login(&partner).await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>Monthly giver</h1>"));
    let card = &page.html[page
        .html
        .find(&format!(r#"data-agreement="{agreement}""#))
        .expect("the agreement")..];
    assert!(card.contains(">ACTIVE</span>"));
    assert!(card.contains("+4791234567"));
    assert_eq!(stat(card, "total_paid"), "100,00\u{a0}kr");
    assert!(card.contains("<summary>Payment history (1)</summary>"));
    assert!(card.contains(">CHARGED</span>"));
    let total = &page.html[page.html.find(r#"data-row="total""#).unwrap()..];
    assert_eq!(stat(total, "agreements_activated"), "1");
    assert_eq!(stat(total, "amount_charged"), "100,00\u{a0}kr");
    for by in ["week", "month"] {
        let page = portal.get(&format!("/portal/dialogues/{id}?by={by}")).await;
        assert_eq!(page.status, StatusCode::OK, "{by}");
    }
    assert_eq!(
        portal
            .get(&format!("/portal/dialogues/{id}?by=hour"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let stop = format!("/portal/dialogues/{id}/agreements/{agreement}/stop");
    assert!(page.html.contains(&format!(r#"href="{stop}""#)));
    let confirm = portal.get(&stop).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.html.contains("Stop this agreement?"));
    // Without the CSRF token nothing is stopped.
    let refused = portal.post_form(&stop, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    let done = portal.submit(&stop, &stop, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location(), format!("/portal/dialogues/{id}"));
    app.run_pending_jobs().await;
    let (_, a) = app
        .get(&format!("/api/v1/agreements/{agreement}"), &key)
        .await;
    assert_eq!(a["status"], "STOPPED", "the agreement stopped: {a}");
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert!(page.html.contains("Stop requested."), "the flash");
    assert!(page.html.contains(">STOPPED</span>"));
    assert!(!page.html.contains(&format!(r#"href="{stop}""#)));
    app.stop().await;
}

#[tokio::test]
async fn exports_the_dialogues_agreements_and_the_payments_due_in_the_period() {
    let app = TestApp::spawn().await;
    let (partner, _, id, agreement) = charity_with_a_member(&app).await;
    app.run_pending_jobs().await;
    let portal = app.portal_login(&partner).await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let agreements_csv = format!("/portal/dialogues/{id}/agreements.csv");
    assert!(page.html.contains(&format!(r#"href="{agreements_csv}""#)));
    assert!(
        page.html
            .contains(&format!("/portal/dialogues/{id}/charges.csv?from="))
    );

    let csv = portal.get(&agreements_csv).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    assert!(
        csv.html.starts_with('\u{feff}'),
        "a byte-order mark for Excel"
    );
    let lines: Vec<&str> = csv.html.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0]
            .trim_start_matches('\u{feff}')
            .starts_with("id,dialogue_id,phone,status")
    );
    assert!(
        lines[1].starts_with(&format!("{agreement},{id},+4791234567,ACTIVE")),
        "{lines:?}"
    );

    let csv = portal
        .get(&format!("/portal/dialogues/{id}/charges.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let lines: Vec<&str> = csv.html.trim_end().split("\r\n").collect();
    assert_eq!(
        lines.len(),
        2,
        "the first payment, due this month: {lines:?}"
    );
    assert!(
        lines[1].contains(&agreement) && lines[1].contains(",CHARGED,"),
        "{lines:?}"
    );
    let none = portal
        .get(&format!(
            "/portal/dialogues/{id}/charges.csv?from=2020-01-01&to=2020-01-31"
        ))
        .await;
    assert_eq!(
        none.html.trim_end().split("\r\n").count(),
        1,
        "only the header"
    );
    app.stop().await;
}

#[tokio::test]
async fn another_partners_dialogue_or_agreement_answers_404_and_names_are_escaped() {
    let app = TestApp::spawn_with(Options {
        workers: false,
        ..Default::default()
    })
    .await;
    let (partner, _, mine, theirs) = mine_and_theirs(&app, "<script>alert(1)</script>").await;

    let portal = app.portal_login(&partner).await;
    let page = portal.get(&format!("/portal/dialogues/{mine}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("<script>alert"));
    assert!(page.html.contains("No agreements yet."));
    for path in [
        format!("/portal/dialogues/{theirs}"),
        format!("/portal/dialogues/{theirs}/agreements/x/stop"),
        format!("/portal/dialogues/{theirs}/agreements.csv"),
        format!("/portal/dialogues/{theirs}/charges.csv"),
        format!("/portal/dialogues/{mine}/agreements/01J0000000000000000000000/stop"),
        "/portal/dialogues/nope".to_owned(),
    ] {
        let page = portal.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.content_type().starts_with("text/html"));
    }
    let page = portal
        .submit(
            &format!("/portal/dialogues/{mine}"),
            &format!("/portal/dialogues/{theirs}/agreements/x/stop"),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
