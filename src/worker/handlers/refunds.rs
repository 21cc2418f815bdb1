//! Handlers of `dialogpay_jobs::refunds`. A refund: our row first (written by the service),
//! then Vipps with the row's idempotency key, then the charge read back; the refund is DONE
//! once Vipps's charge shows its money refunded (a 202 is polled by retrying), so a crash
//! anywhere refunds once. A cancel: Vipps, then the charge read back.

use std::time::Duration;

use dialogpay_jobs::refunds::{CancelCharge, RefundCharge};

use crate::{
    db::{
        charges::{self, Charge},
        refunds::{self, Refund},
    },
    domain::status::RefundStatus,
    vipps::{
        IdempotencyKey, VippsError,
        wire::{ChargeResponse, ChargeType, RefundRequest},
    },
    worker::{
        JobContext, JobError,
        handlers::{
            agreements::vipps_failure,
            billing::{VippsCharge, apply_remote, vipps_agreement, vipps_charge},
        },
    },
};

/// How long a refund Vipps accepted (202) but has not applied waits before the next read.
const ACCEPTED_POLL: Duration = Duration::from_secs(5);

fn key(s: String) -> Result<IdempotencyKey, JobError> {
    IdempotencyKey::new(s).map_err(|e| JobError::permanent(anyhow::anyhow!("idempotency key: {e}")))
}

async fn charge(ctx: &JobContext, id: &str) -> Result<Charge, JobError> {
    charges::get(&ctx.db, id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("charge {id} not found")))
}

/// The charge's place in Vipps. An initial charge is recorded without its Vipps id (Vipps took
/// it when the user confirmed): it is looked up in the agreement's charges and stored.
async fn locate(ctx: &JobContext, c: &Charge) -> Result<VippsCharge, JobError> {
    if let Some(v) = vipps_charge(ctx, c).await? {
        return Ok(v);
    }
    let (msn, agreement_id) = vipps_agreement(ctx, c).await?;
    let listed = ctx
        .vipps
        .list_charges(&msn, &agreement_id, None)
        .await
        .map_err(vipps_failure)?;
    let initial = listed
        .into_iter()
        .find(|r| c.charge_type == "INITIAL" && r.charge_type == ChargeType::Initial)
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("charge {} is not in Vipps", c.id)))?;
    let mut tx = ctx.db.begin().await?;
    charges::set_vipps_id(&mut tx, &c.id, &initial.id, ctx.clock.now_ms()).await?;
    tx.commit().await?;
    Ok(VippsCharge {
        msn,
        agreement_id,
        charge_id: initial.id,
    })
}

/// Refunds one recorded refund. Nothing happens for one already DONE or FAILED.
pub async fn refund(job: RefundCharge, ctx: JobContext) -> Result<(), JobError> {
    let Some(r) = refunds::get(&ctx.db, &job.refund_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "refund {} not found",
            job.refund_id
        )));
    };
    if r.status != RefundStatus::Pending {
        return Ok(());
    }
    let c = charge(&ctx, &r.charge_id).await?;
    let v = locate(&ctx, &c).await?;
    let request = RefundRequest {
        amount: r.amount_ore,
        description: r.reason.clone(),
    };
    let sent = ctx
        .vipps
        .refund_charge(
            &v.msn,
            &v.agreement_id,
            &v.charge_id,
            &request,
            key(r.idempotency_key.clone())?,
        )
        .await;
    match sent {
        Ok(_) => read_back(&ctx, &r, &v).await,
        Err(e) if !e.is_retryable() => refused(&ctx, &r, &e).await,
        Err(e) => Err(vipps_failure(e)),
    }
}

/// Vipps refused the refund for good: recorded FAILED with its reason (the job is done).
async fn refused(ctx: &JobContext, r: &Refund, e: &VippsError) -> Result<(), JobError> {
    tracing::warn!(refund.id = %r.id, error = %e, "Vipps refused a refund");
    let mut tx = ctx.db.begin().await?;
    refunds::finish(
        &mut tx,
        &r.id,
        RefundStatus::Failed,
        Some(&e.to_string()),
        ctx.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reads the charge back: DONE (with the charge's new status) once Vipps's refunded total
/// covers our other DONE refunds and this one; otherwise Vipps accepted it (202) and has not
/// applied it yet, so the job runs again shortly.
async fn read_back(ctx: &JobContext, r: &Refund, v: &VippsCharge) -> Result<(), JobError> {
    let remote = fetch(ctx, v).await?;
    let before = refunds::done_ore_except(&ctx.db, &r.charge_id, &r.id).await?;
    if remote.summary.refunded < before + r.amount_ore {
        return Err(JobError::retry_after(
            anyhow::anyhow!("Vipps accepted the refund and has not applied it yet"),
            ACCEPTED_POLL,
        ));
    }
    let now = ctx.clock.now_ms();
    let mut tx = ctx.db.begin().await?;
    refunds::finish(&mut tx, &r.id, RefundStatus::Done, None, now).await?;
    apply_remote(&mut tx, &r.charge_id, &remote, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn fetch(ctx: &JobContext, v: &VippsCharge) -> Result<ChargeResponse, JobError> {
    ctx.vipps
        .get_charge(&v.msn, &v.agreement_id, &v.charge_id)
        .await
        .map_err(vipps_failure)
}

/// Cancels a charge not taken yet (PENDING or DUE) in Vipps, then records what Vipps says.
/// A charge that moved on meanwhile (taken, failed) is left as it is: Vipps refuses the cancel
/// and the re-read records the real status.
pub async fn cancel(job: CancelCharge, ctx: JobContext) -> Result<(), JobError> {
    let c = charge(&ctx, &job.charge_id).await?;
    if !c.status.is_cancelled_on_stop() {
        return Ok(());
    }
    let Some(v) = vipps_charge(&ctx, &c).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {} is not in Vipps yet",
            c.id
        )));
    };
    let cancel_key = key(format!("cancel-{}", c.id))?;
    match ctx
        .vipps
        .cancel_charge(&v.msn, &v.agreement_id, &v.charge_id, cancel_key)
        .await
    {
        Ok(_) => {}
        Err(e) if !e.is_retryable() && e.status().is_some_and(|s| s == 400 || s == 409) => {
            tracing::info!(charge.id = %c.id, error = %e, "Vipps refused the cancel; the charge is re-read");
        }
        Err(e) => return Err(vipps_failure(e)),
    }
    let remote = fetch(&ctx, &v).await?;
    let mut tx = ctx.db.begin().await?;
    apply_remote(&mut tx, &c.id, &remote, ctx.clock.now_ms()).await?;
    tx.commit().await?;
    Ok(())
}
