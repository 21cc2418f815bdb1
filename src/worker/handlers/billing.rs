//! Handlers of `dialogpay_jobs::billing`: the sweep, create-charge, and reconciliation.
//!
//! Late periods follow one policy: a period whose due date can no longer be met (it is sooner
//! than `vipps.min_lead_days`) is charged due at the earliest allowed date if it is less than
//! one interval late, otherwise it is recorded as MISSED (visible in the agreement's charges)
//! and the next period is considered. Two periods are never charged at once silently.

use chrono::NaiveDate;
use dialogpay_jobs::{
    JobSpec,
    agreements::StopAgreement,
    billing::{CreateCharge, CreateChargeBatch, Reconcile, Sweep, SyncCharge, order_id},
};
use sha2::{Digest, Sha256};

use crate::{
    db::{
        agreements,
        billing_runs::{self, RunKind},
        charges, partners,
    },
    domain::{
        notices::NoticeKind,
        partner_events::EventType,
        pause,
        status::{AgreementStatus, ChargeStatus},
    },
    vipps::{
        IdempotencyKey,
        mapping::ChargeInput,
        wire::{BatchChargeItem, ChargeResponse, CreateChargeRequest},
    },
    worker::{
        JobContext, JobError,
        handlers::{agreements::vipps_failure, sms, webhooks},
    },
};

/// Agreements handled per page of the sweep.
const PAGE: i64 = 1000;

fn today(ctx: &JobContext) -> NaiveDate {
    ctx.clock.today_oslo()
}

/// Finds due periods page by page and enqueues their creation (duplicates are dropped by their
/// idempotency keys): one create-charge job each, or batch jobs per merchant when the run is
/// larger than `billing.batch_threshold`; stops agreements whose dialogue ended.
/// Each run's figures and outcome are recorded ([`record_run`]).
pub async fn sweep(job: Sweep, ctx: JobContext) -> Result<(), JobError> {
    let started = ctx.clock.now_ms();
    let mut figures = RunFigures::default();
    let result = sweep_run(&ctx, &mut figures).await;
    record_run(&ctx, RunKind::Sweep, &job.tick, started, &figures, result).await
}

/// What a sweep or reconcile run found and queued, so far.
#[derive(Debug, Default)]
struct RunFigures {
    found: u64,
    queued: u64,
    stops: u64,
}

/// Records the run of `tick` (its figures and whether it failed) in `billing_runs`, and passes
/// its result on. A failure to record fails a run that succeeded (it runs again, queueing
/// nothing twice); a run that failed keeps its own error.
async fn record_run(
    ctx: &JobContext,
    kind: RunKind,
    tick: &str,
    started_at: i64,
    figures: &RunFigures,
    result: Result<(), JobError>,
) -> Result<(), JobError> {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let run = billing_runs::RunRecord {
        kind,
        tick,
        job_id: &ctx.job_id,
        outcome: result.as_ref().map(|_| ()).map_err(ToString::to_string),
        found: count(figures.found),
        queued: count(figures.queued),
        stops: count(figures.stops),
        attempt: ctx.attempt,
        started_at,
        finished_at: ctx.clock.now_ms(),
    };
    match (billing_runs::record(&ctx.db, &run).await, result) {
        (Ok(()), result) => result,
        (Err(err), Ok(())) => Err(err.into()),
        (Err(err), Err(failed)) => {
            tracing::warn!(error = %err, "the failed billing run is not recorded");
            Err(failed)
        }
    }
}

async fn sweep_run(ctx: &JobContext, figures: &mut RunFigures) -> Result<(), JobError> {
    let today = today(ctx);
    let billing = &ctx.settings.billing;
    let horizon = today + chrono::Days::new(u64::from(billing.create_ahead_days));
    let due = agreements::count_due_for_billing(&ctx.db, horizon).await?;
    let batched = billing.batches(u64::try_from(due).unwrap_or(0));
    let mut batches = BatchBuilder::new(billing.batch_size as usize);
    let mut after = None;
    let mut enqueued = 0u64;
    loop {
        let page = agreements::due_for_billing(&ctx.db, horizon, after.clone(), PAGE).await?;
        let mut singles = Vec::new();
        for a in &page {
            let Some(k) = a.next_period_index else {
                continue;
            };
            let job = CreateCharge {
                agreement_id: a.id.clone(),
                period_index: k as u32,
            };
            figures.found += 1;
            if batched {
                batches.push(&a.msn, job);
            } else {
                singles.push(job);
            }
        }
        enqueued += enqueue(ctx, &singles).await?;
        enqueued += enqueue(ctx, &batches.take_full()).await?;
        figures.queued = enqueued;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                after = last.next_due_date.map(|d| (d, last.id.clone()))
            }
            _ => break,
        }
    }
    enqueued += enqueue(ctx, &batches.finish()).await?;
    figures.queued = enqueued;
    let ended = agreements::ended_and_run_out(&ctx.db, today, 10_000).await?;
    let stops: Vec<StopAgreement> = ended
        .into_iter()
        .map(|id| StopAgreement {
            agreement_id: id,
            reason: "dialogue_ended".into(),
        })
        .collect();
    figures.stops = enqueue(ctx, &stops).await?;
    tracing::info!(due, batched, enqueued, stops = stops.len(), "billing sweep");
    Ok(())
}

async fn enqueue<J: JobSpec>(ctx: &JobContext, jobs: &[J]) -> Result<u64, JobError> {
    ctx.enqueuer
        .enqueue_many(jobs)
        .await
        .map_err(JobError::retry)
}

/// Groups a run's periods into batch jobs of at most `size` items per merchant.
struct BatchBuilder {
    size: usize,
    open: std::collections::BTreeMap<String, Vec<CreateCharge>>,
    full: Vec<CreateChargeBatch>,
}

impl BatchBuilder {
    fn new(size: usize) -> Self {
        Self {
            size: size.max(1),
            open: Default::default(),
            full: Vec::new(),
        }
    }

    fn push(&mut self, msn: &str, item: CreateCharge) {
        let items = self.open.entry(msn.to_owned()).or_default();
        items.push(item);
        if items.len() >= self.size {
            let items = std::mem::take(items);
            self.full.push(CreateChargeBatch {
                msn: msn.to_owned(),
                items,
            });
        }
    }

    fn take_full(&mut self) -> Vec<CreateChargeBatch> {
        std::mem::take(&mut self.full)
    }

    fn finish(mut self) -> Vec<CreateChargeBatch> {
        for (msn, items) in std::mem::take(&mut self.open) {
            if !items.is_empty() {
                self.full.push(CreateChargeBatch { msn, items });
            }
        }
        self.full
    }
}

/// Charge rows written per transaction while preparing (bounds how long a batch holds
/// SQLite's write lock; each transaction is one commit instead of one per period).
const PREPARE_PER_TX: usize = 500;

/// One period ready for Vipps: our row exists (PENDING, no Vipps id yet).
struct Prepared {
    row: charges::Charge,
    msn: String,
    charge: ChargeInput,
}

/// What preparing a set of periods found: those to send, agreements that do not exist, and
/// ACTIVE agreements without a Vipps id (nothing can be sent for them).
struct Preparation {
    ready: Vec<Prepared>,
    unknown: Vec<String>,
    not_in_vipps: Vec<String>,
}

/// A period's charge as decided from its agreement's [`agreements::ChargeBasis`].
struct Plan<'a> {
    basis: &'a agreements::ChargeBasis,
    vipps_agreement_id: &'a str,
    period_index: u32,
    due: NaiveDate,
    next_due: NaiveDate,
    /// The due date sent to Vipps (a late period is charged at the earliest allowed date).
    send_due: NaiveDate,
    status: ChargeStatus,
    /// A pause skips the period: no charge, a skipped period in the agreement's history.
    skipped: bool,
}

/// An ACTIVE agreement without a Vipps agreement id: nothing can be charged for it.
#[derive(Debug, PartialEq, Eq)]
struct NotInVipps;

/// Decides a period's charge; `Ok(None)` when there is nothing to record: the agreement is no
/// longer ACTIVE (never charged again), has not started billing, or the period is after the
/// dialogue's end (the sweep stops the agreement).
fn plan(
    basis: &agreements::ChargeBasis,
    k: u32,
    earliest: NaiveDate,
) -> Result<Option<Plan<'_>>, NotInVipps> {
    if basis.status != AgreementStatus::Active {
        return Ok(None);
    }
    let Some(vipps_agreement_id) = basis
        .vipps_agreement_id
        .as_deref()
        .filter(|id| !id.is_empty())
    else {
        return Err(NotInVipps);
    };
    let Some(anchor) = basis.anchor_date else {
        return Ok(None);
    };
    let period = basis.period;
    let (due, next_due) = (period.due_date(anchor, k), period.due_date(anchor, k + 1));
    if due > basis.end_date {
        return Ok(None);
    }
    let skipped = pause::skips(
        basis
            .paused_until_period
            .and_then(|u| u32::try_from(u).ok()),
        k,
    );
    let (status, send_due) = if due >= earliest {
        (ChargeStatus::Pending, due)
    } else if earliest < next_due {
        // Late, but within its interval: charged at the earliest allowed date.
        (ChargeStatus::Pending, earliest)
    } else {
        (ChargeStatus::Missed, due)
    };
    Ok(Some(Plan {
        basis,
        vipps_agreement_id,
        period_index: k,
        due,
        next_due,
        send_due,
        status,
        skipped,
    }))
}

/// Inserts the periods' charge rows (the unique constraint is the money guard) and moves the
/// agreements' billing on, reading every agreement in a few queries and writing in a few
/// transactions of a few statements each (on PostgreSQL one round trip per chunk for the
/// rows, one for the moves), each transaction locking its agreements first in one order (so
/// that concurrent preparations cannot deadlock). Returns the periods Vipps still has to
/// create: not missed, not already created.
async fn prepare(ctx: &JobContext, items: &[CreateCharge]) -> Result<Preparation, JobError> {
    let mut items: Vec<&CreateCharge> = items.iter().collect();
    items.sort_by(|a, b| (&a.agreement_id, a.period_index).cmp(&(&b.agreement_id, b.period_index)));
    let mut ids: Vec<String> = items.iter().map(|i| i.agreement_id.clone()).collect();
    ids.dedup();
    let bases: std::collections::HashMap<String, agreements::ChargeBasis> =
        agreements::charge_bases(&ctx.db, &ids)
            .await?
            .into_iter()
            .map(|b| (b.id.clone(), b))
            .collect();
    let earliest = today(ctx) + chrono::Days::new(u64::from(ctx.settings.vipps_min_lead_days));
    let mut unknown = Vec::new();
    let mut not_in_vipps = Vec::new();
    let mut plans = Vec::with_capacity(items.len());
    for item in items {
        match bases.get(&item.agreement_id) {
            Some(basis) => match plan(basis, item.period_index, earliest) {
                Ok(p) => plans.extend(p),
                Err(NotInVipps) => not_in_vipps.push(item.agreement_id.clone()),
            },
            None => unknown.push(item.agreement_id.clone()),
        }
    }
    let now = ctx.clock.now_ms();
    let mut ready = Vec::with_capacity(plans.len());
    for chunk in plans.chunks(PREPARE_PER_TX) {
        let mut tx = ctx.db.begin().await?;
        let mut agreement_ids: Vec<&str> = chunk.iter().map(|p| p.basis.id.as_str()).collect();
        agreement_ids.dedup();
        agreements::lock_for_billing(&mut tx, &agreement_ids).await?;
        let (skips, charged): (Vec<&Plan<'_>>, Vec<&Plan<'_>>) =
            chunk.iter().partition(|p| p.skipped);
        let skipped: Vec<agreements::Skip<'_>> = skips
            .iter()
            .map(|p| agreements::Skip {
                agreement_id: &p.basis.id,
                dialogue_id: &p.basis.dialogue_id,
                period_index: p.period_index,
                due_date: p.due,
            })
            .collect();
        agreements::record_skipped(&mut tx, &skipped, now).await?;
        let new_rows: Vec<charges::NewRecurring<'_>> = charged
            .iter()
            .map(|p| charges::NewRecurring {
                agreement_id: &p.basis.id,
                partner_id: &p.basis.partner_id,
                dialogue_id: &p.basis.dialogue_id,
                period_index: p.period_index,
                due_date: p.due,
                amount_ore: p.basis.amount_ore,
                status: p.status,
            })
            .collect();
        let rows = charges::insert_recurring_many(&mut tx, &new_rows, now).await?;
        let moves: Vec<(&str, u32, NaiveDate)> = chunk
            .iter()
            .map(|p| (p.basis.id.as_str(), p.period_index + 1, p.next_due))
            .collect();
        agreements::advance_billing_many(&mut tx, &moves).await?;
        tx.commit().await?;
        for (p, row) in charged.iter().zip(rows) {
            if row.status == ChargeStatus::Pending && row.vipps_charge_id.is_none() {
                ready.push(ready_for_vipps(ctx, p, row));
            }
        }
    }
    Ok(Preparation {
        ready,
        unknown,
        not_in_vipps,
    })
}

/// What Vipps is asked to create for a recorded PENDING period.
fn ready_for_vipps(ctx: &JobContext, p: &Plan<'_>, row: charges::Charge) -> Prepared {
    let charge = ChargeInput {
        vipps_agreement_id: p.vipps_agreement_id.to_owned(),
        charge_id: row.id.clone(),
        order_id: row.order_id.clone(),
        amount_ore: p.basis.amount_ore,
        product_name: p.basis.product_name.clone(),
        period_due: p.due,
        send_due: p.send_due,
        retry_days: ctx.settings.vipps_retry_days,
    };
    Prepared {
        row,
        msn: p.basis.msn.clone(),
        charge,
    }
}

/// The problem type we record for a refused create.
fn problem_type(e: &crate::vipps::VippsError) -> String {
    e.problem_kind()
        .map(|k| format!("{k:?}"))
        .unwrap_or_else(|| format!("http_{}", e.status().unwrap_or(0)))
}

/// Creates one period's charge: our row first, then Vipps with the row's deterministic
/// orderId as idempotency key.
pub async fn create_charge(job: CreateCharge, ctx: JobContext) -> Result<(), JobError> {
    let prepared = prepare(&ctx, std::slice::from_ref(&job)).await?;
    if !prepared.unknown.is_empty() {
        return Err(JobError::permanent(anyhow::anyhow!(
            "agreement {} not found",
            job.agreement_id
        )));
    }
    if !prepared.not_in_vipps.is_empty() {
        return Err(JobError::permanent(anyhow::anyhow!(
            "agreement {} is ACTIVE but has no Vipps agreement id: nothing can be charged",
            job.agreement_id
        )));
    }
    let Some(c) = prepared.ready.into_iter().next() else {
        return Ok(()); // missed, already created, or nothing to charge
    };
    let order = order_id(&job.agreement_id, job.period_index);
    let key = IdempotencyKey::new(order.clone())
        .map_err(|e| JobError::permanent(anyhow::anyhow!("{e}")))?;
    let vipps_agreement_id = &c.charge.vipps_agreement_id;
    let request = CreateChargeRequest::from(&c.charge);
    let created = match ctx
        .vipps
        .create_charge(&c.msn, vipps_agreement_id, &request, key)
        .await
    {
        // Refused, but Vipps may hold this period's charge under our orderId all the same.
        Err(e)
            if !e.is_retryable()
                && vipps_has_charge(&ctx, &c.msn, vipps_agreement_id, &order).await? =>
        {
            Ok(crate::vipps::wire::ChargeReference { charge_id: order })
        }
        other => other,
    };
    let now = ctx.clock.now_ms();
    let mut tx = ctx.db.begin().await?;
    let result = match created {
        Ok(created) => {
            charges::set_vipps_id(&mut tx, &c.row.id, &created.charge_id, now).await?;
            webhooks::charge_event(&ctx, &mut tx, &c.row.id, EventType::ChargeCreated).await?;
            Ok(())
        }
        Err(e) if !e.is_retryable() => {
            charges::set_create_failed(&mut tx, &c.row.id, &problem_type(&e), &e.to_string(), now)
                .await?;
            Err(JobError::permanent(e))
        }
        Err(e) => return Err(vipps_failure(e)),
    };
    tx.commit().await?;
    webhooks::wake(&ctx);
    result
}

/// Whether Vipps holds a charge under our `order_id`, asked before a period is recorded
/// CREATE_FAILED. Our orderIds are deterministic per agreement and period, so such a charge is
/// this period's, created by another call: a crashed batch re-run racing a single create, or a
/// second submission of the same orderId (which Vipps refuses with 409 or a
/// `charge-creation-failed` event).
pub async fn vipps_has_charge(
    ctx: &JobContext,
    msn: &str,
    vipps_agreement_id: &str,
    order_id: &str,
) -> Result<bool, JobError> {
    match ctx
        .vipps
        .get_charge(msn, vipps_agreement_id, order_id)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.status() == Some(404) => Ok(false),
        Err(e) => Err(vipps_failure(e)),
    }
}

/// Creates many periods' charges of one merchant in one batch call. The idempotency key is a
/// hash of the order ids sent, so a retry of the same set is replayed by Vipps; items already
/// recorded are not sent again. Valid items get their charge id (Vipps uses the orderId);
/// refused ones are recorded as CREATE_FAILED with Vipps's reasons.
pub async fn create_charge_batch(job: CreateChargeBatch, ctx: JobContext) -> Result<(), JobError> {
    let Preparation {
        ready: prepared,
        unknown,
        not_in_vipps,
    } = prepare(&ctx, &job.items).await?;
    if !unknown.is_empty() {
        tracing::warn!(
            unknown = unknown.len(),
            "charge batch names agreements that do not exist; skipped"
        );
    }
    for id in &not_in_vipps {
        tracing::error!(
            agreement.id = %id,
            "ACTIVE agreement without a Vipps agreement id: nothing can be charged; skipped"
        );
    }
    if prepared.is_empty() {
        return Ok(());
    }
    let items: Vec<BatchChargeItem> = prepared
        .iter()
        .map(|c| BatchChargeItem::from(&c.charge))
        .collect();
    let mut hash = Sha256::new();
    for i in &items {
        hash.update(i.order_id.as_bytes());
        hash.update(b"|");
    }
    let key = IdempotencyKey::new(format!("batch-{}", hex::encode(&hash.finalize()[..16])))
        .map_err(|e| JobError::permanent(anyhow::anyhow!("{e}")))?;
    let answer = ctx.vipps.create_charges_batch(&job.msn, &items, key).await;
    let now = ctx.clock.now_ms();
    let by_order: std::collections::HashMap<&str, &Prepared> = prepared
        .iter()
        .map(|c| (c.row.order_id.as_str(), c))
        .collect();
    let mut tx = ctx.db.begin().await?;
    let result = match answer {
        Ok(answer) => {
            let valid: Vec<(&str, &str)> = answer
                .valid_charges
                .iter()
                .filter_map(|charge_id| {
                    by_order
                        .get(charge_id.as_str())
                        .map(|c| (c.row.id.as_str(), charge_id.as_str()))
                })
                .collect();
            charges::set_vipps_ids(&mut tx, &valid, now).await?;
            let created: Vec<&str> = valid.iter().map(|(id, _)| *id).collect();
            webhooks::charges_created(&ctx, &mut tx, &created).await?;
            let refused: Vec<(&str, String)> = answer
                .invalid_charges
                .iter()
                .filter_map(|invalid| {
                    let order = invalid.charge_batch_item_dto["orderId"].as_str()?;
                    let c = by_order.get(order)?;
                    Some((c.row.id.as_str(), invalid.errors.join("; ")))
                })
                .collect();
            let refused: Vec<(&str, &str, &str)> = refused
                .iter()
                .map(|(id, detail)| (*id, "invalid-batch-item", detail.as_str()))
                .collect();
            charges::set_create_failed_many(&mut tx, &refused, now).await?;
            tracing::info!(
                valid = answer.valid_charges.len(),
                invalid = answer.invalid_charges.len(),
                "charge batch created"
            );
            Ok(())
        }
        Err(e) if !e.is_retryable() => {
            let (problem, detail) = (problem_type(&e), e.to_string());
            let refused: Vec<(&str, &str, &str)> = prepared
                .iter()
                .map(|c| (c.row.id.as_str(), problem.as_str(), detail.as_str()))
                .collect();
            charges::set_create_failed_many(&mut tx, &refused, now).await?;
            Err(JobError::permanent(e))
        }
        Err(e) => return Err(vipps_failure(e)),
    };
    tx.commit().await?;
    webhooks::wake(&ctx);
    result
}

/// Where one of our charges is in Vipps: its merchant, agreement and charge ids.
pub struct VippsCharge {
    pub msn: String,
    pub agreement_id: String,
    pub charge_id: String,
}

/// The charge's place in Vipps, `None` when it was never created there (no Vipps charge id).
pub async fn vipps_charge(
    ctx: &JobContext,
    c: &charges::Charge,
) -> Result<Option<VippsCharge>, JobError> {
    let Some(vipps_charge) = &c.vipps_charge_id else {
        return Ok(None);
    };
    let (msn, agreement_id) = vipps_agreement(ctx, c).await?;
    Ok(Some(VippsCharge {
        msn,
        agreement_id,
        charge_id: vipps_charge.clone(),
    }))
}

/// The merchant and the Vipps agreement id of the charge's agreement.
pub async fn vipps_agreement(
    ctx: &JobContext,
    c: &charges::Charge,
) -> Result<(String, String), JobError> {
    let a = agreements::get(&ctx.db, &c.agreement_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("agreement gone")))?;
    let p = partners::get(&ctx.db, &a.partner_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("partner gone")))?;
    let Some(vipps_agreement) = a.vipps_agreement_id else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {}: agreement {} has no Vipps agreement id",
            c.id,
            a.id
        )));
    };
    Ok((p.vipps_msn, vipps_agreement))
}

/// Records the status Vipps reports for charge `id`, forward-only, in `tx`; a move to CHARGED or
/// FAILED also records its partner event and queues the dialogue's receipt or failed-payment
/// SMS (the caller wakes their queues after the commit, [`super::wake_followers`]).
pub async fn apply_remote(
    ctx: &JobContext,
    tx: &mut crate::db::Tx,
    id: &str,
    remote: &ChargeResponse,
    now_ms: i64,
) -> Result<(), JobError> {
    let status = match ChargeStatus::try_from(&remote.status) {
        Ok(status) => status,
        Err(e) => {
            // Vipps documents UNKNOWN as transient: the next re-read sees the real status.
            tracing::info!(charge.id = %id, error = %e, "Vipps says a charge status we do not know; nothing changed");
            return Ok(());
        }
    };
    let reason = remote
        .failure_reason
        .as_ref()
        .map(|r| r.as_str().to_owned());
    let moved = charges::apply_status(
        tx,
        id,
        status,
        reason.as_deref(),
        remote.failure_description.as_deref(),
        now_ms,
    )
    .await?;
    if !moved {
        return Ok(());
    }
    let (event, notice) = match status {
        ChargeStatus::Charged => (EventType::ChargeCharged, NoticeKind::Receipt),
        ChargeStatus::Failed => (EventType::ChargeFailed, NoticeKind::PaymentFailed),
        // `charge.refunded` is sent per refund, by the refund job.
        _ => return Ok(()),
    };
    webhooks::charge_event(ctx, tx, id, event).await?;
    sms::queue_charge_notice(ctx, tx, id, notice).await
}

/// Re-reads one charge from Vipps and records its status forward-only.
pub async fn sync_charge(job: SyncCharge, ctx: JobContext) -> Result<(), JobError> {
    let Some(c) = charges::get(&ctx.db, &job.charge_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {} not found",
            job.charge_id
        )));
    };
    let Some(v) = vipps_charge(&ctx, &c).await? else {
        return Ok(());
    };
    let remote = ctx
        .vipps
        .get_charge(&v.msn, &v.agreement_id, &v.charge_id)
        .await
        .map_err(vipps_failure)?;
    let mut tx = ctx.db.begin().await?;
    apply_remote(&ctx, &mut tx, &c.id, &remote, ctx.clock.now_ms()).await?;
    tx.commit().await?;
    super::wake_followers(&ctx);
    Ok(())
}

/// Enqueues a re-read of open charges: those due by today (daily, so each is polled around its
/// due date and through its retry days), or every open one when an operator asks.
/// Each run's figures and outcome are recorded ([`record_run`]).
pub async fn reconcile(job: Reconcile, ctx: JobContext) -> Result<(), JobError> {
    let started = ctx.clock.now_ms();
    let mut figures = RunFigures::default();
    let result = reconcile_run(&job, &ctx, &mut figures).await;
    record_run(
        &ctx,
        RunKind::Reconcile,
        &job.tick,
        started,
        &figures,
        result,
    )
    .await
}

async fn reconcile_run(
    job: &Reconcile,
    ctx: &JobContext,
    figures: &mut RunFigures,
) -> Result<(), JobError> {
    let due_by = (!job.all_open).then(|| today(ctx));
    let trigger = format!("reconcile-{}", job.tick);
    let mut after: Option<String> = None;
    loop {
        let ids = charges::open_ids(&ctx.db, due_by, after.as_deref(), PAGE).await?;
        figures.found += ids.len() as u64;
        let jobs: Vec<SyncCharge> = ids
            .iter()
            .map(|id| SyncCharge {
                charge_id: id.clone(),
                trigger: trigger.clone(),
            })
            .collect();
        figures.queued += ctx
            .enqueuer
            .enqueue_many(&jobs)
            .await
            .map_err(JobError::retry)?;
        if (ids.len() as i64) < PAGE {
            break;
        }
        after = ids.last().cloned();
    }
    ctx.enqueuer.wake(SyncCharge::QUEUE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::period::Period;

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn basis(status: AgreementStatus, vipps_id: Option<&str>) -> agreements::ChargeBasis {
        agreements::ChargeBasis {
            id: "agr_1".into(),
            partner_id: "prt_1".into(),
            dialogue_id: "dlg_1".into(),
            status,
            vipps_agreement_id: vipps_id.map(str::to_owned),
            anchor_date: Some(d(2027, 1, 31)),
            period: Period::Month,
            end_date: d(2028, 1, 31),
            amount_ore: 10_000,
            product_name: "Fast giver".into(),
            msn: "123456".into(),
            paused_until_period: None,
        }
    }

    #[test]
    fn a_paused_period_is_planned_as_skipped() {
        let mut b = basis(AgreementStatus::Active, Some("agr_v"));
        b.paused_until_period = Some(3);
        let earliest = d(2027, 1, 1);
        let skipped = |k| plan(&b, k, earliest).unwrap().unwrap().skipped;
        assert!(skipped(1));
        assert!(skipped(2));
        assert!(!skipped(3));
    }

    #[test]
    fn an_active_agreement_without_a_vipps_id_is_never_planned() {
        let earliest = d(2027, 1, 1);
        for id in [None, Some("")] {
            let b = basis(AgreementStatus::Active, id);
            assert_eq!(plan(&b, 1, earliest).err(), Some(NotInVipps), "{id:?}");
        }
        // Not ACTIVE: nothing to charge, whatever its ids.
        let stopped = basis(AgreementStatus::Stopped, None);
        assert!(matches!(plan(&stopped, 1, earliest), Ok(None)));
        let b = basis(AgreementStatus::Active, Some("agr_vipps_1"));
        let p = plan(&b, 1, earliest).unwrap().unwrap();
        assert_eq!(p.vipps_agreement_id, "agr_vipps_1");
        assert_eq!((p.due, p.status), (d(2027, 2, 28), ChargeStatus::Pending));
    }

    #[test]
    fn late_periods_follow_the_policy_with_typed_statuses() {
        let b = basis(AgreementStatus::Active, Some("agr_vipps_1"));
        // Within its interval: charged at the earliest allowed date.
        let p = plan(&b, 1, d(2027, 3, 2)).unwrap().unwrap();
        assert_eq!(
            (p.status, p.send_due),
            (ChargeStatus::Pending, d(2027, 3, 2))
        );
        // A whole interval late: recorded as missed.
        let p = plan(&b, 1, d(2027, 3, 31)).unwrap().unwrap();
        assert_eq!(p.status, ChargeStatus::Missed);
    }
}
