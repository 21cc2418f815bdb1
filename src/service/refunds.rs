//! Money back and charges called off: refund a charged payment fully or partly, cancel a
//! charge not taken yet. Each is checked here, recorded with its audit entry in one
//! transaction and carried out by a job (`billing.refund`, `billing.cancel_charge`).

use dialogpay_jobs::{
    JobSpec,
    refunds::{CancelCharge, RefundCharge},
};

use crate::{
    db::{
        agreements, audit,
        charges::{self, Charge, StatusEntry},
        dialogues,
        refunds::{self, NewRefund, Refund},
    },
    domain::{
        money::{AmountOre, parse_nok},
        status::ChargeStatus,
    },
    service::{FieldProblem, PartnerActor, ServiceError, ServiceResult},
    state::AppState,
    vipps::validate::PRODUCT_DESCRIPTION_MAX,
};

/// Vipps refuses refunds under 1.00 NOK.
pub const MIN_REFUND_ORE: i64 = 100;
/// Vipps refunds up to 365 days after the capture.
pub const REFUND_DAYS: i64 = 365;

/// One charge with its history, its refunds and what is left to refund.
#[derive(Debug, Clone)]
pub struct ChargeDetail {
    pub charge: Charge,
    pub history: Vec<StatusEntry>,
    pub refunds: Vec<Refund>,
    /// Øre that can still be refunded (0 unless the charge is CHARGED or PARTIALLY_REFUNDED).
    pub refundable_ore: i64,
}

impl From<ChargeDetail> for crate::service::agreements::ChargeWithHistory {
    fn from(d: ChargeDetail) -> Self {
        Self {
            charge: d.charge,
            history: d.history,
            refunds: d.refunds,
        }
    }
}

/// What a partner asks to refund: the amount in NOK as text (`"49.90"`), and the description
/// the user sees (the dialogue's product name when empty).
#[derive(Debug, Clone, Default)]
pub struct RefundInput {
    pub amount: String,
    pub reason: Option<String>,
}

/// Øre left to refund once the PENDING and DONE refunds are taken off.
pub fn refundable_ore(charge: &Charge, refunds: &[Refund]) -> i64 {
    if !charge.status.is_refundable() {
        return 0;
    }
    let committed: i64 = refunds
        .iter()
        .filter(|r| r.status != crate::domain::status::RefundStatus::Failed)
        .map(|r| r.amount_ore)
        .sum();
    (charge.amount_ore - committed).max(0)
}

async fn charge_of(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<Charge> {
    charges::get_for_partner(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("charge"))
}

async fn detail(state: &AppState, charge: Charge) -> ServiceResult<ChargeDetail> {
    let history = charges::history(&state.db, &charge.id).await?;
    let refunds = refunds::for_charge(&state.db, &charge.id).await?;
    Ok(ChargeDetail {
        refundable_ore: refundable_ore(&charge, &refunds),
        charge,
        history,
        refunds,
    })
}

/// One of the partner's charges with its refunds.
pub async fn get(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<ChargeDetail> {
    let c = charge_of(state, actor, id).await?;
    detail(state, c).await
}

/// The amount and description, every problem at once.
fn parse_input(input: &RefundInput) -> ServiceResult<(AmountOre, Option<String>)> {
    let mut problems = Vec::new();
    let amount = match parse_nok(&input.amount) {
        Ok(a) if a.0 < MIN_REFUND_ORE => {
            problems.push(FieldProblem::new("amount", "must be at least 1.00 NOK"));
            None
        }
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(FieldProblem::new("amount", e.to_string()));
            None
        }
    };
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > PRODUCT_DESCRIPTION_MAX) {
        problems.push(FieldProblem::new(
            "reason",
            format!("at most {PRODUCT_DESCRIPTION_MAX} characters"),
        ));
    }
    match amount {
        Some(a) if problems.is_empty() => Ok((a, reason.map(str::to_owned))),
        _ => Err(ServiceError::Invalid(problems)),
    }
}

/// The description Vipps shows the user when the partner gave none: the product's name.
async fn default_reason(
    state: &AppState,
    actor: &PartnerActor,
    c: &Charge,
) -> ServiceResult<String> {
    let a = agreements::get_for_partner(&state.db, actor.partner_id(), &c.agreement_id)
        .await?
        .ok_or(ServiceError::NotFound("charge"))?;
    let d = dialogues::get(&state.db, actor.partner_id(), &a.dialogue_id)
        .await?
        .ok_or(ServiceError::NotFound("charge"))?;
    Ok(d.product_name
        .chars()
        .take(PRODUCT_DESCRIPTION_MAX)
        .collect())
}

/// Refusals that do not depend on other refunds: the charge's status and the 365 days.
fn check_refundable(state: &AppState, c: &Charge, history: &[StatusEntry]) -> ServiceResult<()> {
    if !c.status.is_refundable() {
        return Err(ServiceError::conflict(
            "charge_not_refundable",
            format!(
                "only a CHARGED payment can be refunded; this one is {}",
                c.status
            ),
        ));
    }
    let captured_ms = history
        .iter()
        .find(|h| h.status == ChargeStatus::Charged)
        .map(|h| h.at)
        .unwrap_or(c.created_at);
    if state.clock.now_ms() - captured_ms > REFUND_DAYS * 86_400_000 {
        return Err(ServiceError::conflict(
            "refund_period_over",
            format!("Vipps refunds up to {REFUND_DAYS} days after the payment"),
        ));
    }
    Ok(())
}

/// Records a refund (PENDING) of one of the partner's charged payments and queues it; 409 when
/// nothing is left, the charge is not CHARGED or PARTIALLY_REFUNDED, or another refund of it is
/// pending; 422 for a bad amount (under 1.00 NOK, or more than is left).
pub async fn refund(
    state: &AppState,
    actor: &PartnerActor,
    charge_id: &str,
    input: &RefundInput,
) -> ServiceResult<Refund> {
    let (amount, reason) = parse_input(input)?;
    let c = charge_of(state, actor, charge_id).await?;
    check_refundable(state, &c, &charges::history(&state.db, &c.id).await?)?;
    let reason = match reason {
        Some(r) => r,
        None => default_reason(state, actor, &c).await?,
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    refunds::lock_charge(&mut tx, &c.id).await?;
    let (committed, pending) = refunds::committed_tx(&mut tx, &c.id).await?;
    check_left(c.amount_ore - committed, pending, amount)?;
    let new = NewRefund {
        charge_id: &c.id,
        partner_id: actor.partner_id(),
        amount_ore: amount.0,
        reason: &reason,
        actor: &actor.actor,
    };
    let r = refunds::insert(&mut tx, &new, now)
        .await
        .map_err(pending_conflict)?;
    let job = RefundCharge {
        refund_id: r.id.clone(),
        accepted: false,
    };
    state.enqueuer.enqueue_tx(&mut tx, &job).await?;
    let mut entry = actor.audit("charge.refund", "charge", &c.id);
    entry.details = Some(serde_json::json!({
        "refund_id": r.id, "amount_ore": amount.0, "reason": reason,
    }));
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    state.enqueuer.wake(RefundCharge::QUEUE);
    Ok(r)
}

fn refund_pending() -> ServiceError {
    ServiceError::conflict(
        "refund_pending",
        "another refund of this payment is still pending",
    )
}

/// Two requests raced past the check: the partial unique index let one through.
fn pending_conflict(e: sqlx::Error) -> ServiceError {
    if crate::db::is_unique_violation(&e) {
        return refund_pending();
    }
    e.into()
}

/// What the other refunds leave for this one.
fn check_left(left: i64, pending: bool, amount: AmountOre) -> ServiceResult<()> {
    if pending {
        return Err(refund_pending());
    }
    if left <= 0 {
        return Err(ServiceError::conflict(
            "nothing_left_to_refund",
            "this payment has been refunded in full",
        ));
    }
    if amount.0 > left {
        return Err(ServiceError::invalid(
            "amount",
            format!("at most {} NOK is left to refund", AmountOre(left)),
        ));
    }
    Ok(())
}

/// Cancels one of the partner's charges that has not been taken yet (PENDING or DUE, created in
/// Vipps), through a job; 409 otherwise.
pub async fn cancel(
    state: &AppState,
    actor: &PartnerActor,
    charge_id: &str,
) -> ServiceResult<ChargeDetail> {
    let c = charge_of(state, actor, charge_id).await?;
    if !c.status.is_cancelled_on_stop() {
        return Err(ServiceError::conflict(
            "charge_not_cancellable",
            format!(
                "only a PENDING or DUE payment can be cancelled; this one is {}",
                c.status
            ),
        ));
    }
    if c.vipps_charge_id.is_none() {
        return Err(ServiceError::conflict(
            "charge_not_in_vipps_yet",
            "the payment is being created in Vipps; try again in a minute",
        ));
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let job = CancelCharge {
        charge_id: c.id.clone(),
        accepted: false,
    };
    state.enqueuer.enqueue_tx(&mut tx, &job).await?;
    audit::record_tx(&mut tx, &actor.audit("charge.cancel", "charge", &c.id), now).await?;
    tx.commit().await?;
    state.enqueuer.wake(CancelCharge::QUEUE);
    detail(state, c).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(amount: &str, reason: Option<&str>) -> RefundInput {
        RefundInput {
            amount: amount.into(),
            reason: reason.map(str::to_owned),
        }
    }

    fn fields(err: ServiceError) -> Vec<String> {
        match err {
            ServiceError::Invalid(problems) => problems.into_iter().map(|p| p.field).collect(),
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn amounts_from_one_krone_and_reasons_up_to_the_vipps_limit() {
        let (a, r) = parse_input(&input("49.90", Some("  Donor called "))).unwrap();
        assert_eq!((a, r.as_deref()), (AmountOre(4990), Some("Donor called")));
        let (a, r) = parse_input(&input("1", Some("   "))).unwrap();
        assert_eq!(
            (a, r),
            (AmountOre(100), None),
            "blank: the default description"
        );
        for bad in ["0.99", "", "1,00", "-5", "1.001"] {
            assert_eq!(
                fields(parse_input(&input(bad, None)).unwrap_err()),
                ["amount"],
                "{bad}"
            );
        }
        let long = "x".repeat(PRODUCT_DESCRIPTION_MAX + 1);
        assert_eq!(
            fields(parse_input(&input("0", Some(&long))).unwrap_err()),
            ["amount", "reason"],
            "every bad field at once"
        );
    }

    #[test]
    fn what_is_left_decides_between_409_and_422() {
        assert!(check_left(5000, false, AmountOre(5000)).is_ok());
        let code = |r: ServiceResult<()>| match r {
            Err(ServiceError::Conflict { code, .. }) => code,
            other => panic!("not a conflict: {other:?}"),
        };
        assert_eq!(
            code(check_left(5000, true, AmountOre(100))),
            "refund_pending"
        );
        assert_eq!(
            code(check_left(0, false, AmountOre(100))),
            "nothing_left_to_refund"
        );
        assert_eq!(
            fields(check_left(3000, false, AmountOre(3001)).unwrap_err()),
            ["amount"]
        );
    }
}
