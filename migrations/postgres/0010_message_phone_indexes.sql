-- The Messages tab's phone filter: a phone's messages in, and out, each in id order within the
-- partner, so that db::messages::list reads the newest of each side and merges them (an OR of
-- the two columns would let the planner walk the partner's every message instead).
CREATE INDEX messages_partner_from ON messages (partner_id, from_addr, id);
CREATE INDEX messages_partner_to ON messages (partner_id, to_addr, id);
