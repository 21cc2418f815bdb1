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
}

impl JobSpec for RefundCharge {
    const QUEUE: &'static str = "billing.refund";
    /// Vipps may answer 202 (accepted, not applied yet): the job polls by retrying.
    const MAX_ATTEMPTS: u32 = 12;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("refund:{}", self.refund_id))
    }
}

/// Cancel a PENDING or DUE charge in Vipps, then read it back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CancelCharge {
    pub charge_id: String,
}

impl JobSpec for CancelCharge {
    const QUEUE: &'static str = "billing.cancel_charge";
    const MAX_ATTEMPTS: u32 = 8;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("cancel-charge:{}", self.charge_id))
    }
}
