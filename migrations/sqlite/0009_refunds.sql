-- Refunds of charged payments (issue 17). A row is written before Vipps is called and carries
-- the Vipps Idempotency-Key, so a job that runs again after a crash refunds once. PENDING until
-- Vipps's charge shows the money back (DONE) or Vipps refused it (FAILED).
CREATE TABLE refunds (
    id               TEXT NOT NULL PRIMARY KEY,
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

DROP TRIGGER charges_stats_insert;
DROP TRIGGER charges_stats_update;
DROP TRIGGER charges_stats_delete;
DROP TRIGGER dialogue_stats_due_apply;
DROP VIEW dialogue_stats_due_delta;

CREATE VIEW dialogue_stats_due_delta AS
    SELECT dialogue_id, due_date, charges_charged, charges_failed, amount_charged_ore,
           charges_cancelled, refunds_done, amount_refunded_ore
    FROM dialogue_stats_due WHERE 0;

CREATE TRIGGER dialogue_stats_due_apply INSTEAD OF INSERT ON dialogue_stats_due_delta
BEGIN
    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    VALUES (NEW.dialogue_id, NEW.due_date, 0, NEW.charges_charged, NEW.charges_failed,
        NEW.amount_charged_ore, NEW.charges_cancelled, NEW.refunds_done, NEW.amount_refunded_ore)
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        charges_charged = charges_charged + excluded.charges_charged,
        charges_failed = charges_failed + excluded.charges_failed,
        amount_charged_ore = amount_charged_ore + excluded.amount_charged_ore,
        charges_cancelled = charges_cancelled + excluded.charges_cancelled,
        refunds_done = refunds_done + excluded.refunds_done,
        amount_refunded_ore = amount_refunded_ore + excluded.amount_refunded_ore;
END;

-- As in 0005, with CANCELLED counted.
CREATE TRIGGER charges_stats_insert AFTER INSERT ON charges
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (NEW.dialogue_id, NEW.created_at / 3600000, 0, 0, 0, 0, 0, 0, 1);
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT NEW.dialogue_id, NEW.due_date,
        NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED'),
        NEW.status = 'FAILED',
        CASE WHEN NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN NEW.amount_ore ELSE 0 END,
        NEW.status = 'CANCELLED', 0, 0
    WHERE NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED');
END;

CREATE TRIGGER charges_stats_update
AFTER UPDATE OF dialogue_id, created_at, due_date, amount_ore, status ON charges
WHEN OLD.dialogue_id IS NOT NEW.dialogue_id OR OLD.created_at IS NOT NEW.created_at
    OR OLD.due_date IS NOT NEW.due_date OR OLD.amount_ore IS NOT NEW.amount_ore
    OR OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT OLD.dialogue_id, OLD.created_at / 3600000, 0, 0, 0, 0, 0, 0, -1
    WHERE OLD.dialogue_id IS NOT NEW.dialogue_id OR OLD.created_at IS NOT NEW.created_at
    UNION ALL SELECT NEW.dialogue_id, NEW.created_at / 3600000, 0, 0, 0, 0, 0, 0, 1
    WHERE OLD.dialogue_id IS NOT NEW.dialogue_id OR OLD.created_at IS NOT NEW.created_at;
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT OLD.dialogue_id, OLD.due_date,
        -(OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        -(OLD.status = 'FAILED'),
        CASE WHEN OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN -OLD.amount_ore ELSE 0 END,
        -(OLD.status = 'CANCELLED'), 0, 0
    WHERE OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED')
    UNION ALL SELECT NEW.dialogue_id, NEW.due_date,
        NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED'),
        NEW.status = 'FAILED',
        CASE WHEN NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN NEW.amount_ore ELSE 0 END,
        NEW.status = 'CANCELLED', 0, 0
    WHERE NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED');
END;

CREATE TRIGGER charges_stats_delete AFTER DELETE ON charges
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (OLD.dialogue_id, OLD.created_at / 3600000, 0, 0, 0, 0, 0, 0, -1);
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT OLD.dialogue_id, OLD.due_date,
        -(OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        -(OLD.status = 'FAILED'),
        CASE WHEN OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN -OLD.amount_ore ELSE 0 END,
        -(OLD.status = 'CANCELLED'), 0, 0
    WHERE OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED');
END;

-- A DONE refund counts on its charge's due date.
CREATE TRIGGER refunds_stats_insert AFTER INSERT ON refunds
WHEN NEW.status = 'DONE'
BEGIN
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT c.dialogue_id, c.due_date, 0, 0, 0, 0, 1, NEW.amount_ore
    FROM charges c WHERE c.id = NEW.charge_id;
END;

CREATE TRIGGER refunds_stats_update AFTER UPDATE OF charge_id, amount_ore, status ON refunds
WHEN OLD.status = 'DONE' OR NEW.status = 'DONE'
BEGIN
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT c.dialogue_id, c.due_date, 0, 0, 0, 0, -1, -OLD.amount_ore
    FROM charges c WHERE c.id = OLD.charge_id AND OLD.status = 'DONE'
    UNION ALL SELECT c.dialogue_id, c.due_date, 0, 0, 0, 0, 1, NEW.amount_ore
    FROM charges c WHERE c.id = NEW.charge_id AND NEW.status = 'DONE';
END;

CREATE TRIGGER refunds_stats_delete AFTER DELETE ON refunds
WHEN OLD.status = 'DONE'
BEGIN
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
    SELECT c.dialogue_id, c.due_date, 0, 0, 0, 0, -1, -OLD.amount_ore
    FROM charges c WHERE c.id = OLD.charge_id;
END;

-- Counters for the charges already cancelled (the refunds table is new).
INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged, charges_failed,
    amount_charged_ore, charges_cancelled, refunds_done, amount_refunded_ore)
SELECT dialogue_id, due_date, 0, 0, 0, 1, 0, 0 FROM charges WHERE status = 'CANCELLED';
