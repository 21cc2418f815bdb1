//! What the parity check accepts as the same, and where the two migration sets differ on
//! purpose. A newcomer reads this file to learn how the engines' schemas relate; a change that
//! makes them differ adds a line here with its reason, or it fails the test.

/// A SQLite column type and the PostgreSQL type the code treats as the same.
pub struct TypePair {
    pub sqlite: &'static str,
    pub postgres: &'static str,
    #[expect(
        dead_code,
        reason = "read by people: why the pair is the same to the code"
    )]
    pub why: &'static str,
}

const fn pair(sqlite: &'static str, postgres: &'static str, why: &'static str) -> TypePair {
    TypePair {
        sqlite,
        postgres,
        why,
    }
}

/// Every column type in use. A type in no row fails the test: map it here with its reason.
pub const TYPES: &[TypePair] = &[
    pair("TEXT", "text", "strings"),
    pair(
        "TEXT",
        "date",
        "calendar dates: SQLite has no date type; sqlx writes chrono::NaiveDate as 'YYYY-MM-DD'",
    ),
    pair(
        "BIGINT",
        "bigint",
        "times (ms since the epoch), money (øre), counters: i64",
    ),
    pair(
        "INTEGER",
        "integer",
        "versions, period indexes, segment and part numbers: i32",
    ),
    pair(
        "BOOLEAN",
        "boolean",
        "flags: SQLite stores 0/1, sqlx reads bool on both",
    ),
    pair(
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "bigserial",
        "generated i64 ids that are never reused (SQLite's rowid without AUTOINCREMENT may be)",
    ),
];

pub fn type_pair(sqlite: &str, postgres: &str) -> Option<&'static TypePair> {
    TYPES
        .iter()
        .find(|p| p.sqlite == sqlite && p.postgres == postgres)
}

/// Differences on purpose (or found and not yet fixed), by the key the failure message prints.
pub struct Exception {
    pub keys: &'static [&'static str],
    pub reason: &'static str,
}

pub const EXCEPTIONS: &[Exception] = &[
    Exception {
        keys: &["dialogue_stats_hourly_delta", "dialogue_stats_due_delta"],
        reason: "SQLite adds to the stats counters by INSERTing into these views (an INSTEAD OF \
                 trigger upserts); PostgreSQL calls the functions dialogue_stats_*_add instead",
    },
    Exception {
        keys: &[
            "charges trigger AFTER INSERT",
            "charges trigger AFTER INSERT per statement",
        ],
        reason: "PostgreSQL adds a charge INSERT's statistics once per statement (migration \
                 0013: the billing preparation inserts a chunk of charges in one statement); \
                 SQLite has row triggers only, and the same contributions per row",
    },
    Exception {
        keys: &[
            "agreements trigger AFTER INSERT",
            "agreements trigger AFTER INSERT per statement",
        ],
        reason: "PostgreSQL adds an agreement INSERT's statistics once per statement (migration \
                 0014: bulk inserts of agreements); SQLite has row triggers only, and the same \
                 contributions per row",
    },
    Exception {
        keys: &[
            "agreements.id nullability",
            "charges.id nullability",
            "crm_groups.id nullability",
            "crm_members.id nullability",
            "dialogues.id nullability",
            "messages.id nullability",
            "partners.id nullability",
            "vipps_events.id nullability",
            "vipps_webhooks.id nullability",
        ],
        reason: "drift found: SQLite lets a TEXT PRIMARY KEY hold NULL (a legacy quirk) where \
                 PostgreSQL's is NOT NULL; the code always writes ids, and making them NOT NULL \
                 on SQLite means rebuilding each table. New tables write `id TEXT NOT NULL \
                 PRIMARY KEY`",
    },
];

// Not compared at all, on purpose:
// - apalis's own tables (SQLite `Jobs`, `Workers`, `_sqlx_migrations`; PostgreSQL's `apalis`
//   schema) except our `dialogpay_*` indexes on the jobs table, and SQLite's `DROP INDEX LIdx`,
//   a fix to apalis-sqlite's index that apalis-postgres does not have (docs/apalis-1.0.md).
// - PostgreSQL functions (the stats counters' `dialogue_stats_*`): SQLite has none; its
//   triggers do the same work through the views above. The triggers' events are compared,
//   their bodies and WHEN conditions are not.
// - The `shard` column of the stats tables exists on both; only its value differs (always 0 on
//   SQLite, the backend pid modulo 32 on PostgreSQL).
// - The operators in CHECK constraints and partial-index predicates: they are compared by the
//   columns and literals they name (`on (period) values ('week', 'month', 'year')`), since
//   PostgreSQL rewrites `a IN (…)` as `a = ANY (ARRAY[…])`.
// - Index names (PostgreSQL names UNIQUE constraints `<table>_<columns>_key`, SQLite
//   `sqlite_autoindex_<table>_<n>`): indexes are compared by their columns.
