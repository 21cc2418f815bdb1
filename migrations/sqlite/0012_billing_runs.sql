-- The billing sweep's and the reconcile pass's runs, for the console's Billing screen and the
-- Overview's "last ticks": one row per run (kind and tick), written by the handler as its last
-- step and overwritten when the job runs again (a retry after a failure, a job run twice), so
-- each tick has one row with its latest outcome.
CREATE TABLE billing_runs (
    -- `{kind}:{tick}`.
    id               TEXT NOT NULL PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('sweep', 'reconcile')),
    -- The scheduler's tick, or `manual-{ulid}` for an operator's run.
    tick             TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('done', 'failed')),
    -- The sweep: periods due; reconcile: open charges found.
    found            BIGINT NOT NULL,
    -- Jobs queued: charge creations (single or batches), or charge re-reads.
    queued           BIGINT NOT NULL,
    -- Agreements the sweep queued a stop for (their dialogue ended); 0 for reconcile.
    stops            BIGINT NOT NULL,
    -- Attempts of this run that failed (the one recorded included when state is failed).
    failed_attempts  BIGINT NOT NULL,
    -- The last attempt's error (state failed).
    error            TEXT,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT NOT NULL
);
CREATE INDEX billing_runs_finished ON billing_runs (finished_at, id);
