-- Outgoing webhooks to partners' own systems (issue 16). An endpoint subscribes to event types;
-- an event is written in the transaction of the change it reports, with one delivery per
-- subscribed, enabled endpoint and a `webhooks.deliver` job per delivery, so no event is lost
-- and none is sent for a change that rolled back. Every attempt is kept for the delivery log.
CREATE TABLE webhook_endpoints (
    id               TEXT NOT NULL PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partners(id),
    url              TEXT NOT NULL,
    -- Subscribed event types, space-separated (`domain::partner_events`).
    event_types      TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    enabled          BOOLEAN NOT NULL,
    -- `whsec_` + base64 key; shown to the partner once, when the endpoint is made.
    secret           TEXT NOT NULL,
    -- Since when every delivery has failed (NULL after a success); past
    -- `partner_events::DISABLE_AFTER` the endpoint is disabled with a reason.
    failing_since    BIGINT,
    disabled_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, id);

CREATE TABLE webhook_events (
    -- `msg_…`: the `webhook-id` header, the same on every attempt and resend.
    id               TEXT NOT NULL PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partners(id),
    event_type       TEXT NOT NULL,
    -- The exact body sent (JSON).
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_events_partner ON webhook_events (partner_id, id);

CREATE TABLE webhook_deliveries (
    id               TEXT NOT NULL PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id         TEXT NOT NULL REFERENCES webhook_events(id),
    status           TEXT NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- How many times the partner asked to send it again (each is a job of its own).
    resends          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  BIGINT,
    next_attempt_at  BIGINT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_once ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (endpoint_id, status, created_at);

CREATE TABLE webhook_attempts (
    delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempt          INTEGER NOT NULL,
    at               BIGINT NOT NULL,
    -- The HTTP status of the answer; NULL when there was none (refused, timed out).
    status_code      INTEGER,
    duration_ms      BIGINT NOT NULL,
    -- Why it failed, or the start of the answer's body.
    detail           TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
