//! A fresh database per test: a SQLite file in a temp dir, or, when `TEST_DATABASE_URL` is set
//! (e.g. `postgres://user@127.0.0.1:5432/postgres`), a new PostgreSQL database created on that
//! server. Never a mock.

use std::sync::Arc;

#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    pub is_postgres: bool,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl TestDb {
    pub async fn create() -> Self {
        let server = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|s| !s.is_empty());
        Self::create_on(server).await
    }

    /// A fresh database on the PostgreSQL `server` (a URL ending in an existing database to
    /// connect to first), or a SQLite file when `None`.
    pub async fn create_on(server: Option<String>) -> Self {
        match server {
            Some(server) => {
                let name = format!("dp_test_{}", ulid::Ulid::new().to_string().to_lowercase());
                let admin = sqlx::PgPool::connect(&server)
                    .await
                    .expect("connects to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .expect("creates the test database");
                admin.close().await;
                let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
                TestDb {
                    url: format!("{base}/{name}"),
                    is_postgres: true,
                    _dir: None,
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/dialogpay.db", dir.path().display());
                TestDb {
                    url,
                    is_postgres: false,
                    _dir: Some(Arc::new(dir)),
                }
            }
        }
    }
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
