//! Delivery reports parked until their message is known: a gateway can post a report for its
//! message id before our send job has stored that id. They wait in `parked_delivery_reports`
//! (one row per provider, gateway id, part and status, so a gateway's retries are stored once)
//! until the send is recorded, or until the retention deletes them.
//!
//! Whoever looks up or records a gateway id first calls [`lock_gateway_id`] in the same
//! transaction, so a report is either found by the send record or finds the message: never
//! parked after the send record looked.

use crate::{
    db::{Db, Tx},
    with_pool, with_tx,
};

/// A parked report, as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ParkedReport {
    pub id: i64,
    pub provider: String,
    pub gateway_message_id: String,
    /// The part reported on, or [`WHOLE_MESSAGE`].
    pub part: i32,
    pub status: String,
    pub reason: Option<String>,
    pub segments: Option<i32>,
    pub client_reference: Option<String>,
    pub reported_at: Option<i64>,
    pub received_at: i64,
}

/// The `part` of a report about the whole message.
pub const WHOLE_MESSAGE: i32 = -1;

/// A report to park.
#[derive(Debug, Clone)]
pub struct NewParkedReport<'a> {
    pub provider: &'a str,
    pub gateway_message_id: &'a str,
    pub part: i32,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub segments: Option<i32>,
    pub client_reference: Option<&'a str>,
    pub reported_at: Option<i64>,
}

const COLUMNS: &str = "id, provider, gateway_message_id, part, status, reason, segments, \
     client_reference, reported_at, received_at";

/// Serializes, until `tx` ends, every transaction that matches or records the gateway id
/// (`provider`, `gateway_id`). PostgreSQL: a transaction-scoped advisory lock on the pair's
/// hash (a collision only serializes two unrelated ids). SQLite: nothing to do, since
/// [`Db::begin`] already holds the database's write lock.
pub async fn lock_gateway_id(
    tx: &mut Tx,
    provider: &str,
    gateway_id: &str,
) -> Result<(), sqlx::Error> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("dlr\u{1f}{provider}\u{1f}{gateway_id}"))
            .execute(&mut **t)
            .await?;
    }
    Ok(())
}

/// Parks a report; `false` when the same report (provider, id, part, status) is parked already.
pub async fn park(tx: &mut Tx, r: &NewParkedReport<'_>, now_ms: i64) -> Result<bool, sqlx::Error> {
    let inserted = with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO parked_delivery_reports (provider, gateway_message_id, part, status, reason, \
               segments, client_reference, reported_at, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(r.provider)
        .bind(r.gateway_message_id)
        .bind(r.part)
        .bind(r.status)
        .bind(r.reason)
        .bind(r.segments)
        .bind(r.client_reference)
        .bind(r.reported_at)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(inserted > 0)
}

/// Removes and returns the reports parked for a gateway id (in no particular order: sort by
/// `id` for arrival order).
pub async fn take(
    tx: &mut Tx,
    provider: &str,
    gateway_id: &str,
) -> Result<Vec<ParkedReport>, sqlx::Error> {
    let sql = format!(
        "DELETE FROM parked_delivery_reports WHERE provider = $1 AND gateway_message_id = $2 \
         RETURNING {COLUMNS}"
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(gateway_id)
        .fetch_all(c)
        .await)
}

/// Removes and returns the reports parked with our message id as their reference (a LINK
/// resend has a new gateway id, but its reports still carry our `refId`); any order.
pub async fn take_for_reference(
    tx: &mut Tx,
    message_id: &str,
) -> Result<Vec<ParkedReport>, sqlx::Error> {
    let sql = format!(
        "DELETE FROM parked_delivery_reports WHERE client_reference = $1 RETURNING {COLUMNS}"
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(message_id)
        .fetch_all(c)
        .await)
}

/// Deletes and returns the reports received before `cutoff_ms` (they never found a message).
pub async fn expire(db: &Db, cutoff_ms: i64) -> Result<Vec<ParkedReport>, sqlx::Error> {
    let sql =
        format!("DELETE FROM parked_delivery_reports WHERE received_at < $1 RETURNING {COLUMNS}");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(cutoff_ms)
        .fetch_all(p)
        .await)
}

/// Every parked report, oldest first (operators, tests).
pub async fn list(db: &Db) -> Result<Vec<ParkedReport>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM parked_delivery_reports ORDER BY id");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await)
}

/// How many reports are parked now (the metrics gauge).
pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM parked_delivery_reports"
    )
    .fetch_one(p)
    .await)
}
