-- The operator console's people: operators (not of any partner), the one-time links that set
-- their passwords and their sessions, kept apart from the portal's so that a partner user's
-- session is never an operator's. Refused console logins count in portal_login_failures, with
-- the portal's (the same limits per address typed and per client address). Secrets are stored
-- only as SHA-256 hashes; passwords as Argon2id PHC strings.

CREATE TABLE operators (
    id               TEXT PRIMARY KEY,
    -- Lower-cased.
    email            TEXT NOT NULL UNIQUE,
    -- A read-only operator sees everything and changes nothing.
    read_only        BOOLEAN NOT NULL,
    -- NULL until the operator follows a set-password link.
    password_hash    TEXT,
    created_at       BIGINT NOT NULL,
    password_set_at  BIGINT
);

-- Single use: used_at is set in the transaction that sets the password.
CREATE TABLE operator_password_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX operator_password_links_user ON operator_password_links (user_id);

-- As portal_sessions (the same expiry settings).
CREATE TABLE operator_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX operator_sessions_user ON operator_sessions (user_id);
CREATE INDEX operator_sessions_last_seen ON operator_sessions (last_seen_at);
