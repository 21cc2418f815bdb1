//! Handler of `dialogpay_jobs::webhooks`: POST one event to one partner endpoint, signed as the
//! Standard Webhooks specification says, and record the attempt.

use std::time::{Duration, Instant};

use dialogpay_jobs::webhooks::DeliverWebhook;

use serde_json::{Value, json};

use crate::{
    db::{
        Tx,
        webhooks::{self, AttemptResult, Delivery},
    },
    domain::{
        partner_events::{self, DeliveryStatus, EventType},
        standard_webhooks::SigningSecret,
    },
    worker::{JobContext, JobError},
};

/// Records an event for the partner's subscribed endpoints in `tx` (delivered after it commits;
/// the caller wakes the queue with [`wake`]).
pub async fn emit(
    ctx: &JobContext,
    tx: &mut Tx,
    partner_id: &str,
    event_type: EventType,
    data: Value,
) -> Result<(), JobError> {
    let endpoints = webhooks::subscribers(tx, partner_id, event_type).await?;
    record_event(ctx, tx, partner_id, &endpoints, event_type, data).await
}

/// [`emit`] to `endpoints` already asked for ([`webhooks::subscribers`]).
async fn record_event(
    ctx: &JobContext,
    tx: &mut Tx,
    partner_id: &str,
    endpoints: &[String],
    event_type: EventType,
    data: Value,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let body = partner_events::body(event_type, now, data);
    webhooks::record(
        tx,
        &ctx.enqueuer,
        partner_id,
        endpoints,
        event_type,
        &body,
        now,
    )
    .await
    .map_err(JobError::retry)
}

/// Wakes this process's delivery workers (after the commit that recorded events).
pub fn wake(ctx: &JobContext) {
    ctx.enqueuer
        .wake(<DeliverWebhook as dialogpay_jobs::JobSpec>::QUEUE);
}

/// Records a charge event (`charge.created`, `.charged`, `.failed`, `.refunded`) with the
/// charge as it is in `tx`.
pub async fn charge_event(
    ctx: &JobContext,
    tx: &mut Tx,
    charge_id: &str,
    event_type: EventType,
) -> Result<(), JobError> {
    let Some(c) = webhooks::charge_facts(tx, charge_id).await? else {
        return Ok(());
    };
    emit(
        ctx,
        tx,
        &c.partner_id,
        event_type,
        charge_data(&c, event_type),
    )
    .await
}

/// `charge.created` for each of `charge_ids`, a batch's (one merchant's, so one partner's): the
/// first charge's partner is asked once for its subscribers, so a partner without endpoints
/// pays two queries per batch, not two per charge.
pub async fn charges_created(
    ctx: &JobContext,
    tx: &mut Tx,
    charge_ids: &[&str],
) -> Result<(), JobError> {
    let event_type = EventType::ChargeCreated;
    let Some(first) = charge_ids.first() else {
        return Ok(());
    };
    let Some(partner) = webhooks::charge_facts(tx, first)
        .await?
        .map(|c| c.partner_id)
    else {
        return Ok(());
    };
    let endpoints = webhooks::subscribers(tx, &partner, event_type).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    for charge_id in charge_ids {
        let Some(c) = webhooks::charge_facts(tx, charge_id).await? else {
            continue;
        };
        let data = charge_data(&c, event_type);
        if c.partner_id == partner {
            record_event(ctx, tx, &c.partner_id, &endpoints, event_type, data).await?;
        } else {
            emit(ctx, tx, &c.partner_id, event_type, data).await?;
        }
    }
    Ok(())
}

/// A charge event's `data`.
fn charge_data(c: &webhooks::ChargeFacts, event_type: EventType) -> Value {
    let mut data = json!({
        "charge_id": c.charge_id,
        "agreement_id": c.agreement_id,
        "dialogue_id": c.dialogue_id,
        "period_index": c.period_index,
        "due_date": c.due_date.to_string(),
        "amount_ore": c.amount_ore,
        "status": c.status.as_str(),
    });
    if event_type == EventType::ChargeFailed {
        data["reason"] = json!(c.failure_reason);
        data["reason_text"] = json!(c.failure_description);
    }
    if event_type == EventType::ChargeRefunded {
        data["refunded_ore"] = json!(c.refunded_ore);
    }
    data
}

/// The longest part of an answer's body kept in the delivery log.
const DETAIL_CHARS: usize = 500;

/// Delivers once; a 2xx answer within [`partner_events::ANSWER_TIMEOUT`] is a delivery, anything
/// else is retried on [`partner_events::RETRY_SCHEDULE`] and, after the last attempt, the
/// delivery is FAILED. An endpoint that has failed every delivery for
/// [`partner_events::DISABLE_AFTER`] is disabled.
pub async fn deliver(job: DeliverWebhook, ctx: JobContext) -> Result<(), JobError> {
    let Some(delivery) = webhooks::get_delivery(&ctx.db, &job.delivery_id).await? else {
        return Ok(()); // its endpoint was removed
    };
    if delivery.status != DeliveryStatus::Pending || delivery.resends != job.round as i32 {
        return Ok(()); // delivered already, or a newer resend took over
    }
    let endpoint = webhooks::get_endpoint_any(&ctx.db, &delivery.endpoint_id).await?;
    let Some(endpoint) = endpoint.filter(|e| e.enabled) else {
        let mut tx = ctx.db.begin().await?;
        webhooks::give_up(&mut tx, &delivery.id, ctx.clock.now_ms()).await?;
        tx.commit().await?;
        return Ok(());
    };
    let Some(event) = webhooks::get_event(&ctx.db, &delivery.event_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "webhook event {} not found",
            delivery.event_id
        )));
    };
    let secret = SigningSecret::parse(&endpoint.secret)
        .map_err(|e| JobError::permanent(anyhow::anyhow!("endpoint {}: {e}", endpoint.id)))?;
    let timestamp = ctx.clock.now_ms().div_euclid(1000);
    let signature = secret.sign(&event.id, timestamp, event.body.as_bytes());
    let started = Instant::now();
    let answer = ctx
        .webhook_client
        .post(&endpoint.url)
        .header("content-type", "application/json")
        .header("webhook-id", &event.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(event.body.clone())
        .send()
        .await;
    let (status_code, detail, delivered) = match answer {
        Ok(answer) => {
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            let detail: String = body.chars().take(DETAIL_CHARS).collect();
            (
                Some(i32::from(status.as_u16())),
                (!detail.is_empty()).then_some(detail),
                status.is_success(),
            )
        }
        Err(e) => (None, Some(transport_error(&e)), false),
    };
    let result = AttemptResult {
        status_code,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        detail: detail.as_deref(),
    };
    record(&ctx, &delivery, &result, delivered).await?;
    if delivered {
        return Ok(());
    }
    let why = match status_code {
        Some(code) => anyhow::anyhow!("the endpoint answered HTTP {code}"),
        None => anyhow::anyhow!("no answer: {}", detail.unwrap_or_default()),
    };
    match partner_events::retry_after(ctx.attempt) {
        Some(wait) => Err(JobError::retry_after(why, wait)),
        None => Err(JobError::permanent(why.context("the last attempt failed"))),
    }
}

/// Records the attempt and where the delivery is now; disables an endpoint failing for too
/// long.
async fn record(
    ctx: &JobContext,
    delivery: &Delivery,
    result: &AttemptResult<'_>,
    delivered: bool,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let next = partner_events::retry_after(ctx.attempt).filter(|_| !delivered);
    let status = match (delivered, next) {
        (true, _) => DeliveryStatus::Delivered,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let next_at = next.map(|wait| now + millis(wait));
    let mut tx = ctx.db.begin().await?;
    webhooks::record_attempt(&mut tx, delivery, result, status, next_at, now).await?;
    if !delivered {
        let cutoff = now - millis(partner_events::DISABLE_AFTER);
        let reason = "every delivery failed for five days; enable it again when it answers";
        if webhooks::disable_if_failing_since(&mut tx, &delivery.endpoint_id, cutoff, reason, now)
            .await?
        {
            tracing::warn!(endpoint.id = %delivery.endpoint_id, "webhook endpoint disabled after failing for days");
        }
    }
    tx.commit().await?;
    Ok(())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Why a request had no answer, in a few words (no URL: it may carry a token).
fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "no answer within {} s",
            partner_events::ANSWER_TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else if e.is_redirect() {
        "answered with a redirect (not followed)".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
