//! The [`JobSpec`] trait every job contract implements.

use serde::{Serialize, de::DeserializeOwned};

/// The persisted contract of one kind of job.
pub trait JobSpec: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// Stable, dotted queue name stored with every row (e.g. `"billing.create_charge"`).
    const QUEUE: &'static str;
    /// Total attempts, the first run included. Transient failures are retried with a durable,
    /// growing backoff until this is reached; permanent failures stop at once.
    const MAX_ATTEMPTS: u32;
    /// At most this many jobs of this queue run at once in one worker process; `None` uses the
    /// configured `jobs.concurrency`.
    const CONCURRENCY: Option<usize> = None;

    /// A key built from ids only: a second enqueue with the same key while the first job's row
    /// exists is dropped. `None` means every enqueue is a new job.
    fn idempotency_key(&self) -> Option<String>;
}
