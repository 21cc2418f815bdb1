-- Foundation: partners, CRM groups with versioned terms, dialogues, agreements (filled by the
-- keyword journey), CRM members and the audit log. Times are BIGINT milliseconds since the
-- epoch; dates are DATE (Europe/Oslo calendar dates); money is BIGINT øre.

CREATE TABLE partners (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    vipps_msn     TEXT NOT NULL,
    api_key_hash  TEXT NOT NULL UNIQUE,
    api_key_hint  TEXT NOT NULL,
    help_text     TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE crm_groups (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners(id),
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (partner_id, name)
);

CREATE TABLE terms_versions (
    crm_group_id  TEXT NOT NULL REFERENCES crm_groups(id),
    version       INTEGER NOT NULL,
    text          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    PRIMARY KEY (crm_group_id, version)
);

CREATE TABLE dialogues (
    id                   TEXT PRIMARY KEY,
    partner_id           TEXT NOT NULL REFERENCES partners(id),
    name                 TEXT NOT NULL,
    crm_group_id         TEXT NOT NULL REFERENCES crm_groups(id),
    start_date           DATE NOT NULL,
    end_date             DATE NOT NULL,
    module_type          TEXT NOT NULL,
    recurring            BOOLEAN NOT NULL,
    period               TEXT NOT NULL CHECK (period IN ('week', 'month', 'year')),
    product_name         TEXT NOT NULL,
    product_description  TEXT NOT NULL,
    amount_ore           BIGINT NOT NULL CHECK (amount_ore >= 100),
    sender               TEXT NOT NULL,
    reply_message        TEXT NOT NULL,
    keyword              TEXT NOT NULL,
    archived_at          BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX dialogues_partner ON dialogues (partner_id, id);
CREATE INDEX dialogues_live_keyword ON dialogues (sender, keyword) WHERE archived_at IS NULL;

CREATE TABLE agreements (
    id                  TEXT PRIMARY KEY,
    partner_id          TEXT NOT NULL REFERENCES partners(id),
    dialogue_id         TEXT NOT NULL REFERENCES dialogues(id),
    phone               TEXT NOT NULL,
    status              TEXT NOT NULL,
    stopped_by          TEXT,
    vipps_agreement_id  TEXT UNIQUE,
    confirmation_url    TEXT,
    inbound_message_id  TEXT,
    manage_token        TEXT NOT NULL UNIQUE,
    created_at          BIGINT NOT NULL,
    activated_at        BIGINT,
    stopped_at          BIGINT,
    expired_at          BIGINT,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX agreements_dialogue ON agreements (dialogue_id, status);
CREATE INDEX agreements_phone ON agreements (phone, dialogue_id);

CREATE TABLE crm_members (
    id                  TEXT PRIMARY KEY,
    crm_group_id        TEXT NOT NULL REFERENCES crm_groups(id),
    phone               TEXT NOT NULL,
    terms_version       INTEGER NOT NULL,
    agreement_id        TEXT REFERENCES agreements(id),
    inbound_message_id  TEXT,
    joined_at           BIGINT NOT NULL,
    left_at             BIGINT,
    left_reason         TEXT
);
CREATE INDEX crm_members_group ON crm_members (crm_group_id, id);

CREATE TABLE audit_log (
    id           BIGSERIAL PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    partner_id   TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    details      TEXT
);
CREATE INDEX audit_log_partner ON audit_log (partner_id, id);

-- Admin listing by queue and status, newest first, and the retention sweep.
CREATE INDEX IF NOT EXISTS dialogpay_jobs_admin ON apalis.jobs (job_type, status, id);
CREATE INDEX IF NOT EXISTS dialogpay_jobs_done_at ON apalis.jobs (done_at) WHERE status IN ('Done', 'Killed');
