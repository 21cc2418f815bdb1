-- Every attempt of every job, for the operator console's job detail and its per-minute chart:
-- apalis keeps only the last result. Rows are written by triggers on apalis's `Jobs` table, so
-- an attempt is recorded in the very statement (and transaction) that changes the job's state:
--
-- - a row moving to `Running` starts attempt `attempts + 1` (outcome `running`);
-- - a row leaving `Running` (or `Queued`: apalis may ack a quick job before it marks the row
--   `Running`, and then the fetch time is the attempt's start) finishes it: `Done` → done, `Pending` → orphaned (its worker stopped
--   heartbeating and the row was re-queued, e.g. after a kill -9), `Killed` → killed, `Failed` →
--   retry while attempts are left, else failed; unless the runtime marked the attempt's
--   `intent` first (`permanent`, `snoozed`: src/db/queue/mod.rs), which then is the outcome;
-- - a deleted job (the retention purge) takes its attempts with it.
--
-- SQLite's `Jobs.lock_at` has whole seconds only, so the times here are taken by the triggers
-- themselves, in milliseconds.
CREATE TABLE job_attempts (
    job_id       TEXT NOT NULL,
    -- 1 for the first run; the row's `attempts` once the attempt has ended.
    attempt      INTEGER NOT NULL,
    queue        TEXT NOT NULL,
    -- The apalis worker that ran it (`{queue}@{host}:{pid}:{suffix}#{run}`).
    worker       TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN
        ('running', 'done', 'retry', 'snoozed', 'permanent', 'failed', 'orphaned', 'killed')),
    -- What the runtime decided before the ack: `permanent` or `snoozed`.
    intent       TEXT CHECK (intent IN ('permanent', 'snoozed')),
    started_at   BIGINT,
    finished_at  BIGINT,
    error        TEXT,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX job_attempts_finished ON job_attempts (finished_at) WHERE finished_at IS NOT NULL;

CREATE TRIGGER job_attempt_started AFTER UPDATE OF status ON Jobs
WHEN NEW.status = 'Running' AND OLD.status <> 'Running'
BEGIN
    INSERT INTO job_attempts (job_id, attempt, queue, worker, outcome, started_at)
    VALUES (NEW.id, NEW.attempts + 1, NEW.job_type, NEW.lock_by, 'running',
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))
    ON CONFLICT (job_id, attempt) DO UPDATE SET
        worker = excluded.worker, started_at = excluded.started_at;
END;

CREATE TRIGGER job_attempt_finished AFTER UPDATE OF status ON Jobs
WHEN OLD.status IN ('Running', 'Queued') AND NEW.status IN ('Done', 'Failed', 'Killed', 'Pending')
BEGIN
    INSERT INTO job_attempts (job_id, attempt, queue, worker, outcome, started_at, finished_at, error)
    VALUES (NEW.id, NEW.attempts, NEW.job_type, OLD.lock_by,
        CASE NEW.status
            WHEN 'Done' THEN 'done'
            WHEN 'Pending' THEN 'orphaned'
            WHEN 'Killed' THEN 'killed'
            ELSE CASE WHEN NEW.attempts < NEW.max_attempts THEN 'retry' ELSE 'failed' END
        END,
        OLD.lock_at * 1000,
        CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
        CASE WHEN NEW.status <> 'Done' AND json_valid(NEW.last_result)
            THEN substr(json_extract(NEW.last_result, '$.Err'), 1, 4000) END)
    ON CONFLICT (job_id, attempt) DO UPDATE SET
        outcome = CASE WHEN NEW.status = 'Failed' AND job_attempts.intent IS NOT NULL
            THEN job_attempts.intent ELSE excluded.outcome END,
        started_at = COALESCE(job_attempts.started_at, excluded.started_at),
        worker = COALESCE(job_attempts.worker, excluded.worker),
        finished_at = excluded.finished_at,
        error = excluded.error;
END;

CREATE TRIGGER job_attempts_purged AFTER DELETE ON Jobs
BEGIN
    DELETE FROM job_attempts WHERE job_id = OLD.id;
END;
