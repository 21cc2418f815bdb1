//! CRM groups, their versioned Terms and Conditions, and their members.

use crate::{
    db::{Db, Tx, ids},
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CrmGroup {
    pub id: String,
    pub partner_id: String,
    pub name: String,
    pub created_at: i64,
    /// The current (highest) terms version, if any.
    pub terms_version: Option<i32>,
    pub terms_text: Option<String>,
    pub terms_created_at: Option<i64>,
    pub member_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TermsVersion {
    pub version: i32,
    pub text: String,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Member {
    pub id: String,
    pub phone: String,
    pub terms_version: i32,
    pub agreement_id: Option<String>,
    /// The dialogue of that agreement (where the portal shows it).
    pub dialogue_id: Option<String>,
    pub inbound_message_id: Option<String>,
    pub joined_at: i64,
    pub left_at: Option<i64>,
    pub left_reason: Option<String>,
}

const GROUP_SELECT: &str = "SELECT g.id, g.partner_id, g.name, g.created_at, \
       t.version AS terms_version, t.text AS terms_text, t.created_at AS terms_created_at, \
       (SELECT COUNT(*) FROM crm_members m WHERE m.crm_group_id = g.id AND m.left_at IS NULL) AS member_count \
     FROM crm_groups g \
     LEFT JOIN terms_versions t ON t.crm_group_id = g.id \
       AND t.version = (SELECT MAX(version) FROM terms_versions t2 WHERE t2.crm_group_id = g.id)";

pub async fn create(
    tx: &mut Tx,
    partner_id: &str,
    name: &str,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = ids::new_id("crm");
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO crm_groups (id, partner_id, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(partner_id)
        .bind(name)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(id)
}

pub async fn get(db: &Db, partner_id: &str, id: &str) -> Result<Option<CrmGroup>, sqlx::Error> {
    let sql = format!("{GROUP_SELECT} WHERE g.partner_id = $1 AND g.id = $2");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// The group inside a write transaction (existence and tenancy check before a change).
pub async fn get_tx(
    tx: &mut Tx,
    partner_id: &str,
    id: &str,
) -> Result<Option<CrmGroup>, sqlx::Error> {
    let sql = format!("{GROUP_SELECT} WHERE g.partner_id = $1 AND g.id = $2");
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Groups by id, newest first, after the `after` cursor.
pub async fn list(
    db: &Db,
    partner_id: &str,
    has_terms: Option<bool>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<CrmGroup>, sqlx::Error> {
    let sql = format!(
        "{GROUP_SELECT} WHERE g.partner_id = $1 AND ($2 IS NULL OR g.id < $2) \
         AND ($3 IS NULL OR ($3 = (t.version IS NOT NULL))) ORDER BY g.id DESC LIMIT $4"
    );
    with_pool!(db, |p| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(partner_id)
            .bind(after)
            .bind(has_terms)
            .bind(limit)
            .fetch_all(p)
            .await
    })
}

/// Adds the next terms version (1, 2, …) and returns it.
pub async fn add_terms(
    tx: &mut Tx,
    group_id: &str,
    text: &str,
    actor: &str,
    now_ms: i64,
) -> Result<i32, sqlx::Error> {
    with_tx!(tx, |c| {
        let next: i32 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS INTEGER) FROM terms_versions WHERE crm_group_id = $1",
        )
        .bind(group_id)
        .fetch_one(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO terms_versions (crm_group_id, version, text, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(group_id)
        .bind(next)
        .bind(text)
        .bind(now_ms)
        .bind(actor)
        .execute(c)
        .await?.rows_affected();
        Ok(next)
    })
}

pub async fn list_terms(db: &Db, group_id: &str) -> Result<Vec<TermsVersion>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT version, text, created_at, created_by FROM terms_versions WHERE crm_group_id = $1 ORDER BY version DESC",
        )
        .bind(group_id)
        .fetch_all(p)
        .await
    })
}

pub async fn list_members(
    db: &Db,
    group_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Member>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT m.id, m.phone, m.terms_version, m.agreement_id, a.dialogue_id, m.inbound_message_id, \
               m.joined_at, m.left_at, m.left_reason \
             FROM crm_members m LEFT JOIN agreements a ON a.id = m.agreement_id \
             WHERE m.crm_group_id = $1 AND ($2 IS NULL OR m.id < $2) ORDER BY m.id DESC LIMIT $3",
        )
        .bind(group_id)
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await
    })
}

/// Adds a member with the consent record (terms version current now). Idempotent per agreement.
pub async fn add_member(
    tx: &mut Tx,
    group_id: &str,
    phone: &str,
    agreement_id: &str,
    inbound_message_id: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    with_tx!(tx, |c| {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT id FROM crm_members WHERE agreement_id = $1")
                .bind(agreement_id)
                .fetch_optional(&mut *c)
                .await?;
        if exists.is_some() {
            return Ok(false);
        }
        let version: Option<i32> =
            sqlx::query_scalar("SELECT MAX(version) FROM terms_versions WHERE crm_group_id = $1")
                .bind(group_id)
                .fetch_one(&mut *c)
                .await?;
        sqlx::query(
            "INSERT INTO crm_members (id, crm_group_id, phone, terms_version, agreement_id, inbound_message_id, joined_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ids::new_id("mbr"))
        .bind(group_id)
        .bind(phone)
        .bind(version.unwrap_or(0))
        .bind(agreement_id)
        .bind(inbound_message_id)
        .bind(now_ms)
        .execute(c)
        .await?.rows_affected();
        Ok(true)
    })
}

/// Who left a CRM group ([`leave_by_agreement`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeftMember {
    pub crm_group_id: String,
    pub phone: String,
}

/// The member who joined through `agreement_id` leaves (idempotent): returns who left now,
/// `None` when no member of it was still in.
pub async fn leave_by_agreement(
    tx: &mut Tx,
    agreement_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<Option<LeftMember>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_as(
            "UPDATE crm_members SET left_at = $2, left_reason = $3 \
             WHERE agreement_id = $1 AND left_at IS NULL RETURNING crm_group_id, phone",
        )
        .bind(agreement_id)
        .bind(now_ms)
        .bind(reason)
        .fetch_optional(c)
        .await
    })
}
