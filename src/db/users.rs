//! Portal users (each belongs to one partner) and the one-time links that set their passwords.
//! Link tokens are stored as SHA-256 hashes; passwords as Argon2id PHC strings.

use crate::{
    db::{Db, Tx, ids},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: String,
    pub partner_id: String,
    /// Lower-cased.
    pub email: String,
    pub created_at: i64,
    /// `None` until the user followed a set-password link.
    pub password_set_at: Option<i64>,
}

/// A user with the stored password hash, for checking a login.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: String,
    pub password_hash: Option<String>,
}

const COLUMNS: &str = "id, partner_id, email, created_at, password_set_at";

/// Inserts a user without a password; a taken email is a unique violation.
pub async fn insert(
    tx: &mut Tx,
    partner_id: &str,
    email: &str,
    now_ms: i64,
) -> Result<User, sqlx::Error> {
    let user = User {
        id: ids::new_id("usr"),
        partner_id: partner_id.to_owned(),
        email: email.to_owned(),
        created_at: now_ms,
        password_set_at: None,
    };
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO portal_users (id, partner_id, email, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user.id)
        .bind(&user.partner_id)
        .bind(&user.email)
        .bind(user.created_at)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(user)
}

/// Stores a set-password link (its token's hash) for `user_id`, valid until `expires_at`.
pub async fn insert_password_link(
    tx: &mut Tx,
    user_id: &str,
    token_hash: &str,
    now_ms: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO portal_password_links (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now_ms)
        .bind(expires_at)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The user with this (lower-cased) email.
pub async fn by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM portal_users WHERE email = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(p)
        .await)
}

/// Ends every unused link of `user_id` (a new one replaces them); how many there were.
pub async fn revoke_password_links(
    tx: &mut Tx,
    user_id: &str,
    now_ms: i64,
) -> Result<u64, sqlx::Error> {
    Ok(with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE portal_password_links SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    }))
}

/// The user a link is for, while the link is unused and unexpired.
pub async fn by_password_link(
    db: &Db,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<User>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM portal_users WHERE id = (SELECT user_id FROM portal_password_links \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(p)
        .await)
}

/// Uses up a valid link and sets its user's password, ending the user's other sessions; the
/// user, or `None` when the link is unknown, used or expired (then nothing changes).
pub async fn set_password_by_link(
    tx: &mut Tx,
    token_hash: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<User>, sqlx::Error> {
    let user_id: Option<String> = with_tx!(tx, |c| {
        sqlx::query_scalar(
            "UPDATE portal_password_links SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(c)
        .await?
    });
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    with_tx!(tx, |c| {
        sqlx::query("DELETE FROM portal_sessions WHERE user_id = $1")
            .bind(&user_id)
            .execute(c)
            .await?
            .rows_affected()
    });
    let sql = format!(
        "UPDATE portal_users SET password_hash = $2, password_set_at = $3 WHERE id = $1 \
         RETURNING {COLUMNS}"
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&user_id)
        .bind(password_hash)
        .bind(now_ms)
        .fetch_optional(c)
        .await)
}

/// The id and password hash of the user with this (lower-cased) email.
pub async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT id, password_hash FROM portal_users WHERE email = $1"
    )
    .bind(email)
    .fetch_optional(p)
    .await)
}
