//! Every attempt of a job, from `job_attempts`: the triggers of migration 0011 write a row when a
//! job starts running and finish it in the statement that acks (or re-queues) the job; the
//! runtime only marks an attempt's intent (`permanent`, `snoozed`) before its ack, since the ack
//! alone cannot tell those from a retry or a last failure.

use crate::{
    db::{Db, Tx},
    domain::status::AttemptOutcome,
    with_pool, with_tx,
};

/// What the runtime decided about a running attempt before apalis acks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Permanent,
    Snoozed,
}

impl Intent {
    fn as_str(self) -> &'static str {
        match self {
            Intent::Permanent => "permanent",
            Intent::Snoozed => "snoozed",
        }
    }
}

/// Marks attempt `attempt` of job `id` (on `queue`): its outcome once the ack has failed it.
/// An upsert, since apalis may mark the row `Running` (which starts the history row) only
/// after a quick handler has already returned.
pub async fn mark(
    tx: &mut Tx,
    id: &str,
    queue: &str,
    attempt: u32,
    intent: Intent,
) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO job_attempts (job_id, attempt, queue, outcome, intent) \
         VALUES ($1, $2, $3, 'running', $4) \
         ON CONFLICT (job_id, attempt) DO UPDATE SET intent = excluded.intent";
    with_tx!(tx, |c| sqlx::query(SQL)
        .bind(id)
        .bind(i64::from(attempt))
        .bind(queue)
        .bind(intent.as_str())
        .execute(c)
        .await?
        .rows_affected());
    Ok(())
}

/// One attempt of a job, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i64,
    pub worker: Option<String>,
    pub outcome: AttemptOutcome,
    /// Milliseconds since the epoch; none for an attempt that began before the history existed.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

impl Attempt {
    /// How long it ran, when both ends are known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at? - self.started_at?).map(|ms| ms.max(0))
    }
}

/// The attempts of job `id`, first to last.
pub async fn for_job(db: &Db, id: &str) -> Result<Vec<Attempt>, sqlx::Error> {
    const SQL: &str = "SELECT CAST(attempt AS BIGINT) AS attempt, worker, outcome, started_at, \
         finished_at, error FROM job_attempts WHERE job_id = $1 ORDER BY attempt";
    with_pool!(db, |p| sqlx::query_as(SQL).bind(id).fetch_all(p).await)
}

/// Attempts that ended in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Minute {
    /// The minute's start, milliseconds since the epoch.
    pub minute: i64,
    pub done: i64,
    /// Attempts that failed (retried, failed for good, orphaned or killed).
    pub failed: i64,
}

/// Per minute since `since_ms`, the attempts that ended done and failed; minutes with none
/// are left out.
pub async fn per_minute(db: &Db, since_ms: i64) -> Result<Vec<Minute>, sqlx::Error> {
    const SQL: &str = "SELECT (finished_at / 60000) * 60000 AS minute, \
         CAST(SUM(CASE WHEN outcome = 'done' THEN 1 ELSE 0 END) AS BIGINT) AS done, \
         CAST(SUM(CASE WHEN outcome IN ('retry', 'permanent', 'failed', 'orphaned', 'killed') \
           THEN 1 ELSE 0 END) AS BIGINT) AS failed \
         FROM job_attempts WHERE finished_at >= $1 GROUP BY (finished_at / 60000) ORDER BY minute";
    with_pool!(db, |p| sqlx::query_as(SQL)
        .bind(since_ms)
        .fetch_all(p)
        .await)
}
