//! Vipps jobs: process a stored webhook event; register our webhook for a merchant.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Act on a stored webhook event (re-reading the resource from the API first).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessEvent {
    pub event_id: String,
}

impl JobSpec for ProcessEvent {
    const QUEUE: &'static str = "vipps.event";
    const BATCH: Option<usize> = Some(crate::spec::DATABASE_ONLY_BATCH);
    const MAX_ATTEMPTS: u32 = 8;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("event:{}", self.event_id))
    }
}

/// Register our webhook URL for a merchant (simulator mode, or when an operator asks).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RegisterWebhook {
    pub msn: String,
}

impl JobSpec for RegisterWebhook {
    const QUEUE: &'static str = "vipps.register_webhook";
    const MAX_ATTEMPTS: u32 = 10;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("register-webhook:{}", self.msn))
    }
}
