-- The charges' statistics counters (migration 0005, 0009) on INSERT once per statement instead
-- of once per row: the billing preparation inserts a chunk of charges in one statement
-- (`unnest`), whose rows share a few counter rows (one dialogue, one hour, one due date), and a
-- row trigger upserted the same counter row once per charge. The statement's new rows are
-- summed by counter row and added in one upsert per counters table; each contribution is the
-- one dialogue_stats_charge(c, 1) adds, so the counters are the same. DELETE and UPDATE keep
-- the row trigger (they remove the old row's contribution).

CREATE FUNCTION dialogue_stats_charges_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dialogue_stats_hourly (dialogue_id, hour, shard, charges_created)
    SELECT dialogue_id, created_at / 3600000, pg_backend_pid() % 32, count(*)
    FROM new_charges
    WHERE created_at IS NOT NULL AND dialogue_id IS NOT NULL
    GROUP BY dialogue_id, created_at / 3600000
    ON CONFLICT (dialogue_id, hour, shard) DO UPDATE SET
        charges_created = dialogue_stats_hourly.charges_created + excluded.charges_created;

    INSERT INTO dialogue_stats_due (dialogue_id, due_date, shard, charges_charged,
        charges_failed, amount_charged_ore, charges_cancelled)
    SELECT dialogue_id, due_date, pg_backend_pid() % 32,
        count(*) FILTER (WHERE status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')),
        count(*) FILTER (WHERE status = 'FAILED'),
        COALESCE(SUM(amount_ore) FILTER (WHERE status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED')), 0)::bigint,
        count(*) FILTER (WHERE status = 'CANCELLED')
    FROM new_charges
    WHERE status IN ('CHARGED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'FAILED', 'CANCELLED')
    GROUP BY dialogue_id, due_date
    ON CONFLICT (dialogue_id, due_date, shard) DO UPDATE SET
        charges_charged = dialogue_stats_due.charges_charged + excluded.charges_charged,
        charges_failed = dialogue_stats_due.charges_failed + excluded.charges_failed,
        amount_charged_ore = dialogue_stats_due.amount_charged_ore + excluded.amount_charged_ore,
        charges_cancelled = dialogue_stats_due.charges_cancelled + excluded.charges_cancelled;
    RETURN NULL;
END $$;

DROP TRIGGER charges_stats_insert ON charges;
CREATE TRIGGER charges_stats_delete AFTER DELETE ON charges
    FOR EACH ROW EXECUTE FUNCTION dialogue_stats_charges_trigger();
CREATE TRIGGER charges_stats_insert AFTER INSERT ON charges
    REFERENCING NEW TABLE AS new_charges
    FOR EACH STATEMENT EXECUTE FUNCTION dialogue_stats_charges_inserted();
