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
