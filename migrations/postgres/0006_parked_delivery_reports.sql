-- Delivery reports that arrived before the send job recorded the gateway's message id (the
-- gateway's webhook can overtake our write of its answer). They wait here, keyed by provider
-- and gateway id, one row per distinct (part, status) so that the gateway's retries are stored
-- once, and are applied in arrival order in the transaction that records the id. Reports that
-- never match are deleted by the maintenance pass after `sms.unmatched_report_retention_hours`.
CREATE TABLE parked_delivery_reports (
    id                  BIGSERIAL PRIMARY KEY,
    provider            TEXT NOT NULL,
    gateway_message_id  TEXT NOT NULL,
    -- The part reported on (LINK `id$n`), or -1 for a report on the whole message.
    part                INTEGER NOT NULL,
    status              TEXT NOT NULL,
    reason              TEXT,
    -- How many parts the gateway says the message has, when it says so.
    segments            INTEGER,
    -- Our message id as the gateway mirrored it (LINK `refId`, generic `client_message_id`).
    client_reference    TEXT,
    -- When the gateway says the status was reached, and when we received the report.
    reported_at         BIGINT,
    received_at         BIGINT NOT NULL,
    UNIQUE (provider, gateway_message_id, part, status)
);
CREATE INDEX parked_delivery_reports_received ON parked_delivery_reports (received_at);
CREATE INDEX parked_delivery_reports_reference ON parked_delivery_reports (client_reference);
