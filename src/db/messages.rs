//! SMS messages in and out, with their status history (the portal's Messages tab).

use crate::{
    db::{Db, Tx, ids},
    domain::status::{InboundOutcome, ReplyPurpose},
    with_pool, with_tx,
};

/// A message in or out. The `outcome` column means what an inbound message led to, or why an
/// outbound one is sent: it is read as one or the other by direction (the two sets share
/// texts such as `help`), and a text of neither set fails the read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    pub partner_id: Option<String>,
    pub dialogue_id: Option<String>,
    pub direction: String,
    pub provider: String,
    pub gateway_message_id: Option<String>,
    pub from_addr: String,
    pub to_addr: String,
    pub text: String,
    pub status: String,
    /// Inbound: what it led to, once handled (`None` until then).
    pub inbound_outcome: Option<InboundOutcome>,
    /// Outbound: why it is sent (`None` for messages that are not replies).
    pub reply_purpose: Option<ReplyPurpose>,
    pub error: Option<String>,
    pub segments: i32,
    pub encoding: String,
    pub in_reply_to: Option<String>,
    pub agreement_id: Option<String>,
    /// The charge a receipt or failed-payment notice is about.
    pub charge_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusEntry {
    pub status: String,
    pub at: i64,
    pub detail: Option<String>,
}

const COLUMNS: &str = "id, partner_id, dialogue_id, direction, provider, gateway_message_id, from_addr, to_addr, text, \
     status, CASE WHEN direction = 'in' THEN outcome END AS inbound_outcome, \
     CASE WHEN direction = 'out' THEN outcome END AS reply_purpose, \
     error, segments, encoding, in_reply_to, agreement_id, charge_id, created_at, updated_at";

/// A message to insert.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub partner_id: Option<&'a str>,
    pub dialogue_id: Option<&'a str>,
    pub direction: &'a str,
    pub provider: &'a str,
    pub gateway_message_id: Option<&'a str>,
    pub from_addr: &'a str,
    pub to_addr: &'a str,
    pub text: &'a str,
    pub status: &'a str,
    /// Why an outbound message is sent (an inbound one gets its outcome when handled,
    /// [`set_inbound_outcome`]).
    pub purpose: Option<ReplyPurpose>,
    pub in_reply_to: Option<&'a str>,
    pub agreement_id: Option<&'a str>,
    /// The charge a receipt or failed-payment notice is about.
    pub charge_id: Option<&'a str>,
}

/// Inserts a message and its first status. Returns `None` when a row with the same
/// (provider, direction, gateway id), the same (in_reply_to, purpose) or the same (charge_id,
/// purpose) exists: gateways retry and jobs run twice, the message is stored once.
pub async fn insert(
    tx: &mut Tx,
    m: &NewMessage<'_>,
    now_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let id = ids::new_id("msg");
    let info = crate::domain::sms_text::analyze(m.text);
    let inserted = with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO messages (id, partner_id, dialogue_id, direction, provider, gateway_message_id, from_addr, to_addr, text, \
               status, outcome, segments, encoding, in_reply_to, agreement_id, charge_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(m.partner_id)
        .bind(m.dialogue_id)
        .bind(m.direction)
        .bind(m.provider)
        .bind(m.gateway_message_id)
        .bind(m.from_addr)
        .bind(m.to_addr)
        .bind(m.text)
        .bind(m.status)
        .bind(m.purpose)
        .bind(info.segments as i32)
        .bind(info.encoding.as_str())
        .bind(m.in_reply_to)
        .bind(m.agreement_id)
        .bind(m.charge_id)
        .bind(now_ms)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if inserted == 0 {
        return Ok(None);
    }
    add_history(tx, &id, m.status, None, now_ms).await?;
    Ok(Some(id))
}

async fn add_history(
    tx: &mut Tx,
    id: &str,
    status: &str,
    detail: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query("INSERT INTO message_status_history (message_id, status, at, detail) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(status)
            .bind(now_ms)
            .bind(detail)
            .execute(c)
            .await?.rows_affected()
    });
    Ok(())
}

/// Records a new status (and optional details) with a history entry.
pub async fn set_status(
    tx: &mut Tx,
    id: &str,
    status: &str,
    detail: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query("UPDATE messages SET status = $2, error = COALESCE($3, error), updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(status)
            .bind(detail)
            .bind(now_ms)
            .execute(c)
            .await?.rows_affected()
    });
    add_history(tx, id, status, detail, now_ms).await
}

/// Adds a history entry without changing the message's status (a notice held back for quiet
/// hours: entry `held`, with until when).
pub async fn note(
    tx: &mut Tx,
    id: &str,
    entry: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    add_history(tx, id, entry, Some(detail), now_ms).await
}

/// Classifies an inbound message after matching (partner, dialogue, outcome, agreement).
pub async fn set_inbound_outcome(
    tx: &mut Tx,
    id: &str,
    partner_id: Option<&str>,
    dialogue_id: Option<&str>,
    outcome: InboundOutcome,
    agreement_id: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE messages SET partner_id = COALESCE($2, partner_id), dialogue_id = COALESCE($3, dialogue_id), \
               outcome = $4, agreement_id = COALESCE($5, agreement_id), status = 'processed', updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(partner_id)
        .bind(dialogue_id)
        .bind(outcome)
        .bind(agreement_id)
        .bind(now_ms)
        .execute(c)
        .await?.rows_affected()
    });
    add_history(tx, id, "processed", Some(outcome.as_str()), now_ms).await
}

/// Stores the gateway's id of a sent message.
pub async fn set_gateway_id(tx: &mut Tx, id: &str, gateway_id: &str) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query("UPDATE messages SET gateway_message_id = $2 WHERE id = $1")
            .bind(id)
            .bind(gateway_id)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn get_for_partner(
    db: &Db,
    partner_id: &str,
    id: &str,
) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1 AND partner_id = $2");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(partner_id)
        .fetch_optional(p)
        .await)
}

/// The message, read inside a transaction (after [`super::parked_reports::lock_gateway_id`]).
pub async fn get_in(tx: &mut Tx, id: &str) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(c)
        .await)
}

/// The outbound message found by its gateway id (delivery reports), read inside the
/// transaction that holds [`super::parked_reports::lock_gateway_id`].
pub async fn find_outbound_by_gateway_id(
    tx: &mut Tx,
    provider: &str,
    gateway_id: &str,
) -> Result<Option<Message>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages WHERE provider = $1 AND direction = 'out' AND gateway_message_id = $2"
    );
    with_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(provider)
        .bind(gateway_id)
        .fetch_optional(c)
        .await)
}

pub async fn history(db: &Db, id: &str) -> Result<Vec<StatusEntry>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as("SELECT status, at, detail FROM message_status_history WHERE message_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(p)
            .await
    })
}

/// Filters of the Messages list.
#[derive(Debug, Default, Clone)]
pub struct MessageFilter<'a> {
    pub dialogue_id: Option<&'a str>,
    pub direction: Option<&'a str>,
    pub status: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub before_id: Option<&'a str>,
    pub limit: i64,
}

/// A bound value of a composed query.
enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

/// Newest first (ids sort by time). Only the filters that are set are in the statement, so
/// the planner can pick the index that fits (the dialogue's, or a phone's) instead of one
/// plan for every combination.
pub async fn list(
    db: &Db,
    partner_id: &str,
    f: &MessageFilter<'_>,
) -> Result<Vec<Message>, sqlx::Error> {
    let mut conditions = vec!["partner_id = $1".to_owned()];
    let mut args = vec![Arg::Text(partner_id)];
    for (condition, arg) in [
        ("dialogue_id = ?", f.dialogue_id.map(Arg::Text)),
        ("direction = ?", f.direction.map(Arg::Text)),
        ("status = ?", f.status.map(Arg::Text)),
        ("created_at >= ?", f.from_ms.map(Arg::Int)),
        ("created_at < ?", f.to_ms.map(Arg::Int)),
        ("id < ?", f.before_id.map(Arg::Text)),
    ] {
        if let Some(arg) = arg {
            args.push(arg);
            conditions.push(condition.replace('?', &format!("${}", args.len())));
        }
    }
    let limit = f.limit.max(0);
    let newest = |extra: &str| {
        format!(
            "SELECT {COLUMNS} FROM messages WHERE {}{extra} ORDER BY id DESC LIMIT {limit}",
            conditions.join(" AND ")
        )
    };
    let sql = match f.phone {
        None => newest(""),
        // The newest of each side (each an index range: partner, phone, id), merged.
        Some(phone) => {
            args.push(Arg::Text(phone));
            let n = args.len();
            format!(
                "SELECT * FROM (SELECT * FROM ({}) AS sent_from UNION SELECT * FROM ({}) AS sent_to) \
                 AS either ORDER BY id DESC LIMIT {limit}",
                newest(&format!(" AND from_addr = ${n}")),
                newest(&format!(" AND to_addr = ${n}")),
            )
        }
    };
    with_pool!(db, |p| {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
        for arg in &args {
            query = match arg {
                Arg::Text(t) => query.bind(*t),
                Arg::Int(i) => query.bind(*i),
            };
        }
        query.fetch_all(p).await
    })
}

/// Records one part's delivery status (the caller merges forward-only) and returns every
/// part's current status.
pub async fn upsert_part(
    tx: &mut Tx,
    id: &str,
    part: i32,
    status: &str,
    now_ms: i64,
) -> Result<Vec<String>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO message_parts (message_id, part, status, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (message_id, part) DO UPDATE SET status = excluded.status, at = excluded.at",
        )
        .bind(id)
        .bind(part)
        .bind(status)
        .bind(now_ms)
        .execute(&mut *c)
        .await?;
        sqlx::query_scalar("SELECT status FROM message_parts WHERE message_id = $1 ORDER BY part")
            .bind(id)
            .fetch_all(c)
            .await
    })
}

/// One part's current status, if any report came for it.
pub async fn part_status(tx: &mut Tx, id: &str, part: i32) -> Result<Option<String>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_scalar("SELECT status FROM message_parts WHERE message_id = $1 AND part = $2")
            .bind(id)
            .bind(part)
            .fetch_optional(c)
            .await
    })
}
