//! Background work: `register_workers()` is THE list of queues and their handlers; the runtime
//! (apalis with our fixes), enqueueing, outcomes, and the maintenance loop live beside it.

pub mod handlers;
pub mod maintenance;
pub mod outcome;
pub mod public_dns;
pub mod runtime;
pub mod scheduler;
pub mod wake;

use std::sync::Arc;

use dialogpay_jobs::maintenance::Noop;

pub use crate::db::enqueue::{Enqueuer, Wakers};
pub use outcome::JobError;
pub use runtime::{RuntimeParts, WorkerSet};

use crate::{
    clock::Clock,
    config::{BillingSettings, JobSettings},
    db::Db,
    sms::SmsGateway,
    state::AppState,
    vipps::VippsClient,
};

/// What a handler gets besides its payload: the parts of the shared state jobs use, not the
/// whole of it.
#[derive(Clone)]
pub struct JobContext {
    pub db: Db,
    pub enqueuer: Enqueuer,
    pub vipps: VippsClient,
    pub sms: SmsGateway,
    pub clock: Clock,
    /// Posts webhooks to partners' endpoints: no redirects followed, an answer within
    /// [`partner_events::ANSWER_TIMEOUT`](crate::domain::partner_events::ANSWER_TIMEOUT).
    pub webhook_client: reqwest::Client,
    pub settings: Arc<JobSettingsView>,
    /// The running job's id and attempt (1 for the first run).
    pub job_id: Arc<str>,
    pub attempt: u32,
}

/// The settings handlers read.
#[derive(Debug, Clone)]
pub struct JobSettingsView {
    pub jobs: JobSettings,
    pub billing: BillingSettings,
    /// `vipps.min_lead_days`: how far ahead a charge's due date must be when it is created.
    pub vipps_min_lead_days: u32,
    /// `vipps.retry_days`: how long Vipps retries a charge.
    pub vipps_retry_days: u32,
    /// Where links in SMS and Vipps's `merchantAgreementUrl` point; no trailing `/`.
    pub public_base_url: Arc<str>,
    /// `sms.quiet_hours`: when receipts and failed-payment notices wait for the morning.
    pub quiet_hours: Option<crate::domain::quiet_hours::QuietHours>,
}

impl JobSettingsView {
    /// The URL Vipps posts webhooks to.
    pub fn vipps_webhook_url(&self) -> String {
        format!("{}/webhooks/vipps", self.public_base_url)
    }

    /// The end user's page for an agreement (in the reply SMS and in Vipps).
    pub fn manage_url(&self, token: &str) -> String {
        format!("{}/my/agreements/{token}", self.public_base_url)
    }
}

impl JobContext {
    pub fn from_state(state: &AppState) -> Self {
        let settings = &state.settings;
        Self {
            db: state.db.clone(),
            enqueuer: state.enqueuer.clone(),
            vipps: state.vipps.clone(),
            sms: state.sms.clone(),
            clock: state.clock.clone(),
            webhook_client: webhook_client(settings.origin.is_production()),
            settings: Arc::new(JobSettingsView {
                jobs: settings.jobs.clone(),
                billing: settings.billing.clone(),
                vipps_min_lead_days: settings.vipps.min_lead_days,
                vipps_retry_days: settings.vipps.retry_days,
                public_base_url: state.public_base_url.clone(),
                quiet_hours: settings.sms.quiet_hours.0,
            }),
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

/// The client partners' webhooks are posted with; in production it connects to public
/// addresses only ([`public_dns::PublicOnly`]).
fn webhook_client(production: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(crate::domain::partner_events::ANSWER_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dialogpay-webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = match production {
        true => builder.dns_resolver(std::sync::Arc::new(public_dns::PublicOnly)),
        false => builder,
    };
    builder
        .build()
        .expect("an HTTP client with a timeout and no redirects builds")
}

/// Every queue this service works on, with its handler. The binary and the tests both start
/// workers from this list (tests may add test-only queues to the returned set).
pub fn register_workers() -> WorkerSet {
    use dialogpay_jobs::{agreements as a, billing as b, refunds as r, sms, vipps, webhooks};
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
        .queue::<r::RefundCharge, _, _>(handlers::refunds::refund)
        .queue::<r::CancelCharge, _, _>(handlers::refunds::cancel)
        .queue::<webhooks::DeliverWebhook, _, _>(handlers::webhooks::deliver)
}

/// Adds the test-only queues (used by the test suite, and by the binary when
/// `DIALOGPAY_TEST_JOBS=1` for crash tests of the real process).
pub fn with_test_jobs(set: WorkerSet) -> WorkerSet {
    set.queue::<dialogpay_jobs::testing::Flaky, _, _>(handlers::testing::flaky)
}
