//! Handlers of `dialogpay_jobs::refunds`. A refund: our row first (written by the service),
//! then Vipps with the row's idempotency key, then the charge read back; the refund is DONE
//! once Vipps's charge shows its money refunded, so a crash anywhere refunds once. A cancel:
//! Vipps, then the charge read back. When Vipps answers 202 (accepted, not applied yet), the
//! job hands over to an `accepted` one that only reads the charge back, retrying until it shows
//! the change: Vipps is asked once (a re-run after a crash before the hand-over asks again with
//! the same key, and Vipps answers from its record).

use std::time::Duration;

use dialogpay_jobs::{
    JobSpec,
    refunds::{CancelCharge, RefundCharge},
};

use crate::{
    db::{
        charges::{self, Charge},
        refunds::{self, Refund},
    },
    domain::{partner_events::EventType, status::RefundStatus},
    vipps::{
        IdempotencyKey,
        client::Applied,
        wire::{ChargeEventKind, ChargeResponse, ChargeStatus, ChargeType, RefundRequest},
    },
    worker::{
        JobContext, JobError,
        handlers::{
            agreements::vipps_failure,
            billing::{VippsCharge, apply_remote, vipps_agreement, vipps_charge},
            webhooks,
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
    if job.accepted {
        return read_back(&ctx, &r, &v).await;
    }
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
        Ok(Applied::Done) => read_back(&ctx, &r, &v).await,
        Ok(Applied::Accepted) => {
            let poll = RefundCharge {
                accepted: true,
                ..job
            };
            hand_over(&ctx, &poll).await
        }
        Err(e) if !e.is_retryable() => refused(&ctx, &r, &e.to_string()).await,
        Err(e) => Err(vipps_failure(e)),
    }
}

/// Vipps accepted the change and has not applied it: `poll` reads the charge back from now on.
async fn hand_over<J: JobSpec>(ctx: &JobContext, poll: &J) -> Result<(), JobError> {
    ctx.enqueuer.enqueue(poll).await.map_err(JobError::retry)?;
    Ok(())
}

/// Vipps refused the refund for good: recorded FAILED with its reason (the job is done).
async fn refused(ctx: &JobContext, r: &Refund, why: &str) -> Result<(), JobError> {
    tracing::warn!(refund.id = %r.id, error = %why, "Vipps refused a refund");
    let mut tx = ctx.db.begin().await?;
    refunds::finish(
        &mut tx,
        &r.id,
        RefundStatus::Failed,
        Some(why),
        ctx.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Reads the charge back: DONE (with the charge's new status) once Vipps's refunded total
/// covers our other DONE refunds and this one; otherwise Vipps has not applied it yet (it
/// answered 202), so the job runs again shortly; FAILED when the charge's history shows Vipps
/// gave up on it.
async fn read_back(ctx: &JobContext, r: &Refund, v: &VippsCharge) -> Result<(), JobError> {
    let remote = fetch(ctx, v).await?;
    if not_applied(&remote, &r.idempotency_key) {
        return refused(
            ctx,
            r,
            "Vipps accepted the refund, then did not carry it out",
        )
        .await;
    }
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
    apply_remote(ctx, &mut tx, &r.charge_id, &remote, now).await?;
    webhooks::charge_event(ctx, &mut tx, &r.charge_id, EventType::ChargeRefunded).await?;
    tx.commit().await?;
    super::wake_followers(ctx);
    Ok(())
}

/// Whether the charge's history logs the refund with `key` as unsuccessful.
fn not_applied(remote: &ChargeResponse, key: &str) -> bool {
    remote.history.iter().any(|h| {
        h.event == ChargeEventKind::Refund
            && !h.success
            && h.idempotency_key.as_deref() == Some(key)
    })
}

async fn fetch(ctx: &JobContext, v: &VippsCharge) -> Result<ChargeResponse, JobError> {
    ctx.vipps
        .get_charge(&v.msn, &v.agreement_id, &v.charge_id)
        .await
        .map_err(vipps_failure)
}

/// Cancels a charge not taken yet (PENDING or DUE) in Vipps, then records what Vipps says.
/// A charge that moved on meanwhile (taken, failed) is left as it is: Vipps refuses the cancel
/// and the re-read records the real status. A cancel Vipps accepted (202) is read back until
/// the charge no longer waits to be taken.
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
    if !job.accepted && ask_cancel(&ctx, &c, &v).await? == Applied::Accepted {
        let poll = CancelCharge {
            accepted: true,
            ..job
        };
        return hand_over(&ctx, &poll).await;
    }
    let remote = fetch(&ctx, &v).await?;
    if job.accepted && matches!(remote.status, ChargeStatus::Pending | ChargeStatus::Due) {
        return Err(JobError::retry_after(
            anyhow::anyhow!("Vipps accepted the cancel and has not applied it yet"),
            ACCEPTED_POLL,
        ));
    }
    let mut tx = ctx.db.begin().await?;
    apply_remote(&ctx, &mut tx, &c.id, &remote, ctx.clock.now_ms()).await?;
    tx.commit().await?;
    super::wake_followers(&ctx);
    Ok(())
}

/// Asks Vipps to cancel. A refusal (400/409: the charge moved on) counts as done: the charge
/// is read back next.
async fn ask_cancel(ctx: &JobContext, c: &Charge, v: &VippsCharge) -> Result<Applied, JobError> {
    let cancel_key = key(format!("cancel-{}", c.id))?;
    match ctx
        .vipps
        .cancel_charge(&v.msn, &v.agreement_id, &v.charge_id, cancel_key)
        .await
    {
        Ok(applied) => Ok(applied),
        Err(e) if !e.is_retryable() && e.status().is_some_and(|s| s == 400 || s == 409) => {
            tracing::info!(charge.id = %c.id, error = %e, "Vipps refused the cancel; the charge is re-read");
            Ok(Applied::Done)
        }
        Err(e) => Err(vipps_failure(e)),
    }
}
