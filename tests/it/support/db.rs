//! A fresh database per test: a SQLite file in a temp dir, or, when `TEST_DATABASE_URL` is set
//! (e.g. `postgres://user@127.0.0.1:5432/postgres`), a new PostgreSQL database created on that
//! server. Never a mock.
//!
//! Both go away with the last clone of the [`TestDb`]: the temp dir is deleted, the PostgreSQL
//! database dropped (`WITH (FORCE)`, so connections still open in the test's pools or tasks do
//! not hold it). Tests declare their `TestDb` before the child processes that use it, so the
//! children are killed first. A failing test keeps its database for inspection; the first test
//! of each run drops, in the background, `dp_test_` databases older than an hour (their names
//! are ULIDs, which carry the creation time).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use sqlx::Connection;

/// Databases on the PostgreSQL server are named this plus a lowercase ULID.
const PREFIX: &str = "dp_test_";
/// Leftovers older than this are dropped at the start of a run.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    pub is_postgres: bool,
    _owned: Arc<Owned>,
}

/// What goes away with the last clone.
enum Owned {
    SqliteDir(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Postgres(PgDatabase),
}

/// A database on a PostgreSQL server, dropped on drop.
struct PgDatabase {
    /// The URL the database was created through (its maintenance database).
    server: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept the failed test's database {} (dropped by a test run an hour from now)",
                self.name
            );
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot block on a future: a thread with
        // its own runtime does the work. Errors are ignored (the hourly sweep catches leftovers).
        let _ = std::thread::spawn(move || block_on(drop_database(&server, &name))).join();
    }
}

fn block_on<F: std::future::Future<Output = Result<(), sqlx::Error>>>(
    future: F,
) -> Result<(), sqlx::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

async fn drop_database(server: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await
}

/// Once per server and test process: drops `dp_test_` databases older than [`LEFTOVER_AGE`]
/// (from failed tests, killed runs, or runs before databases were dropped), on a background
/// thread so that no test waits for it.
fn sweep_leftovers(server: &str) {
    static SWEPT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let first = SWEPT
        .lock()
        .map(|mut swept| {
            swept
                .get_or_insert_with(HashSet::new)
                .insert(server.to_owned())
        })
        .unwrap_or(false);
    if !first {
        return;
    }
    let server = server.to_owned();
    std::thread::spawn(move || {
        let _ = block_on(async {
            let mut conn = sqlx::PgConnection::connect(&server).await?;
            let names: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
                    .bind(format!("{PREFIX}%"))
                    .fetch_all(&mut conn)
                    .await?;
            conn.close().await?;
            for name in names
                .into_iter()
                .filter(|n| is_leftover(n, SystemTime::now()))
            {
                let _ = drop_database(&server, &name).await;
            }
            Ok(())
        });
    });
}

/// A test database whose name says it was created more than [`LEFTOVER_AGE`] before `now`.
fn is_leftover(name: &str, now: SystemTime) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|id| ulid::Ulid::from_string(&id.to_uppercase()).ok())
        .and_then(|id| now.duration_since(id.datetime()).ok())
        .is_some_and(|age| age > LEFTOVER_AGE)
}

impl TestDb {
    /// A pool on this database, as the service's default settings open it.
    pub async fn connect(&self) -> dialogpay::db::Db {
        let settings = dialogpay::config::Settings::with_overrides(&[(
            "database.url",
            self.url.clone().into(),
        )])
        .expect("test settings are valid");
        dialogpay::db::Db::connect(&settings.database)
            .await
            .expect("connects to the test database")
    }

    pub async fn create() -> Self {
        Self::create_on(Self::postgres_server()).await
    }

    /// The PostgreSQL server tests create their databases on (`TEST_DATABASE_URL`), if any.
    pub fn postgres_server() -> Option<String> {
        std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// A fresh database on the PostgreSQL `server` (a URL ending in an existing database to
    /// connect to first), or a SQLite file when `None`.
    pub async fn create_on(server: Option<String>) -> Self {
        match server {
            Some(server) => {
                sweep_leftovers(&server);
                let name = format!("{PREFIX}{}", ulid::Ulid::new().to_string().to_lowercase());
                let mut admin = sqlx::PgConnection::connect(&server)
                    .await
                    .expect("connects to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("creates the test database");
                let _ = admin.close().await;
                let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
                TestDb {
                    url: format!("{base}/{name}"),
                    is_postgres: true,
                    _owned: Arc::new(Owned::Postgres(PgDatabase { server, name })),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/dialogpay.db", dir.path().display());
                TestDb {
                    url,
                    is_postgres: false,
                    _owned: Arc::new(Owned::SqliteDir(dir)),
                }
            }
        }
    }
}

#[test]
fn only_test_databases_older_than_an_hour_are_leftovers() {
    let now = SystemTime::now();
    let created = |ago: Duration| {
        format!(
            "{PREFIX}{}",
            ulid::Ulid::from_datetime(now - ago)
                .to_string()
                .to_lowercase()
        )
    };
    assert!(is_leftover(&created(Duration::from_secs(7200)), now));
    assert!(!is_leftover(&created(Duration::from_secs(60)), now));
    assert!(!is_leftover("dp_test_not_a_ulid", now));
    assert!(!is_leftover("dialogpay", now));
}

/// Moves a finished job's `done_at` into the past (retention tests).
pub async fn age_job(db: &dialogpay::db::Db, id: &str, secs: i64) {
    let sql = if db.is_postgres() {
        "UPDATE apalis.jobs SET done_at = done_at - make_interval(secs => $1) WHERE id = $2"
    } else {
        "UPDATE Jobs SET done_at = done_at - $1 WHERE id = $2"
    };
    dialogpay::with_pool!(db, |p| sqlx::query(sql)
        .bind(secs as f64)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))
    .expect("ages the job");
}

/// Inserts an agreement row directly (the keyword journey is not part of these tests).
pub async fn insert_agreement(db: &dialogpay::db::Db, dialogue_id: &str, phone: &str) -> String {
    let id = dialogpay::db::ids::new_id("agr");
    let token = dialogpay::db::ids::secret_token(24);
    dialogpay::with_pool!(db, |p| sqlx::query(
        "INSERT INTO agreements (id, partner_id, dialogue_id, phone, status, manage_token, created_at, updated_at) \
         SELECT $1, partner_id, id, $2, 'PENDING', $3, 0, 0 FROM dialogues WHERE id = $4"
    )
    .bind(&id)
    .bind(phone)
    .bind(&token)
    .bind(dialogue_id)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("inserts the agreement");
    id
}

/// Makes every job of `job_type` waiting for later due now (one held past quiet hours, whose
/// wall-clock wait a test does not sit out). Returns how many.
pub async fn make_due(db: &dialogpay::db::Db, job_type: &str) -> u64 {
    let sql = if db.is_postgres() {
        "UPDATE apalis.jobs SET run_at = now() WHERE job_type = $1 AND status = 'Pending' AND run_at > now()"
    } else {
        "UPDATE Jobs SET run_at = CAST(strftime('%s', 'now') AS INTEGER) \
         WHERE job_type = $1 AND status = 'Pending' AND run_at > CAST(strftime('%s', 'now') AS INTEGER)"
    };
    dialogpay::with_pool!(db, |p| sqlx::query(sql)
        .bind(job_type)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
    .expect("makes the jobs due")
}
