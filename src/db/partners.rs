//! Partners (tenants) and their API keys (stored only as hashes).

use crate::{
    db::{Db, ids},
    with_pool,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub vipps_msn: String,
    pub api_key_hint: String,
    pub help_text: Option<String>,
    pub created_at: i64,
}

/// A partner just created, with its API key in clear text (shown once).
#[derive(Debug, Clone)]
pub struct NewPartner {
    pub partner: Partner,
    pub api_key: String,
}

const COLUMNS: &str = "id, name, vipps_msn, api_key_hint, help_text, created_at";

pub async fn create(
    db: &Db,
    name: &str,
    vipps_msn: &str,
    now_ms: i64,
) -> Result<NewPartner, sqlx::Error> {
    let api_key = format!("dp_{}", ids::secret_token(32));
    let partner = Partner {
        id: ids::new_id("ptr"),
        name: name.to_owned(),
        vipps_msn: vipps_msn.to_owned(),
        api_key_hint: format!("{}…", &api_key[..7]),
        help_text: None,
        created_at: now_ms,
    };
    let hash = ids::hash_secret(&api_key);
    with_pool!(db, |p| {
        sqlx::query(
            "INSERT INTO partners (id, name, vipps_msn, api_key_hash, api_key_hint, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&partner.id)
        .bind(&partner.name)
        .bind(&partner.vipps_msn)
        .bind(&hash)
        .bind(&partner.api_key_hint)
        .bind(partner.created_at)
        .execute(p)
        .await?.rows_affected()
    });
    Ok(NewPartner { partner, api_key })
}

/// The partner whose API key this is, if any.
pub async fn find_by_api_key(db: &Db, api_key: &str) -> Result<Option<Partner>, sqlx::Error> {
    let hash = ids::hash_secret(api_key);
    let sql = format!("SELECT {COLUMNS} FROM partners WHERE api_key_hash = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(hash)
        .fetch_optional(p)
        .await)
}

pub async fn list(db: &Db) -> Result<Vec<Partner>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM partners ORDER BY id");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Partner>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM partners WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// A partner as the console's list shows it: how many portal users it has and when our
/// webhook was registered for its MSN (`None`: not registered).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PartnerSummary {
    pub id: String,
    pub name: String,
    pub vipps_msn: String,
    pub created_at: i64,
    pub user_count: i64,
    pub webhook_registered_at: Option<i64>,
}

/// Every partner with its user count and webhook registration, newest first.
pub async fn summaries(db: &Db) -> Result<Vec<PartnerSummary>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
        "SELECT p.id, p.name, p.vipps_msn, p.created_at, \
                (SELECT COUNT(*) FROM portal_users u WHERE u.partner_id = p.id) AS user_count, \
                (SELECT MAX(w.created_at) FROM vipps_webhooks w WHERE w.msn = p.vipps_msn) AS webhook_registered_at \
         FROM partners p ORDER BY p.created_at DESC, p.id DESC"
    )
    .fetch_all(p)
    .await
    })
}
