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

/// A verified Vipps webhook event, as stored.
#[derive(Debug, Clone)]
pub struct VippsEvent {
    /// SHA-256 of the body: Vipps redelivers the same body, which must be stored once.
    pub event_key: String,
    pub event_type: String,
    pub msn: Option<String>,
    pub agreement_id: Option<String>,
    pub charge_id: Option<String>,
    pub actor: Option<String>,
    pub body: String,
}

/// Stores a verified Vipps webhook event and enqueues its processing.
pub async fn vipps_event(state: &AppState, event: VippsEvent) -> ServiceResult<Stored> {
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
            };
            let id = messages::insert(tx, &new, self.now_ms).await?;
            if let Some(id) = &id {
                let job = HandleInbound {
                    message_id: id.clone(),
                };
                self.enqueuer.enqueue_tx(tx, &job).await?;
            }
            Ok(Stored { id })
        })
    }
}

struct StoreEvent {
    event: VippsEvent,
    now_ms: i64,
    enqueuer: Enqueuer,
}

impl Work for StoreEvent {
    type Output = Stored;
    type Error = ServiceError;

    fn apply<'a>(&'a self, tx: &'a mut Tx) -> BoxFuture<'a, ServiceResult<Stored>> {
        Box::pin(async move {
            let e = &self.event;
            let new = vipps_events::NewEvent {
                event_key: &e.event_key,
                event_type: &e.event_type,
                msn: e.msn.as_deref(),
                agreement_id: e.agreement_id.as_deref(),
                charge_id: e.charge_id.as_deref(),
                actor: e.actor.as_deref(),
                body: &e.body,
            };
            let id = vipps_events::insert(tx, &new, self.now_ms).await?;
            if let Some(id) = &id {
                let job = ProcessEvent {
                    event_id: id.clone(),
                };
                self.enqueuer.enqueue_tx(tx, &job).await?;
            }
            Ok(Stored { id })
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
