//! Job history for operators, read from apalis's own tables, and the narrow SQL for retry and
//! cancel (apalis 1.0 implements neither; docs/apalis-1.0.md §2.3).
//!
//! apalis's raw statuses are mapped to six operator-facing ones:
//! `pending` (due: Queued, or Pending or Failed with attempts left whose `run_at` has come),
//! `scheduled` (the same, with `run_at` still ahead: a snooze, a backoff, a job for later),
//! `running`, `done`, `failed` (Failed with no attempts left) and `killed` (cancelled).

use super::{Statements, statements};
use crate::{db::Db, with_pool};

/// The operator-facing status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Scheduled,
    Running,
    Done,
    Failed,
    Killed,
}

impl JobStatus {
    /// Every status's name, in the order the overview and `/metrics` list them.
    pub const NAMES: [&'static str; 6] = [
        "pending",
        "scheduled",
        "running",
        "done",
        "failed",
        "killed",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Scheduled => "scheduled",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Killed => "killed",
        }
    }

    /// Its status from apalis's, with `now_secs` deciding between pending and scheduled.
    fn from_raw(raw: &JobRaw<'_>, now_secs: i64) -> Self {
        match raw.status {
            "Running" => JobStatus::Running,
            "Done" => JobStatus::Done,
            "Killed" => JobStatus::Killed,
            "Failed" if raw.attempts >= raw.max_attempts => JobStatus::Failed,
            "Pending" | "Failed" if raw.run_at.is_some_and(|t| t > now_secs) => {
                JobStatus::Scheduled
            }
            _ => JobStatus::Pending,
        }
    }

    /// The SQL condition selecting this status; `alone` when no queue narrows the list.
    fn condition(self, sql: &Statements, alone: bool) -> String {
        let finished = if alone { sql.finished_status } else { "status" };
        const WAITING: &str =
            "(status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))";
        match self {
            JobStatus::Pending => format!(
                "(status = 'Queued' OR ({WAITING} AND NOT ({})))",
                sql.run_at_later
            ),
            JobStatus::Scheduled => format!("({WAITING} AND {})", sql.run_at_later),
            JobStatus::Running => "status = 'Running'".to_owned(),
            JobStatus::Done => format!("{finished} = 'Done'"),
            JobStatus::Failed => "(status = 'Failed' AND attempts >= max_attempts)".to_owned(),
            JobStatus::Killed => format!("{finished} = 'Killed'"),
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

/// What [`JobStatus::from_raw`] reads of a row.
struct JobRaw<'a> {
    status: &'a str,
    attempts: i64,
    max_attempts: i64,
    run_at: Option<i64>,
}

impl From<RawJob> for JobRow {
    fn from(r: RawJob) -> Self {
        let raw = JobRaw {
            status: &r.status,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
        };
        let now_secs = chrono::Utc::now().timestamp();
        JobRow {
            status: JobStatus::from_raw(&raw, now_secs),
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

/// Which jobs: filters for [`list`], [`count_matching`] and [`act_on_many`].
#[derive(Debug, Default, Clone)]
pub struct JobFilter<'a> {
    pub status: Option<JobStatus>,
    pub queue: Option<&'a str>,
    /// Ids sort by creation time (ULIDs): only jobs created at or after this id's time.
    pub since_id: Option<&'a str>,
    /// A job id, or an id inside the payload (an agreement's, a message's, a charge's).
    pub search: Option<&'a str>,
}

/// The `WHERE` condition of `filter`, binding `$1` queue, `$2` since-id, `$3` and `$4` the
/// search (as it is, and as a `LIKE` pattern). A part that is not asked for is only its bind's
/// `IS NULL` (the bind stays, the indexes can be used); a job's own id (a ULID) is looked up by
/// the primary key, any other search in the payloads of the window.
fn condition(sql: &Statements, filter: &JobFilter<'_>) -> String {
    let status = filter
        .status
        .map(|s| s.condition(sql, filter.queue.is_none()))
        .unwrap_or_else(|| "1 = 1".to_owned());
    let queue = if filter.queue.is_some() {
        "job_type = $1"
    } else {
        "$1 IS NULL"
    };
    let since = if filter.since_id.is_some() {
        "id >= $2"
    } else {
        "$2 IS NULL"
    };
    let search = match filter.search {
        None => "($3 IS NULL AND $4 IS NULL)".to_owned(),
        Some(s) if ulid::Ulid::from_string(s).is_ok() && s.len() == 26 => {
            "(id = $3 AND $4 IS NOT NULL)".to_owned()
        }
        Some(_) => format!("(id = $3 OR {} LIKE $4 ESCAPE '\\')", sql.payload_text),
    };
    format!("{status} AND {queue} AND {since} AND {search}")
}

/// The search as a `LIKE` pattern: anywhere in the payload, its `%`, `_` and `\` taken
/// literally.
fn like_pattern(search: &str) -> String {
    let escaped: String = search
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// Binds [`condition`]'s four values.
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {
        $query
            .bind($filter.queue)
            .bind($filter.since_id)
            .bind($filter.search)
            .bind($filter.search.map(like_pattern))
    };
}

/// A page of the jobs `filter` selects, newest first, below `before_id`.
pub async fn list(
    db: &Db,
    filter: &JobFilter<'_>,
    before_id: Option<&str>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    let sql = statements(db);
    let text = format!(
        "{} WHERE {} AND ($5 IS NULL OR id < $5) ORDER BY id DESC LIMIT $6",
        sql.select_jobs,
        condition(sql, filter)
    );
    let rows: Vec<RawJob> = with_pool!(db, |p| {
        bind_filter!(sqlx::query_as(sqlx::AssertSqlSafe(text)), filter)
            .bind(before_id)
            .bind(limit)
            .fetch_all(p)
            .await?
    });
    Ok(rows.into_iter().map(JobRow::from).collect())
}

/// How many jobs `filter` selects.
pub async fn count_matching(db: &Db, filter: &JobFilter<'_>) -> Result<i64, sqlx::Error> {
    count_matching_up_to(db, filter, None).await
}

/// [`count_matching`], counting no further than `cap` rows when given (a list over millions of
/// finished jobs says "more than …" instead of counting them all).
pub async fn count_matching_up_to(
    db: &Db,
    filter: &JobFilter<'_>,
    cap: Option<u32>,
) -> Result<i64, sqlx::Error> {
    let sql = statements(db);
    let (table, condition) = (sql.jobs_table, condition(sql, filter));
    let text = match cap {
        None => format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
        Some(cap) => format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {condition} LIMIT {cap}) AS m"
        ),
    };
    with_pool!(db, |p| bind_filter!(
        sqlx::query_scalar(sqlx::AssertSqlSafe(text)),
        filter
    )
    .fetch_one(p)
    .await)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<JobRow>, sqlx::Error> {
    let sql = format!("{} WHERE id = $1", statements(db).select_jobs);
    let row: Option<RawJob> = with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await?);
    Ok(row.map(JobRow::from))
}

/// What an operator does to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// A failed or killed job runs again now, with one more attempt than it has used.
    Retry,
    /// A pending (not yet fetched) or failed job is killed: it will not run again.
    Cancel,
}

impl JobAction {
    /// Whether a job in `status` allows it.
    pub fn allows(self, status: JobStatus) -> bool {
        match self {
            JobAction::Retry => matches!(status, JobStatus::Failed | JobStatus::Killed),
            JobAction::Cancel => matches!(
                status,
                JobStatus::Pending | JobStatus::Scheduled | JobStatus::Failed
            ),
        }
    }

    /// The rows it applies to, as SQL (`Queued` rows are in a worker's buffer: they will run).
    fn allowed(self) -> &'static str {
        match self {
            JobAction::Retry => {
                "(status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))"
            }
            JobAction::Cancel => "status IN ('Pending', 'Failed')",
        }
    }

    fn update(self, sql: &Statements) -> &'static str {
        match self {
            JobAction::Retry => sql.retry,
            JobAction::Cancel => sql.cancel,
        }
    }
}

/// Why a retry or cancel was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionRefused {
    NotFound,
    /// The job's current status does not allow it.
    WrongStatus(JobStatus),
}

/// Does `action` to the job `id`: the job after it, or why not.
pub async fn act(
    db: &Db,
    action: JobAction,
    id: &str,
) -> Result<Result<JobRow, ActionRefused>, sqlx::Error> {
    let Some(before) = get(db, id).await? else {
        return Ok(Err(ActionRefused::NotFound));
    };
    // `Queued` rows are already in a worker's buffer: they will run, so they cannot be cancelled.
    if !action.allows(before.status) || before.raw_status == "Queued" {
        let status = if before.raw_status == "Queued" {
            JobStatus::Running
        } else {
            before.status
        };
        return Ok(Err(ActionRefused::WrongStatus(status)));
    }
    let sql = statements(db);
    let text = format!(
        "{} WHERE id = $1 AND {}",
        action.update(sql),
        action.allowed()
    );
    let changed = with_pool!(db, |p| sqlx::query(sqlx::AssertSqlSafe(text))
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

/// Does `action` to those of the jobs `ids` it applies to, in one statement; how many changed.
pub async fn act_on_ids(db: &Db, action: JobAction, ids: &[String]) -> Result<u64, sqlx::Error> {
    let sql = statements(db);
    let text = format!(
        "{} WHERE {} AND id IN {}",
        action.update(sql),
        action.allowed(),
        sql.ids_from_json
    );
    let ids = serde_json::to_string(ids).map_err(|e| sqlx::Error::Encode(e.into()))?;
    Ok(with_pool!(db, |p| sqlx::query(sqlx::AssertSqlSafe(text))
        .bind(&ids)
        .execute(p)
        .await?
        .rows_affected()))
}

/// Does `action` to every job `filter` selects that it applies to, in one statement; how many
/// changed.
pub async fn act_on_matching(
    db: &Db,
    action: JobAction,
    filter: &JobFilter<'_>,
) -> Result<u64, sqlx::Error> {
    let sql = statements(db);
    let text = format!(
        "{} WHERE {} AND {}",
        action.update(sql),
        action.allowed(),
        condition(sql, filter)
    );
    Ok(with_pool!(db, |p| bind_filter!(
        sqlx::query(sqlx::AssertSqlSafe(text)),
        filter
    )
    .execute(p)
    .await?
    .rows_affected()))
}

/// Counts by queue and operator status (for `/metrics` and the job list's summary).
pub async fn counts(db: &Db) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let statements = statements(db);
    let (table, later) = (statements.jobs_table, statements.run_at_later);
    let sql = format!(
        "SELECT job_type, CASE WHEN status = 'Queued' THEN 'pending' \
           WHEN (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
             AND {later} THEN 'scheduled' \
           WHEN status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts) THEN 'pending' \
           WHEN status = 'Failed' THEN 'failed' WHEN status = 'Running' THEN 'running' \
           WHEN status = 'Done' THEN 'done' ELSE 'killed' END AS s, COUNT(*) \
         FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await)
}

/// Per queue, when its oldest due pending job was due (seconds): how long the queue has kept
/// work waiting.
pub async fn oldest_due(db: &Db) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let sql = statements(db).oldest_due;
    with_pool!(db, |p| sqlx::query_as(sql).fetch_all(p).await)
}

/// A worker as apalis registers it, with its last heartbeat.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    /// The worker's instance name.
    pub id: String,
    /// The queue it works on.
    pub worker_type: String,
    /// Seconds since the epoch.
    pub last_seen: i64,
}

impl WorkerRow {
    /// The process it runs in: `host:pid:random` from the name `queue@instance#run` that the
    /// runtime gives its workers (the whole name for one named otherwise).
    pub fn instance(&self) -> &str {
        let after = self.id.split_once('@').map_or(self.id.as_str(), |(_, i)| i);
        after.rsplit_once('#').map_or(after, |(i, _)| i)
    }
}

/// Every registered worker, by queue.
pub async fn workers(db: &Db) -> Result<Vec<WorkerRow>, sqlx::Error> {
    let sql = statements(db).select_workers;
    with_pool!(db, |p| sqlx::query_as(sql).fetch_all(p).await)
}

#[cfg(test)]
mod tests {
    use super::{JobStatus, WorkerRow};

    #[test]
    fn every_status_is_named_once() {
        use JobStatus::*;
        let names = [Pending, Scheduled, Running, Done, Failed, Killed].map(JobStatus::as_str);
        assert_eq!(names, JobStatus::NAMES);
    }

    #[test]
    fn a_workers_instance_is_its_name_between_the_queue_and_the_run() {
        let row = |id: &str| WorkerRow {
            id: id.to_owned(),
            worker_type: "sms.send".to_owned(),
            last_seen: 0,
        };
        assert_eq!(row("sms.send@vm:42:ABC123#0").instance(), "vm:42:ABC123");
        assert_eq!(row("billing.sweep@host#12").instance(), "host");
        assert_eq!(
            row("sms.inbound@vm:42:ABC123#3.2").instance(),
            "vm:42:ABC123",
            "a stream"
        );
        assert_eq!(row("elsewhere").instance(), "elsewhere");
    }
}
