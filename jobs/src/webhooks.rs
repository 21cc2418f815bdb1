//! Outgoing webhooks: deliver one event to one of a partner's endpoints.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// POST one stored event to one endpoint, signed; retried on the delivery's own schedule
/// (about three days). `round` is how many times the partner asked to send it again, so a
/// resend is a job of its own while the first one's row is still kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliverWebhook {
    pub delivery_id: String,
    pub round: u32,
}

impl JobSpec for DeliverWebhook {
    const QUEUE: &'static str = "webhooks.deliver";
    /// The first attempt and nine retries (the handler sets each wait; the last is a day).
    const MAX_ATTEMPTS: u32 = 10;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("webhook:{}:{}", self.delivery_id, self.round))
    }
}
