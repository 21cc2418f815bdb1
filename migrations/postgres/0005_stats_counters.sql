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
-- contribution and adds the new one's, so the counters are exact whatever path writes the rows.
-- `shard` is the writing backend's pid modulo 32: concurrent transactions (a keyword burst on
-- one dialogue) update different counter rows instead of queueing on one row lock, and one
-- transaction always writes the same shard.

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
    due_date            DATE NOT NULL,
    shard               INTEGER NOT NULL,
    charges_charged     BIGINT NOT NULL DEFAULT 0,
    charges_failed      BIGINT NOT NULL DEFAULT 0,
    amount_charged_ore  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dialogue_id, due_date, shard)
);

-- Adds one delta to the hourly counters; `at_ms` NULL adds nothing.
CREATE FUNCTION dialogue_stats_hourly_add(
    p_dialogue TEXT, at_ms BIGINT, d_keyword BIGINT, d_drafted BIGINT, d_activated BIGINT,
    d_expired BIGINT, d_stopped BIGINT, d_active BIGINT, d_charges BIGINT
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dialogue_stats_hourly (dialogue_id, hour, shard, keyword_messages,
        agreements_drafted, agreements_activated, agreements_expired, agreements_stopped,
        active_delta, charges_created)
    SELECT p_dialogue, at_ms / 3600000, pg_backend_pid() % 32, d_keyword, d_drafted,
        d_activated, d_expired, d_stopped, d_active, d_charges
    WHERE at_ms IS NOT NULL AND p_dialogue IS NOT NULL
    ON CONFLICT (dialogue_id, hour, shard) DO UPDATE SET
        keyword_messages = dialogue_stats_hourly.keyword_messages + excluded.keyword_messages,
        agreements_drafted = dialogue_stats_hourly.agreements_drafted + excluded.agreements_drafted,
        agreements_activated = dialogue_stats_hourly.agreements_activated + excluded.agreements_activated,
        agreements_expired = dialogue_stats_hourly.agreements_expired + excluded.agreements_expired,
        agreements_stopped = dialogue_stats_hourly.agreements_stopped + excluded.agreements_stopped,
        active_delta = dialogue_stats_hourly.active_delta + excluded.active_delta,
        charges_created = dialogue_stats_hourly.charges_created + excluded.charges_created;
$$;

-- Adds one charge's outcome (sign +1 or -1) to the counters of its due date.
CREATE FUNCTION dialogue_stats_due_add(p_dialogue TEXT, p_due DATE, p_status TEXT,
    p_amount BIGINT, sign INTEGER) RETURNS void LANGUAGE sql AS $$
    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, charges_charged,
        charges_failed, amount_charged_ore)
    SELECT p_dialogue, p_due, pg_backend_pid() % 32,
        CASE WHEN p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN sign ELSE 0 END,
        CASE WHEN p_status = 'FAILED' THEN sign ELSE 0 END,
        CASE WHEN p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED') THEN sign * p_amount ELSE 0 END
    WHERE p_status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED')
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        charges_charged = dialogue_stats_due.charges_charged + excluded.charges_charged,
        charges_failed = dialogue_stats_due.charges_failed + excluded.charges_failed,
        amount_charged_ore = dialogue_stats_due.amount_charged_ore + excluded.amount_charged_ore;
$$;

-- One message's contribution: inbound messages attributed to a dialogue.
CREATE FUNCTION dialogue_stats_message(m messages, sign INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF m.direction = 'in' AND m.dialogue_id IS NOT NULL THEN
        PERFORM dialogue_stats_hourly_add(m.dialogue_id, m.created_at, sign, 0, 0, 0, 0, 0, 0);
    END IF;
END $$;

-- One agreement's contribution: drafted, activated, expired, stopped, active in between.
CREATE FUNCTION dialogue_stats_agreement(a agreements, sign INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dialogue_stats_hourly_add(a.dialogue_id, a.created_at, 0, sign, 0, 0, 0, 0, 0);
    PERFORM dialogue_stats_hourly_add(a.dialogue_id, a.activated_at, 0, 0, sign, 0, 0, sign, 0);
    PERFORM dialogue_stats_hourly_add(a.dialogue_id, a.expired_at, 0, 0, 0, sign, 0, 0, 0);
    PERFORM dialogue_stats_hourly_add(a.dialogue_id, a.stopped_at, 0, 0, 0, 0, sign,
        CASE WHEN a.activated_at IS NOT NULL THEN -sign ELSE 0 END, 0);
END $$;

-- One charge's contribution: created, and its outcome on its due date.
CREATE FUNCTION dialogue_stats_charge(c charges, sign INTEGER) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dialogue_stats_hourly_add(c.dialogue_id, c.created_at, 0, 0, 0, 0, 0, 0, sign);
    PERFORM dialogue_stats_due_add(c.dialogue_id, c.due_date, c.status, c.amount_ore, sign);
END $$;

CREATE FUNCTION dialogue_stats_messages_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dialogue_stats_message(OLD, -1); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM dialogue_stats_message(NEW, 1); END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION dialogue_stats_agreements_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dialogue_stats_agreement(OLD, -1); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM dialogue_stats_agreement(NEW, 1); END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION dialogue_stats_charges_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM dialogue_stats_charge(OLD, -1); END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN PERFORM dialogue_stats_charge(NEW, 1); END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER messages_stats_insert AFTER INSERT OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_messages_trigger();
CREATE TRIGGER messages_stats_update AFTER UPDATE OF dialogue_id, direction, created_at ON messages
    FOR EACH ROW
    WHEN (OLD.dialogue_id IS DISTINCT FROM NEW.dialogue_id OR OLD.direction IS DISTINCT FROM NEW.direction
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION dialogue_stats_messages_trigger();

CREATE TRIGGER agreements_stats_insert AFTER INSERT OR DELETE ON agreements
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_agreements_trigger();
CREATE TRIGGER agreements_stats_update
    AFTER UPDATE OF dialogue_id, created_at, activated_at, expired_at, stopped_at ON agreements
    FOR EACH ROW
    WHEN (OLD.dialogue_id IS DISTINCT FROM NEW.dialogue_id OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.activated_at IS DISTINCT FROM NEW.activated_at
          OR OLD.expired_at IS DISTINCT FROM NEW.expired_at
          OR OLD.stopped_at IS DISTINCT FROM NEW.stopped_at)
    EXECUTE FUNCTION dialogue_stats_agreements_trigger();

CREATE TRIGGER charges_stats_insert AFTER INSERT OR DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_charges_trigger();
CREATE TRIGGER charges_stats_update
    AFTER UPDATE OF dialogue_id, created_at, due_date, amount_ore, status ON charges
    FOR EACH ROW
    WHEN (OLD.dialogue_id IS DISTINCT FROM NEW.dialogue_id OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.due_date IS DISTINCT FROM NEW.due_date OR OLD.amount_ore IS DISTINCT FROM NEW.amount_ore
          OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION dialogue_stats_charges_trigger();

-- Counters for the rows that already exist.
SELECT dialogue_stats_message(m, 1) FROM messages m;
SELECT dialogue_stats_agreement(a, 1) FROM agreements a;
SELECT dialogue_stats_charge(c, 1) FROM charges c;
