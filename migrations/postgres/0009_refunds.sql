-- Refunds of charged payments (issue 17). A row is written before Vipps is called and carries
-- the Vipps Idempotency-Key, so a job that runs again after a crash refunds once. PENDING until
-- Vipps's charge shows the money back (DONE) or Vipps refused it (FAILED).
CREATE TABLE refunds (
    id               TEXT PRIMARY KEY,
    charge_id        TEXT NOT NULL REFERENCES charges(id),
    partner_id       TEXT NOT NULL REFERENCES partners(id),
    -- Øre; Vipps refuses refunds under 1.00 NOK.
    amount_ore       BIGINT NOT NULL CHECK (amount_ore >= 100),
    -- The description Vipps shows the user.
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'DONE', 'FAILED')),
    idempotency_key  TEXT NOT NULL UNIQUE,
    -- Why Vipps refused it (FAILED only).
    failure          TEXT,
    -- Who asked: `partner` (the API key) or `user:{email}` (the portal), as in the audit log.
    actor            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX refunds_charge ON refunds (charge_id, id);
-- At most one refund of a charge in flight, so two requests for the last amount left cannot
-- both be accepted.
CREATE UNIQUE INDEX refunds_one_pending ON refunds (charge_id) WHERE status = 'PENDING';

-- Statistics (migration 0005's counters): cancelled charges and DONE refunds by the charge's
-- due date, so NOK collected can be shown net of refunds with refunds as their own figure, and
-- a cancelled period is counted as cancelled, never as failed.
ALTER TABLE dialogue_stats_due ADD COLUMN charges_cancelled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dialogue_stats_due ADD COLUMN refunds_done BIGINT NOT NULL DEFAULT 0;
ALTER TABLE dialogue_stats_due ADD COLUMN amount_refunded_ore BIGINT NOT NULL DEFAULT 0;

-- As in 0005, with CANCELLED counted (the charges' triggers call it unchanged).
CREATE OR REPLACE FUNCTION dialogue_stats_due_add(p_dialogue TEXT, p_due DATE, p_status TEXT,
    p_amount BIGINT, sign INTEGER) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled)
    SELECT p_dialogue, p_due, pg_backend_pid() % 32,
        CASE WHEN p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN sign ELSE 0 END,
        CASE WHEN p_status = 'FAILED' THEN sign ELSE 0 END,
        CASE WHEN p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN sign * p_amount ELSE 0 END,
        CASE WHEN p_status = 'CANCELLED' THEN sign ELSE 0 END
    WHERE p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED')
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        charges_charged = dialogue_stats_due.charges_charged + excluded.charges_charged,
        charges_failed = dialogue_stats_due.charges_failed + excluded.charges_failed,
        amount_charged_ore = dialogue_stats_due.amount_charged_ore + excluded.amount_charged_ore,
        charges_cancelled = dialogue_stats_due.charges_cancelled + excluded.charges_cancelled;
$$;

-- One refund's contribution: a DONE refund counts on its charge's due date.
CREATE FUNCTION dialogue_stats_refund(r refunds, sign INTEGER) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, refunds_done, amount_refunded_ore)
    SELECT c.dialogue_id, c.due_date, pg_backend_pid() % 32, sign, sign * r.amount_ore
    FROM charges c WHERE c.id = r.charge_id AND r.status = 'DONE'
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        refunds_done = dialogue_stats_due.refunds_done + excluded.refunds_done,
        amount_refunded_ore = dialogue_stats_due.amount_refunded_ore + excluded.amount_refunded_ore;
$$;

CREATE FUNCTION dialogue_stats_refunds_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dialogue_stats_refund(OLD, -1); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM dialogue_stats_refund(NEW, 1); END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER refunds_stats_insert AFTER INSERT OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_refunds_trigger();
CREATE TRIGGER refunds_stats_update AFTER UPDATE OF charge_id, amount_ore, status ON refunds
    FOR EACH ROW
    WHEN (OLD.charge_id IS DISTINCT FROM NEW.charge_id OR OLD.amount_ore IS DISTINCT FROM NEW.amount_ore
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION dialogue_stats_refunds_trigger();

-- Counters for the charges already cancelled (the refunds table is new).
SELECT dialogue_stats_due_add(c.dialogue_id, c.due_date, c.status, c.amount_ore, 1)
FROM charges c WHERE c.status = 'CANCELLED';
