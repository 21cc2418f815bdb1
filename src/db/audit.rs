//! The audit log: who did what to which object, when. Written in the same transaction as the
//! change it describes.

use crate::{
    db::{Db, Tx},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub partner_id: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: Option<String>,
}

/// One audit record to write.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub actor: &'a str,
    pub partner_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub details: Option<serde_json::Value>,
}

const INSERT: &str = "INSERT INTO audit_log (at, actor, partner_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub async fn record_tx(tx: &mut Tx, entry: &NewAudit<'_>, now_ms: i64) -> Result<(), sqlx::Error> {
    let details = entry.details.as_ref().map(|d| d.to_string());
    with_tx!(tx, |c| {
        sqlx::query(INSERT)
            .bind(now_ms)
            .bind(entry.actor)
            .bind(entry.partner_id)
            .bind(entry.action)
            .bind(entry.target_type)
            .bind(entry.target_id)
            .bind(details)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(())
}

pub async fn record(db: &Db, entry: &NewAudit<'_>, now_ms: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    record_tx(&mut tx, entry, now_ms).await?;
    tx.commit().await
}

/// Which entries to list; `None` fields match any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    pub partner_id: Option<&'a str>,
    pub actor: Option<&'a str>,
    /// The whole action (`job.retry`).
    pub action: Option<&'a str>,
    /// The start of actions (`job.`: every job action).
    pub action_prefix: Option<&'a str>,
    /// `at >= from_ms`.
    pub from_ms: Option<i64>,
    /// `at < until_ms`.
    pub until_ms: Option<i64>,
}

/// Newest first; `before` is the last id of the previous page.
pub async fn list(
    db: &Db,
    filter: &AuditFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT id, at, actor, partner_id, action, target_type, target_id, details FROM audit_log \
             WHERE ($1 IS NULL OR partner_id = $1) AND ($2 IS NULL OR id < $2) \
               AND ($4 IS NULL OR actor = $4) AND ($5 IS NULL OR action = $5) \
               AND ($6 IS NULL OR substr(action, 1, length($6)) = $6) \
               AND ($7 IS NULL OR at >= $7) AND ($8 IS NULL OR at < $8) \
             ORDER BY id DESC LIMIT $3",
        )
        .bind(filter.partner_id)
        .bind(before)
        .bind(limit)
        .bind(filter.actor)
        .bind(filter.action)
        .bind(filter.action_prefix)
        .bind(filter.from_ms)
        .bind(filter.until_ms)
        .fetch_all(p)
        .await
    })
}
