//! The billing sweep's and the reconcile pass's runs (migration 0012): what each tick found and
//! queued, and whether it finished. One row per run, keyed by its kind and tick, so a job run
//! twice (a retry, a duplicate) leaves one row with its latest outcome. The console's Billing
//! screen and Overview read [`latest`].

use crate::{db::Db, with_pool};

/// Which billing job ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Sweep,
    Reconcile,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Sweep => "sweep",
            RunKind::Reconcile => "reconcile",
        }
    }
}

/// One run as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillingRun {
    pub id: String,
    /// `sweep` or `reconcile`.
    pub kind: String,
    pub tick: String,
    pub job_id: String,
    /// `done` or `failed`.
    pub state: String,
    pub found: i64,
    pub queued: i64,
    pub stops: i64,
    pub failed_attempts: i64,
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: i64,
}

/// A run's outcome to record.
#[derive(Debug, Clone)]
pub struct RunRecord<'a> {
    pub kind: RunKind,
    pub tick: &'a str,
    pub job_id: &'a str,
    /// `Err(message)` when the attempt failed.
    pub outcome: Result<(), String>,
    pub found: i64,
    pub queued: i64,
    pub stops: i64,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
    pub started_at: i64,
    pub finished_at: i64,
}

/// Records a run's outcome, replacing what an earlier attempt of the same tick recorded.
pub async fn record(db: &Db, run: &RunRecord<'_>) -> Result<(), sqlx::Error> {
    let id = format!("{}:{}", run.kind.as_str(), run.tick);
    let (state, error, failed) = match &run.outcome {
        Ok(()) => ("done", None, i64::from(run.attempt) - 1),
        Err(message) => ("failed", Some(message.as_str()), i64::from(run.attempt)),
    };
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO billing_runs (id, kind, tick, job_id, state, found, queued, stops, \
                 failed_attempts, error, started_at, finished_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO UPDATE SET job_id = excluded.job_id, state = excluded.state, \
                 found = excluded.found, queued = excluded.queued, stops = excluded.stops, \
                 failed_attempts = excluded.failed_attempts, error = excluded.error, \
                 started_at = excluded.started_at, finished_at = excluded.finished_at",
        )
        .bind(&id)
        .bind(run.kind.as_str())
        .bind(run.tick)
        .bind(run.job_id)
        .bind(state)
        .bind(run.found)
        .bind(run.queued)
        .bind(run.stops)
        .bind(failed)
        .bind(error)
        .bind(run.started_at)
        .bind(run.finished_at)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Deletes the runs that finished before `cutoff_ms` (kept as long as finished jobs are).
pub async fn purge(db: &Db, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    with_pool!(db, |p| Ok(sqlx::query(
        "DELETE FROM billing_runs WHERE finished_at < $1"
    )
    .bind(cutoff_ms)
    .execute(p)
    .await?
    .rows_affected()))
}

/// The run of `kind` that finished last.
pub async fn last_of(db: &Db, kind: RunKind) -> Result<Option<BillingRun>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT id, kind, tick, job_id, state, found, queued, stops, failed_attempts, error, \
                started_at, finished_at \
         FROM billing_runs WHERE kind = $1 ORDER BY finished_at DESC, id DESC LIMIT 1"
    )
    .bind(kind.as_str())
    .fetch_optional(p)
    .await)
}

/// The `n` runs that finished last, newest first.
pub async fn latest(db: &Db, n: i64) -> Result<Vec<BillingRun>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT id, kind, tick, job_id, state, found, queued, stops, failed_attempts, error, \
                started_at, finished_at \
         FROM billing_runs ORDER BY finished_at DESC, id DESC LIMIT $1"
    )
    .bind(n)
    .fetch_all(p)
    .await)
}
