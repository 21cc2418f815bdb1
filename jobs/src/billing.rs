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

/// Create the charges of many periods of one merchant in one call to Vipps's batch endpoint
/// (up to 2,000 per call): billing runs larger than `billing.batch_threshold` use it, since
/// single creates are limited per merchant and minute. Each item is prepared exactly as a
/// [`CreateCharge`] (our row first, under the same unique constraint).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateChargeBatch {
    pub msn: String,
    pub items: Vec<CreateCharge>,
}

impl JobSpec for CreateChargeBatch {
    const QUEUE: &'static str = "billing.create_charge_batch";
    const MAX_ATTEMPTS: u32 = 12;
    const CONCURRENCY: Option<usize> = Some(2);

    /// The same items make the same job, so two sweeps of one run enqueue it once.
    fn idempotency_key(&self) -> Option<String> {
        let first = self.items.first().map_or("", |i| i.agreement_id.as_str());
        let mut hash = Fnv1a::default();
        for i in &self.items {
            hash.write(format!("{}:{}|", i.agreement_id, i.period_index).as_bytes());
        }
        let hash = hash.0;
        Some(format!(
            "charge-batch:{}:{first}:{}:{hash:016x}",
            self.msn,
            self.items.len()
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

/// 64-bit FNV-1a: a stable hash (unlike `std`'s, which may change between releases) for keys
/// that must be the same in every process and version.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
