//! Operators of the console (no partner's: they see every partner's jobs). Their links,
//! passwords and sessions go through [`users`](super::users) and [`sessions`](super::sessions)
//! with [`Realm::Console`](super::sessions::Realm); this module holds what only operators have.

use crate::{
    db::{Db, Tx, ids},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Operator {
    pub id: String,
    /// Lower-cased.
    pub email: String,
    /// Sees everything, changes nothing.
    pub read_only: bool,
    pub created_at: i64,
    /// `None` until the operator followed a set-password link.
    pub password_set_at: Option<i64>,
}

/// An operator's session row, with the operator.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperatorSessionRow {
    pub session_created_at: i64,
    pub last_seen_at: i64,
    #[sqlx(flatten)]
    pub operator: Operator,
}

/// Inserts an operator without a password; a taken email is a unique violation.
pub async fn insert(
    tx: &mut Tx,
    email: &str,
    read_only: bool,
    now_ms: i64,
) -> Result<Operator, sqlx::Error> {
    let operator = Operator {
        id: ids::new_id("opr"),
        email: email.to_owned(),
        read_only,
        created_at: now_ms,
        password_set_at: None,
    };
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO operators (id, email, read_only, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&operator.id)
        .bind(&operator.email)
        .bind(operator.read_only)
        .bind(operator.created_at)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(operator)
}

/// The operator with this (lower-cased) email.
pub async fn by_email(db: &Db, email: &str) -> Result<Option<Operator>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT id, email, read_only, created_at, password_set_at FROM operators WHERE email = $1"
    )
    .bind(email)
    .fetch_optional(p)
    .await)
}

/// The session with this token hash, and its operator.
pub async fn find_session(
    db: &Db,
    token_hash: &str,
) -> Result<Option<OperatorSessionRow>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT s.created_at AS session_created_at, s.last_seen_at, \
                o.id, o.email, o.read_only, o.created_at, o.password_set_at \
         FROM operator_sessions s JOIN operators o ON o.id = s.user_id \
         WHERE s.token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(p)
    .await)
}

/// An operator as the console's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OperatorSummary {
    #[sqlx(flatten)]
    pub operator: Operator,
    /// When their newest session began (a login or a password set); `None` when they have none
    /// left (never logged in, or logged out since).
    pub last_login_at: Option<i64>,
}

/// Every operator with their last login, newest first.
pub async fn summaries(db: &Db) -> Result<Vec<OperatorSummary>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
        "SELECT o.id, o.email, o.read_only, o.created_at, o.password_set_at, \
                (SELECT MAX(s.created_at) FROM operator_sessions s WHERE s.user_id = o.id) AS last_login_at \
         FROM operators o ORDER BY o.created_at DESC, o.id DESC"
    )
    .fetch_all(p)
    .await
    })
}
