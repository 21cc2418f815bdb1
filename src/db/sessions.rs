//! Sessions: one row per logged-in browser, keyed by the SHA-256 of the cookie's token. The
//! portal's partner users and the console's operators ([`Realm`]) have tables of their own, so
//! a session of one is never a session of the other; a portal session is read with the user
//! and the partner it acts for.

use crate::{db::Db, db::partners::Partner, with_pool};

/// Whose accounts: the portal's partner users or the console's operators. Each realm has its
/// own accounts, set-password links and sessions, with the same columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    Portal,
    Console,
}

impl Realm {
    /// The accounts table (`id`, `email`, `password_hash`, `password_set_at`, …).
    pub fn accounts(self) -> &'static str {
        match self {
            Realm::Portal => "portal_users",
            Realm::Console => "operators",
        }
    }

    /// The set-password links table.
    pub fn links(self) -> &'static str {
        match self {
            Realm::Portal => "portal_password_links",
            Realm::Console => "operator_password_links",
        }
    }

    /// The sessions table.
    pub fn sessions(self) -> &'static str {
        match self {
            Realm::Portal => "portal_sessions",
            Realm::Console => "operator_sessions",
        }
    }
}

/// A session row with its user and partner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub user_id: String,
    pub email: String,
    pub session_created_at: i64,
    pub last_seen_at: i64,
    #[sqlx(flatten)]
    pub partner: Partner,
    /// One of the partner's webhook endpoints was switched off for failing (every page says so).
    pub endpoints_switched_off: bool,
}

pub async fn insert(
    db: &Db,
    realm: Realm,
    token_hash: &str,
    user_id: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO {} (token_hash, user_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
        realm.sessions()
    );
    with_pool!(db, |p| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
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
                p.id, p.name, p.vipps_msn, p.api_key_hint, p.help_text, p.created_at, \
                EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.partner_id = p.id \
                  AND e.disabled_reason IS NOT NULL AND NOT e.enabled) AS endpoints_switched_off \
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
pub async fn touch(
    db: &Db,
    realm: Realm,
    token_hash: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "UPDATE {} SET last_seen_at = $2 WHERE token_hash = $1",
        realm.sessions()
    );
    with_pool!(db, |p| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}

pub async fn delete(db: &Db, realm: Realm, token_hash: &str) -> Result<(), sqlx::Error> {
    let sql = format!("DELETE FROM {} WHERE token_hash = $1", realm.sessions());
    with_pool!(db, |p| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
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
    realm: Realm,
    idle_before: i64,
    opened_before: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {} WHERE last_seen_at < $1 OR created_at < $2",
        realm.sessions()
    );
    Ok(with_pool!(db, |p| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(idle_before)
            .bind(opened_before)
            .execute(p)
            .await?
            .rows_affected()
    }))
}
