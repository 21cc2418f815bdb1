//! SMS jobs: working on an inbound message, and sending one outbound message.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Match an inbound message (stored by the webhook) to a dialogue and act on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HandleInbound {
    pub message_id: String,
}

impl JobSpec for HandleInbound {
    const QUEUE: &'static str = "sms.inbound";
    const BATCH: Option<usize> = Some(crate::spec::DATABASE_ONLY_BATCH);
    const MAX_ATTEMPTS: u32 = 10;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("inbound:{}", self.message_id))
    }
}

/// Send one stored outbound message through the configured gateway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SendSms {
    pub message_id: String,
}

impl JobSpec for SendSms {
    const QUEUE: &'static str = "sms.send";
    /// With the default backoff this keeps trying for about a day (a gateway outage delays
    /// replies, it does not lose them).
    const MAX_ATTEMPTS: u32 = 20;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("send:{}", self.message_id))
    }
}
