//! Agreements with their payments, the partner's charges, and stopping an agreement (in Vipps,
//! idempotent, through the `agreements.stop` job).

use chrono::NaiveDate;
use dialogpay_jobs::{JobSpec, agreements::StopAgreement};

use crate::{
    db::{
        agreements::{self, Agreement, SkippedPeriod},
        audit,
        charges::{self, Charge, StatusEntry},
        dialogues,
        refunds::{self, Refund},
    },
    domain::{
        keyword::MAX_PAUSE_PERIODS,
        pause,
        status::{AgreementStatus, ChargeStatus, PauseActor, RefundStatus},
    },
    service::{
        FieldProblem, PartnerActor, ServiceError, ServiceResult,
        page::{Page, PageRequest},
    },
    state::AppState,
};

/// An agreement with every charge, each with its status history (oldest first), and the
/// periods a pause skipped.
#[derive(Debug, Clone)]
pub struct AgreementDetail {
    pub agreement: Agreement,
    pub charges: Vec<ChargeWithHistory>,
    pub skipped: Vec<SkippedPeriod>,
    /// Its billing as the pause rules see it (`None` before it is billed).
    pub billing: Option<pause::Billing>,
}

impl AgreementDetail {
    /// ACTIVE and skipping periods.
    pub fn is_paused(&self) -> bool {
        self.agreement.status == AgreementStatus::Active
            && self.billing.is_some_and(|b| b.is_paused())
    }

    /// The due date of the next period that will be charged while ACTIVE (after a pause, the
    /// first one after it).
    pub fn next_charge_date(&self) -> Option<NaiveDate> {
        (self.agreement.status == AgreementStatus::Active)
            .then_some(self.billing?.next_charge_date()?)
    }

    /// The due dates a pause will still skip.
    pub fn dates_to_skip(&self) -> Vec<NaiveDate> {
        match self.billing {
            Some(b) if self.is_paused() => b.skipped_dates(),
            _ => Vec::new(),
        }
    }
    /// Øre taken, net of refunds: every charge Vipps reports as charged (refunded in part or
    /// in full included) less its DONE refunds.
    pub fn total_paid_ore(&self) -> i64 {
        self.charges
            .iter()
            .filter(|c| {
                matches!(
                    c.charge.status,
                    ChargeStatus::Charged
                        | ChargeStatus::PartiallyRefunded
                        | ChargeStatus::Refunded
                )
            })
            .map(|c| {
                let refunded: i64 = c
                    .refunds
                    .iter()
                    .filter(|r| r.status == RefundStatus::Done)
                    .map(|r| r.amount_ore)
                    .sum();
                c.charge.amount_ore - refunded
            })
            .sum()
    }

    /// The earliest charge not yet settled (created ahead of its due date, or being taken).
    pub fn next_charge(&self) -> Option<&Charge> {
        self.charges
            .iter()
            .map(|c| &c.charge)
            .filter(|c| c.status.is_open())
            .min_by_key(|c| c.due_date)
    }
}

#[derive(Debug, Clone)]
pub struct ChargeWithHistory {
    pub charge: Charge,
    pub history: Vec<StatusEntry>,
    /// Its refunds, oldest first.
    pub refunds: Vec<Refund>,
}

impl ChargeWithHistory {
    /// Øre that can still be refunded.
    pub fn refundable_ore(&self) -> i64 {
        crate::service::refunds::refundable_ore(&self.charge, &self.refunds)
    }

    /// A refund of it is being carried out.
    pub fn refund_pending(&self) -> bool {
        self.refunds
            .iter()
            .any(|r| r.status == RefundStatus::Pending)
    }

    /// Not taken yet and in Vipps: it can be cancelled.
    pub fn cancellable(&self) -> bool {
        self.charge.status.is_cancelled_on_stop() && self.charge.vipps_charge_id.is_some()
    }
}

/// Which of the partner's charges to list.
#[derive(Debug, Clone, Default)]
pub struct ChargeQuery {
    pub dialogue_id: Option<String>,
    /// A charge status as text; one no charge can have matches no charge.
    pub status: Option<String>,
    /// Due dates from, inclusive.
    pub from: Option<NaiveDate>,
    /// Due dates to, inclusive.
    pub to: Option<NaiveDate>,
}

async fn detail(state: &AppState, agreement: Agreement) -> ServiceResult<AgreementDetail> {
    let dialogue = dialogues::get_any(&state.db, &agreement.dialogue_id).await?;
    detail_on(state, agreement, dialogue.as_ref()).await
}

/// [`detail`] with the agreement's dialogue already read (a page of one dialogue's agreements
/// reads it once).
async fn detail_on(
    state: &AppState,
    agreement: Agreement,
    dialogue: Option<&dialogues::Dialogue>,
) -> ServiceResult<AgreementDetail> {
    let mut history = charges::history_for_agreement(&state.db, &agreement.id).await?;
    let mut refunds = refunds::for_agreement(&state.db, &agreement.id).await?;
    let charges = charges::for_agreement(&state.db, &agreement.id)
        .await?
        .into_iter()
        .map(|charge| {
            let (mine, rest) = history.drain(..).partition(|h| h.charge_id == charge.id);
            history = rest;
            let (its_refunds, rest) = refunds.drain(..).partition(|r| r.charge_id == charge.id);
            refunds = rest;
            ChargeWithHistory {
                charge,
                history: mine,
                refunds: its_refunds,
            }
        })
        .collect();
    let skipped = agreements::skipped_for_agreement(&state.db, &agreement.id).await?;
    let billing = dialogue.and_then(|d| agreement.billing(d.period, d.end_date));
    Ok(AgreementDetail {
        agreement,
        charges,
        skipped,
        billing,
    })
}

async fn agreement_of(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<Agreement> {
    agreements::get_for_partner(&state.db, actor.partner_id(), id)
        .await?
        .ok_or(ServiceError::NotFound("agreement"))
}

/// Refuses a dialogue that is not the partner's (the same 404 as a missing one).
async fn own_dialogue(state: &AppState, actor: &PartnerActor, id: &str) -> ServiceResult<()> {
    dialogues::get(&state.db, actor.partner_id(), id)
        .await?
        .map(|_| ())
        .ok_or(ServiceError::NotFound("dialogue"))
}

/// One of the partner's agreements with its payments.
pub async fn get(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<AgreementDetail> {
    let a = agreement_of(state, actor, id).await?;
    detail(state, a).await
}

/// The newest agreement of `phone` (E.164) on one of the partner's dialogues, with its
/// payments; `None` while the phone has none there.
pub async fn latest_for_phone(
    state: &AppState,
    actor: &PartnerActor,
    dialogue_id: &str,
    phone: &str,
) -> ServiceResult<Option<AgreementDetail>> {
    own_dialogue(state, actor, dialogue_id).await?;
    match agreements::latest_for_phone(&state.db, dialogue_id, phone).await? {
        Some(a) => Ok(Some(detail(state, a).await?)),
        None => Ok(None),
    }
}

/// A dialogue's agreements, newest first, optionally in one status.
pub async fn list_for_dialogue(
    state: &AppState,
    actor: &PartnerActor,
    dialogue_id: &str,
    status: Option<AgreementStatus>,
    page: &PageRequest,
) -> ServiceResult<Page<AgreementDetail>> {
    let rows = agreement_batch(
        state,
        actor,
        dialogue_id,
        status,
        page.cursor(),
        page.fetch_limit(),
    )
    .await?;
    let rows = page.finish(rows, |a| a.id.clone());
    let dialogue = dialogues::get_any(&state.db, dialogue_id).await?;
    let mut items = Vec::with_capacity(rows.items.len());
    for a in rows.items {
        items.push(detail_on(state, a, dialogue.as_ref()).await?);
    }
    Ok(Page {
        items,
        next_cursor: rows.next_cursor,
    })
}

/// The partner's charges, newest first.
pub async fn charges(
    state: &AppState,
    actor: &PartnerActor,
    query: &ChargeQuery,
    page: &PageRequest,
) -> ServiceResult<Page<Charge>> {
    let rows = charge_batch(state, actor, query, page.cursor(), page.fetch_limit()).await?;
    Ok(page.finish(rows, |c| c.id.clone()))
}

/// Up to `limit` charges matching `query` below the id `before`, newest first.
pub(crate) async fn charge_batch(
    state: &AppState,
    actor: &PartnerActor,
    query: &ChargeQuery,
    before: Option<&str>,
    limit: i64,
) -> ServiceResult<Vec<Charge>> {
    let status = match query.status.as_deref().map(str::parse::<ChargeStatus>) {
        Some(Err(_)) => return Ok(Vec::new()),
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let filter = charges::ChargeFilter {
        dialogue_id: query.dialogue_id.as_deref(),
        status,
        from: query.from,
        to: query.to,
        before_id: before,
        limit,
    };
    Ok(charges::list(&state.db, actor.partner_id(), &filter).await?)
}

/// Up to `limit` of a dialogue's agreements below the id `before`, newest first (no charges).
pub(crate) async fn agreement_batch(
    state: &AppState,
    actor: &PartnerActor,
    dialogue_id: &str,
    status: Option<AgreementStatus>,
    before: Option<&str>,
    limit: i64,
) -> ServiceResult<Vec<Agreement>> {
    own_dialogue(state, actor, dialogue_id).await?;
    Ok(agreements::list_for_dialogue(&state.db, dialogue_id, status, before, limit).await?)
}

/// Stops the agreement in Vipps (queued; nothing is done for one already stopped or expired),
/// with the audit record in the same transaction.
pub async fn stop(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<AgreementDetail> {
    let a = agreement_of(state, actor, id).await?;
    if a.status.is_open() {
        let now = state.clock.now_ms();
        let mut tx = state.db.begin().await?;
        state
            .enqueuer
            .enqueue_tx(
                &mut tx,
                &StopAgreement {
                    agreement_id: a.id.clone(),
                    reason: "partner_api".into(),
                },
            )
            .await?;
        audit::record_tx(
            &mut tx,
            &actor.audit("agreement.stop", "agreement", &a.id),
            now,
        )
        .await?;
        tx.commit().await?;
        state.enqueuer.wake(StopAgreement::QUEUE);
    }
    detail(state, a).await
}

/// Pauses one of the partner's ACTIVE agreements: its next `periods` periods not yet created
/// (1 to [`MAX_PAUSE_PERIODS`]) are skipped, no charge is created for them. Pausing a paused
/// agreement starts the count again from its next period.
pub async fn pause(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
    periods: u32,
) -> ServiceResult<AgreementDetail> {
    if !(1..=MAX_PAUSE_PERIODS).contains(&periods) {
        return Err(ServiceError::Invalid(vec![FieldProblem::new(
            "periods",
            format!("must be 1 to {MAX_PAUSE_PERIODS}"),
        )]));
    }
    let a = agreement_of(state, actor, id).await?;
    let billing = dialogues::get_any(&state.db, &a.dialogue_id)
        .await?
        .and_then(|d| a.billing(d.period, d.end_date))
        .filter(|_| a.status == AgreementStatus::Active)
        .ok_or_else(not_pausable)?;
    let until = billing.pause_until(periods);
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if !agreements::pause(&mut tx, id, until, PauseActor::Partner, now).await? {
        return Err(not_pausable());
    }
    let mut entry = actor.audit("agreement.pause", "agreement", id);
    entry.details = Some(serde_json::json!({ "periods": periods, "until_period": until }));
    audit::record_tx(&mut tx, &entry, now).await?;
    tx.commit().await?;
    get(state, actor, id).await
}

/// Ends the pause of one of the partner's agreements (nothing when it is not paused).
pub async fn resume(
    state: &AppState,
    actor: &PartnerActor,
    id: &str,
) -> ServiceResult<AgreementDetail> {
    let a = agreement_of(state, actor, id).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    if agreements::resume(&mut tx, &a.id, now).await? {
        audit::record_tx(
            &mut tx,
            &actor.audit("agreement.resume", "agreement", &a.id),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    get(state, actor, id).await
}

fn not_pausable() -> ServiceError {
    ServiceError::conflict(
        "agreement_not_active",
        "only an ACTIVE agreement that has started billing can be paused".to_owned(),
    )
}
