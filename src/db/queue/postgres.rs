//! The job-table statements in PostgreSQL's dialect: apalis-postgres's `apalis.jobs` and
//! `apalis.workers`, times as `timestamptz` (bound as seconds, through `to_timestamp`),
//! `metadata` as `hstore`, `last_result` as `jsonb`.

use super::Statements;

pub(super) const STATEMENTS: Statements = Statements {
    jobs_table: "apalis.jobs",
    time_from_secs: "to_timestamp",
    empty_metadata: "''::hstore",
    insert_job: "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
     VALUES ($1, $2, $3, 'Pending', 0, $4, to_timestamp($5), 0, ''::hstore, $6) ON CONFLICT (job_type, idempotency_key) DO NOTHING",
    reschedule: "UPDATE apalis.jobs SET run_at = to_timestamp($1) WHERE id = $2",
    snooze: "UPDATE apalis.jobs SET run_at = to_timestamp($1), max_attempts = max_attempts + 1 WHERE id = $2",
    stop_retrying: "UPDATE apalis.jobs SET max_attempts = $1 WHERE id = $2",
    delete_finished: "DELETE FROM apalis.jobs WHERE id IN (SELECT id FROM apalis.jobs WHERE status IN ('Done', 'Killed') AND done_at < to_timestamp($1) LIMIT 10000)",
    requeue_orphans: "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL, done_at = NULL, \
           attempts = attempts + 1, last_result = '{\"Err\": \"re-queued: its worker stopped heartbeating\"}'::jsonb \
         WHERE status IN ('Running', 'Queued') AND (lock_by IS NULL OR lock_by NOT IN \
           (SELECT id FROM apalis.workers WHERE last_seen >= to_timestamp($1)))",
    unlock_pending: "UPDATE apalis.jobs SET lock_by = NULL, lock_at = NULL WHERE status = 'Pending' AND lock_by IS NOT NULL",
    delete_stale_workers: "DELETE FROM apalis.workers w WHERE w.last_seen < to_timestamp($1) \
           AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)",
    // Autovacuum keeps PostgreSQL's planner statistics fresh.
    optimize: &[],
    analyze: &[],
    select_jobs: "SELECT id, job_type, status, CAST(attempts AS BIGINT) AS attempts, CAST(max_attempts AS BIGINT) AS max_attempts, \
           CAST(last_result AS TEXT) AS last_result, CAST(EXTRACT(EPOCH FROM run_at) AS BIGINT) AS run_at, \
           CAST(EXTRACT(EPOCH FROM done_at) AS BIGINT) AS done_at, job FROM apalis.jobs",
    retry: "UPDATE apalis.jobs SET status = 'Pending', max_attempts = GREATEST(max_attempts, attempts + 1), \
           lock_by = NULL, lock_at = NULL, done_at = NULL, run_at = now()",
    cancel: "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), \
           last_result = '{\"Err\": \"cancelled by an operator\"}'::jsonb",
    payload_text: "convert_from(job, 'UTF8')",
    ids_from_json: "(SELECT jsonb_array_elements_text(CAST($1 AS jsonb)))",
    run_at_later: "run_at > now()",
    finished_status: "status",
    oldest_due: "SELECT job_type, CAST(EXTRACT(EPOCH FROM MIN(run_at)) AS BIGINT) FROM apalis.jobs \
         WHERE status = 'Pending' AND run_at <= now() GROUP BY job_type",
    select_workers: "SELECT id, worker_type, CAST(EXTRACT(EPOCH FROM last_seen) AS BIGINT) AS last_seen \
         FROM apalis.workers ORDER BY worker_type, id",
    insert_finished_noops: "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, done_at, lock_at, priority, metadata) \
         SELECT '\\x7b7d'::bytea, lpad(($1 + g)::text, 26, '0'), 'bench.noop', 'Done', 1, 3, now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour', 0, ''::hstore \
         FROM generate_series(1, $2) AS g",
};
