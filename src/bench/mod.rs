//! `dialogpay bench …`: measurements, not tests. `bench queue` drains no-op jobs through the
//! same apalis setup the service uses, with a large table of finished jobs already present,
//! and prints jobs/s (the reference figure the other benchmarks compare with).

pub mod billing;
pub mod burst;
pub mod conditions;
pub mod ingest;
pub mod portal;

use std::time::{Duration, Instant};

use anyhow::Context;
use dialogpay_jobs::maintenance::Noop;

use crate::{
    app::{self, AppState, Application, Roles},
    bench::conditions::{Conditions, Vipps, Workers},
    config::Settings,
    db::{Db, queue},
    worker::{WorkerSet, handlers},
};

#[derive(Debug, clap::Args)]
pub struct QueueBenchArgs {
    /// No-op jobs to drain.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: u64,
    /// Finished rows to put in the jobs table first (a table that has been in use for a while).
    #[arg(long, default_value_t = 1_000_000)]
    pub preload_done: u64,
    /// Register every queue's worker, as `serve` does (the others stay idle), instead of the
    /// no-op queue's alone: what idle queues cost the busy one.
    #[arg(long)]
    pub all_workers: bool,
}

/// Runs the queue benchmark against `settings.database.url` (use an empty database).
pub async fn queue(mut settings: Settings, args: QueueBenchArgs) -> anyhow::Result<()> {
    // Only no-op jobs run: no Vipps (so no simulator, which needs a listener) and no links.
    settings.vipps.mode = crate::vipps::VippsMode::Live;
    settings.server.public_base_url = Some("http://127.0.0.1".to_owned());
    let app = Application::build(
        settings,
        Roles {
            scheduler: false,
            ..Roles::WORKER
        },
    )
    .await?;
    let state = app.state().clone();
    let db = state.db.clone();
    println!(
        "queue benchmark: {} jobs, {} finished rows preloaded",
        args.jobs, args.preload_done
    );
    let noop = <Noop as dialogpay_jobs::JobSpec>::QUEUE;
    let registered = if args.all_workers {
        Workers::All
    } else {
        Workers::One(noop)
    };
    let batch = <Noop as dialogpay_jobs::JobSpec>::BATCH.unwrap_or(state.settings.jobs.batch_size);
    println!(
        "  {}",
        Conditions::read(&state, registered, Vipps::Unused)
            .await?
            .with(format!("{noop} fetches {batch} jobs per round trip"))
    );

    let t = Instant::now();
    preload_done(&db, args.preload_done)
        .await
        .context("preloading finished rows")?;
    println!(
        "  preloaded {} finished rows in {:.1} s",
        args.preload_done,
        t.elapsed().as_secs_f64()
    );

    let jobs: Vec<Noop> = (0..args.jobs).map(|n| Noop { n }).collect();
    let t = Instant::now();
    state.enqueuer.enqueue_many(&jobs).await?;
    let enqueue_secs = t.elapsed().as_secs_f64();
    println!(
        "  enqueued {} jobs in {:.2} s ({:.0} jobs/s)",
        args.jobs,
        enqueue_secs,
        args.jobs as f64 / enqueue_secs
    );

    let workers = if args.all_workers {
        crate::worker::register_workers()
    } else {
        WorkerSet::default().queue::<Noop, _, _>(handlers::maintenance::noop)
    };
    let started = Instant::now();
    let running = Running::start(app.with_workers(workers));
    let mut last_report = Instant::now();
    while unfinished(&db).await? {
        if last_report.elapsed() > Duration::from_secs(5) {
            let left = queue::count_unfinished(&db, NOOP).await?;
            println!(
                "  … {left} left after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    running.stop().await;
    println!(
        "  drained {} jobs in {:.2} s: {:.0} jobs/s (batch {batch}, concurrency {})",
        args.jobs,
        secs,
        args.jobs as f64 / secs,
        state.settings.jobs.concurrency
    );
    Ok(())
}

/// The queue ceiling measured beside another benchmark, in the same process and database:
/// `n` no-op jobs (numbered from `first`) enqueued at once and drained by the running
/// workers; returns jobs/s.
pub(crate) async fn noop_ceiling(state: &AppState, first: u64, n: u64) -> anyhow::Result<f64> {
    let jobs: Vec<Noop> = (first..first + n).map(|n| Noop { n }).collect();
    let started = Instant::now();
    state.enqueuer.enqueue_many(&jobs).await?;
    state
        .enqueuer
        .wake(<Noop as dialogpay_jobs::JobSpec>::QUEUE);
    while unfinished(&state.db).await? {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

const NOOP: &str = <Noop as dialogpay_jobs::JobSpec>::QUEUE;

/// Whether no-op jobs are left to drain: asked every few milliseconds, so an index probe, not
/// a count (counting the queue's rows cost PostgreSQL a core's share that the workers lacked,
/// more with every finished row).
async fn unfinished(db: &Db) -> Result<bool, sqlx::Error> {
    queue::has_unfinished(db, NOOP).await
}

/// Finished no-op rows, then fresh planner statistics as the service takes them at start-up.
async fn preload_done(db: &Db, n: u64) -> Result<(), sqlx::Error> {
    queue::insert_finished_noops(db, n).await?;
    queue::analyze(db).await
}

/// A benchmark's service, running in this process until [`Running::stop`].
pub(crate) struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub(crate) fn start(app: Application) -> Self {
        let (stop, shutdown) = app::manual_shutdown();
        let task = tokio::spawn(app.run_until_stopped(shutdown));
        Self { stop, task }
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// `serve`'s roles without the scheduler: billing runs when the benchmark says so.
pub(crate) const SERVE_WITHOUT_SCHEDULER: Roles = Roles {
    scheduler: false,
    ..Roles::SERVE
};
