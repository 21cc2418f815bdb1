-- Receipts and failed-payment notices by SMS (issue 16, part 2). A dialogue may carry a text
-- for each (NULL: not sent). A notice is a message `out` tied to its charge, at most one per
-- charge and purpose (a re-read of the charge, a retried job or a crash and restart write it
-- once).
ALTER TABLE dialogues ADD COLUMN receipt_message TEXT;
ALTER TABLE dialogues ADD COLUMN failure_message TEXT;
ALTER TABLE messages ADD COLUMN charge_id TEXT REFERENCES charges(id);
CREATE UNIQUE INDEX messages_notice_once ON messages (charge_id, outcome) WHERE charge_id IS NOT NULL;
