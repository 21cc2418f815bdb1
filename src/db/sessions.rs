//! Portal sessions: one row per logged-in browser, keyed by the SHA-256 of the cookie's token,
//! read with the user and the partner it acts for.

use crate::{db::Db, db::partners::Partner, with_pool};

/// A session row with its user and partner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub email: String,
    pub session_created_at: i64,
    pub last_seen_at: i64,
    #[sqlx(flatten)]
    pub partner: Partner,
}

pub async fn insert(
    db: &Db,
    token_hash: &str,
    user_id: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO portal_sessions (token_hash, user_id, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now_ms)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok(())
}

pub async fn find(db: &Db, token_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT s.user_id, u.email, s.created_at AS session_created_at, s.last_seen_at, \
                p.id, p.name, p.vipps_msn, p.api_key_hint, p.help_text, p.created_at \
         FROM portal_sessions s \
         JOIN portal_users u ON u.id = s.user_id \
         JOIN partners p ON p.id = u.partner_id \
         WHERE s.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(p)
    .await)
}

/// Renews the idle timer.
pub async fn touch(db: &Db, token_hash: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query("UPDATE portal_sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}

pub async fn delete(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query("DELETE FROM portal_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Deletes sessions idle since before `idle_before` or opened before `opened_before`.
pub async fn delete_expired(
    db: &Db,
    idle_before: i64,
    opened_before: i64,
) -> Result<u64, sqlx::Error> {
    Ok(with_pool!(db, |p| {
        sqlx::query("DELETE FROM portal_sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(opened_before)
            .execute(p)
            .await?
            .rows_affected()
    }))
}
