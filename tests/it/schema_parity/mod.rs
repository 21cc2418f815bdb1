//! The two migration sets (`migrations/sqlite`, `migrations/postgres`) are kept by hand; this
//! test migrates a fresh database on each engine and compares what they built: our tables and
//! views, columns (type through the pairs in [`known::TYPES`], nullability, default), primary
//! keys, unique and other indexes by their columns, foreign keys, CHECK constraints (the
//! columns and literals they name) and trigger events. Differences on purpose are listed in
//! [`known::EXCEPTIONS`] with their reason.
//!
//! PostgreSQL is compared when `TEST_DATABASE_URL` is set (CI's PostgreSQL run). Every run,
//! SQLite's schema is also compared with `tests/it/snapshots/schema.txt`, the SQLite schema as
//! it was when last seen agreeing with PostgreSQL, so that the SQLite-only run catches a change
//! to one migration set too. The snapshot is written only by a run that compared both engines:
//! `UPDATE_SNAPSHOTS=1 TEST_DATABASE_URL=postgres://… cargo test --test it schema_parity`.

mod compare;
mod known;
mod model;
mod postgres;
mod sql_text;
mod sqlite;

use std::collections::BTreeSet;

use dialogpay::db::Db;

use crate::support::db::TestDb;

const SNAPSHOT: &str = "tests/it/snapshots/schema.txt";
const UPDATE_COMMAND: &str =
    "UPDATE_SNAPSHOTS=1 TEST_DATABASE_URL=postgres://… cargo test --test it schema_parity";

#[tokio::test]
async fn both_migration_sets_build_the_same_schema() {
    let sqlite = migrated(&TestDb::create_on(None).await).await;
    let mut failures = compare::unmapped_sqlite_types(&sqlite);
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    match TestDb::postgres_server() {
        Some(server) => {
            let postgres = migrated(&TestDb::create_on(Some(server)).await).await;
            failures.extend(parity_failures(&sqlite, &postgres));
        }
        None => {
            eprintln!(
                "schema parity: TEST_DATABASE_URL is unset, so PostgreSQL is not compared in \
                 this run (CI's PostgreSQL run compares it); SQLite is compared with {SNAPSHOT}"
            );
            assert!(
                !update,
                "{SNAPSHOT} is written only by a run that compares both engines: set \
                 TEST_DATABASE_URL too"
            );
        }
    }
    let current = model::lines(&sqlite);
    if update && failures.is_empty() {
        let text = format!(
            "# The SQLite schema as tests/it/schema_parity reads it, written by a run that found\n\
             # it equal to the PostgreSQL schema (up to schema_parity/known.rs). Not edited by\n\
             # hand: after changing both migration sets, {UPDATE_COMMAND}\n{}\n",
            current.join("\n")
        );
        std::fs::write(SNAPSHOT, text).expect("writes the schema snapshot");
    }
    failures.extend(snapshot_failures(&current));
    assert!(
        failures.is_empty(),
        "schema parity failed:\n  {}",
        failures.join("\n  ")
    );
}

/// The same version numbers and descriptions in both sets, so that a migration added to one
/// only is named before any database is built.
#[test]
fn both_migration_sets_have_the_same_versions() {
    let versions = |migrator: sqlx::migrate::Migrator| -> Vec<String> {
        migrator
            .iter()
            .map(|m| format!("{} {}", m.version, m.description))
            .collect()
    };
    assert_eq!(
        versions(sqlx::migrate!("./migrations/sqlite")),
        versions(sqlx::migrate!("./migrations/postgres")),
        "migrations/sqlite and migrations/postgres list different migrations"
    );
}

async fn migrated(test_db: &TestDb) -> model::Schema {
    let db = test_db.connect().await;
    db.migrate().await.expect("migrates the test database");
    match &db {
        Db::Sqlite(pool) => sqlite::read(pool).await,
        Db::Postgres(pool) => postgres::read(pool).await,
    }
}

/// Every difference not in [`known::EXCEPTIONS`], and every exception that no longer matches
/// a difference (so that the list stays true).
fn parity_failures(sqlite: &model::Schema, postgres: &model::Schema) -> Vec<String> {
    let differences = compare::differences(sqlite, postgres);
    let excepted = |d: &&compare::Difference| {
        known::EXCEPTIONS
            .iter()
            .any(|e| e.keys.contains(&d.key.as_str()))
    };
    for exception in known::EXCEPTIONS {
        let matched: Vec<String> = differences
            .iter()
            .filter(|d| exception.keys.contains(&d.key.as_str()))
            .map(|d| d.to_string())
            .collect();
        if !matched.is_empty() {
            eprintln!(
                "schema parity, on purpose ({}):\n    {}",
                exception.reason,
                matched.join("\n    ")
            );
        }
    }
    let mut unexpected: Vec<String> = differences
        .iter()
        .filter(|d| !excepted(d))
        .map(|d| d.to_string())
        .collect();
    let found: BTreeSet<&str> = differences.iter().map(|d| d.key.as_str()).collect();
    let excepted: BTreeSet<&str> = known::EXCEPTIONS
        .iter()
        .flat_map(|e| e.keys.iter().copied())
        .collect();
    let stale = excepted.difference(&found).map(|key| {
        format!("{key}: listed in known::EXCEPTIONS but the engines agree now (remove it)")
    });
    unexpected.extend(stale);
    unexpected
}

/// The lines SQLite's schema adds to or lacks from the snapshot.
fn snapshot_failures(current: &[String]) -> Vec<String> {
    let Ok(stored) = std::fs::read_to_string(SNAPSHOT) else {
        return vec![format!("{SNAPSHOT} is missing; {UPDATE_COMMAND} writes it")];
    };
    let stored: BTreeSet<&str> = stored
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let current: BTreeSet<&str> = current.iter().map(String::as_str).collect();
    let added = current
        .difference(&stored)
        .map(|l| format!("{l}: in SQLite's schema, not in {SNAPSHOT}"));
    let removed = stored
        .difference(&current)
        .map(|l| format!("{l}: in {SNAPSHOT}, not in SQLite's schema"));
    let mut out: Vec<String> = added.chain(removed).collect();
    if !out.is_empty() {
        out.push(format!(
            "(the snapshot is SQLite's schema as last seen agreeing with PostgreSQL; after \
             changing both migration sets: {UPDATE_COMMAND})"
        ));
    }
    out
}
