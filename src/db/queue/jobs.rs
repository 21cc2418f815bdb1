//! Job history for operators, read from apalis's own tables, and the narrow SQL for retry and
//! cancel (apalis 1.0 implements neither; docs/apalis-1.0.md §2.3).
//!
//! apalis's raw statuses are mapped to five operator-facing ones:
//! `pending` (Pending, Queued, or Failed with attempts left: waiting for its backoff),
//! `running`, `done`, `failed` (Failed with no attempts left) and `killed` (cancelled).

use super::statements;
use crate::{db::Db, with_pool};

/// The operator-facing status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    Failed,
    Killed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Killed => "killed",
        }
    }

    fn from_raw(raw: &str, attempts: i64, max_attempts: i64) -> Self {
        match raw {
            "Running" => JobStatus::Running,
            "Done" => JobStatus::Done,
            "Killed" => JobStatus::Killed,
            "Failed" if attempts >= max_attempts => JobStatus::Failed,
            _ => JobStatus::Pending,
        }
    }

    /// The SQL condition selecting this status.
    fn condition(self) -> &'static str {
        match self {
            JobStatus::Pending => {
                "(status IN ('Pending', 'Queued') OR (status = 'Failed' AND attempts < max_attempts))"
            }
            JobStatus::Running => "status = 'Running'",
            JobStatus::Done => "status = 'Done'",
            JobStatus::Failed => "(status = 'Failed' AND attempts >= max_attempts)",
            JobStatus::Killed => "status = 'Killed'",
        }
    }
}

/// One job row as operators see it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: String,
    pub queue: String,
    pub raw_status: String,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_result: Option<String>,
    pub run_at_secs: Option<i64>,
    pub done_at_secs: Option<i64>,
    pub payload: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct RawJob {
    id: String,
    job_type: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    last_result: Option<String>,
    run_at: Option<i64>,
    done_at: Option<i64>,
    job: Vec<u8>,
}

impl From<RawJob> for JobRow {
    fn from(r: RawJob) -> Self {
        JobRow {
            status: JobStatus::from_raw(&r.status, r.attempts, r.max_attempts),
            id: r.id,
            queue: r.job_type,
            raw_status: r.status,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            last_result: r.last_result,
            run_at_secs: r.run_at,
            done_at_secs: r.done_at,
            payload: r.job,
        }
    }
}

/// Filters for [`list`].
#[derive(Debug, Default, Clone)]
pub struct JobFilter<'a> {
    pub status: Option<JobStatus>,
    pub queue: Option<&'a str>,
    /// Ids sort by creation time; the page starts below this id.
    pub before_id: Option<&'a str>,
    pub limit: i64,
}

/// Newest first.
pub async fn list(db: &Db, filter: &JobFilter<'_>) -> Result<Vec<JobRow>, sqlx::Error> {
    let status = filter.status.map(JobStatus::condition).unwrap_or("1 = 1");
    let sql = format!(
        "{} WHERE {status} AND ($1 IS NULL OR job_type = $1) AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        statements(db).select_jobs
    );
    let rows: Vec<RawJob> = with_pool!(db, |p| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(filter.queue)
            .bind(filter.before_id)
            .bind(filter.limit)
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().map(JobRow::from).collect())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    let sql = format!("{} WHERE id = $1", statements(db).select_jobs);
    let row: Option<RawJob> = with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(JobRow::from))
}

/// Why a retry or cancel was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionRefused {
    NotFound,
    /// The job's current status does not allow it.
    WrongStatus(JobStatus),
}

/// A failed or killed job runs again now, with one more attempt than it has used.
pub async fn retry(db: &Db, id: &str) -> Result<Result<JobRow, ActionRefused>, sqlx::Error> {
    let sql = statements(db).retry;
    act(db, id, sql, |s| {
        matches!(s, JobStatus::Failed | JobStatus::Killed)
    })
    .await
}

/// A pending (not yet fetched) or failed job is killed: it will not run again.
pub async fn cancel(db: &Db, id: &str) -> Result<Result<JobRow, ActionRefused>, sqlx::Error> {
    let sql = statements(db).cancel;
    act(db, id, sql, |s| {
        matches!(s, JobStatus::Pending | JobStatus::Failed)
    })
    .await
}

async fn act(
    db: &Db,
    id: &str,
    sql: &'static str,
    allowed: impl Fn(JobStatus) -> bool,
) -> Result<Result<JobRow, ActionRefused>, sqlx::Error> {
    let Some(before) = get(db, id).await? else {
        return Ok(Err(ActionRefused::NotFound));
    };
    // `Queued` rows are already in a worker's buffer: they will run, so they cannot be cancelled.
    if !allowed(before.status) || before.raw_status == "Queued" {
        let status = if before.raw_status == "Queued" {
            JobStatus::Running
        } else {
            before.status
        };
        return Ok(Err(ActionRefused::WrongStatus(status)));
    }
    let changed = with_pool!(db, |p| sqlx::query(sql)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
    let after = get(db, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    if changed == 0 {
        return Ok(Err(ActionRefused::WrongStatus(after.status)));
    }
    Ok(Ok(after))
}

/// Counts by queue and operator status (for `/metrics` and the job list's summary).
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let table = statements(db).jobs_table;
    let sql = format!(
        "SELECT job_type, CASE WHEN status IN ('Pending','Queued') THEN 'pending' \
           WHEN status = 'Failed' AND attempts < max_attempts THEN 'pending' \
           WHEN status = 'Failed' THEN 'failed' WHEN status = 'Running' THEN 'running' \
           WHEN status = 'Done' THEN 'done' ELSE 'killed' END AS s, COUNT(*) \
         FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await)
}
