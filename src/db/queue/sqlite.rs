//! The job-table statements in SQLite's dialect: apalis-sqlite's `Jobs` and `Workers` tables,
//! times as whole seconds since the epoch, `metadata` as JSON text.

use super::Statements;

pub(super) const STATEMENTS: Statements = Statements {
    jobs_table: "Jobs",
    time_from_secs: "",
    empty_metadata: "'{}'",
    insert_job: "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
     VALUES ($1, $2, $3, 'Pending', 0, $4, $5, 0, '{}', $6) ON CONFLICT (job_type, idempotency_key) DO NOTHING",
    reschedule: "UPDATE Jobs SET run_at = $1 WHERE id = $2",
    snooze: "UPDATE Jobs SET run_at = $1, max_attempts = max_attempts + 1 WHERE id = $2",
    stop_retrying: "UPDATE Jobs SET max_attempts = $1 WHERE id = $2",
    delete_finished: "DELETE FROM Jobs WHERE id IN (SELECT id FROM Jobs WHERE status IN ('Done', 'Killed') AND done_at < $1 LIMIT 10000)",
    requeue_orphans: "UPDATE Jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL, \
           attempts = attempts + 1, last_result = '{\"Err\": \"re-queued: its worker stopped heartbeating\"}' \
         WHERE status IN ('Running', 'Queued') AND (lock_by IS NULL OR lock_by NOT IN \
           (SELECT id FROM Workers WHERE last_seen >= $1))",
    unlock_pending: "UPDATE Jobs SET lock_by = NULL, lock_at = NULL WHERE status = 'Pending' AND lock_by IS NOT NULL",
    delete_stale_workers: "DELETE FROM Workers WHERE last_seen < $1 \
           AND NOT EXISTS (SELECT 1 FROM Jobs j WHERE j.lock_by = Workers.id)",
    optimize: &["PRAGMA optimize"],
    analyze: &["PRAGMA analysis_limit = 1000", "ANALYZE"],
    select_jobs: "SELECT id, job_type, status, attempts, max_attempts, last_result, run_at, done_at, job FROM Jobs",
    retry: "UPDATE Jobs SET status = 'Pending', max_attempts = MAX(max_attempts, attempts + 1), \
           lock_by = NULL, lock_at = NULL, done_at = NULL, run_at = strftime('%s', 'now')",
    cancel: "UPDATE Jobs SET status = 'Killed', done_at = strftime('%s', 'now'), \
           last_result = '{\"Err\": \"cancelled by an operator\"}'",
    payload_text: "CAST(job AS TEXT)",
    ids_from_json: "(SELECT value FROM json_each($1))",
    run_at_later: "run_at > CAST(strftime('%s', 'now') AS INTEGER)",
    finished_status: "+status",
    oldest_due: "SELECT job_type, MIN(run_at) FROM Jobs WHERE status = 'Pending' AND run_at <= strftime('%s', 'now') GROUP BY job_type",
    select_workers: "SELECT id, worker_type, last_seen FROM Workers ORDER BY worker_type, id",
    insert_finished_noops: "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $2) \
         INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, done_at, lock_at, priority, metadata) \
         SELECT X'7b7d', printf('%026d', $1 + i), 'bench.noop', 'Done', 1, 3, strftime('%s','now') - 3600, strftime('%s','now') - 3600, strftime('%s','now') - 3600, 0, '{}' FROM g",
};
