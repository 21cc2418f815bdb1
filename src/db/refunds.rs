//! Refunds of charges: written before Vipps is called (with the Vipps idempotency key), at most
//! one PENDING per charge (a partial unique index), finished once as DONE or FAILED.

use std::collections::HashMap;

use crate::{
    db::{Db, Tx, ids, types::placeholders},
    domain::status::RefundStatus,
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Refund {
    pub id: String,
    pub charge_id: String,
    pub amount_ore: i64,
    pub reason: String,
    pub status: RefundStatus,
    pub idempotency_key: String,
    pub failure: Option<String>,
    pub actor: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A refund to record.
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub charge_id: &'a str,
    pub partner_id: &'a str,
    pub amount_ore: i64,
    pub reason: &'a str,
    pub actor: &'a str,
}

const COLUMNS: &str = "id, charge_id, amount_ore, reason, status, idempotency_key, failure, actor, created_at, updated_at";

/// Takes the charge's row lock (PostgreSQL; SQLite's writer lock is held already), so refund
/// requests of one charge are checked and recorded one after the other.
pub async fn lock_charge(tx: &mut Tx, charge_id: &str) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE charges SET updated_at = updated_at WHERE id = $1"
    )
    .bind(charge_id)
    .execute(c)
    .await?
    .rows_affected());
    Ok(())
}

/// Øre of the charge's refunds that are PENDING or DONE (what is no longer refundable), and
/// whether one of them is PENDING.
pub async fn committed_tx(tx: &mut Tx, charge_id: &str) -> Result<(i64, bool), sqlx::Error> {
    let row: (Option<i64>, i64) = with_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT CAST(SUM(amount_ore) AS BIGINT), CAST(COUNT(CASE WHEN status = $2 THEN 1 END) AS BIGINT) \
         FROM refunds WHERE charge_id = $1 AND status IN ($2, $3)"
    )
    .bind(charge_id)
    .bind(RefundStatus::Pending)
    .bind(RefundStatus::Done)
    .fetch_one(c)
    .await?
    });
    Ok((row.0.unwrap_or(0), row.1 > 0))
}

/// Records a PENDING refund; its Vipps idempotency key is derived from its id.
pub async fn insert(tx: &mut Tx, r: &NewRefund<'_>, now_ms: i64) -> Result<Refund, sqlx::Error> {
    let id = ids::new_id("rfd");
    let sql = format!(
        "INSERT INTO refunds (id, charge_id, partner_id, amount_ore, reason, status, idempotency_key, actor, \
           created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLUMNS}"
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&id)
        .bind(r.charge_id)
        .bind(r.partner_id)
        .bind(r.amount_ore)
        .bind(r.reason)
        .bind(RefundStatus::Pending)
        .bind(dialogpay_jobs::refunds::refund_key(&id))
        .bind(r.actor)
        .bind(now_ms)
        .fetch_one(c)
        .await)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM refunds WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// A charge's refunds, oldest first.
pub async fn for_charge(db: &Db, charge_id: &str) -> Result<Vec<Refund>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM refunds WHERE charge_id = $1 ORDER BY id");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(charge_id)
        .fetch_all(p)
        .await)
}

/// The refunds of every charge of an agreement, oldest first.
pub async fn for_agreement(db: &Db, agreement_id: &str) -> Result<Vec<Refund>, sqlx::Error> {
    let sql = format!(
        "SELECT {} FROM refunds r JOIN charges c ON c.id = r.charge_id WHERE c.agreement_id = $1 ORDER BY r.id",
        COLUMNS
            .split(", ")
            .map(|c| format!("r.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(agreement_id)
        .fetch_all(p)
        .await)
}

/// Øre of the charge's DONE refunds other than `except`.
pub async fn done_ore_except(db: &Db, charge_id: &str, except: &str) -> Result<i64, sqlx::Error> {
    let sum: Option<i64> = with_pool!(db, |p| {
        sqlx::query_scalar(
        "SELECT CAST(SUM(amount_ore) AS BIGINT) FROM refunds WHERE charge_id = $1 AND status = $2 AND id <> $3"
    )
    .bind(charge_id)
    .bind(RefundStatus::Done)
    .bind(except)
    .fetch_one(p)
    .await?
    });
    Ok(sum.unwrap_or(0))
}

/// PENDING → `status` (DONE or FAILED), once: false when it was finished already.
pub async fn finish(
    tx: &mut Tx,
    id: &str,
    status: RefundStatus,
    failure: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let moved = with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE refunds SET status = $2, failure = $3, updated_at = $4 WHERE id = $1 AND status = $5"
    )
    .bind(id)
    .bind(status)
    .bind(failure)
    .bind(now_ms)
    .bind(RefundStatus::Pending)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(moved == 1)
}

/// DONE refunds of each of `charge_ids` that has any: (how many, øre).
pub async fn done_totals(
    db: &Db,
    charge_ids: &[String],
) -> Result<HashMap<String, (i64, i64)>, sqlx::Error> {
    if charge_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT charge_id, CAST(COUNT(*) AS BIGINT), CAST(SUM(amount_ore) AS BIGINT) FROM refunds \
         WHERE status = $1 AND charge_id IN ({}) GROUP BY charge_id",
        placeholders(2, charge_ids.len())
    );
    let rows: Vec<(String, i64, i64)> = with_pool!(db, |p| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(RefundStatus::Done);
        for id in charge_ids {
            q = q.bind(id);
        }
        q.fetch_all(p).await?
    });
    Ok(rows
        .into_iter()
        .map(|(id, n, ore)| (id, (n, ore)))
        .collect())
}
