//! The job runtime on apalis: one apalis worker per queue (on PostgreSQL `jobs.postgres_streams`
//! for a queue whose jobs only touch the database) on apalis-sqlite or apalis-postgres,
//! wrapped so that it has none of apalis 1.0's reproduced defects (docs/apalis-1.0.md):
//!
//! - pickup: every worker polls on a short interval and is woken at once by enqueues from this
//!   process ([`super::wake::WakeStrategy`]), never waiting for a 30 s heartbeat;
//! - retries: no in-process retry layer and no `RetryAfterError`; a transient failure moves the
//!   row's own `run_at` forward (a durable backoff the storage's fetch honours) and the contract's
//!   `max_attempts` bounds the attempts; a permanent failure sets `max_attempts` to the attempts
//!   made, so it stops at once;
//! - deadlines are inside the handler (`tokio::time::timeout`), never `.timeout()`; panics are
//!   caught and retried like transient failures;
//! - worker names are unique per process start, so a restart under the same host name neither
//!   fails (`WORKER_ALREADY_EXISTS`) nor hides the orphans of the killed process, which the
//!   surviving workers' heartbeats re-queue after `heartbeat_interval × missed_heartbeats`;
//! - a worker whose backend failed (database locked, PostgreSQL restarted) is restarted.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use apalis::prelude::*;
use dialogpay_jobs::JobSpec;
use futures::FutureExt;
use tracing::Instrument;

use super::{
    JobContext,
    outcome::{JobError, backoff},
    wake::WakeStrategy,
};
use crate::{
    config::JobSettings,
    db::{Db, queue},
    monitoring::{self, JobOutcome},
};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type HandlerFn<J> = dyn Fn(J, JobContext) -> BoxFuture<Result<(), JobError>> + Send + Sync;

/// What a registered queue needs at run time.
struct Runner<J: JobSpec> {
    handler: Arc<HandlerFn<J>>,
    ctx: JobContext,
}

/// One registration: a closure that adds the queue's apalis worker to a monitor.
type Registration = Box<dyn FnOnce(Monitor, &RuntimeParts) -> Monitor + Send>;

/// Shared pieces every worker needs when it is built.
pub struct RuntimeParts {
    pub db: Db,
    /// On shutdown, running jobs get this long to finish (`server.shutdown_timeout_secs`).
    pub shutdown_timeout: Duration,
    pub settings: JobSettings,
    pub ctx: JobContext,
    /// Unique per process start: host, pid and a random suffix.
    pub instance: String,
}

/// The list of queues this process works on; built by `register_workers()`.
#[derive(Default)]
pub struct WorkerSet {
    registrations: Vec<(&'static str, Registration)>,
}

impl WorkerSet {
    /// Registers the handler of job `J`.
    pub fn queue<J, F, Fut>(mut self, handler: F) -> Self
    where
        J: JobSpec,
        F: Fn(J, JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler: Arc<HandlerFn<J>> = Arc::new(move |job, ctx| Box::pin(handler(job, ctx)));
        let registration: Registration =
            Box::new(move |monitor, parts| register_queue::<J>(monitor, parts, handler));
        self.registrations.push((J::QUEUE, registration));
        self
    }

    pub fn queues(&self) -> Vec<&'static str> {
        self.registrations.iter().map(|(q, _)| *q).collect()
    }

    /// Builds the apalis monitor with each queue's workers ([`streams`]).
    pub fn into_monitor(self, parts: &RuntimeParts) -> Monitor {
        let monitor = Monitor::new()
            .shutdown_timeout(parts.shutdown_timeout)
            .should_restart(|ctx, err| {
                tracing::warn!(worker = ctx.name(), error = %err, "job worker stopped; restarting it");
                true
            });
        self.registrations
            .into_iter()
            .fold(monitor, |monitor, (_, register)| register(monitor, parts))
    }
}

fn register_queue<J: JobSpec>(
    monitor: Monitor,
    parts: &RuntimeParts,
    handler: Arc<HandlerFn<J>>,
) -> Monitor {
    let streams = streams::<J>(&parts.db, &parts.settings);
    (0..streams).fold(monitor, |monitor, stream| {
        register_stream::<J>(
            monitor,
            parts,
            handler.clone(),
            Stream {
                index: stream,
                of: streams,
            },
        )
    })
}

/// How many workers `J`'s queue runs in this process: `jobs.postgres_streams` for a queue
/// whose jobs only touch the database ([`JobSpec::BATCH`]) on PostgreSQL, each with its own
/// fetch–lock–acknowledge cycle and a share of the queue's concurrency (one worker's cycle waits
/// for a commit at each step while the cores idle); otherwise one. On SQLite a second stream's
/// fetch only waits for the one writer; queues that call Vipps or the SMS gateway wait for
/// those calls instead.
pub fn streams<J: JobSpec>(db: &Db, settings: &JobSettings) -> usize {
    if J::BATCH.is_some() {
        database_only_streams(db, settings)
    } else {
        1
    }
}

/// The streams of a database-only queue on `db`'s engine ([`streams`]).
pub fn database_only_streams(db: &Db, settings: &JobSettings) -> usize {
    match db {
        // At least 1: `Settings::validate` refuses 0.
        Db::Postgres(_) => settings.postgres_streams,
        Db::Sqlite(_) => 1,
    }
}

/// Which of a queue's streams a worker is.
#[derive(Debug, Clone, Copy)]
struct Stream {
    index: usize,
    of: usize,
}

fn register_stream<J: JobSpec>(
    monitor: Monitor,
    parts: &RuntimeParts,
    handler: Arc<HandlerFn<J>>,
    stream: Stream,
) -> Monitor {
    let runner = Arc::new(Runner {
        handler,
        ctx: parts.ctx.clone(),
    });
    let settings = parts.settings.clone();
    // The queue's concurrency in this process, shared by its streams.
    let concurrency = J::CONCURRENCY
        .unwrap_or(settings.concurrency)
        .div_ceil(stream.of);
    let batch = J::BATCH.unwrap_or(settings.batch_size);
    let poll = Duration::from_millis(settings.poll_interval_ms);
    let heartbeat = Duration::from_secs(settings.heartbeat_interval_secs);
    let instance = parts.instance.clone();
    let wakers = parts.ctx.enqueuer.wakers().clone();
    match &parts.db {
        Db::Sqlite(pool) => {
            let pool = pool.clone();
            monitor.register(move |run| {
                let config = apalis_sqlite::Config::default()
                    .queue(J::QUEUE)
                    .batch_size(batch)
                    .heartbeat_interval(heartbeat)
                    .missed_heartbeats(settings.missed_heartbeats);
                let backend = apalis_sqlite::SqliteStorage::<J>::new(&pool)
                    .with_config(config)
                    .poll_with_strategy(WakeStrategy::new(poll, wakers.subscribe(J::QUEUE)));
                WorkerBuilder::new(worker_name(J::QUEUE, &instance, run, stream))
                    .backend(backend)
                    .concurrency(concurrency)
                    .data(runner.clone())
                    .build(run_job::<J>)
            })
        }
        Db::Postgres(pool) => {
            let pool = pool.clone();
            monitor.register(move |run| {
                let config = apalis_postgres::Config::default()
                    .queue(J::QUEUE)
                    .batch_size(batch)
                    .heartbeat_interval(heartbeat)
                    .missed_heartbeats(settings.missed_heartbeats);
                let backend = apalis_postgres::PostgresStorage::<J>::new(&pool)
                    .with_config(config)
                    .poll_with_strategy(WakeStrategy::new(poll, wakers.subscribe(J::QUEUE)));
                WorkerBuilder::new(worker_name(J::QUEUE, &instance, run, stream))
                    .backend(backend)
                    .concurrency(concurrency)
                    .data(runner.clone())
                    .build(run_job::<J>)
            })
        }
    }
}

/// `queue@instance#run`, with the stream's number after the run for a queue's second and
/// later streams (`#0.1`), so that every worker of a process has its own name.
fn worker_name(queue: &str, instance: &str, run: usize, stream: Stream) -> String {
    match stream.index {
        0 => format!("{queue}@{instance}#{run}"),
        k => format!("{queue}@{instance}#{run}.{k}"),
    }
}

/// A process-unique instance name: `host:pid:random`.
pub fn instance_name() -> String {
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "host".to_owned());
    let suffix = ulid::Ulid::new().to_string();
    format!(
        "{host}:{}:{}",
        std::process::id(),
        &suffix[suffix.len() - 6..]
    )
}

/// The apalis handler shared by every queue: runs the job's handler with a deadline, catches
/// panics, and turns the outcome into the row's next state.
async fn run_job<J: JobSpec>(
    job: J,
    attempt: Attempt,
    task_id: TaskId,
    runner: Data<Arc<Runner<J>>>,
) -> Result<(), BoxDynError> {
    let attempt = attempt.current() as u32;
    let id = task_id.to_string();
    let span =
        tracing::info_span!("job", job.id = %id, job.queue = J::QUEUE, job.attempt = attempt);
    let started = Instant::now();
    let ctx = runner.ctx.clone().for_job(&id, attempt);
    let settings = &ctx.settings.jobs;
    let deadline = Duration::from_secs(settings.attempt_timeout_secs);
    let run = AssertUnwindSafe((runner.handler)(job, ctx.clone())).catch_unwind();
    let outcome = match tokio::time::timeout(deadline, run)
        .instrument(span.clone())
        .await
    {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(JobError::retry(anyhow::anyhow!(
            "handler panicked: {}",
            panic_message(&panic)
        ))),
        Err(_) => Err(JobError::retry(anyhow::anyhow!(
            "attempt timed out after {}s",
            deadline.as_secs()
        ))),
    };
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_millis() as u64;
    let _entered = span.enter();
    let measured = match &outcome {
        Ok(()) => JobOutcome::Done,
        Err(JobError::Retry { .. }) if attempt < J::MAX_ATTEMPTS => JobOutcome::Retry,
        Err(JobError::Retry { .. }) => JobOutcome::Failed,
        Err(JobError::Permanent(_)) => JobOutcome::Permanent,
        Err(JobError::Snooze(_)) => JobOutcome::Snoozed,
    };
    monitoring::job_finished(J::QUEUE, measured, elapsed);
    match outcome {
        Ok(()) => {
            tracing::debug!(elapsed_ms, "job done");
            Ok(())
        }
        Err(JobError::Snooze(wait)) => {
            tracing::debug!(
                elapsed_ms,
                snooze_ms = wait.as_millis() as u64,
                "job snoozed"
            );
            if let Err(db_err) = queue::snooze(&ctx.db, &id, J::QUEUE, attempt, wait).await {
                tracing::error!(error = %db_err, "could not persist the snooze");
            }
            Err(anyhow::anyhow!("snoozed for {wait:?}").into())
        }
        Err(JobError::Retry { error, after }) if attempt < J::MAX_ATTEMPTS => {
            let wait = backoff(
                attempt,
                Duration::from_millis(settings.backoff_base_ms),
                Duration::from_secs(settings.backoff_max_secs),
            )
            .max(after.unwrap_or_default());
            tracing::warn!(elapsed_ms, retry_in_ms = wait.as_millis() as u64, error = %format!("{error:#}"), "job attempt failed; will retry");
            if let Err(db_err) = queue::reschedule(&ctx.db, &id, wait).await {
                tracing::error!(error = %db_err, "could not persist the retry backoff");
            }
            Err(error.into())
        }
        Err(JobError::Retry { error, .. }) => {
            tracing::error!(elapsed_ms, error = %format!("{error:#}"), "job failed on its last attempt");
            Err(error.into())
        }
        Err(JobError::Permanent(error)) => {
            tracing::error!(elapsed_ms, error = %format!("{error:#}"), "job failed permanently");
            if let Err(db_err) = queue::stop_retrying(&ctx.db, &id, J::QUEUE, attempt).await {
                tracing::error!(error = %db_err, "could not mark the job as permanently failed");
            }
            Err(error.into())
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
