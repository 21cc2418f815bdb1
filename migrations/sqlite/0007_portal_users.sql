-- The partner portal's people: users of one partner each, the one-time links that set their
-- passwords, their sessions and the failed logins that rate-limit the login form. Secrets (link
-- and session tokens) are stored only as SHA-256 hashes; passwords as Argon2id PHC strings.

CREATE TABLE portal_users (
    id               TEXT NOT NULL PRIMARY KEY,
    partner_id       TEXT NOT NULL REFERENCES partners(id),
    -- Lower-cased; one user per address across partners (logging in names no partner).
    email            TEXT NOT NULL UNIQUE,
    -- NULL until the user follows a set-password link.
    password_hash    TEXT,
    created_at       BIGINT NOT NULL,
    password_set_at  BIGINT
);
CREATE INDEX portal_users_partner ON portal_users (partner_id, id);

-- Single use: used_at is set in the transaction that sets the password.
CREATE TABLE portal_password_links (
    token_hash  TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES portal_users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX portal_password_links_user ON portal_password_links (user_id);

-- In the database so that every api process knows every session; logout deletes the row.
-- Idle expiry is last_seen_at + portal.session_idle_minutes, absolute expiry created_at +
-- portal.session_absolute_hours.
CREATE TABLE portal_sessions (
    token_hash    TEXT NOT NULL PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES portal_users(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL
);
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_last_seen ON portal_sessions (last_seen_at);

-- One row per refused login, counted per address typed and per client address over
-- portal.login_window_minutes; older rows are deleted as new ones arrive.
CREATE TABLE portal_login_failures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    email        TEXT NOT NULL,
    client_addr  TEXT NOT NULL
);
CREATE INDEX portal_login_failures_email ON portal_login_failures (email, at);
CREATE INDEX portal_login_failures_addr ON portal_login_failures (client_addr, at);
CREATE INDEX portal_login_failures_at ON portal_login_failures (at);
