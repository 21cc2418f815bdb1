//! Handlers of `dialogpay_jobs::sms`: act on an inbound message; send an outbound one.

use dialogpay_jobs::{
    JobSpec,
    agreements::{DraftAgreement, StopAgreement},
    sms::{HandleInbound, SendSms},
};

use crate::{
    db::{Tx, agreements, charges, crm, dialogues, messages, partners},
    delivery,
    domain::partner_events::{self, EventType},
    domain::{
        keyword::{InboundCommand, PausePeriods, parse_inbound},
        keyword_decision::{self, KeywordDecision, KeywordDialogue, KeywordFacts, OpenAgreement},
        money::AmountOre,
        msisdn::Msisdn,
        notices::{self, NoticeFacts, NoticeKind},
        pause, replies,
        status::{AgreementStatus, InboundOutcome, PauseActor, ReplyPurpose},
    },
    monitoring::{self, SmsEvent},
    sms::{OutboundSms, SmsError},
    worker::{JobContext, JobError, handlers::webhooks},
};
use chrono::{DateTime, Utc};
use chrono_tz::Europe::Oslo;
use serde_json::json;

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
        charge_id: None,
    };
    queue_outbound(ctx, tx, &reply).await
}

/// Queues the dialogue's receipt or failed-payment notice about charge `charge_id`, in the
/// transaction that moved the charge; nothing when the dialogue has no such text. Stored once
/// per charge and kind, sent from the dialogue's sender (held back in quiet hours by
/// [`send_sms`]). The caller wakes [`SendSms::QUEUE`] after its commit.
pub async fn queue_charge_notice(
    ctx: &JobContext,
    tx: &mut Tx,
    charge_id: &str,
    kind: NoticeKind,
) -> Result<(), JobError> {
    let Some(n) = charges::notice(tx, charge_id).await? else {
        return Ok(());
    };
    let template = match kind {
        NoticeKind::Receipt => n.receipt_message.as_deref(),
        NoticeKind::PaymentFailed => n.failure_message.as_deref(),
    };
    let Some(template) = template else {
        return Ok(());
    };
    let manage_link = ctx.settings.manage_url(&n.manage_token);
    let facts = NoticeFacts {
        amount: AmountOre(n.amount_ore),
        date: n.due_date,
        product: &n.product_name,
        manage_link: &manage_link,
        failure_reason: n.failure_reason.as_deref(),
    };
    let text = notices::render(template, &facts);
    let notice = messages::NewMessage {
        partner_id: Some(&n.partner_id),
        dialogue_id: Some(&n.dialogue_id),
        direction: "out",
        provider: ctx.sms.provider(),
        gateway_message_id: None,
        from_addr: &n.sender,
        to_addr: &n.phone,
        text: &text,
        status: "pending",
        purpose: Some(kind.purpose()),
        in_reply_to: None,
        agreement_id: Some(&n.agreement_id),
        charge_id: Some(&n.charge_id),
    };
    queue_outbound(ctx, tx, &notice).await?;
    Ok(())
}

/// Stores an outbound message and its send job in `tx` (nothing when it is stored already). A
/// notice queued in quiet hours is held: its job waits until they end, and its history says so.
async fn queue_outbound(
    ctx: &JobContext,
    tx: &mut Tx,
    message: &messages::NewMessage<'_>,
) -> Result<Option<String>, JobError> {
    let now = ctx.clock.now_ms();
    let Some(id) = messages::insert(tx, message, now).await? else {
        return Ok(None);
    };
    let wait = match quiet_until(ctx, message.purpose) {
        Some(until) => Some(hold(ctx, tx, &id, until).await?),
        None => None,
    };
    let job = SendSms {
        message_id: id.clone(),
    };
    ctx.enqueuer
        .enqueue_in_tx(tx, &job, wait.unwrap_or_default())
        .await
        .map_err(JobError::retry)?;
    Ok(Some(id))
}

/// When quiet hours end, if it is quiet hours and the message is a notice.
fn quiet_until(ctx: &JobContext, purpose: Option<ReplyPurpose>) -> Option<DateTime<Utc>> {
    if !purpose.is_some_and(|p| p.is_notice()) {
        return None;
    }
    ctx.settings.quiet_hours?.held_until(ctx.clock.now())
}

/// Records in notice `id`'s history that it is `held` until `until`; returns the wait.
async fn hold(
    ctx: &JobContext,
    tx: &mut Tx,
    id: &str,
    until: DateTime<Utc>,
) -> Result<std::time::Duration, JobError> {
    let now = ctx.clock.now();
    let detail = format!(
        "quiet hours: held until {}",
        until.with_timezone(&Oslo).format("%d.%m.%Y %H:%M")
    );
    messages::note(tx, id, "held", &detail, now.timestamp_millis()).await?;
    Ok((until - now).to_std().unwrap_or_default())
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
        InboundCommand::Pause(periods) => handle_pause(&ctx, &msg, periods).await?,
        InboundCommand::Start => handle_resume(&ctx, &msg).await?,
        InboundCommand::Empty => record_only(&ctx, &msg, InboundOutcome::Empty).await?,
        InboundCommand::Keyword(keyword) => handle_keyword(&ctx, &msg, &keyword).await?,
    }
    ctx.enqueuer.wake(SendSms::QUEUE);
    ctx.enqueuer.wake(DraftAgreement::QUEUE);
    webhooks::wake(&ctx);
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

/// A keyword: loads what the database knows (the dialogue, then, inside the write
/// transaction, the phone's open agreement on it), decides, and applies the decision.
async fn handle_keyword(
    ctx: &JobContext,
    msg: &messages::Message,
    keyword: &str,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let today = ctx.clock.today_oslo();
    let candidates = dialogues::find_for_keyword(&ctx.db, &msg.to_addr, keyword, today).await?;
    let dialogue = candidates.into_iter().next();
    let mut tx = ctx.db.begin().await?;
    let open = match &dialogue {
        Some(d) => agreements::open_for_phone(&mut tx, &d.id, &msg.from_addr).await?,
        None => None,
    };
    let facts = KeywordFacts {
        today,
        now_ms: now,
        dialogue: dialogue.as_ref().map(keyword_dialogue),
        open_agreement: open.as_ref().map(open_agreement),
    };
    let decision = keyword_decision::decide(&facts);
    apply_keyword_decision(ctx, &mut tx, msg, dialogue.as_ref(), &decision, now).await?;
    if let Some(d) = &dialogue {
        let data = json!({
            "message_id": msg.id,
            "dialogue_id": d.id,
            "keyword": d.keyword,
            "phone": msg.from_addr,
            "to": msg.to_addr,
            "text": msg.text,
            "received_at": partner_events::rfc3339(msg.created_at),
        });
        webhooks::emit(
            ctx,
            &mut tx,
            &d.partner_id,
            EventType::MessageReceived,
            data,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn keyword_dialogue(d: &dialogues::Dialogue) -> KeywordDialogue<'_> {
    KeywordDialogue {
        keyword: &d.keyword,
        sender: &d.sender,
        recurring: d.recurring,
        start_date: d.start_date,
        end_date: d.end_date,
        reply_message: &d.reply_message,
    }
}

fn open_agreement(a: &agreements::Agreement) -> OpenAgreement<'_> {
    OpenAgreement {
        id: &a.id,
        status: a.status,
        created_at_ms: a.created_at,
        confirmation_url: a.confirmation_url.as_deref(),
    }
}

/// Does what `decision` says: records the outcome, queues its reply, or creates the PENDING
/// agreement and queues its draft (`dialogue` is the one the decision was made on).
async fn apply_keyword_decision(
    ctx: &JobContext,
    tx: &mut Tx,
    msg: &messages::Message,
    dialogue: Option<&dialogues::Dialogue>,
    decision: &KeywordDecision<'_>,
    now: i64,
) -> Result<(), JobError> {
    if let KeywordDecision::AwaitDraft {
        agreement_id,
        unusable_link: Some(e),
    } = decision
    {
        tracing::error!(agreement.id = %agreement_id, error = %e, "pending agreement has no usable link; not re-sent");
    }
    let partner_id = dialogue.map(|d| d.partner_id.as_str());
    let dialogue_id = dialogue.map(|d| d.id.as_str());
    let drafted = match (decision, dialogue) {
        (KeywordDecision::DraftAgreement, Some(d)) => Some(
            agreements::create_pending(tx, &d.partner_id, &d.id, &msg.from_addr, &msg.id, now)
                .await?,
        ),
        (KeywordDecision::DraftAgreement, None) => {
            return Err(JobError::permanent(anyhow::anyhow!(
                "message {}: an agreement needs its dialogue",
                msg.id
            )));
        }
        _ => None,
    };
    messages::set_inbound_outcome(
        tx,
        &msg.id,
        partner_id,
        dialogue_id,
        decision.outcome(),
        drafted.as_deref().or(decision.agreement_id()),
        now,
    )
    .await?;
    if let Some((purpose, text)) = decision.reply() {
        let agreement_id = decision.agreement_id();
        queue_reply(
            ctx,
            tx,
            msg,
            partner_id,
            dialogue_id,
            purpose,
            text,
            agreement_id,
        )
        .await?;
    }
    if let Some(agreement_id) = drafted {
        ctx.enqueuer
            .enqueue_tx(tx, &DraftAgreement { agreement_id })
            .await
            .map_err(JobError::retry)?;
    }
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
        if let Some(left) = crm::leave_by_agreement(&mut tx, &a.id, "sms_stop", now).await? {
            let data = json!({
                "crm_group_id": left.crm_group_id,
                "phone": left.phone,
                "agreement_id": a.id,
                "reason": "sms_stop",
                "left_at": partner_events::rfc3339(now),
            });
            webhooks::emit(ctx, &mut tx, &a.partner_id, EventType::MemberLeft, data).await?;
        }
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

/// The phone's ACTIVE agreements on the number it texted, each with its billing (those billed).
async fn billed_on_sender(
    ctx: &JobContext,
    msg: &messages::Message,
) -> Result<Vec<(agreements::Agreement, pause::Billing)>, JobError> {
    let mut billed = Vec::new();
    for a in agreements::active_for_phone_on_sender(&ctx.db, &msg.from_addr, &msg.to_addr).await? {
        let Some(d) = dialogues::get_any(&ctx.db, &a.dialogue_id).await? else {
            continue;
        };
        if let Some(b) = a
            .billing(d.period, d.end_date)
            .filter(|_| a.status == AgreementStatus::Active)
        {
            billed.push((a, b));
        }
    }
    Ok(billed)
}

/// PAUSE [n]: every ACTIVE agreement of the phone on this number skips its next `n` periods not
/// yet created; the answer names the dates (one agreement) or the count (several).
async fn handle_pause(
    ctx: &JobContext,
    msg: &messages::Message,
    periods: PausePeriods,
) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let billed = match periods {
        PausePeriods::Periods(_) => billed_on_sender(ctx, msg).await?,
        PausePeriods::OutOfRange => Vec::new(),
    };
    let command = CommandContext::of(ctx, msg, &billed).await?;
    let mut tx = ctx.db.begin().await?;
    let mut paused = Vec::new();
    if let PausePeriods::Periods(n) = periods {
        for (a, b) in &billed {
            let until = b.pause_until(n);
            if agreements::pause(&mut tx, &a.id, until, PauseActor::User, now).await? {
                paused.push(pause::Billing {
                    paused_until: Some(until),
                    ..*b
                });
            }
        }
    }
    let text = match (periods, paused.as_slice()) {
        (PausePeriods::OutOfRange, _) => replies::pause_how(&msg.to_addr),
        (_, []) => replies::pause_nothing(&msg.to_addr),
        (_, [one]) => {
            replies::pause_confirmation(&one.skipped_dates(), one.next_charge_date(), &msg.to_addr)
        }
        (PausePeriods::Periods(n), several) => {
            replies::pause_several(several.len(), n, &msg.to_addr)
        }
    };
    command.answer(ctx, tx, msg, PAUSE_COMMAND, &text).await
}

/// START: ends the pause of every paused agreement of the phone on this number.
async fn handle_resume(ctx: &JobContext, msg: &messages::Message) -> Result<(), JobError> {
    let now = ctx.clock.now_ms();
    let billed = billed_on_sender(ctx, msg).await?;
    let command = CommandContext::of(ctx, msg, &billed).await?;
    let mut tx = ctx.db.begin().await?;
    let mut resumed = Vec::new();
    for (a, b) in &billed {
        if b.is_paused() && agreements::resume(&mut tx, &a.id, now).await? {
            resumed.push(pause::Billing {
                paused_until: None,
                ..*b
            });
        }
    }
    let text = match resumed.first() {
        Some(b) => replies::resume_confirmation(b.next_charge_date(), &msg.to_addr),
        None => replies::resume_nothing(&msg.to_addr),
    };
    command.answer(ctx, tx, msg, START_COMMAND, &text).await
}

/// What PAUSE or START is recorded with: its inbound outcome and its answer's purpose.
type CommandKind = (InboundOutcome, ReplyPurpose);
const PAUSE_COMMAND: CommandKind = (InboundOutcome::Pause, ReplyPurpose::PauseConfirmation);
const START_COMMAND: CommandKind = (InboundOutcome::Resume, ReplyPurpose::ResumeConfirmation);

/// Whose PAUSE or START it is: the first agreement's partner (or the number's) and agreement.
struct CommandContext {
    partner_id: Option<String>,
    agreement_id: Option<String>,
}

impl CommandContext {
    /// Read before the write transaction (a pool read inside it could wait on the workers that
    /// wait on its lock).
    async fn of(
        ctx: &JobContext,
        msg: &messages::Message,
        billed: &[(agreements::Agreement, pause::Billing)],
    ) -> Result<Self, JobError> {
        let first = billed.first().map(|(a, _)| a);
        let partner_id = match first {
            Some(a) => Some(a.partner_id.clone()),
            None => dialogues::any_on_sender(&ctx.db, &msg.to_addr)
                .await?
                .map(|d| d.partner_id),
        };
        Ok(Self {
            partner_id,
            agreement_id: first.map(|a| a.id.clone()),
        })
    }

    /// Records what the command led to, queues its answer and commits `tx`.
    async fn answer(
        &self,
        ctx: &JobContext,
        mut tx: Tx,
        msg: &messages::Message,
        (outcome, purpose): CommandKind,
        text: &str,
    ) -> Result<(), JobError> {
        let (partner_id, agreement_id) = (self.partner_id.as_deref(), self.agreement_id.as_deref());
        messages::set_inbound_outcome(
            &mut tx,
            &msg.id,
            partner_id,
            None,
            outcome,
            agreement_id,
            ctx.clock.now_ms(),
        )
        .await?;
        queue_reply(
            ctx,
            &mut tx,
            msg,
            partner_id,
            None,
            purpose,
            text,
            agreement_id,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
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
    if let Some(until) = quiet_until(&ctx, msg.reply_purpose) {
        // A retry may come due in quiet hours: it waits them out too.
        let mut tx = ctx.db.begin().await?;
        let wait = hold(&ctx, &mut tx, &msg.id, until).await?;
        tx.commit().await?;
        return Err(JobError::Snooze(wait));
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
