-- Dialogue statistics as counters kept by triggers, so the figures for any period are a sum
-- over a few hundred small rows instead of a count over millions of messages and charges.
--
-- * `dialogue_stats_hourly`: events by the UTC hour they happened in (Europe/Oslo days are
--   whole UTC hours, so any Oslo day range is an hour range). `active_delta` is +1 when an
--   agreement is activated and -1 when an activated agreement stops: the sum of every hour
--   before t is the number of ACTIVE agreements at t.
-- * `dialogue_stats_due`: charge outcomes by the charge's due date.
--
-- Every counter is the sum of each row's contribution; an UPDATE removes the old row's
-- contribution and adds the new one's, so the counters are exact whatever path writes the rows
-- (jobs, webhooks, the benchmark's bulk seed). `shard` spreads hot rows over several rows on
-- PostgreSQL; SQLite has one writer, so it is always 0 here.

CREATE TABLE dialogue_stats_hourly (
    dialogue_id           TEXT NOT NULL,
    hour                  BIGINT NOT NULL,
    shard                 INTEGER NOT NULL,
    keyword_messages      BIGINT NOT NULL DEFAULT 0,
    agreements_drafted    BIGINT NOT NULL DEFAULT 0,
    agreements_activated  BIGINT NOT NULL DEFAULT 0,
    agreements_expired    BIGINT NOT NULL DEFAULT 0,
    agreements_stopped    BIGINT NOT NULL DEFAULT 0,
    active_delta          BIGINT NOT NULL DEFAULT 0,
    charges_created       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dialogue_id, hour, shard)
);

CREATE TABLE dialogue_stats_due (
    dialogue_id         TEXT NOT NULL,
    due_date            TEXT NOT NULL,
    shard               INTEGER NOT NULL,
    charges_charged     BIGINT NOT NULL DEFAULT 0,
    charges_failed      BIGINT NOT NULL DEFAULT 0,
    amount_charged_ore  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dialogue_id, due_date, shard)
);

-- Writing a delta row into one of these views adds it to the counters (one upsert, one place).
CREATE VIEW dialogue_stats_hourly_delta AS
    SELECT dialogue_id, hour, keyword_messages, agreements_drafted, agreements_activated,
           agreements_expired, agreements_stopped, active_delta, charges_created
    FROM dialogue_stats_hourly WHERE 0;

CREATE TRIGGER dialogue_stats_hourly_apply INSTEAD OF INSERT ON dialogue_stats_hourly_delta
BEGIN
    INSERT INTO dialogue_stats_hourly (dialogue_id, hour, shard, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (NEW.dialogue_id, NEW.hour, 0, NEW.keyword_messages, NEW.agreements_drafted,
        NEW.agreements_activated, NEW.agreements_expired, NEW.agreements_stopped,
        NEW.active_delta, NEW.charges_created)
    ON CONFLICT (dialogue_id, hour, shard) DO UPDATE SET
        keyword_messages = keyword_messages + excluded.keyword_messages,
        agreements_drafted = agreements_drafted + excluded.agreements_drafted,
        agreements_activated = agreements_activated + excluded.agreements_activated,
        agreements_expired = agreements_expired + excluded.agreements_expired,
        agreements_stopped = agreements_stopped + excluded.agreements_stopped,
        active_delta = active_delta + excluded.active_delta,
        charges_created = charges_created + excluded.charges_created;
END;

CREATE VIEW dialogue_stats_due_delta AS
    SELECT dialogue_id, due_date, charges_charged, charges_failed, amount_charged_ore
    FROM dialogue_stats_due WHERE 0;

CREATE TRIGGER dialogue_stats_due_apply INSTEAD OF INSERT ON dialogue_stats_due_delta
BEGIN
    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, charges_charged,
        charges_failed, amount_charged_ore)
    VALUES (NEW.dialogue_id, NEW.due_date, 0, NEW.charges_charged, NEW.charges_failed,
        NEW.amount_charged_ore)
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        charges_charged = charges_charged + excluded.charges_charged,
        charges_failed = charges_failed + excluded.charges_failed,
        amount_charged_ore = amount_charged_ore + excluded.amount_charged_ore;
END;

-- Keyword messages: inbound messages attributed to a dialogue (the inbound job sets
-- `dialogue_id` after the webhook stored the message).
CREATE TRIGGER messages_stats_insert AFTER INSERT ON messages
WHEN NEW.direction = 'in' AND NEW.dialogue_id IS NOT NULL
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (NEW.dialogue_id, NEW.created_at / 3600000, 1, 0, 0, 0, 0, 0, 0);
END;

CREATE TRIGGER messages_stats_update AFTER UPDATE OF dialogue_id, direction, created_at ON messages
WHEN OLD.dialogue_id IS NOT NEW.dialogue_id OR OLD.direction IS NOT NEW.direction
    OR OLD.created_at IS NOT NEW.created_at
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT OLD.dialogue_id, OLD.created_at / 3600000, -1, 0, 0, 0, 0, 0, 0
    WHERE OLD.direction = 'in' AND OLD.dialogue_id IS NOT NULL
    UNION ALL
    SELECT NEW.dialogue_id, NEW.created_at / 3600000, 1, 0, 0, 0, 0, 0, 0
    WHERE NEW.direction = 'in' AND NEW.dialogue_id IS NOT NULL;
END;

CREATE TRIGGER messages_stats_delete AFTER DELETE ON messages
WHEN OLD.direction = 'in' AND OLD.dialogue_id IS NOT NULL
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (OLD.dialogue_id, OLD.created_at / 3600000, -1, 0, 0, 0, 0, 0, 0);
END;

-- Agreements: drafted at created_at, activated/expired/stopped at their times; an activated
-- agreement counts as active from activation until it stops.
CREATE TRIGGER agreements_stats_insert AFTER INSERT ON agreements
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT NEW.dialogue_id, NEW.created_at / 3600000, 0, 1, 0, 0, 0, 0, 0
    UNION ALL SELECT NEW.dialogue_id, NEW.activated_at / 3600000, 0, 0, 1, 0, 0, 1, 0
        WHERE NEW.activated_at IS NOT NULL
    UNION ALL SELECT NEW.dialogue_id, NEW.expired_at / 3600000, 0, 0, 0, 1, 0, 0, 0
        WHERE NEW.expired_at IS NOT NULL
    UNION ALL SELECT NEW.dialogue_id, NEW.stopped_at / 3600000, 0, 0, 0, 0, 1,
        CASE WHEN NEW.activated_at IS NOT NULL THEN -1 ELSE 0 END, 0
        WHERE NEW.stopped_at IS NOT NULL;
END;

CREATE TRIGGER agreements_stats_update
AFTER UPDATE OF dialogue_id, created_at, activated_at, expired_at, stopped_at ON agreements
WHEN OLD.dialogue_id IS NOT NEW.dialogue_id OR OLD.created_at IS NOT NEW.created_at
    OR OLD.activated_at IS NOT NEW.activated_at OR OLD.expired_at IS NOT NEW.expired_at
    OR OLD.stopped_at IS NOT NEW.stopped_at
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT OLD.dialogue_id, OLD.created_at / 3600000, 0, -1, 0, 0, 0, 0, 0
    UNION ALL SELECT OLD.dialogue_id, OLD.activated_at / 3600000, 0, 0, -1, 0, 0, -1, 0
        WHERE OLD.activated_at IS NOT NULL
    UNION ALL SELECT OLD.dialogue_id, OLD.expired_at / 3600000, 0, 0, 0, -1, 0, 0, 0
        WHERE OLD.expired_at IS NOT NULL
    UNION ALL SELECT OLD.dialogue_id, OLD.stopped_at / 3600000, 0, 0, 0, 0, -1,
        CASE WHEN OLD.activated_at IS NOT NULL THEN 1 ELSE 0 END, 0
        WHERE OLD.stopped_at IS NOT NULL
    UNION ALL SELECT NEW.dialogue_id, NEW.created_at / 3600000, 0, 1, 0, 0, 0, 0, 0
    UNION ALL SELECT NEW.dialogue_id, NEW.activated_at / 3600000, 0, 0, 1, 0, 0, 1, 0
        WHERE NEW.activated_at IS NOT NULL
    UNION ALL SELECT NEW.dialogue_id, NEW.expired_at / 3600000, 0, 0, 0, 1, 0, 0, 0
        WHERE NEW.expired_at IS NOT NULL
    UNION ALL SELECT NEW.dialogue_id, NEW.stopped_at / 3600000, 0, 0, 0, 0, 1,
        CASE WHEN NEW.activated_at IS NOT NULL THEN -1 ELSE 0 END, 0
        WHERE NEW.stopped_at IS NOT NULL;
END;

CREATE TRIGGER agreements_stats_delete AFTER DELETE ON agreements
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT OLD.dialogue_id, OLD.created_at / 3600000, 0, -1, 0, 0, 0, 0, 0
    UNION ALL SELECT OLD.dialogue_id, OLD.activated_at / 3600000, 0, 0, -1, 0, 0, -1, 0
        WHERE OLD.activated_at IS NOT NULL
    UNION ALL SELECT OLD.dialogue_id, OLD.expired_at / 3600000, 0, 0, 0, -1, 0, 0, 0
        WHERE OLD.expired_at IS NOT NULL
    UNION ALL SELECT OLD.dialogue_id, OLD.stopped_at / 3600000, 0, 0, 0, 0, -1,
        CASE WHEN OLD.activated_at IS NOT NULL THEN 1 ELSE 0 END, 0
        WHERE OLD.stopped_at IS NOT NULL;
END;

-- Charges: created at created_at; charged (CHARGED or later refunded, with its amount) or
-- FAILED by due date.
CREATE TRIGGER charges_stats_insert AFTER INSERT ON charges
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (NEW.dialogue_id, NEW.created_at / 3600000, 0, 0, 0, 0, 0, 0, 1);
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore)
    SELECT NEW.dialogue_id, NEW.due_date,
        NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED'),
        NEW.status = 'FAILED',
        CASE WHEN NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN NEW.amount_ore ELSE 0 END
    WHERE NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED');
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
        charges_failed, amount_charged_ore)
    SELECT OLD.dialogue_id, OLD.due_date,
        -(OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        -(OLD.status = 'FAILED'),
        CASE WHEN OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN -OLD.amount_ore ELSE 0 END
    WHERE OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED')
    UNION ALL SELECT NEW.dialogue_id, NEW.due_date,
        NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED'),
        NEW.status = 'FAILED',
        CASE WHEN NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN NEW.amount_ore ELSE 0 END
    WHERE NEW.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED');
END;

CREATE TRIGGER charges_stats_delete AFTER DELETE ON charges
BEGIN
    INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    VALUES (OLD.dialogue_id, OLD.created_at / 3600000, 0, 0, 0, 0, 0, 0, -1);
    INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged,
        charges_failed, amount_charged_ore)
    SELECT OLD.dialogue_id, OLD.due_date,
        -(OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        -(OLD.status = 'FAILED'),
        CASE WHEN OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN -OLD.amount_ore ELSE 0 END
    WHERE OLD.status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED');
END;

-- Counters for the rows that already exist.
INSERT INTO dialogue_stats_hourly_delta (dialogue_id, hour, keyword_messages,
    agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
    active_delta, charges_created)
SELECT dialogue_id, created_at / 3600000, 1, 0, 0, 0, 0, 0, 0
FROM messages WHERE direction = 'in' AND dialogue_id IS NOT NULL
UNION ALL SELECT dialogue_id, created_at / 3600000, 0, 1, 0, 0, 0, 0, 0 FROM agreements
UNION ALL SELECT dialogue_id, activated_at / 3600000, 0, 0, 1, 0, 0, 1, 0
    FROM agreements WHERE activated_at IS NOT NULL
UNION ALL SELECT dialogue_id, expired_at / 3600000, 0, 0, 0, 1, 0, 0, 0
    FROM agreements WHERE expired_at IS NOT NULL
UNION ALL SELECT dialogue_id, stopped_at / 3600000, 0, 0, 0, 0, 1,
    CASE WHEN activated_at IS NOT NULL THEN -1 ELSE 0 END, 0
    FROM agreements WHERE stopped_at IS NOT NULL
UNION ALL SELECT dialogue_id, created_at / 3600000, 0, 0, 0, 0, 0, 0, 1 FROM charges;

INSERT INTO dialogue_stats_due_delta (dialogue_id, due_date, charges_charged, charges_failed,
    amount_charged_ore)
SELECT dialogue_id, due_date, status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED'),
    status = 'FAILED',
    CASE WHEN status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN amount_ore ELSE 0 END
FROM charges WHERE status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED');
