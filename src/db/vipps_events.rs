//! Vipps webhook deliveries (persisted before they are processed, deduplicated by content) and
//! our webhook registrations with their secrets.

use crate::{
    db::{Db, Tx, ids},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VippsEvent {
    pub id: String,
    pub event_type: String,
    pub msn: Option<String>,
    pub agreement_id: Option<String>,
    pub charge_id: Option<String>,
    /// Vipps's `actor` exactly as received (Vipps's vocabulary, kept even when we do not know
    /// the value: the event is stored before it is understood). It becomes one of ours, a
    /// [`crate::domain::status::StopActor`], only through `vipps::mapping`.
    pub actor: Option<String>,
    pub body: String,
    pub received_at: i64,
}

/// What to store of one delivery (owned: it waits in the group commit's queue).
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// SHA-256 of the body: Vipps redelivers the same body, which must be stored once.
    pub event_key: String,
    pub event_type: String,
    pub msn: Option<String>,
    pub agreement_id: Option<String>,
    pub charge_id: Option<String>,
    pub actor: Option<String>,
    pub body: String,
}

/// Stores the event; `None` when it was already stored.
pub async fn insert(tx: &mut Tx, e: &NewEvent, now_ms: i64) -> Result<Option<String>, sqlx::Error> {
    let id = ids::new_id("evt");
    let inserted = with_tx!(tx, |p| {
        sqlx::query(
            "INSERT INTO vipps_events (id, event_key, event_type, msn, agreement_id, charge_id, actor, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&e.event_key)
        .bind(&e.event_type)
        .bind(&e.msn)
        .bind(&e.agreement_id)
        .bind(&e.charge_id)
        .bind(&e.actor)
        .bind(&e.body)
        .bind(now_ms)
        .execute(p)
        .await?
        .rows_affected()
    });
    Ok((inserted == 1).then_some(id))
}

pub async fn get(db: &Db, id: &str) -> Result<Option<VippsEvent>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT id, event_type, msn, agreement_id, charge_id, actor, body, received_at FROM vipps_events WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await
    })
}

/// Remembers a webhook registration and its secret.
pub async fn save_registration(
    db: &Db,
    id: &str,
    msn: &str,
    url: &str,
    secret: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO vipps_webhooks (id, msn, url, secret, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (msn, url) DO UPDATE SET id = excluded.id, secret = excluded.secret, created_at = excluded.created_at",
        )
        .bind(id)
        .bind(msn)
        .bind(url)
        .bind(secret)
        .bind(now_ms)
        .execute(p)
        .await?.rows_affected()
    });
    Ok(())
}

pub async fn registered_msns(db: &Db, url: &str) -> Result<Vec<String>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT msn FROM vipps_webhooks WHERE url = $1"
    )
    .bind(url)
    .fetch_all(p)
    .await)
}

/// How many webhook registrations (with their secrets) are stored.
pub async fn registration_count(db: &Db) -> Result<i64, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM vipps_webhooks"
    )
    .fetch_one(p)
    .await)
}

/// Every stored secret (a delivery is valid if it verifies with any of them).
pub async fn secrets(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT secret FROM vipps_webhooks"
    )
    .fetch_all(p)
    .await)
}
