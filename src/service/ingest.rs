//! What arrives from outside: an inbound SMS and a Vipps event are stored once (on the
//! gateway's message id, on the event body's hash) with the job that handles them, and a
//! delivery report is applied to its message or parked ([`crate::delivery`]). Each is one
//! write in a transaction shared with the other webhooks arriving at the same moment
//! ([`crate::db::group_commit`]), and each call returns only once that transaction committed,
//! so a 2xx answer means the work is durable. Authentication and parsing stay with the webhook
//! endpoints.

use dialogpay_jobs::{JobSpec, sms::HandleInbound, vipps::ProcessEvent};
use futures::future::BoxFuture;

use crate::{
    db::{Tx, enqueue::Enqueuer, group_commit::Work, messages, vipps_events},
    delivery::{self, Received},
    service::{ServiceError, ServiceResult},
    sms::{DeliveryReport, InboundSms},
    state::AppState,
};

/// A stored arrival: its id, or `None` when it had arrived before (nothing new was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: Option<String>,
}

impl Stored {
    pub fn duplicate(&self) -> bool {
        self.id.is_none()
    }
}

/// Stores an inbound SMS from `provider` and enqueues its handling.
pub async fn inbound_sms(
    state: &AppState,
    provider: &str,
    sms: &InboundSms,
) -> ServiceResult<Stored> {
    let work = StoreInbound {
        provider: provider.to_owned(),
        sms: sms.clone(),
        now_ms: state.clock.now_ms(),
        enqueuer: state.enqueuer.clone(),
    };
    let stored = state.group_commit.run(work).await?;
    if !stored.duplicate() {
        state.enqueuer.wake(HandleInbound::QUEUE);
    }
    Ok(stored)
}

/// Stores a verified Vipps webhook event and enqueues its processing.
pub async fn vipps_event(state: &AppState, event: vipps_events::NewEvent) -> ServiceResult<Stored> {
    let work = StoreEvent {
        event,
        now_ms: state.clock.now_ms(),
        enqueuer: state.enqueuer.clone(),
    };
    let stored = state.group_commit.run(work).await?;
    if !stored.duplicate() {
        state.enqueuer.wake(ProcessEvent::QUEUE);
    }
    Ok(stored)
}

/// Applies a delivery report from `provider` to its message, or parks it until the send is
/// recorded.
pub async fn delivery_report(
    state: &AppState,
    provider: &str,
    report: &DeliveryReport,
) -> ServiceResult<Received> {
    let work = ReceiveReport {
        provider: provider.to_owned(),
        report: report.clone(),
        now_ms: state.clock.now_ms(),
    };
    let received = state.group_commit.run(work).await?;
    delivery::log_parked(provider, report, received);
    Ok(received)
}

/// A new row's job, in the transaction that inserted it (`id`; `None` for a duplicate, which
/// gets none).
async fn with_job<J: JobSpec>(
    tx: &mut Tx,
    enqueuer: &Enqueuer,
    id: Option<String>,
    job: impl FnOnce(String) -> J,
) -> ServiceResult<Stored> {
    if let Some(id) = &id {
        enqueuer.enqueue_tx(tx, &job(id.clone())).await?;
    }
    Ok(Stored { id })
}

struct StoreInbound {
    provider: String,
    sms: InboundSms,
    now_ms: i64,
    enqueuer: Enqueuer,
}

impl Work for StoreInbound {
    type Output = Stored;
    type Error = ServiceError;

    fn apply<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, ServiceResult<Stored>> {
        Box::pin(async move {
            let new = messages::NewMessage {
                partner_id: None,
                dialogue_id: None,
                direction: "in",
                provider: &self.provider,
                gateway_message_id: Some(&self.sms.gateway_message_id),
                from_addr: self.sms.from.as_str(),
                to_addr: &self.sms.to,
                text: &self.sms.text,
                status: "received",
                purpose: None,
                in_reply_to: None,
                agreement_id: None,
                charge_id: None,
            };
            let id = messages::insert(tx, &new, self.now_ms).await?;
            with_job(tx, &self.enqueuer, id, |message_id| HandleInbound {
                message_id,
            })
            .await
        })
    }
}

struct StoreEvent {
    event: vipps_events::NewEvent,
    now_ms: i64,
    enqueuer: Enqueuer,
}

impl Work for StoreEvent {
    type Output = Stored;
    type Error = ServiceError;

    fn apply<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, ServiceResult<Stored>> {
        Box::pin(async move {
            let id = vipps_events::insert(tx, &self.event, self.now_ms).await?;
            with_job(tx, &self.enqueuer, id, |event_id| ProcessEvent { event_id }).await
        })
    }
}

struct ReceiveReport {
    provider: String,
    report: DeliveryReport,
    now_ms: i64,
}

impl Work for ReceiveReport {
    type Output = Received;
    type Error = sqlx::Error;

    fn apply<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, Result<Received, sqlx::Error>> {
        Box::pin(delivery::receive_in(
            tx,
            &self.provider,
            &self.report,
            self.now_ms,
        ))
    }
}
