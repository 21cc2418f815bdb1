-- The Messages tab's phone filter (from_addr = phone OR to_addr = phone): one index per side,
-- so that a phone's messages are found without reading the partner's every message.
CREATE INDEX messages_from_addr ON messages (from_addr, id);
CREATE INDEX messages_to_addr ON messages (to_addr, id);
