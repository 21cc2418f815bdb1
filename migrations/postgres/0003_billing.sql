-- Billing: each ACTIVE agreement knows its next uncharged period and when it is due, so the
-- sweep is one indexed range scan however many agreements there are.
ALTER TABLE agreements ADD COLUMN anchor_date DATE;
ALTER TABLE agreements ADD COLUMN next_period_index INTEGER;
ALTER TABLE agreements ADD COLUMN next_due_date DATE;
CREATE INDEX agreements_billing ON agreements (status, next_due_date, id);
CREATE INDEX charges_open ON charges (status, due_date);
CREATE INDEX charges_vipps_id ON charges (vipps_charge_id);
-- Statistics per dialogue and period.
CREATE INDEX messages_dialogue_time ON messages (dialogue_id, direction, created_at);
CREATE INDEX agreements_dialogue_created ON agreements (dialogue_id, created_at);
-- Covering (amount_ore included), so the figures never touch the table rows.
CREATE INDEX charges_dialogue_due ON charges (dialogue_id, due_date, status, amount_ore);
