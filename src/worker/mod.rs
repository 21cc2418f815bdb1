//! Background work: `register_workers()` is THE list of queues and their handlers; the runtime
//! (apalis with our fixes), enqueueing, outcomes, and the maintenance loop live beside it.

pub mod enqueue;
pub mod handlers;
pub mod maintenance;
pub mod outcome;
pub mod runtime;
pub mod scheduler;
pub mod wake;

use std::sync::Arc;

use dialogpay_jobs::maintenance::Noop;

pub use enqueue::{Enqueuer, Wakers};
pub use outcome::JobError;
pub use runtime::{RuntimeParts, WorkerSet};

use crate::{app::AppState, db::Db};

/// What a handler gets besides its payload.
#[derive(Clone)]
pub struct JobContext {
    pub app: AppState,
    pub db: Db,
    pub enqueuer: Enqueuer,
    /// The running job's id and attempt (1 for the first run).
    pub job_id: Arc<str>,
    pub attempt: u32,
}

impl JobContext {
    pub fn new(app: AppState) -> Self {
        Self {
            db: app.db.clone(),
            enqueuer: app.enqueuer.clone(),
            app,
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
    use dialogpay_jobs::{agreements as a, billing as b, sms, vipps};
    WorkerSet::default()
        .queue::<Noop, _, _>(handlers::maintenance::noop)
        .queue::<sms::HandleInbound, _, _>(handlers::sms::handle_inbound)
        .queue::<sms::SendSms, _, _>(handlers::sms::send_sms)
        .queue::<a::DraftAgreement, _, _>(handlers::agreements::draft)
        .queue::<a::PollAgreement, _, _>(handlers::agreements::poll)
        .queue::<a::StopAgreement, _, _>(handlers::agreements::stop)
        .queue::<vipps::ProcessEvent, _, _>(handlers::vipps::process_event)
        .queue::<vipps::RegisterWebhook, _, _>(handlers::vipps::register_webhook)
        .queue::<b::Sweep, _, _>(handlers::billing::sweep)
        .queue::<b::CreateCharge, _, _>(handlers::billing::create_charge)
        .queue::<b::CreateChargeBatch, _, _>(handlers::billing::create_charge_batch)
        .queue::<b::SyncCharge, _, _>(handlers::billing::sync_charge)
        .queue::<b::Reconcile, _, _>(handlers::billing::reconcile)
}

/// Adds the test-only queues (used by the test suite, and by the binary when
/// `DIALOGPAY_TEST_JOBS=1` for crash tests of the real process).
pub fn with_test_jobs(set: WorkerSet) -> WorkerSet {
    set.queue::<dialogpay_jobs::testing::Flaky, _, _>(handlers::testing::flaky)
}
