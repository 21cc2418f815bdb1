//! Handlers of `dialogpay_jobs::vipps`: act on a stored webhook event; register our webhook.

use dialogpay_jobs::vipps::{ProcessEvent, RegisterWebhook};

use crate::{
    db::{
        agreements, charges,
        vipps_events::{self, VippsEvent},
    },
    domain::status::StopActor,
    vipps::wire::{Actor, RegisterWebhookRequest, event_names},
    worker::{
        JobContext, JobError,
        handlers::{
            agreements::{apply_vipps_state, vipps_failure},
            billing::vipps_has_charge,
        },
    },
};

/// Agreement events re-read the agreement from the API and apply it (forward-only). Events for
/// agreements we do not know are logged and skipped.
pub async fn process_event(job: ProcessEvent, ctx: JobContext) -> Result<(), JobError> {
    let Some(event) = vipps_events::get(&ctx.db, &job.event_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "event {} not found",
            job.event_id
        )));
    };
    if event.event_type == event_names::CHARGE_CREATION_FAILED {
        return charge_creation_failed(&ctx, &event).await;
    }
    if let Some(vipps_charge) = &event.charge_id {
        if let Some(charge) = crate::db::charges::get_by_vipps_id(&ctx.db, vipps_charge).await? {
            let job = dialogpay_jobs::billing::SyncCharge {
                charge_id: charge.id,
                trigger: format!("event-{}", event.id),
            };
            ctx.enqueuer.enqueue(&job).await.map_err(JobError::retry)?;
        }
        if event.event_type.starts_with("recurring.charge-") {
            return Ok(());
        }
    }
    let Some(vipps_agreement) = &event.agreement_id else {
        tracing::info!(event.id = %event.id, event.kind = %event.event_type, "event without agreement id skipped");
        return Ok(());
    };
    let Some(ours) = agreements::get_by_vipps_id(&ctx.db, vipps_agreement).await? else {
        tracing::warn!(event.id = %event.id, event.kind = %event.event_type, "event for an unknown agreement skipped");
        return Ok(());
    };
    let stop_event = event.event_type == event_names::AGREEMENT_STOPPED
        || event.event_type == event_names::AGREEMENT_REJECTED;
    let actor = if stop_event { stop_actor(&event) } else { None };
    apply_vipps_state(&ctx, &ours.id, actor).await?;
    Ok(())
}

/// Who a stop or reject event says stopped the agreement: USER when it names no one (the
/// user stopped or rejected it in the app); an actor we do not know is logged and left to
/// [`apply_vipps_state`] to decide from our own records.
fn stop_actor(event: &VippsEvent) -> Option<StopActor> {
    let Some(actor) = event.actor.as_deref() else {
        return Some(StopActor::User);
    };
    match StopActor::try_from(&Actor::from(actor)) {
        Ok(actor) => Some(actor),
        Err(e) => {
            tracing::warn!(event.id = %event.id, error = %e, "stop event with an actor we do not know");
            None
        }
    }
}

/// A batch item Vipps accepted but could not create. If Vipps has the charge after all (a
/// second submission of the same orderId fails this way), its status is read; otherwise the
/// charge is recorded as CREATE_FAILED with the reasons from the event.
async fn charge_creation_failed(ctx: &JobContext, event: &VippsEvent) -> Result<(), JobError> {
    let Some(order) = &event.charge_id else {
        tracing::warn!(event.id = %event.id, "charge-creation-failed without a charge id skipped");
        return Ok(());
    };
    let Some(charge) = charges::get_by_vipps_id(&ctx.db, order).await? else {
        tracing::warn!(event.id = %event.id, "charge-creation-failed for an unknown charge skipped");
        return Ok(());
    };
    let Some(a) = agreements::get(&ctx.db, &charge.agreement_id).await? else {
        return Ok(());
    };
    let Some(partner) = crate::db::partners::get(&ctx.db, &a.partner_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {}: partner {} gone",
            charge.id,
            a.partner_id
        )));
    };
    let Some(vipps_agreement) = a.vipps_agreement_id.as_deref() else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "charge {}: agreement {} has no Vipps agreement id",
            charge.id,
            a.id
        )));
    };
    if vipps_has_charge(ctx, &partner.vipps_msn, vipps_agreement, order).await? {
        let job = dialogpay_jobs::billing::SyncCharge {
            charge_id: charge.id,
            trigger: format!("event-{}", event.id),
        };
        ctx.enqueuer.enqueue(&job).await.map_err(JobError::retry)?;
        return Ok(());
    }
    let body: serde_json::Value = serde_json::from_str(&event.body).unwrap_or_default();
    let detail = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Vipps could not create the charge".to_owned());
    let mut tx = ctx.db.begin().await?;
    charges::set_create_failed(
        &mut tx,
        &charge.id,
        "charge-creation-failed",
        &detail,
        ctx.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Registers our webhook URL for one merchant and stores the secret Vipps returns (shown once).
pub async fn register_webhook(job: RegisterWebhook, ctx: JobContext) -> Result<(), JobError> {
    let url = ctx.settings.vipps_webhook_url();
    if vipps_events::registered_msns(&ctx.db, &url)
        .await?
        .contains(&job.msn)
    {
        return Ok(());
    }
    let request = RegisterWebhookRequest {
        url: url.clone(),
        events: event_names::ALL_RECURRING
            .iter()
            .map(|e| (*e).to_owned())
            .collect(),
    };
    let registered = ctx
        .vipps
        .register_webhook(&job.msn, &request)
        .await
        .map_err(vipps_failure)?;
    vipps_events::save_registration(
        &ctx.db,
        &registered.id,
        &job.msn,
        &url,
        &registered.secret,
        ctx.clock.now_ms(),
    )
    .await?;
    Ok(())
}
