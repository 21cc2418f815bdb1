//! Console helpers: operators created through the service (as `dialogpay operator create`
//! does), a browser logged in as one through its one-time link, and failed jobs inserted by
//! the thousand for the bulk tests.

use dialogpay::service::{OperatorActor, operators, users::UserContext};
use reqwest::StatusCode;

use super::{TestApp, portal::PASSWORD, portal::PortalClient};

impl TestApp {
    /// A new operator's set-password link.
    pub async fn operator_link(&self, email: &str, read_only: bool) -> String {
        let ctx = UserContext::of(&self.state);
        let by = OperatorActor::named("operator:test");
        let made = operators::create(&ctx, &by, email, read_only)
            .await
            .expect("creates the operator");
        made.set_password_url
    }

    /// A browser logged in to the console as a new operator (password [`PASSWORD`]).
    pub async fn console_login(&self, read_only: bool) -> PortalClient {
        let email = format!("operator-{}@example.org", ulid::Ulid::new()).to_lowercase();
        let link = self.operator_link(&email, read_only).await;
        let mut client = PortalClient::new(&self.base);
        let page = client.set_password(&link, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        assert_eq!(page.location(), "/console/");
        client.email = email;
        client
    }
}

/// Inserts `n` failed jobs of `queue` (no attempts left) created now, in one statement.
pub async fn insert_failed_jobs(db: &dialogpay::db::Db, queue: &str, n: i64) {
    insert_jobs(db, queue, "Failed", n).await;
}

/// Inserts `n` jobs of `queue` in the raw apalis `status` (4 of 4 attempts made, payloads
/// `{"name":"bulk-{i}"}`) created now, in one statement.
pub async fn insert_jobs(db: &dialogpay::db::Db, queue: &str, status: &str, n: i64) {
    // A ULID's first ten characters are its time: these ids sort as created now.
    let prefix = &ulid::Ulid::new().to_string()[..10];
    let sql = if db.is_postgres() {
        "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, done_at, priority, metadata, last_result) \
         SELECT convert_to('{\"name\":\"bulk-' || g || '\"}', 'UTF8'), $1 || lpad(g::text, 16, '0'), $2, $4, 4, 4, now(), now(), 0, ''::hstore, '{\"Err\": \"boom\"}'::jsonb \
         FROM generate_series(1, $3) AS g"
    } else {
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < $3) \
         INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, done_at, priority, metadata, last_result) \
         SELECT CAST('{\"name\":\"bulk-' || i || '\"}' AS BLOB), $1 || printf('%016d', i), $2, $4, 4, 4, strftime('%s','now'), strftime('%s','now'), 0, '{}', '{\"Err\": \"boom\"}' FROM g"
    };
    dialogpay::with_pool!(db, |p| sqlx::query(sql)
        .bind(prefix)
        .bind(queue)
        .bind(n)
        .bind(status)
        .execute(p)
        .await
        .map(|_| ()))
    .expect("inserts failed jobs");
}
