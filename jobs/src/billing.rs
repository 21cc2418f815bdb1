//! Billing jobs: the sweep that finds due periods, one create-charge job per (agreement,
//! period), and charge status reconciliation.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Vipps `orderId` of an agreement's period: letters, digits and '-' only, deterministic, so a
/// retry sends the same one (it is also the create call's idempotency key).
pub fn order_id(agreement_id: &str, period_index: u32) -> String {
    format!("{}-p{period_index}", agreement_id.replace('_', "-"))
}

/// Find ACTIVE agreements with a period due soon and enqueue their charges; stop agreements
/// whose dialogue ended once their last paid period ran out. `tick` names the run (the cron
/// tick's timestamp or an operator's request), so two replicas ticking at once sweep once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Sweep {
    pub tick: String,
}

impl JobSpec for Sweep {
    const QUEUE: &'static str = "billing.sweep";
    const MAX_ATTEMPTS: u32 = 5;
    const CONCURRENCY: Option<usize> = Some(1);

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("sweep:{}", self.tick))
    }
}

/// Create the charge of one period in Vipps (our row first, guarded by a unique constraint).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateCharge {
    pub agreement_id: String,
    pub period_index: u32,
}

impl JobSpec for CreateCharge {
    const QUEUE: &'static str = "billing.create_charge";
    const MAX_ATTEMPTS: u32 = 12;
    /// Mostly waiting on Vipps: many in flight per process.
    const CONCURRENCY: Option<usize> = Some(32);

    fn idempotency_key(&self) -> Option<String> {
        Some(format!(
            "charge:{}:{}",
            self.agreement_id, self.period_index
        ))
    }
}

/// Re-read a charge from Vipps and record its status (webhook, poll or operator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncCharge {
    pub charge_id: String,
    pub trigger: String,
}

impl JobSpec for SyncCharge {
    const QUEUE: &'static str = "billing.sync_charge";
    const MAX_ATTEMPTS: u32 = 8;
    const CONCURRENCY: Option<usize> = Some(32);

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("sync-charge:{}:{}", self.charge_id, self.trigger))
    }
}

/// Enqueue a re-read of every open charge that is due (or of all open ones, for an operator).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reconcile {
    pub tick: String,
    #[serde(default)]
    pub all_open: bool,
}

impl JobSpec for Reconcile {
    const QUEUE: &'static str = "billing.reconcile";
    const MAX_ATTEMPTS: u32 = 5;
    const CONCURRENCY: Option<usize> = Some(1);

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("reconcile:{}", self.tick))
    }
}
