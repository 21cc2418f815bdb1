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
    db::{agreements, charges, dialogues, partners},
    domain::period::Period,
    vipps::{
        IdempotencyKey,
        wire::{BatchChargeItem, ChargeStatus, CreateChargeRequest, TransactionType},
    },
    worker::{JobContext, JobError, handlers::agreements::vipps_failure},
};

/// Agreements handled per page of the sweep.
const PAGE: i64 = 1000;

fn today(ctx: &JobContext) -> NaiveDate {
    ctx.app.clock.today_oslo()
}

/// Finds due periods page by page and enqueues their creation (duplicates are dropped by their
/// idempotency keys): one create-charge job each, or batch jobs per merchant when the run is
/// larger than `billing.batch_threshold`; stops agreements whose dialogue ended.
pub async fn sweep(_job: Sweep, ctx: JobContext) -> Result<(), JobError> {
    let today = today(&ctx);
    let billing = &ctx.app.settings.billing;
    let horizon = today + chrono::Days::new(u64::from(billing.create_ahead_days));
    let due = agreements::count_due_for_billing(&ctx.db, horizon).await?;
    let batched = billing.batch_threshold > 0 && due > i64::from(billing.batch_threshold);
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
            if batched {
                batches.push(&a.msn, job);
            } else {
                singles.push(job);
            }
        }
        enqueued += enqueue(&ctx, &singles).await?;
        enqueued += enqueue(&ctx, &batches.take_full()).await?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                after = last.next_due_date.map(|d| (d, last.id.clone()))
            }
            _ => break,
        }
    }
    enqueued += enqueue(&ctx, &batches.finish()).await?;
    let ended = agreements::ended_and_run_out(&ctx.db, today, 10_000).await?;
    let stops: Vec<StopAgreement> = ended
        .into_iter()
        .map(|id| StopAgreement {
            agreement_id: id,
            reason: "dialogue_ended".into(),
        })
        .collect();
    enqueue(&ctx, &stops).await?;
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

/// One period ready for Vipps: our row exists (PENDING, no Vipps id yet).
struct Prepared {
    row: charges::Charge,
    msn: String,
    vipps_agreement_id: String,
    request: CreateChargeRequest,
}

/// Inserts a period's charge row (the unique constraint is the money guard) and moves the
/// agreement's billing on; `None` when there is nothing to send: the agreement is no longer
/// ACTIVE, the period is after the dialogue's end or missed, or Vipps already has it.
async fn prepare(ctx: &JobContext, item: &CreateCharge) -> Result<Option<Prepared>, JobError> {
    let Some(a) = agreements::get(&ctx.db, &item.agreement_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "agreement {} not found",
            item.agreement_id
        )));
    };
    if a.status != "ACTIVE" {
        return Ok(None); // stopped or expired: never charged again
    }
    let d = dialogues::get_any(&ctx.db, &a.dialogue_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("dialogue gone")))?;
    let p = partners::get(&ctx.db, &a.partner_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("partner gone")))?;
    let state = agreements::billing_state(&ctx.db, &a.id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("gone")))?;
    let Some(anchor) = state.anchor_date else {
        return Ok(None);
    };
    let period = Period::parse(&d.period).unwrap_or(Period::Month);
    let k = item.period_index;
    let due = period.due_date(anchor, k);
    let next_due = period.due_date(anchor, k + 1);
    let now = ctx.app.clock.now_ms();
    if due > d.end_date {
        return Ok(None); // after the dialogue's end: no charge (the sweep stops the agreement)
    }
    let earliest = today(ctx) + chrono::Days::new(u64::from(ctx.app.settings.vipps.min_lead_days));
    let (status, send_due) = if due >= earliest {
        ("PENDING", due)
    } else if earliest < next_due {
        ("PENDING", earliest) // late, but within its interval: charged at the earliest allowed date
    } else {
        ("MISSED", due)
    };
    let mut tx = ctx.db.begin().await?;
    let row = charges::insert_recurring(
        &mut tx,
        &a.id,
        &a.partner_id,
        &d.id,
        k,
        due,
        d.amount_ore,
        status,
        now,
    )
    .await?;
    agreements::advance_billing(&mut tx, &a.id, k + 1, next_due).await?;
    tx.commit().await?;
    if row.status != "PENDING" || row.vipps_charge_id.is_some() {
        return Ok(None); // missed, already created, or already final
    }
    let description: String = format!("{} {}", d.product_name, due.format("%m.%Y"))
        .chars()
        .take(45)
        .collect();
    let request = CreateChargeRequest {
        amount: d.amount_ore,
        transaction_type: TransactionType::DirectCapture,
        description,
        due: send_due,
        retry_days: ctx.app.settings.vipps.retry_days,
        order_id: Some(order_id(&a.id, k)),
        external_id: Some(row.id.clone()),
        charge_type: None,
        processing_mode: None,
    };
    Ok(Some(Prepared {
        row,
        msn: p.vipps_msn,
        vipps_agreement_id: a.vipps_agreement_id.unwrap_or_default(),
        request,
    }))
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
    let Some(c) = prepare(&ctx, &job).await? else {
        return Ok(());
    };
    let key = IdempotencyKey::new(order_id(&job.agreement_id, job.period_index))
        .map_err(|e| JobError::permanent(anyhow::anyhow!("{e}")))?;
    let created = ctx
        .app
        .vipps
        .create_charge(&c.msn, &c.vipps_agreement_id, &c.request, key)
        .await;
    let now = ctx.app.clock.now_ms();
    let mut tx = ctx.db.begin().await?;
    let result = match created {
        Ok(created) => {
            charges::set_vipps_id(&mut tx, &c.row.id, &created.charge_id, now).await?;
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
    result
}

/// Creates many periods' charges of one merchant in one batch call. The idempotency key is a
/// hash of the order ids sent, so a retry of the same set is replayed by Vipps; items already
/// recorded are not sent again. Valid items get their charge id (Vipps uses the orderId);
/// refused ones are recorded as CREATE_FAILED with Vipps's reasons.
pub async fn create_charge_batch(job: CreateChargeBatch, ctx: JobContext) -> Result<(), JobError> {
    let mut prepared = Vec::with_capacity(job.items.len());
    for item in &job.items {
        if let Some(c) = prepare(&ctx, item).await? {
            prepared.push(c);
        }
    }
    if prepared.is_empty() {
        return Ok(());
    }
    let items: Vec<BatchChargeItem> = prepared
        .iter()
        .map(|c| BatchChargeItem {
            agreement_id: c.vipps_agreement_id.clone(),
            amount: c.request.amount,
            transaction_type: c.request.transaction_type.clone(),
            description: c.request.description.clone(),
            due: c.request.due,
            retry_days: c.request.retry_days,
            order_id: c.row.order_id.clone(),
            external_id: c.request.external_id.clone(),
        })
        .collect();
    let mut hash = Sha256::new();
    for i in &items {
        hash.update(i.order_id.as_bytes());
        hash.update(b"|");
    }
    let key = IdempotencyKey::new(format!("batch-{}", hex::encode(&hash.finalize()[..16])))
        .map_err(|e| JobError::permanent(anyhow::anyhow!("{e}")))?;
    let answer = ctx
        .app
        .vipps
        .create_charges_batch(&job.msn, &items, key)
        .await;
    let now = ctx.app.clock.now_ms();
    let by_order: std::collections::HashMap<&str, &Prepared> = prepared
        .iter()
        .map(|c| (c.row.order_id.as_str(), c))
        .collect();
    let mut tx = ctx.db.begin().await?;
    let result = match answer {
        Ok(answer) => {
            for charge_id in &answer.valid_charges {
                if let Some(c) = by_order.get(charge_id.as_str()) {
                    charges::set_vipps_id(&mut tx, &c.row.id, charge_id, now).await?;
                }
            }
            for invalid in &answer.invalid_charges {
                let order = invalid.charge_batch_item_dto["orderId"]
                    .as_str()
                    .unwrap_or("");
                if let Some(c) = by_order.get(order) {
                    let detail = invalid.errors.join("; ");
                    charges::set_create_failed(
                        &mut tx,
                        &c.row.id,
                        "invalid-batch-item",
                        &detail,
                        now,
                    )
                    .await?;
                }
            }
            tracing::info!(
                valid = answer.valid_charges.len(),
                invalid = answer.invalid_charges.len(),
                "charge batch created"
            );
            Ok(())
        }
        Err(e) if !e.is_retryable() => {
            let (problem, detail) = (problem_type(&e), e.to_string());
            for c in &prepared {
                charges::set_create_failed(&mut tx, &c.row.id, &problem, &detail, now).await?;
            }
            Err(JobError::permanent(e))
        }
        Err(e) => return Err(vipps_failure(e)),
    };
    tx.commit().await?;
    result
}

/// Re-reads one charge from Vipps and records its status forward-only.
pub async fn sync_charge(job: SyncCharge, ctx: JobContext) -> Result<(), JobError> {
    let Some(c) = charges::get(&ctx.db, &job.charge_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {} not found",
            job.charge_id
        )));
    };
    let Some(vipps_charge) = &c.vipps_charge_id else {
        return Ok(());
    };
    let a = agreements::get(&ctx.db, &c.agreement_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("agreement gone")))?;
    let p = partners::get(&ctx.db, &a.partner_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("partner gone")))?;
    let vipps_agreement = a.vipps_agreement_id.as_deref().unwrap_or_default();
    let remote = ctx
        .app
        .vipps
        .get_charge(&p.vipps_msn, vipps_agreement, vipps_charge)
        .await
        .map_err(vipps_failure)?;
    let status = match remote.status {
        ChargeStatus::Unknown(_) => return Ok(()),
        s => s.as_str().to_owned(),
    };
    let reason = remote
        .failure_reason
        .as_ref()
        .map(|r| r.as_str().to_owned());
    let mut tx = ctx.db.begin().await?;
    charges::apply_status(
        &mut tx,
        &c.id,
        &status,
        reason.as_deref(),
        remote.failure_description.as_deref(),
        ctx.app.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Enqueues a re-read of open charges: those due by today (daily, so each is polled around its
/// due date and through its retry days), or every open one when an operator asks.
pub async fn reconcile(job: Reconcile, ctx: JobContext) -> Result<(), JobError> {
    let due_by = (!job.all_open).then(|| today(&ctx));
    let trigger = format!("reconcile-{}", job.tick);
    let mut after: Option<String> = None;
    loop {
        let ids = charges::open_ids(&ctx.db, due_by, after.as_deref(), PAGE).await?;
        let jobs: Vec<SyncCharge> = ids
            .iter()
            .map(|id| SyncCharge {
                charge_id: id.clone(),
                trigger: trigger.clone(),
            })
            .collect();
        ctx.enqueuer
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
