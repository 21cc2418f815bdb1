-- The agreements' statistics counters (migration 0005) on INSERT once per statement instead of
-- once per row, as 0013 did for charges: a bulk insert of agreements (one statement per chunk)
-- upserted the same counter row once per agreement, about 300 µs a row. The statement's new
-- rows are summed by counter row and added in one upsert; each row's contribution is the one
-- dialogue_stats_agreement(a, 1) adds (drafted at created_at; activated and +1 active at
-- activated_at; expired at expired_at; stopped at stopped_at, -1 active if it had been
-- activated), so the counters are the same. DELETE and UPDATE keep the row trigger (they
-- remove the old row's contribution).

CREATE FUNCTION dialogue_stats_agreements_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dialogue_stats_hourly (dialogue_id, hour, shard, agreements_drafted,
        agreements_activated, agreements_expired, agreements_stopped, active_delta)
    SELECT dialogue_id, at_ms / 3600000, pg_backend_pid() % 32,
        sum(drafted), sum(activated), sum(expired), sum(stopped), sum(active)
    FROM (
        SELECT dialogue_id, created_at AS at_ms, 1 AS drafted, 0 AS activated, 0 AS expired,
            0 AS stopped, 0 AS active
        FROM new_agreements
        UNION ALL
        SELECT dialogue_id, activated_at, 0, 1, 0, 0, 1 FROM new_agreements
        UNION ALL
        SELECT dialogue_id, expired_at, 0, 0, 1, 0, 0 FROM new_agreements
        UNION ALL
        SELECT dialogue_id, stopped_at, 0, 0, 0, 1,
            CASE WHEN activated_at IS NOT NULL THEN -1 ELSE 0 END
        FROM new_agreements
    ) contributions
    WHERE at_ms IS NOT NULL AND dialogue_id IS NOT NULL
    GROUP BY dialogue_id, at_ms / 3600000
    ON CONFLICT (dialogue_id, hour, shard) DO UPDATE SET
        agreements_drafted = dialogue_stats_hourly.agreements_drafted + excluded.agreements_drafted,
        agreements_activated = dialogue_stats_hourly.agreements_activated + excluded.agreements_activated,
        agreements_expired = dialogue_stats_hourly.agreements_expired + excluded.agreements_expired,
        agreements_stopped = dialogue_stats_hourly.agreements_stopped + excluded.agreements_stopped,
        active_delta = dialogue_stats_hourly.active_delta + excluded.active_delta;
    RETURN NULL;
END $$;

DROP TRIGGER agreements_stats_insert ON agreements;
CREATE TRIGGER agreements_stats_delete AFTER DELETE ON agreements
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_agreements_trigger();
CREATE TRIGGER agreements_stats_insert AFTER INSERT ON agreements
    REFERENCING NEW TABLE AS new_agreements
    FOR EACH STATEMENT EXECUTE FUNCTION dialogue_stats_agreements_inserted();
