//! Pause and resume (issue 16, part 4): `PAUSE [n]` by SMS skips the next periods not yet
//! created (no charge at Vipps, a skipped period in the agreement's history, the agreement
//! still ACTIVE), `START` ends it early, both confirmed by SMS; the partner pauses and resumes
//! through the API; wrong numbers and phones without agreements get a clear answer.

use chrono::NaiveDate;
use dialogpay::{domain::replies, with_pool};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    billing::{Billing, PHONE, active_agreement},
    support::{INBOUND_TOKEN, OPERATOR_KEY, TestApp},
};

fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, m, day).unwrap()
}

/// Texts `text` from `from` to 2160 and runs what follows; returns the answer we sent.
async fn text(app: &TestApp, from: &str, text: &str) -> String {
    let id = format!("gw-{}", uuid::Uuid::new_v4());
    let sms = json!({ "message_id": id, "from": from, "to": "2160", "text": text });
    let (status, body) = app
        .call(
            Method::POST,
            "/webhooks/sms/inbound",
            Some(INBOUND_TOKEN),
            Some(sms),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.run_pending_jobs().await;
    let (answer,): (String,) = with_pool!(&app.state.db, |p| sqlx::query_as(
        "SELECT r.text FROM messages r JOIN messages m ON m.id = r.in_reply_to \
         WHERE m.gateway_message_id = $1"
    )
    .bind(&id)
    .fetch_one(p)
    .await)
    .unwrap();
    answer
}

/// Sweeps two days before period `k`'s due date and returns the agreement after it.
async fn sweep_for(b: &Billing, due: NaiveDate) -> Value {
    b.set_day(due - chrono::Days::new(2));
    b.sweep().await;
    b.settled_agreement("swept", |_| true).await
}

/// The user's manage page.
async fn manage_page(app: &TestApp, path: &str) -> String {
    let (status, page) = app.call(Method::GET, path, None, None).await;
    assert_eq!(status, StatusCode::OK);
    page.as_str().unwrap().to_owned()
}

fn periods_charged(a: &Value) -> Vec<i64> {
    a["charges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["period_index"].as_i64().unwrap())
        .collect()
}

fn periods_skipped(a: &Value) -> Vec<i64> {
    a["skipped_periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["period_index"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn pause_by_sms_skips_the_next_periods_without_charges_and_billing_goes_on_after() {
    let b = active_agreement("month", d(5, 10), 400).await;
    let answer = text(&b.app, PHONE, "Pause 2").await;
    assert_eq!(
        answer,
        replies::pause_confirmation(&[d(6, 10), d(7, 10)], Some(d(8, 10)), "2160")
    );
    let a = b.settled_agreement("paused", |a| a["paused"] == true).await;
    assert_eq!(a["status"], "ACTIVE", "Vipps has no pause: still ACTIVE");
    assert_eq!(a["skips_ahead"], json!(["2027-06-10", "2027-07-10"]));
    assert_eq!(a["next_charge_date"], "2027-08-10");

    let stats = format!(
        "/api/v1/dialogues/{}/stats?from=2027-05-01&to=2027-12-31",
        a["dialogue_id"].as_str().unwrap()
    );
    let (_, figures) = b.app.get(&stats, &b.key).await;
    assert_eq!(figures["paused_agreements"], 1, "{figures}");
    let a = sweep_for(&b, d(6, 10)).await;
    assert_eq!(periods_skipped(&a), [1]);
    let a = sweep_for(&b, d(7, 10)).await;
    assert_eq!(periods_skipped(&a), [1, 2]);
    let (_, figures) = b.app.get(&stats, &b.key).await;
    assert_eq!(figures["periods_skipped"], 2, "{figures}");
    assert_eq!(
        figures["total"]["charges_created"], 1,
        "the initial charge only"
    );
    assert_eq!(periods_charged(&a), [0], "no charge for a skipped period");
    assert_eq!(b.recurring_in_vipps(), 0, "nothing at Vipps either");
    assert_eq!(a["skipped_periods"][1]["due_date"], "2027-07-10");

    let a = sweep_for(&b, d(8, 10)).await;
    assert_eq!(periods_charged(&a), [0, 3], "charged again after the pause");
    assert_eq!(a["paused"], false);
    assert_eq!(b.recurring_in_vipps(), 1);
    // Sweeping again changes nothing.
    let again = sweep_for(&b, d(8, 10)).await;
    assert_eq!(periods_charged(&again), [0, 3]);
    assert_eq!(periods_skipped(&again), [1, 2]);
    b.app.stop().await;
}

#[tokio::test]
async fn start_ends_a_pause_early() {
    let b = active_agreement("month", d(5, 10), 400).await;
    text(&b.app, PHONE, "PAUSE 3").await;
    let a = sweep_for(&b, d(6, 10)).await;
    assert_eq!(periods_skipped(&a), [1]);
    let answer = text(&b.app, PHONE, "start").await;
    assert_eq!(answer, replies::resume_confirmation(Some(d(7, 10)), "2160"));
    let a = sweep_for(&b, d(7, 10)).await;
    assert_eq!(periods_charged(&a), [0, 2]);
    assert_eq!(a["paused"], false);
    // START with nothing paused says so.
    let answer = text(&b.app, PHONE, "START").await;
    assert_eq!(answer, replies::resume_nothing("2160"));
    b.app.stop().await;
}

#[tokio::test]
async fn pause_answers_wrong_numbers_and_phones_without_agreements() {
    let b = active_agreement("month", d(5, 10), 400).await;
    assert_eq!(
        text(&b.app, PHONE, "pause 99").await,
        replies::pause_how("2160")
    );
    let a = b
        .settled_agreement("not paused", |a| a["paused"] == false)
        .await;
    assert_eq!(a["skips_ahead"], json!([]));
    assert_eq!(
        text(&b.app, "+4791112222", "pause").await,
        replies::pause_nothing("2160")
    );
    b.app.stop().await;
}

#[tokio::test]
async fn the_partner_pauses_and_resumes_through_the_api() {
    let b = active_agreement("month", d(5, 10), 400).await;
    let path = format!("/api/v1/agreements/{}", b.agreement);
    let (status, body) = b
        .app
        .post(&format!("{path}/pause"), &b.key, json!({ "periods": 0 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "periods");
    let (status, body) = b
        .app
        .post(
            &format!("{path}/pause"),
            &b.key,
            json!({ "periods": "two" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, a) = b
        .app
        .post(&format!("{path}/pause"), &b.key, json!({ "periods": 1 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["paused"], true);
    assert_eq!(a["skips_ahead"], json!(["2027-06-10"]));
    let (status, a) = b
        .app
        .post(&format!("{path}/resume"), &b.key, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["paused"], false);
    assert_eq!(a["next_charge_date"], "2027-06-10");
    let entry = b.app.audit_entry("agreement.pause").await;
    assert_eq!(entry["details"]["periods"], 1, "{entry}");

    let (other_key, _) = {
        let (_, key) = b.app.partner("Other").await;
        (key, ())
    };
    let (status, _) = b
        .app
        .post(
            &format!("{path}/pause"),
            &other_key,
            json!({ "periods": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another partner's agreement");

    let (status, _) = b.app.post(&format!("{path}/stop"), &b.key, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    b.settled_agreement("stopped", |a| a["status"] == "STOPPED")
        .await;
    let (status, body) = b
        .app
        .post(&format!("{path}/pause"), &b.key, json!({ "periods": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    b.app.stop().await;
}

#[tokio::test]
async fn the_portal_and_the_manage_page_show_a_pause_and_the_portal_pauses_and_resumes() {
    let b = active_agreement("month", d(5, 10), 400).await;
    let (_, partners) = b.app.get("/api/v1/admin/partners", OPERATOR_KEY).await;
    let partner = partners["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, a) = b
        .app
        .get(&format!("/api/v1/agreements/{}", b.agreement), &b.key)
        .await;
    let dialogue = format!("/portal/dialogues/{}", a["dialogue_id"].as_str().unwrap());
    let portal = b.app.portal_login(&partner).await;
    let pause = format!("{dialogue}/agreements/{}/pause", b.agreement);
    let done = portal.submit(&dialogue, &pause, &[("periods", "2")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let page = portal.get(&dialogue).await;
    assert!(
        page.html.contains("data-paused>Paused</span>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("10.06.2027, 10.07.2027 (no payment is created"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("Paused. No payment is created"),
        "the flash"
    );

    let (token,): (String,) = with_pool!(&b.app.state.db, |p| sqlx::query_as(
        "SELECT manage_token FROM agreements WHERE id = $1"
    )
    .bind(&b.agreement)
    .fetch_one(p)
    .await)
    .unwrap();
    let manage = format!("/my/agreements/{token}");
    let html = manage_page(&b.app, &manage).await;
    assert!(
        html.contains(
            "På pause: trekkene 10.06.2027, 10.07.2027 hoppes over. Neste trekk: 10.08.2027."
        ),
        "{html}"
    );
    sweep_for(&b, d(6, 10)).await;
    let html = manage_page(&b.app, &manage).await;
    assert!(
        html.contains("<tr data-skipped><td>2027-06-10</td>"),
        "{html}"
    );
    let page = portal.get(&dialogue).await;
    assert!(
        page.html
            .contains("<tbody data-skipped><tr><td>10.06.2027</td>"),
        "the payment history: {}",
        page.html
    );

    let resume = format!("{dialogue}/agreements/{}/resume", b.agreement);
    let done = portal.submit(&dialogue, &resume, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let page = portal.get(&dialogue).await;
    assert!(!page.html.contains("data-paused"), "{}", page.html);
    let html = manage_page(&b.app, &manage).await;
    assert!(
        html.contains("Neste trekk: 10.07.2027. Send PAUSE til 2160"),
        "{html}"
    );

    let bad = portal.submit(&dialogue, &pause, &[("periods", "40")]).await;
    assert!(bad.status.is_client_error(), "{}: {}", bad.status, bad.html);
    b.app.stop().await;
}
