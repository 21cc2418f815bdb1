//! Our agreements (one per dialogue, phone and sign-up) and their forward-only status.
//!
//! The row exists before Vipps is called; the Vipps ids are stored right after the draft.
//! Status only moves forward ([`AgreementStatus::can_move_to`]).

use chrono::NaiveDate;

use crate::{
    db::{Db, Tx, bulk, ids, types::placeholders},
    domain::{
        pause,
        period::Period,
        status::{AgreementStatus, PauseActor, StopActor},
    },
    with_pool, with_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Agreement {
    pub id: String,
    pub partner_id: String,
    pub dialogue_id: String,
    pub phone: String,
    pub status: AgreementStatus,
    pub stopped_by: Option<StopActor>,
    pub vipps_agreement_id: Option<String>,
    pub confirmation_url: Option<String>,
    pub inbound_message_id: Option<String>,
    pub manage_token: String,
    /// Why we asked Vipps to stop it (our stops come back as actor MERCHANT).
    pub stop_requested: Option<String>,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub expired_at: Option<i64>,
    pub updated_at: i64,
    /// Billing: the activation date the periods are counted from (`None` until ACTIVE).
    pub anchor_date: Option<NaiveDate>,
    /// The first period without a charge or a skip yet.
    pub next_period_index: Option<i32>,
    /// The first period charged again after a pause ([`crate::domain::pause`]).
    pub paused_until_period: Option<i32>,
    pub paused_at: Option<i64>,
    pub paused_by: Option<PauseActor>,
}

impl Agreement {
    /// Its billing as the pause rules see it (`None` before it is ACTIVE and billed).
    pub fn billing(&self, period: Period, end_date: NaiveDate) -> Option<pause::Billing> {
        Some(pause::Billing {
            anchor: self.anchor_date?,
            period,
            next_period: u32::try_from(self.next_period_index?).ok()?,
            paused_until: self.paused_until_period.and_then(|u| u32::try_from(u).ok()),
            end_date,
        })
    }
}

const COLUMNS: &str = "id, partner_id, dialogue_id, phone, status, stopped_by, vipps_agreement_id, confirmation_url, \
     inbound_message_id, manage_token, stop_requested, created_at, activated_at, stopped_at, expired_at, updated_at, \
     anchor_date, next_period_index, paused_until_period, paused_at, paused_by";

/// The open statuses (PENDING, ACTIVE), for `status IN (…)` from parameter `$first` on.
fn open_statuses(first: usize) -> (String, Vec<AgreementStatus>) {
    let open: Vec<AgreementStatus> = AgreementStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.is_open())
        .collect();
    (placeholders(first, open.len()), open)
}

pub async fn create_pending(
    tx: &mut Tx,
    partner_id: &str,
    dialogue_id: &str,
    phone: &str,
    inbound_message_id: &str,
    now_ms: i64,
) -> Result<String, sqlx::Error> {
    let id = ids::new_id("agr");
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO agreements (id, partner_id, dialogue_id, phone, status, inbound_message_id, manage_token, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $8, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(partner_id)
        .bind(dialogue_id)
        .bind(phone)
        .bind(inbound_message_id)
        .bind(ids::secret_token(24))
        .bind(now_ms)
        .bind(AgreementStatus::Pending)
        .execute(c)
        .await?.rows_affected()
    });
    Ok(id)
}

pub async fn set_vipps_ids(
    tx: &mut Tx,
    id: &str,
    vipps_id: &str,
    confirmation_url: Option<&str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE agreements SET vipps_agreement_id = $2, confirmation_url = COALESCE($3, confirmation_url), updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(vipps_id)
        .bind(confirmation_url)
        .bind(now_ms)
        .execute(c)
        .await?.rows_affected()
    });
    Ok(())
}

/// Moves the status forward ([`AgreementStatus::can_move_to`]) and records when, and for a
/// stop who stopped it (`stopped_by` is ignored for other moves). Returns false when the move
/// is not forward (nothing changed).
pub async fn transition(
    tx: &mut Tx,
    id: &str,
    to: AgreementStatus,
    stopped_by: Option<StopActor>,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let current: Option<AgreementStatus> = with_tx!(tx, |c| {
        sqlx::query_scalar("SELECT status FROM agreements WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?
    });
    let Some(current) = current else {
        return Ok(false);
    };
    if !current.can_move_to(to) {
        return Ok(false);
    }
    // The time column of the status reached.
    let at_column = match to {
        AgreementStatus::Active => "activated_at",
        AgreementStatus::Stopped => "stopped_at",
        AgreementStatus::Expired => "expired_at",
        AgreementStatus::Pending => return Ok(false), // no move reaches it
    };
    let stopped_by = stopped_by.filter(|_| to == AgreementStatus::Stopped);
    let sql = format!(
        "UPDATE agreements SET status = $2, updated_at = $3, {at_column} = $3, \
           stopped_by = COALESCE($4, stopped_by) WHERE id = $1 AND status = $5"
    );
    let changed = with_tx!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(to)
            .bind(now_ms)
            .bind(stopped_by)
            .bind(current)
            .execute(c)
            .await?
            .rows_affected()
    });
    Ok(changed == 1)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn get_for_partner(
    db: &Db,
    partner_id: &str,
    id: &str,
) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE id = $1 AND partner_id = $2");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(partner_id)
        .fetch_optional(p)
        .await)
}

pub async fn get_by_token(db: &Db, token: &str) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE manage_token = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(token)
        .fetch_optional(p)
        .await)
}

pub async fn get_by_vipps_id(db: &Db, vipps_id: &str) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM agreements WHERE vipps_agreement_id = $1");
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(vipps_id)
        .fetch_optional(p)
        .await)
}

/// The newest PENDING or ACTIVE agreement of a phone on a dialogue (inside the write transaction).
pub async fn open_for_phone(
    tx: &mut Tx,
    dialogue_id: &str,
    phone: &str,
) -> Result<Option<Agreement>, sqlx::Error> {
    let (open, statuses) = open_statuses(3);
    let sql = format!(
        "SELECT {COLUMNS} FROM agreements WHERE dialogue_id = $1 AND phone = $2 AND status IN ({open}) \
         ORDER BY id DESC LIMIT 1"
    );
    with_tx!(tx, |c| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(dialogue_id)
            .bind(phone);
        for s in &statuses {
            q = q.bind(*s);
        }
        q.fetch_optional(c).await
    })
}

/// The newest agreement of a phone on a dialogue, in any status.
pub async fn latest_for_phone(
    db: &Db,
    dialogue_id: &str,
    phone: &str,
) -> Result<Option<Agreement>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agreements WHERE dialogue_id = $1 AND phone = $2 ORDER BY id DESC LIMIT 1"
    );
    with_pool!(db, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(dialogue_id)
        .bind(phone)
        .fetch_optional(p)
        .await)
}

/// Every open (ACTIVE or PENDING) agreement of a phone on dialogues sent from `sender` (STOPP).
pub async fn active_for_phone_on_sender(
    db: &Db,
    phone: &str,
    sender: &str,
) -> Result<Vec<Agreement>, sqlx::Error> {
    let cols: String = COLUMNS
        .split(", ")
        .map(|c| format!("a.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (open, statuses) = open_statuses(3);
    let sql = format!(
        "SELECT {cols} FROM agreements a JOIN dialogues d ON d.id = a.dialogue_id \
         WHERE a.phone = $1 AND d.sender = $2 AND a.status IN ({open}) ORDER BY a.id"
    );
    with_pool!(db, |p| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(phone)
            .bind(sender);
        for s in &statuses {
            q = q.bind(*s);
        }
        q.fetch_all(p).await
    })
}

/// A dialogue's agreements, newest first.
pub async fn list_for_dialogue(
    db: &Db,
    dialogue_id: &str,
    status: Option<AgreementStatus>,
    before_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Agreement>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM agreements WHERE dialogue_id = $1 AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    );
    with_pool!(db, |p| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(dialogue_id)
            .bind(status)
            .bind(before_id)
            .bind(limit)
            .fetch_all(p)
            .await
    })
}

/// Records that we asked for a stop (before calling Vipps).
pub async fn mark_stop_requested(
    tx: &mut Tx,
    id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |p| {
        sqlx::query("UPDATE agreements SET stop_requested = COALESCE(stop_requested, $2), updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(reason)
            .bind(now_ms)
            .execute(p)
            .await?.rows_affected()
    });
    Ok(())
}

/// Billing state set on activation: the anchor date and the next period (1) with its due date.
pub async fn start_billing(
    tx: &mut Tx,
    id: &str,
    anchor: chrono::NaiveDate,
    next_due: chrono::NaiveDate,
) -> Result<(), sqlx::Error> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE agreements SET anchor_date = $2, next_period_index = 1, next_due_date = $3 WHERE id = $1 AND anchor_date IS NULL",
        )
        .bind(id)
        .bind(anchor)
        .bind(next_due)
        .execute(c)
        .await?.rows_affected()
    });
    Ok(())
}

/// Moves the agreements' billing on to their next periods, each `(id, next index, next due
/// date)`, only forward: one statement with the furthest move of each agreement (`unnest` on
/// PostgreSQL, `json_each` on SQLite).
pub async fn advance_billing_many(
    tx: &mut Tx,
    moves: &[(&str, u32, chrono::NaiveDate)],
) -> Result<(), sqlx::Error> {
    // One row per agreement: the furthest move wins, as it would one at a time.
    let mut furthest: std::collections::BTreeMap<&str, (u32, chrono::NaiveDate)> =
        std::collections::BTreeMap::new();
    for (id, next_index, next_due) in moves {
        let entry = furthest.entry(id).or_insert((*next_index, *next_due));
        if *next_index > entry.0 {
            *entry = (*next_index, *next_due);
        }
    }
    if furthest.is_empty() {
        return Ok(());
    }
    match tx {
        Tx::Postgres(c) => {
            sqlx::query(
                "UPDATE agreements a SET next_period_index = u.next_index, next_due_date = u.next_due \
                 FROM unnest($1::text[], $2::int4[], $3::date[]) AS u(id, next_index, next_due) \
                 WHERE a.id = u.id AND a.next_period_index < u.next_index",
            )
            .bind(furthest.keys().copied().collect::<Vec<_>>())
            .bind(
                furthest
                    .values()
                    .map(|(k, _)| *k as i32)
                    .collect::<Vec<_>>(),
            )
            .bind(furthest.values().map(|(_, d)| *d).collect::<Vec<_>>())
            .execute(&mut **c)
            .await?;
        }
        Tx::Sqlite(c, _) => {
            sqlx::query(
                "UPDATE agreements SET next_period_index = u.next_index, next_due_date = u.next_due \
                 FROM (SELECT value ->> 0 AS id, value ->> 1 AS next_index, value ->> 2 AS next_due \
                   FROM json_each($1)) AS u \
                 WHERE agreements.id = u.id AND agreements.next_period_index < u.next_index",
            )
            .bind(bulk::json_rows(
                furthest.iter().map(|(id, (k, d))| (id, k, d)),
            )?)
            .execute(&mut **c)
            .await?;
        }
    }
    Ok(())
}

/// Locks the agreements' rows for the rest of `tx`, in id order, on PostgreSQL (SQLite's
/// writer holds the whole database already). Preparing a chunk of periods in bulk writes its
/// rows in whatever order a statement's plan visits them; taken first and in one order, the
/// locks keep two preparations over the same agreements from deadlocking.
pub async fn lock_for_billing(tx: &mut Tx, ids: &[&str]) -> Result<(), sqlx::Error> {
    let Tx::Postgres(c) = tx else {
        return Ok(());
    };
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT id FROM agreements WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .fetch_all(&mut **c)
        .await?;
    Ok(())
}

/// What charging one of an agreement's periods needs: its status, Vipps id and billing
/// anchor, its dialogue's price and calendar, and its merchant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChargeBasis {
    pub id: String,
    pub partner_id: String,
    pub dialogue_id: String,
    pub status: AgreementStatus,
    pub vipps_agreement_id: Option<String>,
    pub anchor_date: Option<chrono::NaiveDate>,
    pub period: Period,
    pub end_date: chrono::NaiveDate,
    pub amount_ore: i64,
    pub product_name: String,
    pub msn: String,
    /// The first period charged again after a pause; the periods below it are skipped.
    pub paused_until_period: Option<i32>,
}

/// Ids per query of [`charge_bases`] (well under both engines' bind-parameter limits).
const BASES_PER_QUERY: usize = 500;

/// The [`ChargeBasis`] of each agreement in `ids` that exists: one query per 500 ids, so a
/// batch of 2,000 periods is read in four queries.
pub async fn charge_bases(db: &Db, ids: &[String]) -> Result<Vec<ChargeBasis>, sqlx::Error> {
    let mut bases = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BASES_PER_QUERY) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT a.id, a.partner_id, a.dialogue_id, a.status, a.vipps_agreement_id, a.anchor_date, \
               d.period, d.end_date, d.amount_ore, d.product_name, p.vipps_msn AS msn, a.paused_until_period \
             FROM agreements a JOIN dialogues d ON d.id = a.dialogue_id JOIN partners p ON p.id = a.partner_id \
             WHERE a.id IN ({})",
            placeholders.join(", ")
        );
        let rows: Vec<ChargeBasis> = with_pool!(db, |p| {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?;
        bases.extend(rows);
    }
    Ok(bases)
}

/// An ACTIVE agreement with a period to charge, and its merchant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueAgreement {
    pub id: String,
    pub next_period_index: Option<i32>,
    pub next_due_date: Option<chrono::NaiveDate>,
    pub msn: String,
}

/// How many ACTIVE agreements have a period due by `horizon` (decides single or batch creates).
pub async fn count_due_for_billing(
    db: &Db,
    horizon: chrono::NaiveDate,
) -> Result<i64, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_scalar(
        "SELECT COUNT(*) FROM agreements WHERE status = $2 AND next_due_date <= $1"
    )
    .bind(horizon)
    .bind(AgreementStatus::Active)
    .fetch_one(p)
    .await)
}

/// Before any due date: the cursor of a sweep's first page.
const BEFORE_ANY_DATE: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => chrono::NaiveDate::MIN,
};

/// One page of ACTIVE agreements whose next period is due on or before `horizon`, in
/// (next_due_date, id) order after the cursor: one indexed range scan per page.
pub async fn due_for_billing(
    db: &Db,
    horizon: chrono::NaiveDate,
    after: Option<(chrono::NaiveDate, String)>,
    limit: i64,
) -> Result<Vec<DueAgreement>, sqlx::Error> {
    // Row-value comparison: an index range scan from the cursor on both engines (an OR of
    // the two cases made SQLite scan from the start on every page: quadratic in the run).
    let (after_date, after_id) = after.unwrap_or((BEFORE_ANY_DATE, String::new()));
    with_pool!(db, |p| {
        sqlx::query_as(
            "SELECT a.id, a.next_period_index, a.next_due_date, p.vipps_msn AS msn \
             FROM agreements a JOIN partners p ON p.id = a.partner_id \
             WHERE a.status = $5 AND a.next_due_date <= $1 AND (a.next_due_date, a.id) > ($2, $3) \
             ORDER BY a.next_due_date, a.id LIMIT $4",
        )
        .bind(horizon)
        .bind(after_date)
        .bind(after_id)
        .bind(limit)
        .bind(AgreementStatus::Active)
        .fetch_all(p)
        .await
    })
}

/// ACTIVE agreements whose dialogue has ended and whose last paid period has run out.
pub async fn ended_and_run_out(
    db: &Db,
    today: chrono::NaiveDate,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    with_pool!(db, |p| {
        sqlx::query_scalar(
            "SELECT a.id FROM agreements a JOIN dialogues d ON d.id = a.dialogue_id \
             WHERE a.status = $3 AND a.next_due_date <= $1 AND a.next_due_date > d.end_date AND a.stop_requested IS NULL \
             ORDER BY a.id LIMIT $2",
        )
        .bind(today)
        .bind(limit)
        .bind(AgreementStatus::Active)
        .fetch_all(p)
        .await
    })
}

/// Pauses an ACTIVE agreement until period `until` (the first charged again). Returns whether
/// it was ACTIVE (and so is paused now).
pub async fn pause(
    tx: &mut Tx,
    id: &str,
    until: u32,
    by: PauseActor,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let changed = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE agreements SET paused_until_period = $2, paused_at = $3, paused_by = $4, updated_at = $3 \
             WHERE id = $1 AND status = $5 AND next_period_index IS NOT NULL",
        )
        .bind(id)
        .bind(i32::try_from(until).unwrap_or(i32::MAX))
        .bind(now_ms)
        .bind(by)
        .bind(AgreementStatus::Active)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Ends a pause that still has periods ahead of it. Returns whether there was one.
pub async fn resume(tx: &mut Tx, id: &str, now_ms: i64) -> Result<bool, sqlx::Error> {
    let changed = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE agreements SET paused_until_period = NULL, paused_at = NULL, paused_by = NULL, updated_at = $2 \
             WHERE id = $1 AND paused_until_period > next_period_index",
        )
        .bind(id)
        .bind(now_ms)
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// A period a pause skipped.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SkippedPeriod {
    pub agreement_id: String,
    pub period_index: i32,
    pub due_date: NaiveDate,
    pub created_at: i64,
}

/// A period to record as skipped.
#[derive(Debug, Clone, Copy)]
pub struct Skip<'a> {
    pub agreement_id: &'a str,
    pub dialogue_id: &'a str,
    pub period_index: u32,
    pub due_date: NaiveDate,
}

/// Records skipped periods (once each).
pub async fn record_skipped(
    tx: &mut Tx,
    periods: &[Skip<'_>],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    for s in periods {
        with_tx!(tx, |c| {
            sqlx::query(
                "INSERT INTO skipped_periods (agreement_id, dialogue_id, period_index, due_date, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(s.agreement_id)
            .bind(s.dialogue_id)
            .bind(i32::try_from(s.period_index).unwrap_or(i32::MAX))
            .bind(s.due_date)
            .bind(now_ms)
            .execute(c)
            .await?
            .rows_affected()
        });
    }
    Ok(())
}

/// The periods a pause skipped, in order.
pub async fn skipped_for_agreement(db: &Db, id: &str) -> Result<Vec<SkippedPeriod>, sqlx::Error> {
    with_pool!(db, |p| sqlx::query_as(
        "SELECT agreement_id, period_index, due_date, created_at FROM skipped_periods \
         WHERE agreement_id = $1 ORDER BY period_index"
    )
    .bind(id)
    .fetch_all(p)
    .await)
}
