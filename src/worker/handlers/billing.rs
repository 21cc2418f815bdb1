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
    billing::{CreateCharge, Reconcile, Sweep, SyncCharge, order_id},
};

use crate::{
    db::{agreements, charges, dialogues, partners},
    domain::period::Period,
    vipps::{
        IdempotencyKey,
        wire::{ChargeStatus, CreateChargeRequest, TransactionType},
    },
    worker::{JobContext, JobError, handlers::agreements::vipps_failure},
};

/// Agreements handled per page of the sweep.
const PAGE: i64 = 1000;

fn today(ctx: &JobContext) -> NaiveDate {
    ctx.app.clock.today_oslo()
}

/// Finds due periods page by page and enqueues one create-charge job each (duplicates are
/// dropped by their idempotency keys); stops agreements whose dialogue ended.
pub async fn sweep(_job: Sweep, ctx: JobContext) -> Result<(), JobError> {
    let today = today(&ctx);
    let horizon = today + chrono::Days::new(u64::from(ctx.app.settings.billing.create_ahead_days));
    let mut after = None;
    let mut enqueued = 0u64;
    loop {
        let page = agreements::due_for_billing(&ctx.db, horizon, after.clone(), PAGE).await?;
        let jobs: Vec<CreateCharge> = page
            .iter()
            .filter_map(|a| {
                Some(CreateCharge {
                    agreement_id: a.id.clone(),
                    period_index: a.next_period_index? as u32,
                })
            })
            .collect();
        enqueued += ctx
            .enqueuer
            .enqueue_many(&jobs)
            .await
            .map_err(JobError::retry)?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                after = last.next_due_date.map(|d| (d, last.id.clone()))
            }
            _ => break,
        }
    }
    let ended = agreements::ended_and_run_out(&ctx.db, today, 10_000).await?;
    let stops: Vec<StopAgreement> = ended
        .into_iter()
        .map(|id| StopAgreement {
            agreement_id: id,
            reason: "dialogue_ended".into(),
        })
        .collect();
    ctx.enqueuer
        .enqueue_many(&stops)
        .await
        .map_err(JobError::retry)?;
    tracing::info!(enqueued, stops = stops.len(), "billing sweep");
    Ok(())
}

/// Creates one period's charge: our row first (the unique constraint is the money guard),
/// then Vipps with the row's deterministic orderId as idempotency key.
pub async fn create_charge(job: CreateCharge, ctx: JobContext) -> Result<(), JobError> {
    let Some(a) = agreements::get(&ctx.db, &job.agreement_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "agreement {} not found",
            job.agreement_id
        )));
    };
    if a.status != "ACTIVE" {
        return Ok(()); // stopped or expired: never charged again
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
        return Ok(());
    };
    let period = Period::parse(&d.period).unwrap_or(Period::Month);
    let k = job.period_index;
    let due = period.due_date(anchor, k);
    let next_due = period.due_date(anchor, k + 1);
    let now = ctx.app.clock.now_ms();
    if due > d.end_date {
        return Ok(()); // after the dialogue's end: no charge (the sweep stops the agreement)
    }
    let earliest = today(&ctx) + chrono::Days::new(u64::from(ctx.app.settings.vipps.min_lead_days));
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
        return Ok(()); // missed, already created, or already final
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
    let vipps_id = a.vipps_agreement_id.as_deref().unwrap_or_default();
    let key = IdempotencyKey::new(order_id(&a.id, k))
        .map_err(|e| JobError::permanent(anyhow::anyhow!("{e}")))?;
    match ctx
        .app
        .vipps
        .create_charge(&p.vipps_msn, vipps_id, &request, key)
        .await
    {
        Ok(created) => {
            charges::set_vipps_id(&ctx.db, &row.id, &created.charge_id, ctx.app.clock.now_ms())
                .await?;
            Ok(())
        }
        Err(e) if !e.is_retryable() => {
            let problem = e
                .problem_kind()
                .map(|k| format!("{k:?}"))
                .unwrap_or_else(|| format!("http_{}", e.status().unwrap_or(0)));
            let mut tx = ctx.db.begin().await?;
            charges::set_create_failed(
                &mut tx,
                &row.id,
                &problem,
                &e.to_string(),
                ctx.app.clock.now_ms(),
            )
            .await?;
            tx.commit().await?;
            Err(JobError::permanent(e))
        }
        Err(e) => Err(vipps_failure(e)),
    }
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
