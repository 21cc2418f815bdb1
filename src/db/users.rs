//! Portal users (each belongs to one partner) and the one-time links that set their passwords;
//! the statements on links, passwords and credentials serve the console's operators too (their
//! [`Realm`]'s tables). Link tokens are stored as SHA-256 hashes; passwords as Argon2id PHC
//! strings.

use crate::{
    db::{Db, Tx, ids, sessions::Realm},
    with_pool, with_tx,
};

/// Any realm's account, as a set-password link or a session names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: String,
    pub email: String,
    /// The partner of a portal user; `None` for an operator.
    pub partner_id: Option<String>,
}

/// `Account`'s columns in `realm`'s accounts table.
fn account_columns(realm: Realm) -> &'static str {
    match realm {
        Realm::Portal => "id, email, partner_id",
        Realm::Console => "id, email, CAST(NULL AS TEXT) AS partner_id",
    }
}

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
    realm: Realm,
    user_id: &str,
    token_hash: &str,
    now_ms: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {} (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        realm.links()
    );
    with_tx!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
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

/// The users of `partner_id`, oldest first.
pub async fn of_partner(db: &Db, partner_id: &str) -> Result<Vec<User>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM portal_users WHERE partner_id = $1 ORDER BY id");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .fetch_all(p)
        .await)
}

/// Ends every unused link of `user_id` (a new one replaces them); how many there were.
pub async fn revoke_password_links(
    tx: &mut Tx,
    realm: Realm,
    user_id: &str,
    now_ms: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        realm.links()
    );
    Ok(with_tx!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(now_ms)
            .execute(c)
            .await?
            .rows_affected()
    }))
}

/// The account a link is for, while the link is unused and unexpired.
pub async fn by_password_link(
    db: &Db,
    realm: Realm,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<Account>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM {} WHERE id = (SELECT user_id FROM {} \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)",
        account_columns(realm),
        realm.accounts(),
        realm.links()
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(p)
        .await)
}

/// Uses up a valid link and sets its account's password, ending the account's other sessions;
/// the account, or `None` when the link is unknown, used or expired (then nothing changes).
pub async fn set_password_by_link(
    tx: &mut Tx,
    realm: Realm,
    token_hash: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<Account>, sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id",
        realm.links()
    );
    let user_id: Option<String> = with_tx!(tx, |c| {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(c)
            .await?
    });
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let sql = format!("DELETE FROM {} WHERE user_id = $1", realm.sessions());
    with_tx!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&user_id)
            .execute(c)
            .await?
            .rows_affected()
    });
    let sql = format!(
        "UPDATE {} SET password_hash = $2, password_set_at = $3 WHERE id = $1 RETURNING {}",
        realm.accounts(),
        account_columns(realm)
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&user_id)
        .bind(password_hash)
        .bind(now_ms)
        .fetch_optional(c)
        .await)
}

/// The id and password hash of `realm`'s account with this (lower-cased) email.
pub async fn credentials(
    db: &Db,
    realm: Realm,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    let sql = format!(
        "SELECT id, password_hash FROM {} WHERE email = $1",
        realm.accounts()
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email)
        .fetch_optional(p)
        .await)
}
