//! Refunds and cancelled charges (issue 17): full and partial refunds through the job and the
//! simulator, two refunds racing for the last amount, refusals (409, 422, 404, more than 365
//! days after the payment, Vipps refusing), refunds and cancels Vipps accepts for later (202,
//! polled), cancelling a charge not taken yet, the audit log, and the statistics net of
//! refunds.

use chrono::NaiveDate;
use dialogpay::vipps::sim::{Faults, Simulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    billing::{Billing, active_agreement},
    support::{OPERATOR_KEY, TestApp, portal::PortalClient},
};

fn start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 3, 10).unwrap()
}

/// A monthly agreement of 50.00 NOK, ACTIVE, its initial charge CHARGED; that charge's id.
async fn charged() -> (Billing, String) {
    let b = active_agreement("month", start(), 365).await;
    let a = b
        .settled_agreement("the initial charge", |a| {
            a["charges"][0]["status"] == "CHARGED"
        })
        .await;
    let id = a["charges"][0]["id"].as_str().unwrap().to_owned();
    (b, id)
}

async fn refund(b: &Billing, charge: &str, body: Value) -> (StatusCode, Value) {
    b.app
        .post(&format!("/api/v1/charges/{charge}/refunds"), &b.key, body)
        .await
}

/// The charge after the pending jobs ran.
async fn settled_charge(b: &Billing, charge: &str) -> Value {
    b.app.run_pending_jobs().await;
    let (status, c) = b
        .app
        .get(&format!("/api/v1/charges/{charge}"), &b.key)
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

/// Every charge the simulator holds.
fn vipps_charges(b: &Billing) -> Vec<dialogpay::vipps::wire::ChargeResponse> {
    b.app
        .simulator
        .as_ref()
        .unwrap()
        .agreements()
        .into_iter()
        .flat_map(|a| a.charges)
        .collect()
}

fn sim(b: &Billing) -> &Simulator {
    crate::billing::sim(&b.app)
}

fn vipps_calls(b: &Billing, operation: &str) -> usize {
    crate::billing::sim_calls(&b.app, operation)
}

/// The simulator answers the next refund or cancel 202 and applies it at the second read.
fn accept_later(b: &Billing) {
    sim(b).add_faults(Faults {
        accept_later: Some(1),
        ..Faults::default()
    });
}

/// The statuses the charge went through.
fn statuses(c: &Value) -> Vec<&str> {
    c["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect()
}

/// Øre the simulator says it refunded of the agreement's charges.
fn refunded_in_vipps(b: &Billing) -> i64 {
    vipps_charges(b).iter().map(|c| c.summary.refunded).sum()
}

/// The dialogue's statistics for the year from the start.
async fn stats(b: &Billing) -> Value {
    let (_, a) = b
        .app
        .get(&format!("/api/v1/agreements/{}", b.agreement), &b.key)
        .await;
    let path = format!(
        "/api/v1/dialogues/{}/stats?from={}&to={}&bucket=month",
        a["dialogue_id"].as_str().unwrap(),
        start(),
        start() + chrono::Days::new(364)
    );
    let (status, s) = b.app.get(&path, &b.key).await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s["total"].clone()
}

async fn audit_actions(b: &Billing) -> Vec<Value> {
    let (_, page) = b.app.get("/api/v1/admin/audit", OPERATOR_KEY).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_type"] == "charge")
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_charged_payment_is_refunded_partly_then_in_full() {
    let (b, charge) = charged().await;
    let (status, r) = refund(
        &b,
        &charge,
        json!({"amount": "20.00", "reason": "Donor called"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["status"], "PENDING");
    assert_eq!(r["amount_ore"], 2000);
    assert_eq!(r["actor"], "partner");

    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "PARTIALLY_REFUNDED", "{c}");
    assert_eq!(c["refunds"][0]["status"], "DONE", "{c}");
    assert_eq!(c["refundable"], "30.00");
    assert_eq!(refunded_in_vipps(&b), 2000);
    let total = stats(&b).await;
    assert_eq!(total["charges_charged"], 1, "{total}");
    assert_eq!(total["amount_charged"], "50.00", "{total}");
    assert_eq!(total["refunds"], 1, "{total}");
    assert_eq!(total["amount_refunded"], "20.00", "{total}");
    assert_eq!(
        total["amount_collected"], "30.00",
        "net of refunds: {total}"
    );

    // No reason: the dialogue's product name is the description.
    let (status, r) = refund(&b, &charge, json!({"amount": "30"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["reason"], "Fast giver");
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "REFUNDED", "{c}");
    assert_eq!(c["refundable_ore"], 0);
    assert_eq!(c["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(refunded_in_vipps(&b), 5000);
    let total = stats(&b).await;
    assert_eq!(total["refunds"], 2, "{total}");
    assert_eq!(total["amount_collected_ore"], 0, "{total}");
    assert_eq!(statuses(&c), ["CHARGED", "PARTIALLY_REFUNDED", "REFUNDED"]);

    // Nothing is left.
    let (status, e) = refund(&b, &charge, json!({"amount": "1.00"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let audit = audit_actions(&b).await;
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|e| e["action"] == "charge.refund"));
    assert!(
        audit
            .iter()
            .any(|e| e["details"].to_string().contains("Donor called")),
        "{audit:?}"
    );
    b.app.stop().await;
}

#[tokio::test]
async fn a_refund_vipps_accepts_for_later_is_polled_until_done_and_asked_once() {
    let (b, charge) = charged().await;
    accept_later(&b);
    let (status, r) = refund(&b, &charge, json!({"amount": "20.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["refunds"][0]["status"], "DONE", "{c}");
    assert_eq!(c["refunds"].as_array().unwrap().len(), 1, "{c}");
    assert_eq!(c["status"], "PARTIALLY_REFUNDED", "{c}");
    assert_eq!(statuses(&c), ["CHARGED", "PARTIALLY_REFUNDED"], "once");
    assert_eq!(c["refundable"], "30.00");
    assert_eq!(refunded_in_vipps(&b), 2000);
    assert_eq!(vipps_calls(&b, "refund_charge"), 1, "Vipps asked once");
    assert!(
        vipps_calls(&b, "fetch_charge") >= 2,
        "read back until applied: {}",
        vipps_calls(&b, "fetch_charge")
    );
    let total = stats(&b).await;
    assert_eq!(total["refunds"], 1, "{total}");
    assert_eq!(total["amount_collected"], "30.00", "{total}");

    // The rest, accepted for later too: REFUNDED, once.
    accept_later(&b);
    refund(&b, &charge, json!({"amount": "30.00"})).await;
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "REFUNDED", "{c}");
    assert_eq!(statuses(&c), ["CHARGED", "PARTIALLY_REFUNDED", "REFUNDED"]);
    assert_eq!(vipps_calls(&b, "refund_charge"), 2);
    assert_eq!(refunded_in_vipps(&b), 5000);
    assert_eq!(stats(&b).await["refunds"], 2);
    b.app.stop().await;
}

#[tokio::test]
async fn a_refund_more_than_365_days_after_the_payment_is_refused_before_vipps_is_asked() {
    let (b, charge) = charged().await;
    b.set_day(start() + chrono::Days::new(366));
    let (status, e) = refund(&b, &charge, json!({"amount": "10.00"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "refund_period_over", "{e}");
    assert!(e["message"].to_string().contains("365 days"), "{e}");
    b.app.run_pending_jobs().await;
    assert_eq!(vipps_calls(&b, "refund_charge"), 0);

    // Vipps refuses it too.
    let a = &sim(&b).agreements()[0];
    let in_vipps = &a.charges[0];
    let req = dialogpay::vipps::wire::RefundRequest {
        amount: 1000,
        description: "Late".into(),
    };
    let key = dialogpay::vipps::IdempotencyKey::new("late-refund").unwrap();
    let refused = b
        .app
        .state
        .vipps
        .refund_charge(&a.msn, &a.agreement_id, &in_vipps.id, &req, key)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    assert!(refused.to_string().contains("365 days"), "{refused}");
    b.app.stop().await;
}

#[tokio::test]
async fn a_refund_vipps_refuses_is_failed_with_its_reason_and_the_charge_unchanged() {
    let (b, charge) = charged().await;
    let (a, c) = {
        let a = &sim(&b).agreements()[0];
        (a.agreement_id.clone(), a.charges[0].id.clone())
    };
    sim(&b).add_faults(Faults {
        status: Some(400),
        count: Some(1),
        path: Some(format!("/recurring/v3/agreements/{a}/charges/{c}/refund")),
        ..Faults::default()
    });
    let (status, r) = refund(&b, &charge, json!({"amount": "20.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["refunds"][0]["status"], "FAILED", "{c}");
    let why = c["refunds"][0]["failure"].as_str().unwrap_or_default();
    assert!(why.contains("injected fault"), "the reason: {c}");
    assert_eq!(c["status"], "CHARGED", "{c}");
    assert_eq!(c["refundable"], "50.00", "{c}");
    assert_eq!(statuses(&c), ["CHARGED"]);
    assert_eq!(refunded_in_vipps(&b), 0);
    assert_eq!(stats(&b).await["refunds"], 0);

    let (_, agreement) = b
        .app
        .get(&format!("/api/v1/agreements/{}", b.agreement), &b.key)
        .await;
    let partner = b.app.get("/api/v1/admin/partners", OPERATOR_KEY).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal = b.app.portal_login(&partner).await;
    let page = portal
        .get(&format!(
            "/portal/dialogues/{}",
            agreement["dialogue_id"].as_str().unwrap()
        ))
        .await;
    let rows = charge_rows(&page.html, &charge);
    assert!(rows.contains(r#"data-refund-status="failed""#), "{rows}");
    assert!(rows.contains("injected fault"), "the reason: {rows}");
    assert!(
        rows.contains("/refund\""),
        "it can be refunded again: {rows}"
    );
    // Nothing is pending: the whole amount can be refunded.
    let (status, r) = refund(&b, &charge, json!({"amount": "50.00"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(settled_charge(&b, &charge).await["status"], "REFUNDED");
    b.app.stop().await;
}

#[tokio::test]
async fn bad_amounts_are_422_and_another_partners_charge_is_404() {
    let (b, charge) = charged().await;
    for amount in ["0.99", "abc", "1,00", "50.01", "1.001"] {
        let (status, e) = refund(&b, &charge, json!({ "amount": amount })).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}: {e}");
        assert_eq!(e["fields"][0]["field"], "amount", "{e}");
    }
    let (status, e) = refund(&b, &charge, json!({ "amount": 10 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a number: {e}");
    let (_, other) = b.app.partner("Other").await;
    let (status, _) = b
        .app
        .post(
            &format!("/api/v1/charges/{charge}/refunds"),
            &other,
            json!({"amount": "1.00"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b
        .app
        .get(&format!("/api/v1/charges/{charge}"), &other)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b
        .app
        .post(
            &format!("/api/v1/charges/{charge}/cancel"),
            &other,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    b.app.run_pending_jobs().await;
    assert_eq!(refunded_in_vipps(&b), 0);
    b.app.stop().await;
}

#[tokio::test]
async fn two_refunds_racing_for_the_last_amount_refund_once() {
    let (b, charge) = charged().await;
    let body = json!({"amount": "50.00"});
    let (one, two) = tokio::join!(refund(&b, &charge, body.clone()), refund(&b, &charge, body));
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::CONFLICT],
        "{} {}",
        one.1,
        two.1
    );
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "REFUNDED", "{c}");
    assert_eq!(c["refunds"].as_array().unwrap().len(), 1, "{c}");
    assert_eq!(refunded_in_vipps(&b), 5000);
    b.app.stop().await;
}

/// The agreement of [`charged`] with its second period's charge created in Vipps, not yet
/// due; that charge's id.
async fn not_taken_yet() -> (Billing, String) {
    let (b, _) = charged().await;
    b.set_day(NaiveDate::from_ymd_opt(2027, 4, 8).unwrap());
    b.sweep().await;
    let a = b
        .settled_agreement("the second period's charge", |a| {
            a["charges"][1]["vipps_charge_id"].is_string()
        })
        .await;
    let charge = a["charges"][1]["id"].as_str().unwrap().to_owned();
    let open = a["charges"][1]["status"].as_str().unwrap();
    assert!(["PENDING", "DUE"].contains(&open), "{a}");
    (b, charge)
}

#[tokio::test]
async fn a_charge_not_taken_yet_cannot_be_refunded_and_is_cancelled() {
    let (b, charge) = not_taken_yet().await;

    let (status, e) = refund(&b, &charge, json!({"amount": "10.00"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert_eq!(e["code"], "charge_not_refundable", "{e}");

    let path = format!("/api/v1/charges/{charge}/cancel");
    let (status, c) = b.app.post(&path, &b.key, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "CANCELLED", "{c}");
    let in_vipps = vipps_charges(&b)
        .into_iter()
        .find(|v| Some(v.id.as_str()) == c["vipps_charge_id"].as_str())
        .unwrap();
    assert_eq!(in_vipps.status.as_str(), "CANCELLED");
    let total = stats(&b).await;
    assert_eq!(total["charges_cancelled"], 1, "{total}");
    assert_eq!(
        total["charges_failed"], 0,
        "cancelled is not failed: {total}"
    );
    assert_eq!(vipps_calls(&b, "cancel_charge"), 1);
    // Cancelled once; a second cancel is a conflict.
    let (status, e) = b.app.post(&path, &b.key, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    let audit = audit_actions(&b).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["action"], "charge.cancel");
    b.app.stop().await;
}

#[tokio::test]
async fn a_cancel_vipps_accepts_for_later_is_polled_until_cancelled() {
    let (b, charge) = not_taken_yet().await;
    accept_later(&b);
    let path = format!("/api/v1/charges/{charge}/cancel");
    let (status, c) = b.app.post(&path, &b.key, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    let c = settled_charge(&b, &charge).await;
    assert_eq!(c["status"], "CANCELLED", "{c}");
    assert_eq!(statuses(&c).last(), Some(&"CANCELLED"));
    assert_eq!(vipps_calls(&b, "cancel_charge"), 1, "Vipps asked once");
    let total = stats(&b).await;
    assert_eq!(total["charges_cancelled"], 1, "{total}");
    assert_eq!(total["charges_failed"], 0, "{total}");
    b.app.stop().await;
}

/// The HTML from the row of payment `charge` to the end of its agreement's card.
fn charge_rows<'a>(html: &'a str, charge: &str) -> &'a str {
    let start = html
        .find(&format!(r#"data-charge="{charge}""#))
        .unwrap_or_else(|| panic!("no payment {charge} in:\n{html}"));
    let rest = &html[start..];
    &rest[..rest.find("</tbody>").unwrap()]
}

/// A charity whose member's first payment is CHARGED, and one of its portal users logged in:
/// (app, portal, dialogue, agreement, charge).
async fn portal_with_a_charged_payment() -> (TestApp, PortalClient, String, String, String) {
    use crate::portal_list::charity_with_a_member;
    let app = TestApp::spawn().await;
    let (partner, key, id, agreement) = charity_with_a_member(&app).await;
    app.run_pending_jobs().await;
    let (_, a) = app
        .get(&format!("/api/v1/agreements/{agreement}"), &key)
        .await;
    let charge = a["charges"][0]["id"].as_str().unwrap().to_owned();
    let portal = app.portal_login(&partner).await;
    (app, portal, id, agreement, charge)
}

#[tokio::test]
async fn the_portal_refunds_a_payment_after_a_confirmation_and_shows_its_progress() {
    let (app, portal, id, agreement, charge) = portal_with_a_charged_payment().await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let refund = format!("/portal/dialogues/{id}/charges/{charge}/refund");
    assert!(
        charge_rows(&page.html, &charge).contains(&format!(r#"href="{refund}""#)),
        "a Refund button: {}",
        page.html
    );

    let form = portal.get(&refund).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    assert!(form.html.contains("Refund this payment?"));
    assert!(
        form.html.contains(r#"value="100,00""#),
        "the amount left, prefilled"
    );
    // Without the CSRF token nothing is refunded.
    let refused = portal.post_form(&refund, &[("amount", "10,00")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = portal
        .submit(&refund, &refund, &[("amount", "0,50"), ("reason", "")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.html);
    assert!(
        bad.html.contains("must be at least 1.00 NOK"),
        "{}",
        bad.html
    );
    assert!(bad.html.contains(r#"value="0,50""#), "what was typed stays");

    let done = portal
        .submit(
            &refund,
            &refund,
            &[("amount", "30,00"), ("reason", "<b>Donor</b> called")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(
        done.location(),
        format!("/portal/dialogues/{id}#agreement-{agreement}")
    );
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert!(page.html.contains("Refund requested."), "the flash");
    let rows = charge_rows(&page.html, &charge);
    // The workers run: the refund may be done before the page is read.
    if rows.contains(">in progress</span>") {
        assert!(
            !rows.contains(&format!(r#"href="{refund}""#)),
            "no second refund while one is pending: {rows}"
        );
    } else {
        assert!(rows.contains(">refunded</span>"), "{rows}");
    }

    app.run_pending_jobs().await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let rows = charge_rows(&page.html, &charge);
    assert!(rows.contains(">PARTIALLY_REFUNDED</span>"), "{rows}");
    assert!(rows.contains("Refund of 30,00\u{a0}kr"), "{rows}");
    assert!(rows.contains(">refunded</span>"), "{rows}");
    assert!(
        rows.contains("&#60;b&#62;Donor&#60;/b&#62; called"),
        "escaped: {rows}"
    );
    assert!(!rows.contains("<b>Donor"), "{rows}");
    assert!(rows.contains(&portal.email), "who: {rows}");
    assert!(
        rows.contains(&format!(r#"href="{refund}""#)),
        "70,00 is left"
    );
    let card = &page.html[page
        .html
        .find(&format!(r#"data-agreement="{agreement}""#))
        .unwrap()..];
    assert_eq!(
        crate::portal_list::stat(card, "total_paid"),
        "70,00\u{a0}kr"
    );
    let total = &page.html[page.html.find(r#"data-row="total""#).unwrap()..];
    assert_eq!(
        crate::portal_list::stat(total, "amount_refunded"),
        "30,00\u{a0}kr"
    );
    assert_eq!(
        crate::portal_list::stat(total, "amount_charged"),
        "70,00\u{a0}kr",
        "NOK collected is net of refunds"
    );
    let form = portal.get(&refund).await;
    assert!(form.html.contains(r#"value="70,00""#), "{}", form.html);

    // The payments export has the refund columns.
    let csv = portal
        .get(&format!("/portal/dialogues/{id}/charges.csv"))
        .await;
    let lines: Vec<&str> = csv.html.trim_end().split("\r\n").collect();
    assert!(
        lines[0].ends_with(",refunds,refunded,refunded_ore"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with(",1,30.00,3000"), "{lines:?}");

    // The audit log says who, how much and why.
    let (_, log) = app.get("/api/v1/admin/audit", OPERATOR_KEY).await;
    let entry = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "charge.refund")
        .cloned()
        .expect("an audit entry");
    assert_eq!(entry["actor"], format!("user:{}", portal.email));
    assert_eq!(entry["details"]["amount_ore"], 3000, "{entry}");

    // Another partner's user gets 404.
    let (other, _) = app.partner("Other").await;
    let stranger = app.portal_login(&other).await;
    assert_eq!(stranger.get(&refund).await.status, StatusCode::NOT_FOUND);
    let cancel = format!("/portal/dialogues/{id}/charges/{charge}/cancel");
    assert_eq!(stranger.get(&cancel).await.status, StatusCode::NOT_FOUND);
    // A charged payment cannot be cancelled.
    let confirm = portal.get(&cancel).await;
    assert!(
        confirm.html.contains("It can no longer be cancelled."),
        "{}",
        confirm.html
    );
    app.stop().await;
}

#[tokio::test]
async fn a_payments_rows_are_re_read_while_its_refund_is_in_progress_and_then_no_more() {
    let (app, portal, id, _, charge) = portal_with_a_charged_payment().await;
    let rows = format!("/portal/dialogues/{id}/charges/{charge}/rows");
    let polls = format!(r#"hx-get="{rows}""#);
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert!(
        !page.html.contains(&polls),
        "nothing in progress, no polling"
    );

    // Vipps accepts the refund for later and keeps it unapplied until its clock moves on, so
    // the workers (running all along) cannot settle it before the pending rows are read.
    let vipps = crate::billing::sim(&app);
    vipps.add_faults(Faults {
        accept_later: Some(1),
        accepted_reads: Some(u32::MAX),
        ..Faults::default()
    });
    let refund = format!("/portal/dialogues/{id}/charges/{charge}/refund");
    let done = portal
        .submit(
            &refund,
            &refund,
            &[("amount", "30,00"), ("reason", "Called")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let body = charge_rows(&page.html, &charge);
    assert!(body.contains(">in progress</span>"), "{body}");
    assert!(
        page.html.contains(&format!(
            r#"<tbody id="payment-{charge}" {polls} hx-trigger="every 2s" hx-swap="outerHTML""#
        )),
        "the payment's rows poll: {}",
        page.html
    );
    let pending = portal.get_htmx(&rows).await;
    assert_eq!(pending.status, StatusCode::OK);
    assert!(
        pending.html.trim_start().starts_with("<tbody"),
        "{}",
        pending.html
    );
    assert!(
        !pending.html.contains("<html"),
        "a fragment: {}",
        pending.html
    );
    assert!(pending.html.contains(&polls), "{}", pending.html);
    assert!(
        pending.html.contains(">in progress</span>"),
        "{}",
        pending.html
    );

    // The clock moves past the delay only once Vipps has accepted the refund (its job's first
    // attempt ended waiting for it): a 202 coming after the move would wait a delay more.
    crate::support::eventually(
        std::time::Duration::from_secs(30),
        "the refund accepted at Vipps",
        || async {
            let waited: i64 = dialogpay::with_pool!(&app.state.db, |p| sqlx::query_scalar(
                "SELECT COUNT(*) FROM job_attempts WHERE queue = 'billing.refund' AND outcome = 'retry'"
            )
            .fetch_one(p)
            .await)
            .unwrap();
            (waited > 0).then_some(())
        },
    )
    .await;
    vipps.advance_by(dialogpay::vipps::sim::accepted::APPLY_DELAY + chrono::Duration::seconds(1));
    app.run_pending_jobs().await;
    let settled = portal.get_htmx(&rows).await;
    assert!(
        !settled.html.contains("hx-get"),
        "polling stops: {}",
        settled.html
    );
    assert!(
        settled.html.contains(">refunded</span>"),
        "{}",
        settled.html
    );
    assert!(
        settled.html.contains(">PARTIALLY_REFUNDED</span>"),
        "{}",
        settled.html
    );
    assert!(
        settled.html.contains(&format!(r#"href="{refund}""#)),
        "the rest can be refunded: {}",
        settled.html
    );

    let (other, _) = app.partner("Other").await;
    let stranger = app.portal_login(&other).await;
    assert_eq!(stranger.get_htmx(&rows).await.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_portal_cancels_a_payment_not_taken_yet_after_a_confirmation() {
    let (b, charge) = not_taken_yet().await;
    let (_, partners) = b.app.get("/api/v1/admin/partners", OPERATOR_KEY).await;
    let partner = partners["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, a) = b
        .app
        .get(&format!("/api/v1/agreements/{}", b.agreement), &b.key)
        .await;
    let id = a["dialogue_id"].as_str().unwrap();
    let portal = b.app.portal_login(&partner).await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    let cancel = format!("/portal/dialogues/{id}/charges/{charge}/cancel");
    let rows = charge_rows(&page.html, &charge);
    assert!(rows.contains(&format!(r#"href="{cancel}""#)), "{rows}");
    assert!(
        !rows.contains("/refund\""),
        "not taken yet: no Refund button: {rows}"
    );

    let confirm = portal.get(&cancel).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert!(confirm.html.contains("Cancel this payment?"));
    assert_eq!(
        portal.post_form(&cancel, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let done = portal.submit(&cancel, &cancel, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    b.app.run_pending_jobs().await;
    let page = portal.get(&format!("/portal/dialogues/{id}")).await;
    assert!(page.html.contains("Cancel requested."), "the flash");
    let rows = charge_rows(&page.html, &charge);
    assert!(rows.contains(">CANCELLED</span>"), "{rows}");
    assert!(!rows.contains(&format!(r#"href="{cancel}""#)), "{rows}");
    let total = &page.html[page.html.find(r#"data-row="total""#).unwrap()..];
    assert_eq!(crate::portal_list::stat(total, "charges_cancelled"), "1");
    assert_eq!(crate::portal_list::stat(total, "charges_failed"), "0");
    b.app.stop().await;
}
