//! Every statement on the job tables (apalis's `Jobs`/`Workers` on SQLite, `apalis.jobs`/
//! `apalis.workers` on PostgreSQL), as typed functions for the worker runtime, the maintenance
//! pass and the benchmarks; [`jobs`] is the operators' view (list, retry, cancel, counts).
//!
//! The two engines' tables differ (seconds vs `timestamptz`, JSON text vs `hstore`), so each
//! statement is written once per dialect: `sqlite.rs` and `postgres.rs` hold one `Statements`
//! table each, and the functions here pick the one of the pool they run on.

pub mod attempts;
pub mod jobs;
mod postgres;
mod sqlite;

use std::time::Duration;

use crate::{
    db::{Db, Tx},
    with_pool, with_tx,
};

/// One engine's text of every job-table statement. `$n` are the binds the functions below give.
struct Statements {
    /// apalis's jobs table, for the statements composed at run time.
    jobs_table: &'static str,
    /// The SQL function that turns bound whole seconds into a `run_at` (none on SQLite).
    time_from_secs: &'static str,
    /// An empty `metadata` value.
    empty_metadata: &'static str,
    /// A new `Pending` row (payload, id, queue, max attempts, run-at seconds, idempotency key);
    /// a duplicate idempotency key inserts nothing.
    insert_job: &'static str,
    /// Moves `run_at` (seconds) of row `$2` forward: a durable retry backoff.
    reschedule: &'static str,
    /// As `reschedule`, and gives the attempt back.
    snooze: &'static str,
    /// Sets `max_attempts` of row `$2` to `$1`, the attempts made: no retry follows.
    stop_retrying: &'static str,
    /// Deletes up to [`DELETE_BATCH`] `Done`/`Killed` rows that finished before `$1` (seconds).
    delete_finished: &'static str,
    /// Re-queues running or fetched rows whose worker was last seen before `$1` (seconds).
    requeue_orphans: &'static str,
    /// Unlocks `Pending` rows still locked by a worker (they could never be fetched again).
    unlock_pending: &'static str,
    /// Deletes workers last seen before `$1` (seconds) that no row points at.
    delete_stale_workers: &'static str,
    /// Run on one connection after every maintenance pass.
    optimize: &'static [&'static str],
    /// Run on one connection at start-up: planner statistics for the job tables.
    analyze: &'static [&'static str],
    /// The operator's view of a row, in [`jobs`]'s columns; a `WHERE` clause may follow.
    select_jobs: &'static str,
    /// The `UPDATE … SET` (a `WHERE` follows) after which a failed or killed row runs again
    /// now, with one more attempt than it has used.
    retry: &'static str,
    /// The `UPDATE … SET` (a `WHERE` follows) that kills a pending or failed row.
    cancel: &'static str,
    /// The payload (`job`) as text, for searching the ids in it.
    payload_text: &'static str,
    /// The strings of the JSON array bound as `$1`, as a subquery (`id IN …`).
    ids_from_json: &'static str,
    /// The condition "its `run_at` is still ahead", by the database's own clock.
    run_at_later: &'static str,
    /// The status column where it matches most of a used table (done, killed) and no queue
    /// narrows it: SQLite's `+status` keeps the status index out, so that a list walks the
    /// primary key newest first instead of sorting every finished row (the plan SQLite picks
    /// without statistics, on a new table or one that was never analyzed); PostgreSQL's
    /// planner keeps statistics of its own.
    finished_status: &'static str,
    /// Per queue, the `run_at` (seconds) of its oldest pending job that is due.
    oldest_due: &'static str,
    /// The workers (id, queue, last heartbeat in seconds), by queue.
    select_workers: &'static str,
    /// `$2` finished `bench.noop` rows, ids numbered from `$1 + 1`, finished an hour ago.
    insert_finished_noops: &'static str,
}

/// The statements in the dialect of `db`'s engine.
fn statements(db: &Db) -> &'static Statements {
    match db {
        Db::Sqlite(_) => &sqlite::STATEMENTS,
        Db::Postgres(_) => &postgres::STATEMENTS,
    }
}

/// The statements in the dialect of the engine `tx` runs on.
fn statements_in(tx: &Tx) -> &'static Statements {
    match tx {
        Tx::Sqlite(..) => &sqlite::STATEMENTS,
        Tx::Postgres(_) => &postgres::STATEMENTS,
    }
}

/// A job row about to be inserted, already encoded.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub queue: &'static str,
    pub payload: Vec<u8>,
    pub max_attempts: i64,
    pub run_at_secs: i64,
    pub idempotency_key: Option<String>,
}

/// Inserts one job; false when a job of its queue with the same idempotency key exists.
pub async fn insert(db: &Db, new: &NewJob) -> Result<bool, sqlx::Error> {
    // In a transaction of its own: on SQLite that takes this process's turn to write
    // (`db::write_gate`) instead of meeting the others at SQLite's busy handler.
    let mut tx = db.begin().await?;
    let inserted = insert_in(&mut tx, new).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// [`insert`] inside the caller's transaction: the job exists if and only if it commits.
pub async fn insert_in(tx: &mut Tx, new: &NewJob) -> Result<bool, sqlx::Error> {
    let sql = statements_in(tx).insert_job;
    let inserted = with_tx!(tx, |c| bind_insert(sql, new)
        .execute(c)
        .await?
        .rows_affected());
    Ok(inserted > 0)
}

/// The most rows [`insert_many`] writes in one statement (six binds a row stay below both
/// engines' limits).
pub const MAX_ROWS_PER_INSERT: usize = 500;

/// Inserts many jobs in one transaction, one multi-row INSERT per [`MAX_ROWS_PER_INSERT`].
/// Returns how many were new (duplicates by idempotency key are dropped).
pub async fn insert_many(db: &Db, rows: &[NewJob]) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    let mut tx = db.begin().await?;
    for chunk in rows.chunks(MAX_ROWS_PER_INSERT) {
        let sql = multi_insert_sql(statements_in(&tx), chunk.len());
        inserted += with_tx!(&mut tx, |c| {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for new in chunk {
                query = query
                    .bind(new.payload.clone())
                    .bind(new.id.clone())
                    .bind(new.queue)
                    .bind(new.max_attempts)
                    .bind(new.run_at_secs)
                    .bind(new.idempotency_key.clone());
            }
            query.execute(c).await?.rows_affected()
        });
    }
    tx.commit().await?;
    Ok(inserted)
}

/// The same insert as `insert_job` for `rows` rows at once.
fn multi_insert_sql(sql: &Statements, rows: usize) -> String {
    let (table, run_at, metadata) = (sql.jobs_table, sql.time_from_secs, sql.empty_metadata);
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let n = r * 6;
            format!(
                "(${}, ${}, ${}, 'Pending', 0, ${}, {run_at}(${}), 0, {metadata}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
         VALUES {} ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        values.join(", ")
    )
}

fn bind_insert<'q, DB>(
    sql: &'static str,
    new: &'q NewJob,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(sql)
        .bind(new.payload.clone())
        .bind(new.id.clone())
        .bind(new.queue)
        .bind(new.max_attempts)
        .bind(new.run_at_secs)
        .bind(new.idempotency_key.clone())
}

/// Durable backoff: the storage's fetch only re-selects a failed row once `run_at` has passed.
pub async fn reschedule(db: &Db, id: &str, wait: Duration) -> Result<(), sqlx::Error> {
    update_run_at(db, statements(db).reschedule, id, wait).await
}

/// A snooze: later, like a retry, and with the attempt given back (`max_attempts + 1`); the
/// attempt's history row will say `snoozed`.
pub async fn snooze(
    db: &Db,
    id: &str,
    queue: &str,
    attempt: u32,
    wait: Duration,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let sql = statements_in(&tx).snooze;
    let at = whole_seconds_after(wait);
    with_tx!(&mut tx, |c| sqlx::query(sql)
        .bind(at)
        .bind(id)
        .execute(c)
        .await?
        .rows_affected());
    attempts::mark(&mut tx, id, queue, attempt, attempts::Intent::Snoozed).await?;
    tx.commit().await
}

/// `wait` from now in whole seconds, rounded up: apalis compares whole seconds, and the wait
/// must not come out shorter.
fn whole_seconds_after(wait: Duration) -> i64 {
    let due_ms = chrono::Utc::now().timestamp_millis() + wait.as_millis() as i64;
    (due_ms + 999) / 1000
}

/// Runs `sql` with the time `wait` from now and the row's id.
async fn update_run_at(
    db: &Db,
    sql: &'static str,
    id: &str,
    wait: Duration,
) -> Result<(), sqlx::Error> {
    let at = whole_seconds_after(wait);
    with_pool!(db, |p| sqlx::query(sql)
        .bind(at)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A permanent failure: no attempts are left once the ack records this attempt, and the
/// attempt's history row will say `permanent`.
pub async fn stop_retrying(
    db: &Db,
    id: &str,
    queue: &str,
    attempt: u32,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let sql = statements_in(&tx).stop_retrying;
    with_tx!(&mut tx, |c| sqlx::query(sql)
        .bind(i64::from(attempt))
        .bind(id)
        .execute(c)
        .await?
        .rows_affected());
    attempts::mark(&mut tx, id, queue, attempt, attempts::Intent::Permanent).await?;
    tx.commit().await
}

/// The most rows one `delete_finished` statement deletes (its `LIMIT`).
const DELETE_BATCH: u64 = 10_000;

/// Deletes `Done` and `Killed` rows that finished before `cutoff_secs`, a batch at a time.
/// Returns how many went.
pub async fn purge_finished(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = statements(db).delete_finished;
    let mut purged = 0;
    loop {
        let deleted = with_pool!(db, |p| sqlx::query(sql)
            .bind(cutoff_secs)
            .execute(p)
            .await?
            .rows_affected());
        purged += deleted;
        if deleted < DELETE_BATCH {
            return Ok(purged);
        }
    }
}

/// Running or fetched rows whose worker has not been seen since `cutoff_secs` run again.
/// apalis does the same from its heartbeats, but only for queues that still have a live worker.
pub async fn requeue_orphans(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = statements(db);
    let requeued = with_pool!(db, |p| sqlx::query(sql.requeue_orphans)
        .bind(cutoff_secs)
        .execute(p)
        .await?
        .rows_affected());
    // Rows left Pending but still locked can never be fetched again; unlock them.
    with_pool!(db, |p| sqlx::query(sql.unlock_pending)
        .execute(p)
        .await?
        .rows_affected());
    Ok(requeued)
}

/// Worker rows of processes gone since before `cutoff_secs`, once no job points at them.
pub async fn delete_stale_workers(db: &Db, cutoff_secs: i64) -> Result<u64, sqlx::Error> {
    let sql = statements(db).delete_stale_workers;
    Ok(with_pool!(db, |p| sqlx::query(sql)
        .bind(cutoff_secs)
        .execute(p)
        .await?
        .rows_affected()))
}

/// The planner upkeep after a maintenance pass (SQLite's `PRAGMA optimize`).
pub async fn optimize(db: &Db) -> Result<(), sqlx::Error> {
    run_on_one_connection(db, statements(db).optimize).await
}

/// Planner statistics for the job tables at start-up, so the lock and fetch queries use their
/// indexes from the first job on (SQLite; docs/apalis-1.0.md §5).
pub async fn analyze(db: &Db) -> Result<(), sqlx::Error> {
    run_on_one_connection(db, statements(db).analyze).await
}

/// Runs `sql` in order on one pooled connection (a PRAGMA holds for its connection only);
/// takes no connection when there is nothing to run.
async fn run_on_one_connection(db: &Db, sql: &'static [&'static str]) -> Result<(), sqlx::Error> {
    if sql.is_empty() {
        return Ok(());
    }
    with_pool!(db, |p| {
        let mut conn = p.acquire().await?;
        for statement in sql {
            sqlx::query(*statement).execute(&mut *conn).await?;
        }
    });
    Ok(())
}

/// The jobs of a queue that have yet to finish: waiting, fetched, running, or failed with
/// attempts left. Written as ranges of the (queue, status) index (`status IN` a list, the
/// attempts checked on the rows found), so that finished rows, however many, are not read: with
/// the attempts inside an `OR`, SQLite walked every row of the queue (150 ms over 1,000,000
/// finished ones, against 3 ms).
const UNFINISHED: &str = "job_type = $1 AND status IN ('Pending', 'Queued', 'Running', 'Failed') \
     AND (status <> 'Failed' OR attempts < max_attempts)";

/// How many of `queue`'s jobs have yet to finish ([`UNFINISHED`]).
pub async fn count_unfinished(db: &Db, queue: &str) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE {UNFINISHED}",
        statements(db).jobs_table
    );
    with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(queue)
        .fetch_one(p)
        .await)
}

/// Whether any of `queue`'s jobs has yet to finish ([`UNFINISHED`]): the first index entry
/// found answers, where a count reads every unfinished row (a benchmark polling a count of a
/// large queue every few milliseconds measures its own polling).
pub async fn has_unfinished(db: &Db, queue: &str) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE {UNFINISHED})",
        statements(db).jobs_table
    );
    with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(queue)
        .fetch_one(p)
        .await)
}

/// Every job row, whatever its status.
pub async fn count_all(db: &Db) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) FROM {}", statements(db).jobs_table);
    with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(p)
        .await)
}

/// Jobs that ended without succeeding and will not run again.
pub async fn count_failed_for_good(db: &Db) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE status IN ('Failed', 'Killed') AND attempts >= max_attempts",
        statements(db).jobs_table
    );
    with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(p)
        .await)
}

/// Inserts `n` finished `bench.noop` rows (a table that has been in use for a while).
pub async fn insert_finished_noops(db: &Db, n: u64) -> Result<(), sqlx::Error> {
    super::insert_generated_rows(db, statements(db).insert_finished_noops, &[], n).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_row_insert_numbers_six_binds_a_row_in_each_dialect() {
        let sqlite = multi_insert_sql(&sqlite::STATEMENTS, 2);
        assert!(sqlite.starts_with("INSERT INTO Jobs ("), "{sqlite}");
        assert!(
            sqlite.contains("($7, $8, $9, 'Pending', 0, $10, ($11), 0, '{}', $12)"),
            "{sqlite}"
        );
        let postgres = multi_insert_sql(&postgres::STATEMENTS, 1);
        assert!(
            postgres.contains(
                "VALUES ($1, $2, $3, 'Pending', 0, $4, to_timestamp($5), 0, ''::hstore, $6) ON CONFLICT"
            ),
            "{postgres}"
        );
    }
}
