-- Pause and resume (issue 16, part 4). Vipps has no pause of its own: the agreement stays
-- ACTIVE at Vipps, and the sweep records each of its periods below `paused_until_period` as
-- skipped instead of creating a charge (the period moves on as after a charge, in the same
-- transaction, so a skipped period is never charged later). START or the partner's resume
-- clears the pause; skipped periods stay in the agreement's history.
ALTER TABLE agreements ADD COLUMN paused_until_period INTEGER;
ALTER TABLE agreements ADD COLUMN paused_at BIGINT;
-- `domain::status::PauseActor`: user (PAUSE by SMS) or partner (portal, API).
ALTER TABLE agreements ADD COLUMN paused_by TEXT CHECK (paused_by IN ('user', 'partner'));
CREATE TABLE skipped_periods (
    agreement_id  TEXT NOT NULL REFERENCES agreements(id),
    dialogue_id   TEXT NOT NULL REFERENCES dialogues(id),
    period_index  INTEGER NOT NULL,
    due_date      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (agreement_id, period_index)
);
-- A dialogue's skipped periods by due date (its figures for a period).
CREATE INDEX skipped_periods_dialogue ON skipped_periods (dialogue_id, due_date);
-- A dialogue's paused agreements (its figures: paused now).
CREATE INDEX agreements_paused ON agreements (dialogue_id) WHERE paused_until_period IS NOT NULL;
