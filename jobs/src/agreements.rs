//! Agreement jobs: draft in Vipps, learn the outcome (poll), stop.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Draft the agreement in Vipps (the row exists already), then queue the reply with the link.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DraftAgreement {
    pub agreement_id: String,
}

impl JobSpec for DraftAgreement {
    const QUEUE: &'static str = "agreements.draft";
    const MAX_ATTEMPTS: u32 = 8;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("draft:{}", self.agreement_id))
    }
}

/// Poll a PENDING agreement until it is ACTIVE, EXPIRED or STOPPED; `n` counts the polls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PollAgreement {
    pub agreement_id: String,
    pub n: u32,
}

impl PollAgreement {
    /// Seconds until poll `n` runs: often while the user is likely in the app, then rarer;
    /// a draft expires after 10 minutes, so the 12 polls cover about 16 minutes.
    pub fn delay_secs(n: u32) -> u64 {
        match n {
            0..=5 => 20,
            6..=9 => 60,
            _ => 180,
        }
    }

    pub const MAX_POLLS: u32 = 12;
}

impl JobSpec for PollAgreement {
    const QUEUE: &'static str = "agreements.poll";
    const MAX_ATTEMPTS: u32 = 5;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("poll:{}:{}", self.agreement_id, self.n))
    }
}

/// Stop the agreement in Vipps (STOPP by SMS, the manage page, the partner API).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StopAgreement {
    pub agreement_id: String,
    /// `sms_stop`, `manage_page`, `partner_api`, `dialogue_ended`.
    pub reason: String,
}

impl JobSpec for StopAgreement {
    const QUEUE: &'static str = "agreements.stop";
    const MAX_ATTEMPTS: u32 = 10;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("stop:{}", self.agreement_id))
    }
}
