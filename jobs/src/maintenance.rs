//! Housekeeping and measurement jobs.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Does nothing: the reference job for measuring the queue's own ceiling (`dialogpay bench`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Noop {
    pub n: u64,
}

impl JobSpec for Noop {
    const QUEUE: &'static str = "bench.noop";
    const BATCH: Option<usize> = Some(crate::spec::DATABASE_ONLY_BATCH);
    const MAX_ATTEMPTS: u32 = 3;

    fn idempotency_key(&self) -> Option<String> {
        None
    }
}
