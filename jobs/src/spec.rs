//! The [`JobSpec`] trait every job contract implements.

use serde::{Serialize, de::DeserializeOwned};

/// The fetch batch of the queues whose jobs only touch the database ([`JobSpec::BATCH`]).
pub const DATABASE_ONLY_BATCH: usize = 200;

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
    /// At most this many jobs one worker fetches (and marks as its own) per round trip; `None`
    /// uses the configured `jobs.batch_size`. Queues whose jobs only touch the database take
    /// [`DATABASE_ONLY_BATCH`]: the fetch and its acknowledgement are most of what such a job
    /// costs, and a batch is worked through in moments, so another process is not kept waiting
    /// for jobs one worker holds. Queues that call Vipps or the SMS gateway keep the smaller
    /// batch, so that the jobs of a slow call spread over every worker process.
    const BATCH: Option<usize> = None;

    /// A key built from ids only: a second enqueue with the same key while the first job's row
    /// exists is dropped. `None` means every enqueue is a new job.
    fn idempotency_key(&self) -> Option<String>;
}
