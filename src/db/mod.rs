//! The one place with SQL: a [`Db`] handle over SQLite or PostgreSQL, migrations, one
//! repository module per aggregate, and [`queue`] for every statement on the job tables.
//!
//! Queries are written once in the common dialect (`$1` placeholders work on both engines,
//! timestamps are `BIGINT` milliseconds since the epoch, dates are `YYYY-MM-DD`) and run through
//! [`with_pool!`]/[`with_tx!`], which expand the same code for each engine. apalis's job tables
//! differ between the engines, so [`queue`] holds its statements once per dialect.

pub mod agreements;
pub mod audit;
pub mod billing_runs;
pub mod bulk;
pub mod charges;
pub mod crm;
pub mod dialogues;
pub mod enqueue;
pub mod group_commit;
pub mod ids;
pub mod login_failures;
pub mod messages;
pub mod operators;
pub mod parked_reports;
pub mod partners;
pub mod queue;
pub mod refunds;
pub mod sessions;
pub mod stats;
pub mod types;
pub mod users;
pub mod vipps_events;
pub mod webhooks;
pub mod write_gate;

/// The operator's job view, at the short path the API and the tests use.
pub use queue::jobs;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::{DatabaseSettings, SqliteSynchronous as SyncSetting, sqlite_parent_dir};

/// A pool on one of the two supported engines.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on one of the two engines; on SQLite with this process's turn to write
/// ([`write_gate`]), given back when the transaction ends.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>, write_gate::Turn),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same query code against whichever pool `db` holds: `with_pool!(db, |p| q.fetch_all(p))`.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs the same query code inside an open [`Tx`]: `with_tx!(tx, |c| q.execute(c))`.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// Our own migrations live in their own table so that they never clash with apalis's
/// `_sqlx_migrations` in the same SQLite file (see docs/apalis-1.0.md).
const MIGRATIONS_TABLE: &str = "_dialogpay_migrations";

/// The write gate's timeout for a database [`Db::connect`] did not open (the busy timeout's
/// default); `connect` gives each file's gate `database.busy_timeout_ms`.
const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Db {
    /// Connects with the settings' durability and timeout rules (SQLite: WAL, foreign keys on,
    /// busy timeout, `synchronous` NORMAL or FULL, never OFF). Creates the SQLite folder and file.
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let url = settings.url.as_str();
        if url.starts_with("postgres") {
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .context("connecting to PostgreSQL (database.url)")?;
            return Ok(Db::Postgres(pool));
        }
        if let Some(dir) = sqlite_parent_dir(url) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the database folder {}", dir.display()))?;
        }
        let synchronous = match settings.sqlite_synchronous {
            SyncSetting::Normal => SqliteSynchronous::Normal,
            SyncSetting::Full => SqliteSynchronous::Full,
        };
        let options = SqliteConnectOptions::from_str(url)
            .context("parsing database.url")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(settings.busy_timeout_ms))
            .pragma("temp_store", "MEMORY")
            .pragma(
                "cache_size",
                format!("-{}", u64::from(settings.sqlite_cache_mib) * 1024),
            );
        let busy_timeout = Duration::from_millis(settings.busy_timeout_ms);
        write_gate::for_file(options.get_filename().to_owned(), busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .context("opening the SQLite database (database.url)")?;
        Ok(Db::Sqlite(pool))
    }

    /// Applies apalis's job-table migrations, then ours, then the fixes for apalis's defects.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool) => {
                // Not `SqliteStorage::setup()`: it sets `synchronous=OFF` on a pooled connection.
                let mut apalis = apalis_sqlite::SqliteStorage::migrations();
                apalis.set_ignore_missing(true);
                apalis
                    .run(pool)
                    .await
                    .context("applying apalis-sqlite migrations")?;
                let mut ours = sqlx::migrate!("./migrations/sqlite");
                ours.dangerous_set_table_name(MIGRATIONS_TABLE);
                ours.run(pool)
                    .await
                    .context("applying dialogpay SQLite migrations")?;
            }
            Db::Postgres(pool) => {
                sqlx::query("CREATE EXTENSION IF NOT EXISTS hstore")
                    .execute(pool)
                    .await
                    .context("creating the hstore extension apalis-postgres needs")?;
                apalis_postgres::PostgresStorage::setup(pool)
                    .await
                    .context("applying apalis-postgres migrations")?;
                let mut ours = sqlx::migrate!("./migrations/postgres");
                ours.dangerous_set_table_name(MIGRATIONS_TABLE);
                ours.run(pool)
                    .await
                    .context("applying dialogpay PostgreSQL migrations")?;
            }
        }
        Ok(())
    }

    /// Readies the schema at start: migrates when `database.migrate_on_start`, else checks it.
    pub async fn prepare(&self, settings: &DatabaseSettings) -> anyhow::Result<()> {
        if settings.migrate_on_start {
            self.migrate().await
        } else {
            self.check_schema().await
        }
    }

    /// Refuses a database this binary cannot run on: our schema older than this binary
    /// needs, or apalis's job tables missing a migration, is an error that says to run
    /// `dialogpay migrate`; a newer schema (a rolling deploy, where the new binary migrated
    /// first) is only logged, since migrations add and never take away.
    pub async fn check_schema(&self) -> anyhow::Result<()> {
        let (ours, apalis) = match self {
            Db::Sqlite(_) => (
                sqlx::migrate!("./migrations/sqlite"),
                apalis_sqlite::SqliteStorage::<()>::migrations(),
            ),
            Db::Postgres(_) => (
                sqlx::migrate!("./migrations/postgres"),
                apalis_postgres::PostgresStorage::<()>::migrations(),
            ),
        };
        let needed = ours.iter().map(|m| m.version).max().unwrap_or(0);
        let at = self
            .applied_versions(MIGRATIONS_TABLE)
            .await
            .context("reading the schema version")?
            .into_iter()
            .max()
            .unwrap_or(0);
        // apalis-postgres keeps its migrations table in its own schema.
        let apalis_table = match self {
            Db::Sqlite(_) => "_sqlx_migrations",
            Db::Postgres(_) => "apalis._sqlx_migrations",
        };
        let apalis_applied = self
            .applied_versions(apalis_table)
            .await
            .context("reading the job tables' schema version")?;
        let apalis_missing = apalis
            .iter()
            .filter(|m| !apalis_applied.contains(&m.version))
            .count();
        if at < needed || apalis_missing > 0 {
            let at = if at == 0 {
                "none (an empty database)".to_owned()
            } else {
                at.to_string()
            };
            let jobs = if apalis_missing > 0 {
                format!(" and the job tables lack {apalis_missing} migration(s)")
            } else {
                String::new()
            };
            anyhow::bail!(
                "database schema is at version {at}{jobs}, this binary needs {needed}: run \
                 dialogpay migrate (database.migrate_on_start is false)"
            );
        }
        if at > needed {
            tracing::warn!(
                at,
                needed,
                "the database schema is newer than this binary (a rolling deploy?); running on it"
            );
        }
        Ok(())
    }

    /// The versions recorded as applied in a sqlx migrations table; none when it is missing.
    async fn applied_versions(&self, table: &str) -> Result<Vec<i64>, sqlx::Error> {
        let exists: bool = match self {
            Db::Sqlite(p) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = $1",
                )
                .bind(table)
                .fetch_one(p)
                .await?
            }
            Db::Postgres(p) => {
                sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(table)
                    .fetch_one(p)
                    .await?
            }
        };
        if !exists {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT version FROM {table} WHERE success");
        with_pool!(self, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_all(p)
                .await
        })
    }

    /// True when every migration this binary knows is applied (for `/readyz`).
    pub async fn migrations_applied(&self) -> Result<bool, sqlx::Error> {
        let expected = match self {
            Db::Sqlite(_) => sqlx::migrate!("./migrations/sqlite").iter().count(),
            Db::Postgres(_) => sqlx::migrate!("./migrations/postgres").iter().count(),
        } as i64;
        let sql = format!("SELECT COUNT(*) FROM {MIGRATIONS_TABLE} WHERE success");
        let applied: i64 = with_pool!(self, |p| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await?
        });
        Ok(applied >= expected)
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`)
    /// so that read-then-write checks cannot be overtaken by another writer.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        // The pool's own busy timeout waits for the lock; no retries of ours on top.
        self.begin_as(write_gate::Priority::InTurn, Duration::ZERO)
            .await
    }

    /// [`Db::begin`] for a transaction someone is waiting on (webhook writes): on SQLite it
    /// goes ahead of the background jobs' waiting transactions.
    pub async fn begin_first(&self) -> Result<Tx, sqlx::Error> {
        self.begin_as(write_gate::Priority::First, Duration::ZERO)
            .await
    }

    /// [`Db::begin_first`] for a pool whose connections do not wait in SQLite's busy handler
    /// (a busy timeout of zero): a busy `BEGIN IMMEDIATE` is tried again every millisecond,
    /// keeping this process's turn, for up to `timeout`. On PostgreSQL the same as
    /// [`Db::begin_first`].
    pub async fn begin_first_polling(&self, timeout: Duration) -> Result<Tx, sqlx::Error> {
        self.begin_as(write_gate::Priority::First, timeout).await
    }

    /// A transaction in `priority`'s turn; on SQLite a busy `BEGIN IMMEDIATE` (only a pool
    /// without a busy timeout answers so) is tried again for up to `busy_retry`.
    async fn begin_as(
        &self,
        priority: write_gate::Priority,
        busy_retry: Duration,
    ) -> Result<Tx, sqlx::Error> {
        let p = match self {
            Db::Postgres(p) => return Ok(Tx::Postgres(p.begin().await?)),
            Db::Sqlite(p) => p,
        };
        let gate = write_gate::for_file(
            p.connect_options().get_filename().to_owned(),
            DEFAULT_BUSY_TIMEOUT,
        );
        let turn = gate.enter(priority).await?;
        let started = std::time::Instant::now();
        loop {
            match p.begin_with("BEGIN IMMEDIATE").await {
                Ok(t) => return Ok(Tx::Sqlite(t, turn)),
                Err(e) if is_busy(&e) && started.elapsed() < busy_retry => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))
    }
}

/// SQLite's SQLITE_BUSY, with any extended code.
fn is_busy(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 5)
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            // The turn is given back once the commit is on disk.
            Tx::Sqlite(t, _turn) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// A stored time that is no instant chrono can represent (hundreds of millennia away): the
/// row is broken, and reading it is an error rather than a made-up date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unreadable timestamp: {0} ms since the epoch is out of range")]
pub struct BadTimestamp(pub i64);

/// A broken timestamp is a decode error, like any other unreadable column.
impl From<BadTimestamp> for sqlx::Error {
    fn from(err: BadTimestamp) -> Self {
        sqlx::Error::Decode(Box::new(err))
    }
}

/// A `*_at` column (milliseconds since the epoch) as a time; an out-of-range value is an
/// error, never the epoch.
pub fn from_millis(ms: i64) -> Result<chrono::DateTime<chrono::Utc>, BadTimestamp> {
    chrono::DateTime::from_timestamp_millis(ms).ok_or(BadTimestamp(ms))
}

/// Runs an INSERT that generates its rows in SQL (the benchmarks' bulk data) once per 100,000
/// rows: it binds the `leading` texts, then how many rows came before this run and how many
/// it makes.
pub async fn insert_generated_rows(
    db: &Db,
    sql: &'static str,
    leading: &[&str],
    total: u64,
) -> Result<(), sqlx::Error> {
    for (before, rows) in batches(total, 100_000) {
        with_pool!(db, |p| {
            let mut query = sqlx::query(sql);
            for text in leading {
                query = query.bind(*text);
            }
            query.bind(before).bind(rows).execute(p).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// `total` rows in runs of at most `size`, as (rows before the run, rows in it).
fn batches(total: u64, size: u64) -> impl Iterator<Item = (i64, i64)> {
    (0..total)
        .step_by(size.max(1) as usize)
        .map(move |before| (before as i64, (total - before).min(size) as i64))
}

/// True when the error is a unique-constraint violation on either engine.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_out_of_range_ones_are_errors() {
        let t = chrono::DateTime::from_timestamp_millis(1_767_225_600_123).unwrap();
        assert_eq!(from_millis(t.timestamp_millis()), Ok(t));
        assert_eq!(from_millis(0).unwrap().timestamp_millis(), 0);
        let err = from_millis(i64::MAX).unwrap_err();
        assert_eq!(err, BadTimestamp(i64::MAX));
        assert!(err.to_string().contains(&i64::MAX.to_string()), "{err}");
        assert!(from_millis(i64::MIN).is_err());
    }

    #[test]
    fn batches_cover_the_total_once_in_runs_of_at_most_the_size() {
        assert_eq!(
            batches(250_001, 100_000).collect::<Vec<_>>(),
            [(0, 100_000), (100_000, 100_000), (200_000, 50_001)]
        );
        assert_eq!(batches(0, 100_000).count(), 0);
    }
}
