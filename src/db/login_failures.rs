//! Refused portal logins, counted per address typed and per client address to rate-limit the
//! login form. In the database so that every api process counts the same attempts.

use crate::{db::Db, with_pool};

/// What a failure is counted by.
#[derive(Debug, Clone, Copy)]
pub enum CountedBy {
    /// The (lower-cased) email typed in the form.
    Email,
    /// The client's IP address.
    ClientAddr,
}

impl CountedBy {
    fn column(self) -> &'static str {
        match self {
            CountedBy::Email => "email",
            CountedBy::ClientAddr => "client_addr",
        }
    }
}

/// Records a refused login and forgets those older than `forget_before`.
pub async fn record(
    db: &Db,
    email: &str,
    client_addr: &str,
    now_ms: i64,
    forget_before: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query("DELETE FROM portal_login_failures WHERE at < $1")
            .bind(forget_before)
            .execute(p)
            .await?;
        sqlx::query(
            "INSERT INTO portal_login_failures (at, email, client_addr) VALUES ($1, $2, $3)",
        )
        .bind(now_ms)
        .bind(email)
        .bind(client_addr)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// When `value` has `limit` or more failures since `since`: the time of the `limit`-th newest,
/// whose leaving the window brings the count under the limit. `None`: under the limit.
pub async fn limit_reached_at(
    db: &Db,
    by: CountedBy,
    value: &str,
    limit: u32,
    since: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT at FROM portal_login_failures WHERE {} = $1 AND at >= $2 \
         ORDER BY at DESC LIMIT 1 OFFSET $3",
        by.column()
    );
    with_pool!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .bind(since)
        .bind(i64::from(limit) - 1)
        .fetch_optional(p)
        .await)
}

/// Forgets an address's failures (after a successful login).
pub async fn clear_email(db: &Db, email: &str) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query("DELETE FROM portal_login_failures WHERE email = $1")
            .bind(email)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}
