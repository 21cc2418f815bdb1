//! The simulator's refund and cancel rules against the Vipps docs (§7.6 of
//! `../shared/docs/vipps-recurring.md`): partial and repeated refunds up to what was captured,
//! within 365 days of the capture; which statuses can be refunded or cancelled; the 202 case
//! (accepted, applied at a later read or once the clock passes its delay); idempotency replay
//! (same key and body: the same answer, done once) and conflict (same key, other body: 409
//! `idempotency-conflict`).

use dialogpay::vipps::VippsError;
use dialogpay::vipps::client::Applied;
use dialogpay::vipps::sim::Faults;
use dialogpay::vipps::wire::{
    ChargeEventKind, ChargeResponse, ChargeStatus, ProblemKind, RefundRequest,
};

use crate::support::*;

/// An ACTIVE agreement whose initial charge of 99.00 NOK is CHARGED: (agreement, charge).
async fn charged(env: &Env) -> (String, String) {
    let d = env
        .client
        .draft_agreement(MSN, &draft(9900), key("draft-1"))
        .await
        .unwrap();
    env.sim.approve(&d.agreement_id, None).unwrap();
    (d.agreement_id, d.charge_id.unwrap())
}

async fn refund(
    env: &Env,
    ids: &(String, String),
    amount: i64,
    k: &str,
) -> Result<Applied, VippsError> {
    let req = RefundRequest {
        amount,
        description: "Goodwill".into(),
    };
    env.client
        .refund_charge(MSN, &ids.0, &ids.1, &req, key(k))
        .await
}

async fn read(env: &Env, ids: &(String, String)) -> ChargeResponse {
    env.client.get_charge(MSN, &ids.0, &ids.1).await.unwrap()
}

/// A DUE charge of the agreement (not taken yet).
async fn due_charge(env: &Env, agreement: &str) -> (String, String) {
    let r = env
        .client
        .create_charge(
            MSN,
            agreement,
            &charge(days_from_today(env, 5), 9900),
            key("c-1"),
        )
        .await
        .unwrap();
    (agreement.to_owned(), r.charge_id)
}

fn accept_later(env: &Env, n: u32) {
    env.sim.add_faults(Faults {
        accept_later: Some(n),
        ..Faults::default()
    });
}

#[tokio::test]
async fn partial_refunds_up_to_the_captured_amount_then_refused() {
    let env = env().await;
    let ids = charged(&env).await;
    assert_eq!(
        refund(&env, &ids, 4000, "r-1").await.unwrap(),
        Applied::Done
    );
    let c = read(&env, &ids).await;
    assert_eq!(
        (c.status, c.summary.refunded),
        (ChargeStatus::PartiallyRefunded, 4000)
    );
    let e = refund(&env, &ids, 6000, "r-2").await.unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::OperationFailed), "{e}");
    refund(&env, &ids, 5900, "r-3").await.unwrap();
    let c = read(&env, &ids).await;
    assert_eq!(
        (c.status, c.summary.refunded),
        (ChargeStatus::Refunded, 9900)
    );
    let e = refund(&env, &ids, 100, "r-4").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
}

#[tokio::test]
async fn only_captured_money_is_refunded_and_only_money_not_taken_is_cancelled() {
    let env = env().await;
    let (agreement, _) = charged(&env).await;
    let due = due_charge(&env, &agreement).await;
    let e = refund(&env, &due, 100, "r-due").await.unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::OperationFailed), "{e}");
    env.client
        .cancel_charge(MSN, &due.0, &due.1, key("x-1"))
        .await
        .unwrap();
    assert_eq!(read(&env, &due).await.status, ChargeStatus::Cancelled);
    let e = refund(&env, &due, 100, "r-cancelled").await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    let e = env
        .client
        .cancel_charge(MSN, &due.0, &due.1, key("x-2"))
        .await
        .unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::CancelChargeFailed));
}

#[tokio::test]
async fn a_refund_more_than_365_days_after_the_capture_is_refused() {
    let env = env().await;
    let ids = charged(&env).await;
    env.sim.advance(365);
    refund(&env, &ids, 100, "r-day-365").await.unwrap();
    env.sim.advance(1);
    let e = refund(&env, &ids, 100, "r-day-366").await.unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::OperationFailed));
    assert!(e.to_string().contains("365 days"), "{e}");
    assert_eq!(read(&env, &ids).await.summary.refunded, 100);
}

#[tokio::test]
async fn the_same_key_replays_the_answer_and_another_body_is_a_conflict() {
    let env = env().await;
    let ids = charged(&env).await;
    refund(&env, &ids, 1000, "r-1").await.unwrap();
    assert_eq!(
        refund(&env, &ids, 1000, "r-1").await.unwrap(),
        Applied::Done
    );
    assert_eq!(
        read(&env, &ids).await.summary.refunded,
        1000,
        "refunded once"
    );
    let e = refund(&env, &ids, 2000, "r-1").await.unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.problem_kind(), Some(ProblemKind::IdempotencyConflict));
    // A refusal is kept against its key too: fixing the amount needs a new key.
    refund(&env, &ids, 9000, "r-2").await.unwrap_err();
    let e = refund(&env, &ids, 9000, "r-2").await.unwrap_err();
    assert_eq!(e.problem_kind(), Some(ProblemKind::OperationFailed));
}

#[tokio::test]
async fn an_accepted_refund_shows_at_the_second_read_and_is_done_once() {
    let env = env().await;
    let ids = charged(&env).await;
    accept_later(&env, 1);
    assert_eq!(
        refund(&env, &ids, 4000, "r-1").await.unwrap(),
        Applied::Accepted
    );
    let first = read(&env, &ids).await;
    assert_eq!(
        (first.status, first.summary.refunded),
        (ChargeStatus::Charged, 0)
    );
    // The replay answers 202 again and changes nothing.
    assert_eq!(
        refund(&env, &ids, 4000, "r-1").await.unwrap(),
        Applied::Accepted
    );
    let second = read(&env, &ids).await;
    assert_eq!(
        (second.status, second.summary.refunded),
        (ChargeStatus::PartiallyRefunded, 4000)
    );
    let logged = second
        .history
        .iter()
        .filter(|h| h.event == ChargeEventKind::Refund)
        .map(|h| (h.idempotency_key.as_deref(), h.success))
        .collect::<Vec<_>>();
    assert_eq!(logged, [(Some("r-1"), true)]);
    assert_eq!(read(&env, &ids).await.summary.refunded, 4000);
    // Only the one was accepted later: the next refund is applied at once.
    assert_eq!(refund(&env, &ids, 100, "r-2").await.unwrap(), Applied::Done);
}

#[tokio::test]
async fn an_accepted_refund_counts_against_what_is_left_and_applies_when_the_clock_passes() {
    let env = env().await;
    let ids = charged(&env).await;
    accept_later(&env, 1);
    assert_eq!(
        refund(&env, &ids, 9900, "r-all").await.unwrap(),
        Applied::Accepted
    );
    let e = refund(&env, &ids, 100, "r-more").await.unwrap_err();
    assert!(
        e.to_string().contains("remaining refundable amount (0)"),
        "{e}"
    );
    env.sim.advance_by(chrono::Duration::seconds(6));
    let c = env.client.get_charge_by_id(MSN, &ids.1).await.unwrap();
    assert_eq!(
        (c.status, c.summary.refunded),
        (ChargeStatus::Refunded, 9900)
    );
}

#[tokio::test]
async fn an_accepted_cancel_shows_at_the_second_read_of_the_list() {
    let env = env().await;
    let (agreement, _) = charged(&env).await;
    let due = due_charge(&env, &agreement).await;
    accept_later(&env, 1);
    let applied = env
        .client
        .cancel_charge(MSN, &due.0, &due.1, key("x-1"))
        .await
        .unwrap();
    assert_eq!(applied, Applied::Accepted);
    let status = |list: Vec<ChargeResponse>| {
        list.into_iter()
            .find(|c| c.id == due.1)
            .map(|c| c.status)
            .unwrap()
    };
    let first = env
        .client
        .list_charges(MSN, &agreement, None)
        .await
        .unwrap();
    assert_eq!(status(first), ChargeStatus::Due);
    let second = env
        .client
        .list_charges(MSN, &agreement, None)
        .await
        .unwrap();
    assert_eq!(status(second), ChargeStatus::Cancelled);
}

#[tokio::test]
async fn an_accepted_cancel_of_a_charge_taken_meanwhile_is_logged_unsuccessful() {
    let env = env().await;
    let (agreement, _) = charged(&env).await;
    let due = due_charge(&env, &agreement).await;
    let due_date = read(&env, &due).await.due.date_naive();
    // Two seconds before the payment attempt (midnight in Norway on the due date), nobody
    // reading: the attempt comes before the cancel is applied.
    let attempt = dialogpay::vipps::sim::engine::oslo_midnight(due_date);
    env.sim.set_now(attempt - chrono::Duration::seconds(2));
    accept_later(&env, 1);
    env.client
        .cancel_charge(MSN, &due.0, &due.1, key("x-1"))
        .await
        .unwrap();
    env.sim.advance(1);
    let c = read(&env, &due).await;
    assert_eq!(c.status, ChargeStatus::Charged);
    let cancels = c
        .history
        .iter()
        .filter(|h| h.event == ChargeEventKind::Cancel)
        .map(|h| (h.idempotency_key.as_deref(), h.success))
        .collect::<Vec<_>>();
    assert_eq!(cancels, [(Some("x-1"), false)]);
}
