//! Money operations on a charge a partner asks for: refund (fully or partly) and cancel (a
//! charge not taken yet). Both on the `billing.*` queues.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// The Vipps `Idempotency-Key` of one of our refunds: one per refund row, so a job that runs
/// again (a crash after the call) is answered from Vipps's record instead of refunding twice.
pub fn refund_key(refund_id: &str) -> String {
    format!("refund-{refund_id}")
}

/// Refund one recorded refund in Vipps (the row exists, PENDING), then read the charge back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefundCharge {
    pub refund_id: String,
    /// Vipps answered 202 (accepted, not applied yet): this job only reads the charge back,
    /// retrying until it shows the refund, without asking Vipps again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
}

impl JobSpec for RefundCharge {
    const QUEUE: &'static str = "billing.refund";
    /// Read-backs of an accepted refund retry (every 5 s at least) until it is applied.
    const MAX_ATTEMPTS: u32 = 12;

    fn idempotency_key(&self) -> Option<String> {
        Some(polled(format!("refund:{}", self.refund_id), self.accepted))
    }
}

/// Cancel a PENDING or DUE charge in Vipps, then read it back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CancelCharge {
    pub charge_id: String,
    /// Vipps answered 202: only read the charge back until it shows the cancel.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepted: bool,
}

impl JobSpec for CancelCharge {
    const QUEUE: &'static str = "billing.cancel_charge";
    const MAX_ATTEMPTS: u32 = 8;

    fn idempotency_key(&self) -> Option<String> {
        Some(polled(
            format!("cancel-charge:{}", self.charge_id),
            self.accepted,
        ))
    }
}

/// The read-back job of an accepted (202) operation has its own key: it is enqueued while the
/// job that asked Vipps still runs.
fn polled(key: String, accepted: bool) -> String {
    if accepted {
        format!("{key}:accepted")
    } else {
        key
    }
}
