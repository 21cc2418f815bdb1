//! Draining instead of polling: [`TestApp::run_pending_jobs`] returns once every job that is
//! due has run to completion, with whatever those jobs set off (the jobs they enqueue, the
//! webhooks the simulator sends because of them, the jobs those webhooks enqueue), as
//! crates.io's `run_pending_background_jobs` does. A test then asserts on a settled state
//! instead of waiting for its assertion to come true.
//!
//! The in-process workers do the work; the drain wakes them and watches the queue. Nothing
//! tells a test that a job's row was acknowledged, so the job table is read again every
//! [`RECHECK`]: that short poll lives here and nowhere else.

use std::time::Duration;

use dialogpay::{db::Db, with_pool};
use tokio::time::Instant;

use super::TestApp;

/// How long a drain may take before it fails, naming what is still open.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(60);

/// How often the queue is looked at again while work is open.
const RECHECK: Duration = Duration::from_millis(25);

/// A job the drain waits for: running, due, or failed with attempts left (its retry is part of
/// running it to completion, whenever its backoff ends). A job scheduled for later (the first
/// agreement poll, 20 s out) is waited for only once it is due.
#[derive(Debug, sqlx::FromRow)]
struct OpenJob {
    job_type: String,
    id: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    last_result: Option<String>,
}

/// Due is the database's own clock, as in apalis's fetch (PostgreSQL's `run_at` has fractions
/// of a second: an operator's retry sets it to `now()`).
const OPEN_JOBS_SQLITE: &str = "SELECT job_type, id, status, attempts, max_attempts, last_result \
     FROM Jobs WHERE status IN ('Running', 'Queued') \
     OR (status = 'Pending' AND run_at <= CAST(strftime('%s', 'now') AS INTEGER)) \
     OR (status = 'Failed' AND attempts < max_attempts) ORDER BY id";
const OPEN_JOBS_POSTGRES: &str = "SELECT job_type, id, status, CAST(attempts AS BIGINT) AS attempts, \
     CAST(max_attempts AS BIGINT) AS max_attempts, CAST(last_result AS TEXT) AS last_result \
     FROM apalis.jobs WHERE status IN ('Running', 'Queued') \
     OR (status = 'Pending' AND run_at <= now()) \
     OR (status = 'Failed' AND attempts < max_attempts) ORDER BY id";

/// Every open job, read in one statement (one snapshot: a job that enqueues another is still
/// running when its child's row appears, so no hand-over falls between two reads).
async fn open_jobs(db: &Db) -> Result<Vec<OpenJob>, sqlx::Error> {
    let sql = if db.is_postgres() {
        OPEN_JOBS_POSTGRES
    } else {
        OPEN_JOBS_SQLITE
    };
    with_pool!(db, |p| sqlx::query_as::<_, OpenJob>(sql).fetch_all(p).await)
}

impl TestApp {
    /// Runs every due job to completion, transitively, within [`DRAIN_DEADLINE`].
    pub async fn run_pending_jobs(&self) {
        self.run_pending_jobs_within(DRAIN_DEADLINE).await;
    }

    /// [`TestApp::run_pending_jobs`] with its own deadline (fault runs with hundreds of jobs).
    ///
    /// Settled means, at one look: no open job, no webhook waiting in the embedded simulator's
    /// outbox, and no enqueue in this process while looking. The job table is read before the
    /// outbox, so work moving from a job to a webhook is seen (the job is still running when
    /// the simulator queues the webhook); work moving back, from a delivered webhook to the job
    /// it enqueues, is an enqueue, and that is counted.
    pub async fn run_pending_jobs_within(&self, within: Duration) {
        assert!(
            self.workers,
            "run_pending_jobs needs this app's workers (Options::workers)"
        );
        for queue in &self.queues {
            self.state.enqueuer.wake(queue);
        }
        let deadline = Instant::now() + within;
        loop {
            let enqueued = self.enqueue_count();
            let jobs = open_jobs(&self.state.db).await;
            let webhooks = self.pending_webhooks();
            let settled = matches!(&jobs, Ok(open) if open.is_empty())
                && webhooks == 0
                && self.enqueue_count() == enqueued;
            if settled {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "jobs still open after {within:?}: {}",
                    self.still_open(jobs, webhooks)
                );
            }
            tokio::time::sleep(RECHECK).await;
        }
    }

    /// Enqueues (wake-ups) in this process so far, over every queue.
    fn enqueue_count(&self) -> u64 {
        self.enqueued
            .iter()
            .fold(0u64, |sum, rx| sum.wrapping_add(*rx.borrow()))
    }

    /// Webhook deliveries the embedded simulator has not finished (sending or waiting to retry).
    fn pending_webhooks(&self) -> usize {
        self.simulator
            .as_ref()
            .map_or(0, |sim| sim.pending_deliveries())
    }

    /// What a timed-out drain reports: every open job, and the simulator's undelivered webhooks
    /// with its last failed delivery.
    fn still_open(&self, jobs: Result<Vec<OpenJob>, sqlx::Error>, webhooks: usize) -> String {
        let mut report = match jobs {
            Ok(open) if open.is_empty() => "no job".to_owned(),
            Ok(open) => open
                .iter()
                .map(|j| {
                    format!(
                        "\n  {} {} {} attempt {}/{}, last result: {}",
                        j.job_type,
                        j.id,
                        j.status,
                        j.attempts,
                        j.max_attempts,
                        j.last_result.as_deref().unwrap_or("none")
                    )
                })
                .collect(),
            Err(e) => format!("the job table could not be read: {e}"),
        };
        if webhooks > 0 {
            let last_failed = self
                .simulator
                .as_ref()
                .and_then(|sim| sim.deliveries().into_iter().rev().find(|d| !d.delivered));
            report.push_str(&format!(
                "\n  {webhooks} webhook deliveries pending in the simulator; last failed: {last_failed:?}"
            ));
        }
        report
    }
}
