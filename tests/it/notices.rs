//! Receipts and failed-payment notices by SMS (issue 16, part 2): the dialogue's texts with
//! their placeholders filled in, once per charge, from the dialogue's sender, recorded in
//! Messages and tracked; held back in quiet hours (and replies never are); refused texts.

use chrono::{NaiveDate, TimeZone, Utc};
use dialogpay::{
    domain::{notices, period::Period},
    with_pool,
    worker::{JobContext, handlers::sms::queue_charge_notice},
};
use dialogpay_jobs::billing::SyncCharge;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    billing::{Billing, PHONE, active_agreement, active_agreement_where, sim},
    support::{Options, TestApp, db::make_due},
};

const RECEIPT: &str = "Takk! {amount} for {product} ({date}). Avtalen: {manage_link}";
const FAILURE: &str = "Betalingen på {amount} ({date}) gikk ikke: {reason}. Se {manage_link}";

fn texts() -> Value {
    json!({ "receipt_message": RECEIPT, "failure_message": FAILURE })
}

#[derive(Debug, sqlx::FromRow)]
struct Notice {
    id: String,
    outcome: String,
    text: String,
    status: String,
    charge_id: String,
    from_addr: String,
    to_addr: String,
}

/// Every receipt and notice, oldest first.
async fn notices_sent(app: &TestApp) -> Vec<Notice> {
    with_pool!(&app.state.db, |p| sqlx::query_as(
        "SELECT id, outcome, text, status, charge_id, from_addr, to_addr FROM messages \
         WHERE direction = 'out' AND charge_id IS NOT NULL ORDER BY created_at, id"
    )
    .fetch_all(p)
    .await)
    .unwrap()
}

async fn history(app: &TestApp, message_id: &str) -> Vec<(String, Option<String>)> {
    with_pool!(&app.state.db, |p| sqlx::query_as(
        "SELECT status, detail FROM message_status_history WHERE message_id = $1 ORDER BY id"
    )
    .bind(message_id)
    .fetch_all(p)
    .await)
    .unwrap()
}

/// Period 1's charge, created and then, past its due date, read back from Vipps.
async fn bill_period_one(b: &Billing, anchor: NaiveDate, want: &str) -> Value {
    let due = Period::Month.due_date(anchor, 1);
    b.set_day(due - chrono::Days::new(2));
    b.sweep().await;
    b.settled_agreement("charge 1 created", |a| {
        a["charges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["period_index"] == 1 && c["vipps_charge_id"].is_string())
    })
    .await;
    b.set_day(due + chrono::Days::new(5));
    b.reconcile().await;
    let a = b
        .settled_agreement(&format!("charge 1 {want}"), |a| {
            a["charges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["period_index"] == 1 && c["status"] == want)
        })
        .await;
    a["charges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period_index"] == 1)
        .unwrap()
        .clone()
}

/// Asks for the charge's notice again, as a re-run of the job that moved it would.
async fn queue_again(app: &TestApp, charge_id: &str, kind: notices::NoticeKind) {
    let ctx = JobContext::from_state(&app.state);
    let mut tx = app.state.db.begin().await.unwrap();
    queue_charge_notice(&ctx, &mut tx, charge_id, kind)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_receipt_follows_every_payment_taken_once_each() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b =
        active_agreement_where("month", anchor, 400, Options::manual_billing(), texts(), 9).await;
    let first = notices_sent(&b.app).await;
    assert_eq!(first.len(), 1, "the first payment's receipt: {first:?}");
    let receipt = &first[0];
    assert_eq!(receipt.outcome, "receipt");
    assert_eq!(receipt.from_addr, "2160", "sent from the dialogue's sender");
    assert!(PHONE.ends_with(&receipt.to_addr[receipt.to_addr.len() - 8..]));
    let manage = format!("{}/my/agreements/", b.app.base);
    assert!(
        receipt.text.starts_with(&format!(
            "Takk! 50,00 kr for Fast giver (10.05.2027). Avtalen: {manage}"
        )),
        "{}",
        receipt.text
    );
    assert_eq!(receipt.status, "delivered", "sent and tracked like a reply");

    let charge = bill_period_one(&b, anchor, "CHARGED").await;
    let charge_id = charge["id"].as_str().unwrap();
    // Read from Vipps again, and asked for again: still one receipt per charge.
    b.app
        .enqueue(&SyncCharge {
            charge_id: charge_id.to_owned(),
            trigger: "test-again".into(),
        })
        .await;
    b.app.run_pending_jobs().await;
    queue_again(&b.app, charge_id, notices::NoticeKind::Receipt).await;
    b.app.run_pending_jobs().await;
    let all = notices_sent(&b.app).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1].charge_id, charge_id);
    assert_eq!(all[1].outcome, "receipt");
    assert!(all[1].text.contains("(10.06.2027)"), "{}", all[1].text);
    assert_eq!(all[1].status, "delivered");
    b.app.stop().await;
}

#[tokio::test]
async fn a_failed_payment_is_told_once_with_its_reason_and_the_manage_link() {
    let anchor = NaiveDate::from_ymd_opt(2027, 5, 10).unwrap();
    let b =
        active_agreement_where("month", anchor, 400, Options::manual_billing(), texts(), 9).await;
    sim(&b.app).set_funding(PHONE.trim_start_matches('+'), false);
    sim(&b.app).set_funding(PHONE, false);
    let failed = bill_period_one(&b, anchor, "FAILED").await;
    let charge_id = failed["id"].as_str().unwrap();
    queue_again(&b.app, charge_id, notices::NoticeKind::PaymentFailed).await;
    b.app.run_pending_jobs().await;
    let all = notices_sent(&b.app).await;
    let outcomes: Vec<&str> = all.iter().map(|n| n.outcome.as_str()).collect();
    assert_eq!(outcomes, ["receipt", "payment_failed"], "{all:?}");
    let notice = &all[1];
    assert_eq!(notice.charge_id, charge_id);
    let reason = notices::reason_words(failed["failure_reason"].as_str());
    assert!(
        notice.text.starts_with(&format!(
            "Betalingen på 50,00 kr (10.06.2027) gikk ikke: {reason}. Se {}/my/agreements/",
            b.app.base
        )),
        "{}",
        notice.text
    );
    let link = |text: &str| text.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(
        link(&notice.text),
        link(&all[0].text),
        "the agreement's own page"
    );
    b.app.stop().await;
}

#[tokio::test]
async fn notices_wait_out_quiet_hours_and_replies_do_not() {
    // 21:00 UTC on 10 January is 22:00 in Oslo: quiet hours (21:00–08:00 by default).
    let anchor = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
    let b =
        active_agreement_where("month", anchor, 400, Options::manual_billing(), texts(), 21).await;
    let link_reply: (String,) = with_pool!(&b.app.state.db, |p| sqlx::query_as(
        "SELECT status FROM messages WHERE direction = 'out' AND outcome = 'vipps_link'"
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(
        link_reply.0, "delivered",
        "the reply answers the user at once"
    );
    let held = notices_sent(&b.app).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, "pending", "held, not dropped");
    let entries = history(&b.app, &held[0].id).await;
    assert!(
        entries.iter().any(|(status, detail)| status == "held"
            && detail.as_deref() == Some("quiet hours: held until 11.01.2027 08:00")),
        "{entries:?}"
    );
    // 08:00 in Oslo: the held job, made due instead of waited for, sends it.
    sim(&b.app).set_now(Utc.with_ymd_and_hms(2027, 1, 11, 7, 0, 0).unwrap());
    assert_eq!(make_due(&b.app.state.db, "sms.send").await, 1);
    b.app.run_pending_jobs().await;
    let sent = notices_sent(&b.app).await;
    assert_eq!(sent[0].status, "delivered", "{sent:?}");
    b.app.stop().await;
}

#[tokio::test]
async fn a_dialogue_without_texts_sends_no_notice() {
    let b = active_agreement("month", NaiveDate::from_ymd_opt(2027, 5, 10).unwrap(), 400).await;
    assert!(notices_sent(&b.app).await.is_empty());
    b.app.stop().await;
}

#[tokio::test]
async fn notice_texts_are_checked_shown_and_switched_off_by_leaving_them_out() {
    let app = TestApp::spawn().await;
    let (_, key) = app.partner("Charity").await;
    let group = app.crm_group_with_terms(&key, "Donors").await;
    let id = app
        .monthly_give_dialogue(&key, &group, "{vipps_link}")
        .await;
    let path = format!("/api/v1/dialogues/{id}");
    let (_, mut body) = app.get(&path, &key).await;
    for field in [
        "id",
        "status",
        "amount_ore",
        "reply_message_info",
        "receipt_message_info",
        "failure_message_info",
        "created_at",
        "updated_at",
        "archived_at",
    ] {
        body.as_object_mut().unwrap().remove(field);
    }
    for (field, text, says) in [
        (
            "receipt_message",
            "Takk {amout}",
            "{amout} is not a placeholder here",
        ),
        (
            "receipt_message",
            "Takk {reason}",
            "{reason} is not a placeholder here",
        ),
        (
            "failure_message",
            "Det gikk ikke: {reason}",
            "must contain {manage_link}",
        ),
        (
            "failure_message",
            "Se {manage_link}",
            "must contain {reason}",
        ),
    ] {
        let mut bad = body.clone();
        bad[field] = json!(text);
        let (status, d) = app.put(&path, &key, bad).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}: {d}");
        assert_eq!(d["fields"][0]["field"], field, "{d}");
        let message = d["fields"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{text}: {message}");
    }
    let mut good = body.clone();
    good["receipt_message"] = json!(RECEIPT);
    good["failure_message"] = json!(FAILURE);
    let (status, d) = app.put(&path, &key, good).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["receipt_message"], RECEIPT);
    assert_eq!(d["failure_message_info"]["encoding"], "GSM-7");
    assert!(d["receipt_message_info"]["segments"].as_i64().unwrap() <= 2);
    // PUT replaces every field: a text left out is switched off.
    let (status, d) = app.put(&path, &key, body).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert!(d["receipt_message"].is_null(), "{d}");
    assert!(d["failure_message_info"].is_null(), "{d}");
    app.stop().await;
}
