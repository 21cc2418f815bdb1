//! Dialogues: the partner's keyword → Vipps recurring configuration.

use chrono::NaiveDate;

use crate::{
    db::{Db, Tx, ids},
    domain::period::Period,
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Dialogue {
    pub id: String,
    pub partner_id: String,
    pub name: String,
    pub crm_group_id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub module_type: String,
    pub recurring: bool,
    pub period: Period,
    pub product_name: String,
    pub product_description: String,
    pub amount_ore: i64,
    pub sender: String,
    pub reply_message: String,
    pub keyword: String,
    /// The SMS sent when a charge is CHARGED (`domain::notices`); `None`: none.
    pub receipt_message: Option<String>,
    /// The SMS sent when a charge FAILED; `None`: none.
    pub failure_message: Option<String>,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The writable fields of a dialogue, already validated.
#[derive(Debug, Clone)]
pub struct DialogueFields {
    pub name: String,
    pub crm_group_id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub module_type: String,
    pub recurring: bool,
    pub period: Period,
    pub product_name: String,
    pub product_description: String,
    pub amount_ore: i64,
    pub sender: String,
    pub reply_message: String,
    pub keyword: String,
    pub receipt_message: Option<String>,
    pub failure_message: Option<String>,
}

const COLUMNS: &str = "id, partner_id, name, crm_group_id, start_date, end_date, module_type, recurring, period, \
     product_name, product_description, amount_ore, sender, reply_message, keyword, receipt_message, failure_message, archived_at, created_at, updated_at";

pub async fn insert(
    tx: &mut Tx,
    partner_id: &str,
    f: &DialogueFields,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = ids::new_id("dlg");
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO dialogues (id, partner_id, name, crm_group_id, start_date, end_date, module_type, recurring, period, \
               product_name, product_description, amount_ore, sender, reply_message, keyword, receipt_message, failure_message, \
               created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)",
        )
        .bind(&id)
        .bind(partner_id)
        .bind(&f.name)
        .bind(&f.crm_group_id)
        .bind(f.start_date)
        .bind(f.end_date)
        .bind(&f.module_type)
        .bind(f.recurring)
        .bind(f.period)
        .bind(&f.product_name)
        .bind(&f.product_description)
        .bind(f.amount_ore)
        .bind(&f.sender)
        .bind(&f.reply_message)
        .bind(&f.keyword)
        .bind(&f.receipt_message)
        .bind(&f.failure_message)
        .bind(now_ms)
        .execute(c)
        .await?.rows_affected()
    });
    Ok(id)
}

pub async fn update(
    tx: &mut Tx,
    id: &str,
    f: &DialogueFields,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE dialogues SET name = $2, crm_group_id = $3, start_date = $4, end_date = $5, module_type = $6, \
               recurring = $7, period = $8, product_name = $9, product_description = $10, amount_ore = $11, \
               sender = $12, reply_message = $13, keyword = $14, receipt_message = $15, failure_message = $16, \
               updated_at = $17 WHERE id = $1",
        )
        .bind(id)
        .bind(&f.name)
        .bind(&f.crm_group_id)
        .bind(f.start_date)
        .bind(f.end_date)
        .bind(&f.module_type)
        .bind(f.recurring)
        .bind(f.period)
        .bind(&f.product_name)
        .bind(&f.product_description)
        .bind(f.amount_ore)
        .bind(&f.sender)
        .bind(&f.reply_message)
        .bind(&f.keyword)
        .bind(&f.receipt_message)
        .bind(&f.failure_message)
        .bind(now_ms)
        .execute(c)
        .await?.rows_affected()
    });
    Ok(())
}

pub async fn archive(tx: &mut Tx, id: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query("UPDATE dialogues SET archived_at = $2, updated_at = $2 WHERE id = $1 AND archived_at IS NULL")
            .bind(id)
            .bind(now_ms)
            .execute(c)
            .await?.rows_affected()
    });
    Ok(())
}

pub async fn get(db: &Db, partner_id: &str, id: &str) -> Result<Option<Dialogue>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dialogues WHERE partner_id = $1 AND id = $2");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn get_tx(
    tx: &mut Tx,
    partner_id: &str,
    id: &str,
) -> Result<Option<Dialogue>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dialogues WHERE partner_id = $1 AND id = $2");
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(partner_id)
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// Newest first, after the `before` cursor; archived ones only when asked.
pub async fn list(
    db: &Db,
    partner_id: &str,
    include_archived: bool,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Dialogue>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dialogues WHERE partner_id = $1 AND ($2 OR archived_at IS NULL) \
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    );
    with_pool!(db, |p| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(partner_id)
            .bind(include_archived)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await
    })
}

/// A non-archived dialogue (of any partner) holding `keyword` on `sender` in a date range
/// overlapping `[start, end]`, other than `except_id`.
pub async fn find_keyword_conflict(
    tx: &mut Tx,
    sender: &str,
    keyword: &str,
    start: NaiveDate,
    end: NaiveDate,
    except_id: Option<&str>,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT id, name, partner_id FROM dialogues WHERE sender = $1 AND keyword = $2 AND archived_at IS NULL \
             AND start_date <= $4 AND end_date >= $3 AND ($5 IS NULL OR id <> $5) LIMIT 1",
        )
        .bind(sender)
        .bind(keyword)
        .bind(start)
        .bind(end)
        .bind(except_id)
        .fetch_optional(c)
        .await
    })
}

/// How many agreements were ever drafted for the dialogue.
pub async fn agreement_count_tx(tx: &mut Tx, dialogue_id: &str) -> Result<i64, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_scalar("SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1")
            .bind(dialogue_id)
            .fetch_one(c)
            .await
    })
}

/// The non-archived dialogues holding `keyword` on `sender`, the one live on `today` first.
pub async fn find_for_keyword(
    db: &Db,
    sender: &str,
    keyword: &str,
    today: NaiveDate,
) -> Result<Vec<Dialogue>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dialogues WHERE sender = $1 AND keyword = $2 AND archived_at IS NULL \
         ORDER BY CASE WHEN recurring AND start_date <= $3 AND end_date >= $3 THEN 0 ELSE 1 END, id DESC"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(sender)
        .bind(keyword)
        .bind(today)
        .fetch_all(p)
        .await)
}

/// Any non-archived dialogue on `sender` (to know whose number it is for STOPP and HJELP).
pub async fn any_on_sender(db: &Db, sender: &str) -> Result<Option<Dialogue>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM dialogues WHERE sender = $1 AND archived_at IS NULL ORDER BY id DESC LIMIT 1"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(sender)
        .fetch_optional(p)
        .await)
}

/// A dialogue by id, whoever owns it (jobs).
pub async fn get_any(db: &Db, id: &str) -> Result<Option<Dialogue>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM dialogues WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}
