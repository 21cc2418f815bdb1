-- Delivery reports per part of a split message (LINK reports `id$n` for each part); the
-- message's status is the combination of its parts' statuses.
CREATE TABLE message_parts (
    message_id  TEXT NOT NULL REFERENCES messages(id),
    part        INTEGER NOT NULL,
    status      TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (message_id, part)
);
