//! Charges (one per agreement and period, guarded by a unique constraint) and their status
//! history. Status only moves forward ([`ChargeStatus::can_move_to`]).

use chrono::NaiveDate;

use crate::{
    db::{Db, Tx, bulk, ids, types::placeholders},
    domain::status::ChargeStatus,
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Charge {
    pub id: String,
    pub agreement_id: String,
    pub period_index: i32,
    pub charge_type: String,
    pub due_date: NaiveDate,
    pub amount_ore: i64,
    pub status: ChargeStatus,
    pub vipps_charge_id: Option<String>,
    pub order_id: String,
    pub failure_reason: Option<String>,
    pub failure_description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusEntry {
    pub charge_id: String,
    pub status: ChargeStatus,
    pub at: i64,
}

const COLUMNS: &str = "id, agreement_id, period_index, charge_type, due_date, amount_ore, status, vipps_charge_id, \
     order_id, failure_reason, failure_description, created_at, updated_at";

/// The statuses `keep` selects, for `status IN (…)` from parameter `$first` on.
fn statuses(first: usize, keep: fn(ChargeStatus) -> bool) -> (String, Vec<ChargeStatus>) {
    let list: Vec<ChargeStatus> = ChargeStatus::ALL
        .iter()
        .copied()
        .filter(|s| keep(*s))
        .collect();
    (placeholders(first, list.len()), list)
}

/// The initial charge (period 0), recorded when the agreement is seen ACTIVE: Vipps captured it
/// when the user confirmed. Idempotent: a second call finds the row and changes nothing.
/// Returns the new charge's id, `None` when it was recorded before.
#[allow(clippy::too_many_arguments)]
pub async fn record_initial(
    tx: &mut Tx,
    agreement_id: &str,
    partner_id: &str,
    dialogue_id: &str,
    due_date: NaiveDate,
    amount_ore: i64,
    vipps_charge_id: Option<&str>,
    now_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let id = ids::new_id("chg");
    let inserted = with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, due_date, amount_ore, \
               status, vipps_charge_id, order_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, 'INITIAL', $5, $6, $10, $7, $8, $9, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(agreement_id)
        .bind(partner_id)
        .bind(dialogue_id)
        .bind(due_date)
        .bind(amount_ore)
        .bind(vipps_charge_id)
        .bind(dialogpay_jobs::billing::order_id(agreement_id, 0))
        .bind(now_ms)
        .bind(ChargeStatus::Charged)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if inserted == 0 {
        return Ok(None);
    }
    add_history(tx, &id, ChargeStatus::Charged, now_ms).await?;
    Ok(Some(id))
}

pub async fn for_agreement(db: &Db, agreement_id: &str) -> Result<Vec<Charge>, sqlx::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM charges WHERE agreement_id = $1 ORDER BY period_index");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(agreement_id)
        .fetch_all(p)
        .await)
}

pub async fn history_for_agreement(
    db: &Db,
    agreement_id: &str,
) -> Result<Vec<StatusEntry>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT h.charge_id, h.status, h.at FROM charge_status_history h JOIN charges c ON c.id = h.charge_id \
             WHERE c.agreement_id = $1 ORDER BY h.id",
        )
        .bind(agreement_id)
        .fetch_all(p)
        .await
    })
}

/// One period's recurring charge row for [`insert_recurring_many`] (before the Vipps call).
#[derive(Debug, Clone, Copy)]
pub struct NewRecurring<'a> {
    pub agreement_id: &'a str,
    pub partner_id: &'a str,
    pub dialogue_id: &'a str,
    pub period_index: u32,
    pub due_date: NaiveDate,
    pub amount_ore: i64,
    pub status: ChargeStatus,
}

/// The recurring charge rows of many periods: the row of each, in `rows`' order, inserted with
/// its history when new, otherwise the row the unique constraint kept (`ON CONFLICT DO
/// NOTHING`). A few statements for the whole chunk: the new rows with their history, then,
/// only when some periods had a row already, those rows.
pub async fn insert_recurring_many(
    tx: &mut Tx,
    rows: &[NewRecurring<'_>],
    now_ms: i64,
) -> Result<Vec<Charge>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|_| ids::new_id("chg")).collect();
    let inserted = insert_new_periods(tx, rows, &ids, now_ms).await?;
    let mut by_period: std::collections::HashMap<(String, i32), Charge> = inserted
        .into_iter()
        .map(|c| ((c.agreement_id.clone(), c.period_index), c))
        .collect();
    let kept: Vec<(&str, i32)> = rows
        .iter()
        .map(|r| (r.agreement_id, r.period_index as i32))
        .filter(|(a, k)| !by_period.contains_key(&((*a).to_owned(), *k)))
        .collect();
    if !kept.is_empty() {
        // Read after the insert, as one at a time does: a row another transaction committed
        // while this one waited on the constraint is seen.
        by_period.extend(
            periods(tx, &kept)
                .await?
                .into_iter()
                .map(|c| ((c.agreement_id.clone(), c.period_index), c)),
        );
    }
    rows.iter()
        .map(|r| {
            by_period
                .get(&(r.agreement_id.to_owned(), r.period_index as i32))
                .cloned()
                .ok_or(sqlx::Error::RowNotFound)
        })
        .collect()
}

/// Inserts the periods that have no row yet (with ids `ids`, in `rows`' order) and their
/// history; returns the rows inserted. PostgreSQL: one statement (`unnest` over one array per
/// column, the history in the same statement). SQLite: two (the rows from `json_each`, then
/// the history of those inserted).
async fn insert_new_periods(
    tx: &mut Tx,
    rows: &[NewRecurring<'_>],
    ids: &[String],
    now_ms: i64,
) -> Result<Vec<Charge>, sqlx::Error> {
    let orders = rows
        .iter()
        .map(|r| dialogpay_jobs::billing::order_id(r.agreement_id, r.period_index));
    match tx {
        Tx::Postgres(c) => {
            let insert = format!(
                "WITH input AS ( \
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::date[], \
                     $7::int8[], $8::text[], $9::text[]) WITH ORDINALITY \
                     AS t(id, agreement_id, partner_id, dialogue_id, period_index, due_date, amount_ore, status, order_id, ord)), \
                 inserted AS ( \
                   INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, due_date, \
                     amount_ore, status, order_id, created_at, updated_at) \
                   SELECT id, agreement_id, partner_id, dialogue_id, period_index, 'RECURRING', due_date, amount_ore, \
                     status, order_id, $10, $10 FROM input ORDER BY ord \
                   ON CONFLICT DO NOTHING RETURNING {COLUMNS}), \
                 history AS ( \
                   INSERT INTO charge_status_history (charge_id, status, at) SELECT id, status, $10 FROM inserted) \
                 SELECT {COLUMNS} FROM inserted"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(insert))
                .bind(ids)
                .bind(rows.iter().map(|r| r.agreement_id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.partner_id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.dialogue_id).collect::<Vec<_>>())
                .bind(
                    rows.iter()
                        .map(|r| r.period_index as i32)
                        .collect::<Vec<_>>(),
                )
                .bind(rows.iter().map(|r| r.due_date).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.amount_ore).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
                .bind(orders.collect::<Vec<_>>())
                .bind(now_ms)
                .fetch_all(&mut **c)
                .await
        }
        Tx::Sqlite(c, _) => {
            let input =
                bulk::json_rows(rows.iter().zip(ids).zip(orders).map(|((r, id), order)| {
                    (
                        id,
                        r.agreement_id,
                        r.partner_id,
                        r.dialogue_id,
                        r.period_index,
                        r.due_date,
                        r.amount_ore,
                        r.status.as_str(),
                        order,
                    )
                }))?;
            // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
            let insert = format!(
                "INSERT INTO charges (id, agreement_id, partner_id, dialogue_id, period_index, charge_type, due_date, \
                   amount_ore, status, order_id, created_at, updated_at) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 'RECURRING', value ->> 5, \
                   value ->> 6, value ->> 7, value ->> 8, $2, $2 FROM json_each($1) WHERE true ORDER BY key \
                 ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
            );
            let inserted: Vec<Charge> = sqlx::query_as(sqlx::AssertSqlSafe(insert))
                .bind(input)
                .bind(now_ms)
                .fetch_all(&mut **c)
                .await?;
            let history = bulk::json_rows(inserted.iter().map(|c| (&c.id, c.status.as_str())))?;
            sqlx::query(
                "INSERT INTO charge_status_history (charge_id, status, at) \
                 SELECT value ->> 0, value ->> 1, $2 FROM json_each($1) ORDER BY key",
            )
            .bind(history)
            .bind(now_ms)
            .execute(&mut **c)
            .await?;
            Ok(inserted)
        }
    }
}

/// The rows of the given (agreement, period) pairs, in no particular order.
async fn periods(tx: &mut Tx, periods: &[(&str, i32)]) -> Result<Vec<Charge>, sqlx::Error> {
    match tx {
        Tx::Postgres(c) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM charges WHERE (agreement_id, period_index) IN \
                 (SELECT a, k FROM unnest($1::text[], $2::int4[]) AS u(a, k))"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(periods.iter().map(|(a, _)| *a).collect::<Vec<_>>())
                .bind(periods.iter().map(|(_, k)| *k).collect::<Vec<_>>())
                .fetch_all(&mut **c)
                .await
        }
        Tx::Sqlite(c, _) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM charges WHERE (agreement_id, period_index) IN \
                 (SELECT value ->> 0, value ->> 1 FROM json_each($1))"
            );
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(bulk::json_rows(periods)?)
                .fetch_all(&mut **c)
                .await
        }
    }
}

async fn add_history(
    tx: &mut Tx,
    id: &str,
    status: ChargeStatus,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query("INSERT INTO charge_status_history (charge_id, status, at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(status)
            .bind(now_ms)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Stores the Vipps charge id after a successful create.
pub async fn set_vipps_id(
    tx: &mut Tx,
    id: &str,
    vipps_charge_id: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |p| {
        sqlx::query("UPDATE charges SET vipps_charge_id = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(vipps_charge_id)
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// [`set_vipps_id`] for many charges (a batch Vipps accepted), in one statement.
pub async fn set_vipps_ids(
    tx: &mut Tx,
    charges: &[(&str, &str)],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    if charges.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Postgres(c) => {
            sqlx::query(
                "UPDATE charges c SET vipps_charge_id = u.vipps_charge_id, updated_at = $3 \
                 FROM unnest($1::text[], $2::text[]) AS u(id, vipps_charge_id) WHERE c.id = u.id",
            )
            .bind(charges.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(charges.iter().map(|(_, v)| *v).collect::<Vec<_>>())
            .bind(now_ms)
            .execute(&mut **c)
            .await?;
        }
        Tx::Sqlite(c, _) => {
            sqlx::query(
                "UPDATE charges SET vipps_charge_id = u.vipps_charge_id, updated_at = $2 \
                 FROM (SELECT value ->> 0 AS id, value ->> 1 AS vipps_charge_id FROM json_each($1)) AS u \
                 WHERE charges.id = u.id",
            )
            .bind(bulk::json_rows(charges)?)
            .bind(now_ms)
            .execute(&mut **c)
            .await?;
        }
    }
    Ok(())
}

/// A create call Vipps refused (4xx, a refused batch item, a charge-creation-failed event):
/// recorded on the charge, visible to partner and operator. Only a charge that may still move
/// to CREATE_FAILED (a PENDING one) moves.
pub async fn set_create_failed(
    tx: &mut Tx,
    id: &str,
    problem_type: &str,
    detail: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    set_create_failed_many(tx, &[(id, problem_type, detail)], now_ms).await
}

/// [`set_create_failed`] for many charges, each `(id, problem type, detail)` (a refused
/// batch, or a batch's refused items): the moves and their history in one statement on
/// PostgreSQL, two on SQLite.
pub async fn set_create_failed_many(
    tx: &mut Tx,
    failed: &[(&str, &str, &str)],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    if failed.is_empty() {
        return Ok(());
    }
    let to = ChargeStatus::CreateFailed;
    match tx {
        Tx::Postgres(c) => {
            let (from, sources) = statuses(6, |s| s.can_move_to(ChargeStatus::CreateFailed));
            let sql = format!(
                "WITH moved AS ( \
                   UPDATE charges c SET status = $4, problem_type = u.problem_type, \
                     failure_description = u.detail, updated_at = $5 \
                   FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, problem_type, detail) \
                   WHERE c.id = u.id AND c.status IN ({from}) RETURNING c.id) \
                 INSERT INTO charge_status_history (charge_id, status, at) SELECT id, $4, $5 FROM moved"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(failed.iter().map(|f| f.0).collect::<Vec<_>>())
                .bind(failed.iter().map(|f| f.1).collect::<Vec<_>>())
                .bind(failed.iter().map(|f| f.2).collect::<Vec<_>>())
                .bind(to)
                .bind(now_ms);
            for s in &sources {
                q = q.bind(*s);
            }
            q.execute(&mut **c).await?;
        }
        Tx::Sqlite(c, _) => {
            let (from, sources) = statuses(4, |s| s.can_move_to(ChargeStatus::CreateFailed));
            let sql = format!(
                "UPDATE charges SET status = $2, problem_type = u.problem_type, \
                   failure_description = u.detail, updated_at = $3 \
                 FROM (SELECT value ->> 0 AS id, value ->> 1 AS problem_type, value ->> 2 AS detail \
                   FROM json_each($1)) AS u \
                 WHERE charges.id = u.id AND charges.status IN ({from}) RETURNING id"
            );
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(bulk::json_rows(failed)?)
                .bind(to)
                .bind(now_ms);
            for s in &sources {
                q = q.bind(*s);
            }
            let moved: Vec<String> = q.fetch_all(&mut **c).await?;
            sqlx::query(
                "INSERT INTO charge_status_history (charge_id, status, at) \
                 SELECT value, $2, $3 FROM json_each($1) ORDER BY key",
            )
            .bind(bulk::json_rows(&moved)?)
            .bind(to)
            .bind(now_ms)
            .execute(&mut **c)
            .await?;
        }
    }
    Ok(())
}

/// Applies a status read from Vipps if it moves forward; keeps failure details.
pub async fn apply_status(
    tx: &mut Tx,
    id: &str,
    status: ChargeStatus,
    failure_reason: Option<&str>,
    failure_description: Option<&str>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let current: Option<ChargeStatus> = with_tx!(tx, |c| {
        sqlx::query_scalar("SELECT status FROM charges WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?
    });
    let Some(current) = current else {
        return Ok(false);
    };
    if !current.can_move_to(status) {
        return Ok(false);
    }
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE charges SET status = $2, failure_reason = COALESCE($3, failure_reason), \
               failure_description = COALESCE($4, failure_description), updated_at = $5 WHERE id = $1 AND status = $6",
        )
        .bind(id)
        .bind(status)
        .bind(failure_reason)
        .bind(failure_description)
        .bind(now_ms)
        .bind(current)
        .execute(c)
        .await?.rows_affected()
    });
    add_history(tx, id, status, now_ms).await?;
    Ok(true)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Charge>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM charges WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// One of the partner's charges (another partner's is `None`, like a missing one).
pub async fn get_for_partner(
    db: &Db,
    partner_id: &str,
    id: &str,
) -> Result<Option<Charge>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM charges WHERE id = $1 AND partner_id = $2");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(partner_id)
        .fetch_optional(p)
        .await)
}

/// One charge's status history, oldest first.
pub async fn history(db: &Db, id: &str) -> Result<Vec<StatusEntry>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT charge_id, status, at FROM charge_status_history WHERE charge_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(p)
        .await
    })
}

pub async fn get_by_vipps_id(
    db: &Db,
    vipps_charge_id: &str,
) -> Result<Option<Charge>, sqlx::Error> {
    // Batch-created charges have their orderId as Vipps id, and their events can arrive before
    // the batch answer is recorded: the order id finds them too (it is unique).
    let sql = format!(
        "SELECT {COLUMNS} FROM charges WHERE vipps_charge_id = $1 \
         UNION SELECT {COLUMNS} FROM charges WHERE order_id = $1 LIMIT 1"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vipps_charge_id)
        .fetch_optional(p)
        .await)
}

/// Open charges (created in Vipps, not final) due on or before `due_by` (`None`: all open).
pub async fn open_ids(
    db: &Db,
    due_by: Option<NaiveDate>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let (open, list) = statuses(4, ChargeStatus::is_open);
    let sql = format!(
        "SELECT id FROM charges WHERE status IN ({open}) AND vipps_charge_id IS NOT NULL \
         AND ($1 IS NULL OR due_date <= $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );
    with_pool!(db, |p| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(due_by)
            .bind(after_id)
            .bind(limit);
        for s in &list {
            q = q.bind(*s);
        }
        q.fetch_all(p).await
    })
}

/// Future charges of a stopped agreement are cancelled on our side too (Vipps cancels its own).
pub async fn cancel_open_for_agreement(
    tx: &mut Tx,
    agreement_id: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let (cancelled, list) = statuses(2, ChargeStatus::is_cancelled_on_stop);
    let sql = format!("SELECT id FROM charges WHERE agreement_id = $1 AND status IN ({cancelled})");
    let ids: Vec<String> = with_tx!(tx, |c| {
        let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(agreement_id);
        for s in &list {
            q = q.bind(*s);
        }
        q.fetch_all(c).await?
    });
    for id in ids {
        apply_status(tx, &id, ChargeStatus::Cancelled, None, None, now_ms).await?;
    }
    Ok(())
}

/// Filters of the payments list.
#[derive(Debug, Default, Clone)]
pub struct ChargeFilter<'a> {
    pub dialogue_id: Option<&'a str>,
    pub status: Option<ChargeStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub before_id: Option<&'a str>,
    pub limit: i64,
}

/// A partner's charges, newest first.
pub async fn list(
    db: &Db,
    partner_id: &str,
    f: &ChargeFilter<'_>,
) -> Result<Vec<Charge>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM charges WHERE partner_id = $1 AND ($2 IS NULL OR dialogue_id = $2) \
         AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR due_date >= $4) AND ($5 IS NULL OR due_date <= $5) \
         AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
    );
    with_pool!(db, |p| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(partner_id)
            .bind(f.dialogue_id)
            .bind(f.status)
            .bind(f.from)
            .bind(f.to)
            .bind(f.before_id)
            .bind(f.limit)
            .fetch_all(p)
            .await
    })
}

/// What a receipt or failed-payment notice about a charge is made of: the charge, its
/// agreement's phone and manage token, and its dialogue's sender, product and texts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChargeNotice {
    pub charge_id: String,
    pub agreement_id: String,
    pub partner_id: String,
    pub dialogue_id: String,
    pub amount_ore: i64,
    pub due_date: NaiveDate,
    pub failure_reason: Option<String>,
    pub phone: String,
    pub manage_token: String,
    pub sender: String,
    pub product_name: String,
    pub receipt_message: Option<String>,
    pub failure_message: Option<String>,
}

/// [`ChargeNotice`] of charge `id`, read in the transaction that moved its status.
pub async fn notice(tx: &mut Tx, id: &str) -> Result<Option<ChargeNotice>, sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query_as(
            "SELECT c.id AS charge_id, c.agreement_id, c.partner_id, c.dialogue_id, c.amount_ore, c.due_date, \
               c.failure_reason, a.phone, a.manage_token, d.sender, d.product_name, d.receipt_message, d.failure_message \
             FROM charges c JOIN agreements a ON a.id = c.agreement_id JOIN dialogues d ON d.id = c.dialogue_id \
             WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(c)
        .await
    })
}
