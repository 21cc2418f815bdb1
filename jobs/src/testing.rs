//! A job used only by the test suite (its handler is registered only in tests): it fails a
//! given number of times before it succeeds, so retries, backoff, retry/cancel over HTTP and
//! crash recovery can be observed on real queue rows.

use serde::{Deserialize, Serialize};

use crate::JobSpec;

/// Fails `fail_times` times (transiently, or permanently when `permanent`), then succeeds.
/// `sleep_ms` keeps it running for a while, so a test can kill the process mid-job;
/// `snooze_first_ms` makes the first attempt a snooze.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Flaky {
    /// Test-chosen identity; also the idempotency key.
    pub name: String,
    pub fail_times: u32,
    #[serde(default)]
    pub permanent: bool,
    #[serde(default)]
    pub sleep_ms: u64,
    /// When not zero, the first attempt snoozes this long (a rate limit) before failing or
    /// succeeding as above.
    #[serde(default)]
    pub snooze_first_ms: u64,
}

impl JobSpec for Flaky {
    const QUEUE: &'static str = "test.flaky";
    const MAX_ATTEMPTS: u32 = 4;

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("flaky:{}", self.name))
    }
}
