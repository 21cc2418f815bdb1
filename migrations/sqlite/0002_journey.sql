-- The keyword journey and charging: messages in and out with their status history, Vipps
-- webhook events, our webhook registrations, charges with their status history.

CREATE TABLE messages (
    id                  TEXT PRIMARY KEY,
    partner_id          TEXT REFERENCES partners(id),
    dialogue_id         TEXT REFERENCES dialogues(id),
    direction           TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    provider            TEXT NOT NULL,
    gateway_message_id  TEXT,
    from_addr           TEXT NOT NULL,
    to_addr             TEXT NOT NULL,
    text                TEXT NOT NULL,
    status              TEXT NOT NULL,
    outcome             TEXT,
    error               TEXT,
    segments            INTEGER NOT NULL,
    encoding            TEXT NOT NULL,
    in_reply_to         TEXT REFERENCES messages(id),
    agreement_id        TEXT REFERENCES agreements(id),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
-- Gateways retry: one row per (provider, direction, gateway id).
CREATE UNIQUE INDEX messages_gateway_id ON messages (provider, direction, gateway_message_id);
CREATE INDEX messages_partner ON messages (partner_id, id);
CREATE INDEX messages_dialogue ON messages (dialogue_id, id);
-- One reply per inbound message and purpose (the send job's idempotency guard).
CREATE UNIQUE INDEX messages_reply_once ON messages (in_reply_to, outcome);

CREATE TABLE message_status_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  TEXT NOT NULL REFERENCES messages(id),
    status      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    detail      TEXT
);
CREATE INDEX message_status_history_message ON message_status_history (message_id, id);

CREATE TABLE vipps_webhooks (
    id          TEXT PRIMARY KEY,
    msn         TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (msn, url)
);

CREATE TABLE vipps_events (
    id                TEXT PRIMARY KEY,
    event_key         TEXT NOT NULL UNIQUE,
    event_type        TEXT NOT NULL,
    msn               TEXT,
    agreement_id      TEXT,
    charge_id         TEXT,
    actor             TEXT,
    body              TEXT NOT NULL,
    received_at       BIGINT NOT NULL
);

CREATE TABLE charges (
    id                   TEXT PRIMARY KEY,
    agreement_id         TEXT NOT NULL REFERENCES agreements(id),
    partner_id           TEXT NOT NULL REFERENCES partners(id),
    dialogue_id          TEXT NOT NULL REFERENCES dialogues(id),
    period_index         INTEGER NOT NULL,
    charge_type          TEXT NOT NULL CHECK (charge_type IN ('INITIAL', 'RECURRING')),
    due_date             TEXT NOT NULL,
    amount_ore           BIGINT NOT NULL,
    status               TEXT NOT NULL,
    vipps_charge_id      TEXT,
    order_id             TEXT NOT NULL UNIQUE,
    failure_reason       TEXT,
    failure_description  TEXT,
    problem_type         TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    -- The money guard: at most one charge per agreement and period.
    UNIQUE (agreement_id, period_index)
);
CREATE INDEX charges_dialogue ON charges (dialogue_id, status, due_date);

CREATE TABLE charge_status_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_id  TEXT NOT NULL REFERENCES charges(id),
    status     TEXT NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX charge_status_history_charge ON charge_status_history (charge_id, id);

CREATE INDEX agreements_pending ON agreements (status, created_at);
ALTER TABLE agreements ADD COLUMN stop_requested TEXT;
