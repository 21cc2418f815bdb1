//! Handlers of `dialogpay_jobs::agreements`: draft in Vipps, learn the outcome, stop.
//!
//! Money and membership follow what the Vipps API says when we re-read the agreement, never a
//! webhook body alone; states only move forward, so late and duplicate triggers change nothing.

use std::time::Duration;

use dialogpay_jobs::{
    JobSpec,
    agreements::{DraftAgreement, PollAgreement, StopAgreement},
};
use serde_json::json;

use crate::{
    db::{Tx, agreements, charges, crm, dialogues, messages, partners},
    domain::partner_events::{self, EventType},
    domain::{
        confirmation::{ConfirmationUrl, link_reply},
        notices::NoticeKind,
        status::{AgreementStatus, ReplyPurpose, StopActor},
    },
    vipps::{
        IdempotencyKey, Operation, VippsError, mapping::DraftInput, validate,
        wire::DraftAgreementRequest,
    },
    worker::{
        JobContext, JobError,
        handlers::{
            sms::{self, queue_reply},
            webhooks,
        },
    },
};

/// A Vipps error as a job outcome: snooze on 429 (after its Retry-After), retry what may pass
/// later (5xx, timeouts), stop on the rest.
pub fn vipps_failure(err: VippsError) -> JobError {
    // A rate limit is not a failure: come back after Retry-After without using an attempt.
    if err.status() == Some(429) {
        let after = err.retry_after().unwrap_or(Duration::from_secs(1));
        return JobError::Snooze(after + Duration::from_millis(rand::random::<u64>() % 1000));
    }
    if err.is_retryable() {
        match err.retry_after() {
            Some(after) => JobError::retry_after(err, after),
            None => JobError::retry(err),
        }
    } else {
        JobError::permanent(err)
    }
}

fn key(s: String) -> Result<IdempotencyKey, JobError> {
    IdempotencyKey::new(s).map_err(|e| JobError::permanent(anyhow::anyhow!("idempotency key: {e}")))
}

/// Loads an agreement with its dialogue and partner, or fails permanently.
async fn load(
    ctx: &JobContext,
    id: &str,
) -> Result<
    (
        agreements::Agreement,
        dialogues::Dialogue,
        partners::Partner,
    ),
    JobError,
> {
    let a = agreements::get(&ctx.db, id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("agreement {id} not found")))?;
    let d = dialogues::get_any(&ctx.db, &a.dialogue_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("dialogue gone")))?;
    let p = partners::get(&ctx.db, &a.partner_id)
        .await?
        .ok_or_else(|| JobError::permanent(anyhow::anyhow!("partner gone")))?;
    Ok((a, d, p))
}

fn manage_url(ctx: &JobContext, token: &str) -> String {
    ctx.settings.manage_url(token)
}

/// Longer throttle waits than this snooze the draft job instead of holding a worker slot.
const SNOOZE_ABOVE: Duration = Duration::from_secs(1);

/// What a draft call returned, stored with the reply in one transaction.
struct Drafted {
    vipps_id: String,
    confirmation_url: Option<String>,
}

/// Drafts the agreement in Vipps, then in one transaction stores its ids, queues the reply with
/// the link, and queues the first poll. A reply without a usable link is never queued: the job
/// fails for good instead (the draft, if Vipps made one, is still polled, so our agreement
/// expires with it). A retry after a crash drafts again under the same idempotency key and gets
/// the same agreement back.
pub async fn draft(job: DraftAgreement, ctx: JobContext) -> Result<(), JobError> {
    let (a, d, p) = load(&ctx, &job.agreement_id).await?;
    if a.status != AgreementStatus::Pending {
        return Ok(());
    }
    let (link, drafted) = match &a.confirmation_url {
        Some(url) if a.vipps_agreement_id.is_some() => (ConfirmationUrl::parse(Some(url)), None),
        _ => {
            let manage_url = manage_url(&ctx, &a.manage_token);
            let request = DraftAgreementRequest::from(&DraftInput {
                agreement_id: &a.id,
                phone: &a.phone,
                amount_ore: d.amount_ore,
                period: d.period,
                product_name: &d.product_name,
                product_description: &d.product_description,
                manage_url: &manage_url,
                initial_order_id: &dialogpay_jobs::billing::order_id(&a.id, 0),
            });
            // Behind the merchant's draft limit: give the worker slot back and come back when
            // the slot is free, so other merchants' keywords are not stuck behind this queue.
            let wait = ctx
                .vipps
                .throttle_wait(Operation::DraftAgreement, &p.vipps_msn);
            if wait > SNOOZE_ABOVE {
                return Err(JobError::Snooze(wait));
            }
            let response = ctx
                .vipps
                .draft_agreement(&p.vipps_msn, &request, key(format!("{}-draft", a.id))?)
                .await
                .map_err(vipps_failure)?;
            // Every later call names the agreement in its path: an id we cannot use there is
            // never stored (and nothing is sent to the user).
            if !validate::is_path_id(&response.agreement_id) {
                return Err(JobError::permanent(anyhow::anyhow!(
                    "agreement {}: Vipps drafted it without a usable agreement id ({:?}); no SMS sent",
                    a.id,
                    response.agreement_id
                )));
            }
            let link = ConfirmationUrl::parse(response.vipps_confirmation_url.as_deref());
            let confirmation_url = link.as_ref().ok().map(|url| url.as_str().to_owned());
            let drafted = Drafted {
                vipps_id: response.agreement_id,
                confirmation_url,
            };
            (link, Some(drafted))
        }
    };
    let reply = match link.and_then(|url| link_reply(&d.reply_message, &url)) {
        Ok(text) => inbound_of(&ctx, &a).await?.map(|inbound| (inbound, text)),
        Err(e) => Err(anyhow::anyhow!("agreement {}: no SMS sent: {e}", a.id)),
    };
    let mut tx = ctx.db.begin().await?;
    if let Some(drafted) = &drafted {
        agreements::set_vipps_ids(
            &mut tx,
            &a.id,
            &drafted.vipps_id,
            drafted.confirmation_url.as_deref(),
            ctx.clock.now_ms(),
        )
        .await?;
    }
    if let Ok((inbound, text)) = &reply {
        queue_reply(
            &ctx,
            &mut tx,
            inbound,
            Some(&d.partner_id),
            Some(&d.id),
            ReplyPurpose::VippsLink,
            text,
            Some(&a.id),
        )
        .await?;
    }
    enqueue_first_poll(&ctx, &mut tx, &a.id).await?;
    tx.commit().await?;
    ctx.enqueuer.wake(dialogpay_jobs::sms::SendSms::QUEUE);
    reply.map(|_| ()).map_err(JobError::permanent)
}

/// The inbound message an agreement's link answers, or why there is none.
async fn inbound_of(
    ctx: &JobContext,
    a: &agreements::Agreement,
) -> Result<Result<messages::Message, anyhow::Error>, JobError> {
    let Some(inbound_id) = &a.inbound_message_id else {
        return Ok(Err(anyhow::anyhow!(
            "agreement {} has no inbound message to reply to",
            a.id
        )));
    };
    Ok(messages::get(&ctx.db, inbound_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("inbound message {inbound_id} not found")))
}

/// The first poll of a drafted agreement (later ones are scheduled by the poll itself).
async fn enqueue_first_poll(
    ctx: &JobContext,
    tx: &mut Tx,
    agreement_id: &str,
) -> Result<(), JobError> {
    let first_poll = PollAgreement {
        agreement_id: agreement_id.to_owned(),
        n: 0,
    };
    ctx.enqueuer
        .enqueue_in_tx(
            tx,
            &first_poll,
            Duration::from_secs(PollAgreement::delay_secs(0)),
        )
        .await
        .map_err(JobError::retry)?;
    Ok(())
}

/// Fetches the agreement and moves ours forward. Returns the status we now hold. A stop is
/// recorded with `actor_hint` as who stopped it; without one, MERCHANT if we had asked for
/// the stop, else USER.
pub async fn apply_vipps_state(
    ctx: &JobContext,
    agreement_id: &str,
    actor_hint: Option<StopActor>,
) -> Result<AgreementStatus, JobError> {
    let (a, d, p) = load(ctx, agreement_id).await?;
    let Some(vipps_id) = &a.vipps_agreement_id else {
        return Ok(a.status); // not drafted yet
    };
    let remote = ctx
        .vipps
        .get_agreement(&p.vipps_msn, vipps_id)
        .await
        .map_err(vipps_failure)?;
    let now = ctx.clock.now_ms();
    let target = match AgreementStatus::try_from(&remote.status) {
        Ok(AgreementStatus::Pending) => return Ok(a.status),
        Ok(target) => target,
        Err(e) => {
            tracing::warn!(agreement.id = %a.id, error = %e, "Vipps says a status we do not know; nothing changed");
            return Ok(a.status);
        }
    };
    let stopped_by = (target == AgreementStatus::Stopped).then(|| {
        actor_hint.unwrap_or(if a.stop_requested.is_some() {
            StopActor::Merchant
        } else {
            StopActor::User
        })
    });
    let mut tx = ctx.db.begin().await?;
    // Skipping a state (PENDING → STOPPED after an activation we never saw) still records the
    // activation when Vipps says it happened.
    if target == AgreementStatus::Stopped
        && a.status == AgreementStatus::Pending
        && remote.start.is_some()
    {
        activate(ctx, &mut tx, &a, &d, now).await?;
    }
    if target == AgreementStatus::Active {
        activate(ctx, &mut tx, &a, &d, now).await?;
    } else if agreements::transition(&mut tx, &a.id, target, stopped_by, now).await?
        && target == AgreementStatus::Stopped
    {
        let reason = a
            .stop_requested
            .clone()
            .unwrap_or_else(|| "stopped_in_vipps".to_owned());
        stopped(ctx, &mut tx, &a, stopped_by, &reason).await?;
        charges::cancel_open_for_agreement(&mut tx, &a.id, now).await?;
    }
    tx.commit().await?;
    super::wake_followers(ctx);
    Ok(target)
}

/// After a move to STOPPED in `tx`: the member leaves the CRM group, and the partner's systems
/// are told (`agreement.stopped` with who stopped it, `member.left`).
async fn stopped(
    ctx: &JobContext,
    tx: &mut Tx,
    a: &agreements::Agreement,
    actor: Option<StopActor>,
    reason: &str,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let left = crm::leave_by_agreement(tx, &a.id, reason, now).await?;
    let data = json!({
        "agreement_id": a.id,
        "dialogue_id": a.dialogue_id,
        "phone": a.phone,
        "actor": actor.map(StopActor::as_str),
        "reason": reason,
        "stopped_at": partner_events::rfc3339(now),
    });
    webhooks::emit(ctx, tx, &a.partner_id, EventType::AgreementStopped, data).await?;
    if let Some(left) = left {
        let data = json!({
            "crm_group_id": left.crm_group_id,
            "phone": left.phone,
            "agreement_id": a.id,
            "reason": reason,
            "left_at": partner_events::rfc3339(now),
        });
        webhooks::emit(ctx, tx, &a.partner_id, EventType::MemberLeft, data).await?;
    }
    Ok(())
}

/// PENDING → ACTIVE: the initial charge was captured; the phone joins the CRM group with the
/// consent record (terms version current now, the message that started it).
async fn activate(
    ctx: &JobContext,
    tx: &mut crate::db::Tx,
    a: &agreements::Agreement,
    d: &dialogues::Dialogue,
    now: i64,
) -> Result<(), JobError> {
    if !agreements::transition(tx, &a.id, AgreementStatus::Active, None, now).await? {
        return Ok(());
    }
    let anchor = ctx.clock.today_oslo();
    let initial = charges::record_initial(
        tx,
        &a.id,
        &a.partner_id,
        &d.id,
        anchor,
        d.amount_ore,
        None,
        now,
    )
    .await?;
    if let Some(charge_id) = initial {
        sms::queue_charge_notice(ctx, tx, &charge_id, NoticeKind::Receipt).await?;
    }
    agreements::start_billing(tx, &a.id, anchor, d.period.due_date(anchor, 1)).await?;
    let joined = crm::add_member(
        tx,
        &d.crm_group_id,
        &a.phone,
        &a.id,
        a.inbound_message_id.as_deref(),
        now,
    )
    .await?;
    let data = json!({
        "agreement_id": a.id,
        "dialogue_id": d.id,
        "phone": a.phone,
        "amount_ore": d.amount_ore,
        "period": d.period.as_str(),
        "activated_at": partner_events::rfc3339(now),
    });
    webhooks::emit(ctx, tx, &a.partner_id, EventType::AgreementActivated, data).await?;
    if joined {
        let data = json!({
            "crm_group_id": d.crm_group_id,
            "phone": a.phone,
            "agreement_id": a.id,
            "joined_at": partner_events::rfc3339(now),
        });
        webhooks::emit(ctx, tx, &a.partner_id, EventType::MemberJoined, data).await?;
    }
    Ok(())
}

/// Polls a PENDING agreement and schedules the next poll while it stays pending.
///
/// A poll that fails transiently (Vipps 5xx or 429, a timeout) is not retried: the next poll,
/// due soon anyway, checks again. Retrying it instead let a few bad answers in a row end the
/// job for good, and with it the polling of that agreement. Only the last poll is retried.
pub async fn poll(job: PollAgreement, ctx: JobContext) -> Result<(), JobError> {
    let last = job.n + 1 >= PollAgreement::MAX_POLLS;
    let status = match apply_vipps_state(&ctx, &job.agreement_id, None).await {
        Ok(status) => status,
        Err(JobError::Retry { error, .. }) if !last => {
            tracing::warn!(agreement.id = %job.agreement_id, poll = job.n, error = %error, "poll failed; the next poll checks again");
            AgreementStatus::Pending
        }
        Err(e) => return Err(e),
    };
    if status == AgreementStatus::Pending && !last {
        let next = PollAgreement {
            agreement_id: job.agreement_id.clone(),
            n: job.n + 1,
        };
        ctx.enqueuer
            .enqueue_in(
                &next,
                Duration::from_secs(PollAgreement::delay_secs(job.n + 1)),
            )
            .await
            .map_err(JobError::retry)?;
    }
    Ok(())
}

/// Stops the agreement in Vipps (idempotent), then records the result.
pub async fn stop(job: StopAgreement, ctx: JobContext) -> Result<(), JobError> {
    let (a, _, p) = load(&ctx, &job.agreement_id).await?;
    let now = ctx.clock.now_ms();
    let mut tx = ctx.db.begin().await?;
    agreements::mark_stop_requested(&mut tx, &a.id, &job.reason, now).await?;
    tx.commit().await?;
    if !a.status.is_open() {
        return Ok(());
    }
    let Some(vipps_id) = &a.vipps_agreement_id else {
        let mut tx = ctx.db.begin().await?;
        if agreements::transition(
            &mut tx,
            &a.id,
            AgreementStatus::Stopped,
            Some(StopActor::Merchant),
            now,
        )
        .await?
        {
            stopped(&ctx, &mut tx, &a, Some(StopActor::Merchant), &job.reason).await?;
        }
        tx.commit().await?;
        webhooks::wake(&ctx);
        return Ok(());
    };
    match ctx
        .vipps
        .stop_agreement(&p.vipps_msn, vipps_id, key(format!("{}-stop", a.id))?)
        .await
    {
        Ok(_) => {}
        // Already stopped or expired at Vipps: the re-read below records it.
        Err(e) if !e.is_retryable() && e.status().is_some_and(|s| s == 400 || s == 409) => {}
        Err(e) => return Err(vipps_failure(e)),
    }
    apply_vipps_state(&ctx, &a.id, Some(StopActor::Merchant)).await?;
    Ok(())
}
