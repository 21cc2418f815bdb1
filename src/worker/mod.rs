//! Background work: `register_workers()` is THE list of queues and their handlers; the runtime
//! (apalis with our fixes), enqueueing, outcomes, and the maintenance loop live beside it.

pub mod enqueue;
pub mod handlers;
pub mod maintenance;
pub mod outcome;
pub mod runtime;
pub mod wake;

use std::sync::Arc;

use dialogpay_jobs::maintenance::Noop;

pub use enqueue::{Enqueuer, Wakers};
pub use outcome::JobError;
pub use runtime::{RuntimeParts, WorkerSet};

use crate::{config::Settings, db::Db};

/// What a handler gets besides its payload.
#[derive(Clone)]
pub struct JobContext {
    pub db: Db,
    pub enqueuer: Enqueuer,
    pub wakers: Wakers,
    pub settings: crate::config::JobSettings,
    pub all_settings: Arc<Settings>,
    /// The running job's id and attempt (1 for the first run).
    pub job_id: Arc<str>,
    pub attempt: u32,
}

impl JobContext {
    pub fn new(db: Db, wakers: Wakers, settings: Arc<Settings>) -> Self {
        Self {
            enqueuer: Enqueuer::new(db.clone(), wakers.clone()),
            db,
            wakers,
            settings: settings.jobs.clone(),
            all_settings: settings,
            job_id: Arc::from(""),
            attempt: 0,
        }
    }

    fn for_job(mut self, id: &str, attempt: u32) -> Self {
        self.job_id = Arc::from(id);
        self.attempt = attempt;
        self
    }
}

/// Every queue this service works on, with its handler. The binary and the tests both start
/// workers from this list (tests may add test-only queues to the returned set).
pub fn register_workers() -> WorkerSet {
    WorkerSet::default().queue::<Noop, _, _>(handlers::maintenance::noop)
}

/// Adds the test-only queues (used by the test suite, and by the binary when
/// `DIALOGPAY_TEST_JOBS=1` for crash tests of the real process).
pub fn with_test_jobs(set: WorkerSet) -> WorkerSet {
    set.queue::<dialogpay_jobs::testing::Flaky, _, _>(handlers::testing::flaky)
}
