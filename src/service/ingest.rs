//! What arrives from outside: an inbound SMS and a Vipps event are stored once (on the
//! gateway's message id, on the event body's hash) with the job that handles them, in one
//! transaction, so a 2xx answer means the work is durable. Authentication and parsing stay
//! with the webhook endpoints; delivery reports go through [`crate::delivery`].

use dialogpay_jobs::{JobSpec, sms::HandleInbound, vipps::ProcessEvent};

use crate::{
    db::{messages, vipps_events},
    service::ServiceResult,
    sms::InboundSms,
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
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let new = messages::NewMessage {
        partner_id: None,
        dialogue_id: None,
        direction: "in",
        provider,
        gateway_message_id: Some(&sms.gateway_message_id),
        from_addr: sms.from.as_str(),
        to_addr: &sms.to,
        text: &sms.text,
        status: "received",
        purpose: None,
        in_reply_to: None,
        agreement_id: None,
    };
    let id = messages::insert(&mut tx, &new, now).await?;
    if let Some(id) = &id {
        let job = HandleInbound {
            message_id: id.clone(),
        };
        state.enqueuer.enqueue_tx(&mut tx, &job).await?;
    }
    tx.commit().await?;
    state.enqueuer.wake(HandleInbound::QUEUE);
    Ok(Stored { id })
}

/// Stores a verified Vipps webhook event and enqueues its processing.
pub async fn vipps_event(
    state: &AppState,
    event: &vipps_events::NewEvent<'_>,
) -> ServiceResult<Stored> {
    let mut tx = state.db.begin().await?;
    let id = vipps_events::insert(&mut tx, event, state.clock.now_ms()).await?;
    if let Some(id) = &id {
        let job = ProcessEvent {
            event_id: id.clone(),
        };
        state.enqueuer.enqueue_tx(&mut tx, &job).await?;
    }
    tx.commit().await?;
    if id.is_some() {
        state.enqueuer.wake(ProcessEvent::QUEUE);
    }
    Ok(Stored { id })
}
