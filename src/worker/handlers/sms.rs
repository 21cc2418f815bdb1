//! Handlers of `dialogpay_jobs::sms`: act on an inbound message; send an outbound one.

use dialogpay_jobs::{
    JobSpec,
    agreements::{DraftAgreement, StopAgreement},
    sms::{HandleInbound, SendSms},
};

use crate::{
    db::{Tx, agreements, crm, dialogues, messages, partners},
    delivery,
    domain::{
        confirmation::{ConfirmationUrl, link_reply},
        keyword::{InboundCommand, parse_inbound},
        msisdn::Msisdn,
        replies,
        status::{AgreementStatus, InboundOutcome, ReplyPurpose},
    },
    monitoring::{self, SmsEvent},
    sms::{OutboundSms, SmsError},
    worker::{JobContext, JobError},
};

/// How long Vipps keeps a draft PENDING before it expires.
const DRAFT_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Queues a reply to `inbound` (stored once per inbound message and purpose).
#[allow(clippy::too_many_arguments)]
pub async fn queue_reply(
    ctx: &JobContext,
    tx: &mut Tx,
    inbound: &messages::Message,
    partner_id: Option<&str>,
    dialogue_id: Option<&str>,
    purpose: ReplyPurpose,
    text: &str,
    agreement_id: Option<&str>,
) -> Result<Option<String>, JobError> {
    let reply = messages::NewMessage {
        partner_id,
        dialogue_id,
        direction: "out",
        provider: ctx.sms.provider(),
        gateway_message_id: None,
        from_addr: &inbound.to_addr,
        to_addr: &inbound.from_addr,
        text,
        status: "pending",
        purpose: Some(purpose),
        in_reply_to: Some(&inbound.id),
        agreement_id,
    };
    let id = messages::insert(tx, &reply, ctx.clock.now_ms()).await?;
    if let Some(id) = &id {
        ctx.enqueuer
            .enqueue_tx(
                tx,
                &SendSms {
                    message_id: id.clone(),
                },
            )
            .await
            .map_err(JobError::retry)?;
    }
    Ok(id)
}

/// Matches an inbound message to a dialogue and acts: draft, re-send the link, say "already a
/// member", stop, help, or record that nothing matched.
pub async fn handle_inbound(job: HandleInbound, ctx: JobContext) -> Result<(), JobError> {
    let Some(msg) = messages::get(&ctx.db, &job.message_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "inbound message {} not found",
            job.message_id
        )));
    };
    if msg.inbound_outcome.is_some() {
        return Ok(()); // already handled (a retry after a crash)
    }
    match parse_inbound(&msg.text) {
        InboundCommand::Stop => handle_stop(&ctx, &msg).await?,
        InboundCommand::Help => handle_help(&ctx, &msg).await?,
        InboundCommand::Empty => record_only(&ctx, &msg, InboundOutcome::Empty).await?,
        InboundCommand::Keyword(keyword) => handle_keyword(&ctx, &msg, &keyword).await?,
    }
    ctx.enqueuer.wake(SendSms::QUEUE);
    ctx.enqueuer.wake(DraftAgreement::QUEUE);
    Ok(())
}

/// Records what an inbound message led to when nothing else follows (no reply, no agreement).
async fn record_only(
    ctx: &JobContext,
    msg: &messages::Message,
    outcome: InboundOutcome,
) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    messages::set_inbound_outcome(
        &mut tx,
        &msg.id,
        None,
        None,
        outcome,
        None,
        ctx.clock.now_ms(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn handle_keyword(
    ctx: &JobContext,
    msg: &messages::Message,
    keyword: &str,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let today = ctx.clock.today_oslo();
    let candidates = dialogues::find_for_keyword(&ctx.db, &msg.to_addr, keyword, today).await?;
    let Some(dialogue) = candidates.into_iter().next() else {
        return record_only(ctx, msg, InboundOutcome::UnknownKeyword).await;
    };
    let d = &dialogue;
    let mut tx = ctx.db.begin().await?;
    let live = d.recurring && d.start_date <= today && today <= d.end_date;
    if !live {
        messages::set_inbound_outcome(
            &mut tx,
            &msg.id,
            Some(&d.partner_id),
            Some(&d.id),
            InboundOutcome::NotLive,
            None,
            now,
        )
        .await?;
        let text = replies::not_live(&d.keyword);
        queue_reply(
            ctx,
            &mut tx,
            msg,
            Some(&d.partner_id),
            Some(&d.id),
            ReplyPurpose::NotLive,
            &text,
            None,
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    match agreements::open_for_phone(&mut tx, &d.id, &msg.from_addr).await? {
        Some(a) if a.status == AgreementStatus::Active => {
            messages::set_inbound_outcome(
                &mut tx,
                &msg.id,
                Some(&d.partner_id),
                Some(&d.id),
                InboundOutcome::AlreadyMember,
                Some(&a.id),
                now,
            )
            .await?;
            let text = replies::already_member(&d.keyword, &d.sender);
            queue_reply(
                ctx,
                &mut tx,
                msg,
                Some(&d.partner_id),
                Some(&d.id),
                ReplyPurpose::AlreadyMember,
                &text,
                Some(&a.id),
            )
            .await?;
        }
        Some(a) if now - a.created_at < DRAFT_LIFETIME_MS => {
            // Still pending: never a second draft; re-send its link (or let the draft job send it).
            // A stored link that is not one is never sent.
            let reply = a.confirmation_url.as_deref().map(|url| {
                ConfirmationUrl::parse(Some(url)).and_then(|url| link_reply(&d.reply_message, &url))
            });
            let reply = match reply {
                Some(Ok(text)) => Some(text),
                Some(Err(e)) => {
                    tracing::error!(agreement.id = %a.id, error = %e, "pending agreement has no usable link; not re-sent");
                    None
                }
                None => None,
            };
            let outcome = if reply.is_some() {
                InboundOutcome::LinkResent
            } else {
                InboundOutcome::DraftInProgress
            };
            messages::set_inbound_outcome(
                &mut tx,
                &msg.id,
                Some(&d.partner_id),
                Some(&d.id),
                outcome,
                Some(&a.id),
                now,
            )
            .await?;
            if let Some(text) = &reply {
                queue_reply(
                    ctx,
                    &mut tx,
                    msg,
                    Some(&d.partner_id),
                    Some(&d.id),
                    ReplyPurpose::VippsLink,
                    text,
                    Some(&a.id),
                )
                .await?;
            }
        }
        _ => {
            // Nothing open (or a draft older than Vipps's 10 minutes, which polling will expire).
            let agreement = agreements::create_pending(
                &mut tx,
                &d.partner_id,
                &d.id,
                &msg.from_addr,
                &msg.id,
                now,
            )
            .await?;
            messages::set_inbound_outcome(
                &mut tx,
                &msg.id,
                Some(&d.partner_id),
                Some(&d.id),
                InboundOutcome::AgreementDrafted,
                Some(&agreement),
                now,
            )
            .await?;
            ctx.enqueuer
                .enqueue_tx(
                    &mut tx,
                    &DraftAgreement {
                        agreement_id: agreement,
                    },
                )
                .await
                .map_err(JobError::retry)?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn handle_stop(ctx: &JobContext, msg: &messages::Message) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let open =
        agreements::active_for_phone_on_sender(&ctx.db, &msg.from_addr, &msg.to_addr).await?;
    let context = dialogues::any_on_sender(&ctx.db, &msg.to_addr).await?;
    let partner_id = open
        .first()
        .map(|a| a.partner_id.clone())
        .or_else(|| context.as_ref().map(|d| d.partner_id.clone()));
    let mut tx = ctx.db.begin().await?;
    for a in &open {
        agreements::mark_stop_requested(&mut tx, &a.id, "sms_stop", now).await?;
        crm::leave_by_agreement(&mut tx, &a.id, "sms_stop", now).await?;
        ctx.enqueuer
            .enqueue_tx(
                &mut tx,
                &StopAgreement {
                    agreement_id: a.id.clone(),
                    reason: "sms_stop".into(),
                },
            )
            .await
            .map_err(JobError::retry)?;
    }
    messages::set_inbound_outcome(
        &mut tx,
        &msg.id,
        partner_id.as_deref(),
        None,
        InboundOutcome::Stop,
        open.first().map(|a| a.id.as_str()),
        now,
    )
    .await?;
    let text = replies::stop_confirmation(open.len(), &msg.to_addr);
    queue_reply(
        ctx,
        &mut tx,
        msg,
        partner_id.as_deref(),
        None,
        ReplyPurpose::StopConfirmation,
        &text,
        None,
    )
    .await?;
    tx.commit().await?;
    ctx.enqueuer.wake(StopAgreement::QUEUE);
    Ok(())
}

async fn handle_help(ctx: &JobContext, msg: &messages::Message) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let context = dialogues::any_on_sender(&ctx.db, &msg.to_addr).await?;
    let partner = match &context {
        Some(d) => partners::get(&ctx.db, &d.partner_id).await?,
        None => None,
    };
    let mut tx = ctx.db.begin().await?;
    let partner_id = partner.as_ref().map(|p| p.id.as_str());
    messages::set_inbound_outcome(
        &mut tx,
        &msg.id,
        partner_id,
        None,
        InboundOutcome::Help,
        None,
        now,
    )
    .await?;
    if let Some(p) = &partner {
        let text = replies::help(&p.name, p.help_text.as_deref(), &msg.to_addr);
        queue_reply(
            ctx,
            &mut tx,
            msg,
            partner_id,
            None,
            ReplyPurpose::Help,
            &text,
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sends a stored outbound message once; a gateway outage retries with backoff.
pub async fn send_sms(job: SendSms, ctx: JobContext) -> Result<(), JobError> {
    let Some(msg) = messages::get(&ctx.db, &job.message_id).await? else {
        return Err(JobError::permanent(anyhow::anyhow!(
            "message {} not found",
            job.message_id
        )));
    };
    if msg.direction != "out" || msg.status != "pending" {
        return Ok(()); // sent already (a duplicate or a retry after the send was recorded)
    }
    let to = Msisdn::parse(&msg.to_addr)
        .map_err(|e| JobError::permanent(anyhow::anyhow!("recipient: {e}")))?;
    let mo_reference = match &msg.in_reply_to {
        Some(id) => messages::get(&ctx.db, id)
            .await?
            .and_then(|m| m.gateway_message_id),
        None => None,
    };
    let outbound = OutboundSms {
        message_id: msg.id.clone(),
        from: msg.from_addr.clone(),
        to,
        text: msg.text.clone(),
        mo_reference_id: mo_reference,
    };
    let now = ctx.clock.now_ms();
    match ctx.sms.send(&outbound).await {
        Ok(receipt) => {
            // Reports the gateway posted before this point were parked; they apply here.
            let mut tx = ctx.db.begin().await?;
            let changed = delivery::record_send(
                &mut tx,
                &msg.id,
                &receipt.gateway_message_id,
                receipt.status,
                now,
            )
            .await?;
            tx.commit().await?;
            let provider = ctx.sms.provider();
            monitoring::sms(provider, SmsEvent::Sent);
            if let Some(status) = changed {
                monitoring::sms_status(provider, status);
            }
            Ok(())
        }
        Err(err) => {
            let detail = err.to_string();
            if err.is_retryable() && ctx.attempt < SendSms::MAX_ATTEMPTS {
                let mut tx = ctx.db.begin().await?;
                messages::set_status(&mut tx, &msg.id, "pending", Some(&detail), now).await?;
                tx.commit().await?;
                Err(retry(err))
            } else {
                let mut tx = ctx.db.begin().await?;
                messages::set_status(&mut tx, &msg.id, "failed", Some(&detail), now).await?;
                tx.commit().await?;
                monitoring::sms(ctx.sms.provider(), SmsEvent::Failed);
                Err(JobError::permanent(err))
            }
        }
    }
}

fn retry(err: SmsError) -> JobError {
    match err.retry_after() {
        Some(after) => JobError::retry_after(err, after),
        None => JobError::retry(err),
    }
}
