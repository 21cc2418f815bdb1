//! Statistics of dialogues for an Oslo-calendar period, read from the counters the database
//! keeps with triggers (migration `0005_stats_counters`): events by UTC hour, charge outcomes
//! by due date. A period's figures are sums over at most a few rows per hour and day, whatever
//! the number of messages and charges behind them.

use std::collections::HashMap;

use chrono::{NaiveDate, Timelike};

use crate::{db::Db, with_pool};

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DialogueStats {
    pub keyword_messages: i64,
    pub agreements_drafted: i64,
    pub agreements_activated: i64,
    pub agreements_expired: i64,
    pub agreements_stopped: i64,
    /// ACTIVE at the end of the period.
    pub active_agreements: i64,
    pub charges_created: i64,
    pub charges_charged: i64,
    pub charges_failed: i64,
    /// Øre captured by the charges due in the period (refunds not taken off).
    pub amount_charged_ore: i64,
    /// Charges called off before they were taken (never counted as failed).
    pub charges_cancelled: i64,
    /// Refunds Vipps made of the charges due in the period, and their øre.
    pub refunds_done: i64,
    pub amount_refunded_ore: i64,
}

impl DialogueStats {
    /// NOK collected: captured minus refunded.
    pub fn amount_collected_ore(&self) -> i64 {
        self.amount_charged_ore - self.amount_refunded_ore
    }

    /// Extends these figures by the period right after them: events add up, the number of
    /// active agreements is the later period's.
    pub fn extend(&mut self, later: &DialogueStats) {
        self.keyword_messages += later.keyword_messages;
        self.agreements_drafted += later.agreements_drafted;
        self.agreements_activated += later.agreements_activated;
        self.agreements_expired += later.agreements_expired;
        self.agreements_stopped += later.agreements_stopped;
        self.active_agreements = later.active_agreements;
        self.charges_created += later.charges_created;
        self.charges_charged += later.charges_charged;
        self.charges_failed += later.charges_failed;
        self.amount_charged_ore += later.amount_charged_ore;
        self.charges_cancelled += later.charges_cancelled;
        self.refunds_done += later.refunds_done;
        self.amount_refunded_ore += later.amount_refunded_ore;
    }
}

/// Days `from..=to` of the Europe/Oslo calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// The period as UTC hours `[start, end)` (Oslo days start on whole UTC hours).
    fn hours(&self) -> (i64, i64) {
        let end = self.to.succ_opt().unwrap_or(self.to);
        (
            crate::clock::oslo_midnight_ms(self.from) / HOUR_MS,
            crate::clock::oslo_midnight_ms(end) / HOUR_MS,
        )
    }
}

/// Sums of the hourly counters (the `hour` column is only read by [`daily`]).
#[derive(sqlx::FromRow)]
struct HourlySums {
    dialogue_id: String,
    hour: i64,
    keyword_messages: i64,
    agreements_drafted: i64,
    agreements_activated: i64,
    agreements_expired: i64,
    agreements_stopped: i64,
    active_delta: i64,
    charges_created: i64,
}

#[derive(sqlx::FromRow)]
struct DueSums {
    dialogue_id: String,
    due_date: NaiveDate,
    charges_charged: i64,
    charges_failed: i64,
    amount_charged_ore: i64,
    charges_cancelled: i64,
    refunds_done: i64,
    amount_refunded_ore: i64,
}

impl DialogueStats {
    fn add_hourly(&mut self, h: &HourlySums) {
        self.keyword_messages += h.keyword_messages;
        self.agreements_drafted += h.agreements_drafted;
        self.agreements_activated += h.agreements_activated;
        self.agreements_expired += h.agreements_expired;
        self.agreements_stopped += h.agreements_stopped;
        self.active_agreements += h.active_delta;
        self.charges_created += h.charges_created;
    }

    fn add_due(&mut self, d: &DueSums) {
        self.charges_charged += d.charges_charged;
        self.charges_failed += d.charges_failed;
        self.amount_charged_ore += d.amount_charged_ore;
        self.charges_cancelled += d.charges_cancelled;
        self.refunds_done += d.refunds_done;
        self.amount_refunded_ore += d.amount_refunded_ore;
    }
}

const HOURLY_SUMS: &str = "CAST(SUM(keyword_messages) AS BIGINT) AS keyword_messages, \
    CAST(SUM(agreements_drafted) AS BIGINT) AS agreements_drafted, \
    CAST(SUM(agreements_activated) AS BIGINT) AS agreements_activated, \
    CAST(SUM(agreements_expired) AS BIGINT) AS agreements_expired, \
    CAST(SUM(agreements_stopped) AS BIGINT) AS agreements_stopped, \
    CAST(SUM(active_delta) AS BIGINT) AS active_delta, \
    CAST(SUM(charges_created) AS BIGINT) AS charges_created";

const DUE_SUMS: &str = "CAST(SUM(charges_charged) AS BIGINT) AS charges_charged, \
    CAST(SUM(charges_failed) AS BIGINT) AS charges_failed, \
    CAST(SUM(amount_charged_ore) AS BIGINT) AS amount_charged_ore, \
    CAST(SUM(charges_cancelled) AS BIGINT) AS charges_cancelled, \
    CAST(SUM(refunds_done) AS BIGINT) AS refunds_done, \
    CAST(SUM(amount_refunded_ore) AS BIGINT) AS amount_refunded_ore";

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The figures of each dialogue in `ids` for `period`: two queries, however many dialogues.
/// Dialogues without any activity get zeros.
pub async fn for_dialogues(
    db: &Db,
    ids: &[String],
    period: DayRange,
) -> Result<HashMap<String, DialogueStats>, sqlx::Error> {
    let mut out: HashMap<String, DialogueStats> = ids
        .iter()
        .map(|id| (id.clone(), DialogueStats::default()))
        .collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let (start, end) = period.hours();
    // Events inside the period; the active count sums every hour before its end. Per dialogue,
    // one row for the hours before the period (only its active delta counts) and one for the
    // period itself, told apart by `hour` 0 and 1.
    let hourly_sql = format!(
        "SELECT dialogue_id, CAST(CASE WHEN hour >= $1 THEN 1 ELSE 0 END AS BIGINT) AS hour, \
           CAST(SUM(CASE WHEN hour >= $1 THEN keyword_messages ELSE 0 END) AS BIGINT) AS keyword_messages, \
           CAST(SUM(CASE WHEN hour >= $1 THEN agreements_drafted ELSE 0 END) AS BIGINT) AS agreements_drafted, \
           CAST(SUM(CASE WHEN hour >= $1 THEN agreements_activated ELSE 0 END) AS BIGINT) AS agreements_activated, \
           CAST(SUM(CASE WHEN hour >= $1 THEN agreements_expired ELSE 0 END) AS BIGINT) AS agreements_expired, \
           CAST(SUM(CASE WHEN hour >= $1 THEN agreements_stopped ELSE 0 END) AS BIGINT) AS agreements_stopped, \
           CAST(SUM(active_delta) AS BIGINT) AS active_delta, \
           CAST(SUM(CASE WHEN hour >= $1 THEN charges_created ELSE 0 END) AS BIGINT) AS charges_created \
         FROM dialogue_stats_hourly WHERE hour < $2 AND dialogue_id IN ({}) \
         GROUP BY dialogue_id, CASE WHEN hour >= $1 THEN 1 ELSE 0 END",
        placeholders(3, ids.len())
    );
    let due_sql = format!(
        "SELECT dialogue_id, MIN(due_date) AS due_date, {DUE_SUMS} FROM dialogue_stats_due \
         WHERE due_date >= $1 AND due_date <= $2 AND dialogue_id IN ({}) GROUP BY dialogue_id",
        placeholders(3, ids.len())
    );
    let (hourly, due): (Vec<HourlySums>, Vec<DueSums>) = with_pool!(db, |p| {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(hourly_sql.as_str()))
            .bind(start)
            .bind(end);
        for id in ids {
            q = q.bind(id);
        }
        let hourly = q.fetch_all(p).await?;
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(due_sql.as_str()))
            .bind(period.from)
            .bind(period.to);
        for id in ids {
            q = q.bind(id);
        }
        (hourly, q.fetch_all(p).await?)
    });
    for h in &hourly {
        if let Some(s) = out.get_mut(&h.dialogue_id) {
            s.add_hourly(h);
        }
    }
    for d in &due {
        if let Some(s) = out.get_mut(&d.dialogue_id) {
            s.add_due(d);
        }
    }
    Ok(out)
}

/// One dialogue's figures for every day of `period` (days without activity included), so that
/// callers can fold them into weeks, months and a total with [`DialogueStats::extend`].
pub async fn daily(
    db: &Db,
    dialogue_id: &str,
    period: DayRange,
) -> Result<Vec<(NaiveDate, DialogueStats)>, sqlx::Error> {
    daily_of(db, &[dialogue_id.to_owned()], period).await
}

/// [`daily`] of several dialogues added up, in three queries however many there are.
pub async fn daily_of(
    db: &Db,
    ids: &[String],
    period: DayRange,
) -> Result<Vec<(NaiveDate, DialogueStats)>, sqlx::Error> {
    let (start, end) = period.hours();
    let (active_before, hourly, due): (i64, Vec<HourlySums>, Vec<DueSums>) = if ids.is_empty() {
        (0, Vec::new(), Vec::new())
    } else {
        let before_sql = format!(
            "SELECT CAST(COALESCE(SUM(active_delta), 0) AS BIGINT) \
             FROM dialogue_stats_hourly WHERE hour < $1 AND dialogue_id IN ({})",
            placeholders(2, ids.len())
        );
        let hourly_sql = format!(
            "SELECT MIN(dialogue_id) AS dialogue_id, hour, {HOURLY_SUMS} FROM dialogue_stats_hourly \
             WHERE hour >= $1 AND hour < $2 AND dialogue_id IN ({}) GROUP BY hour ORDER BY hour",
            placeholders(3, ids.len())
        );
        let due_sql = format!(
            "SELECT MIN(dialogue_id) AS dialogue_id, due_date, {DUE_SUMS} FROM dialogue_stats_due \
             WHERE due_date >= $1 AND due_date <= $2 AND dialogue_id IN ({}) GROUP BY due_date",
            placeholders(3, ids.len())
        );
        with_pool!(db, |p| {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(before_sql.as_str())).bind(start);
            for id in ids {
                q = q.bind(id);
            }
            let before = q.fetch_one(p).await?;
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(hourly_sql.as_str()))
                .bind(start)
                .bind(end);
            for id in ids {
                q = q.bind(id);
            }
            let hourly = q.fetch_all(p).await?;
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(due_sql.as_str()))
                .bind(period.from)
                .bind(period.to);
            for id in ids {
                q = q.bind(id);
            }
            (before, hourly, q.fetch_all(p).await?)
        })
    };

    let mut days: Vec<(NaiveDate, DialogueStats)> = Vec::new();
    let mut day = period.from;
    while day <= period.to {
        days.push((day, DialogueStats::default()));
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    let index = |date: NaiveDate| usize::try_from((date - period.from).num_days()).ok();
    for h in &hourly {
        if let Some((_, s)) = index(oslo_date_of_hour(h.hour)?).and_then(|i| days.get_mut(i)) {
            s.add_hourly(h);
        }
    }
    for d in &due {
        if let Some((_, s)) = index(d.due_date).and_then(|i| days.get_mut(i)) {
            s.add_due(d);
        }
    }
    // Turn the per-day active deltas into the number active at the end of each day.
    let mut active = active_before;
    for (_, s) in &mut days {
        active += s.active_agreements;
        s.active_agreements = active;
    }
    Ok(days)
}

/// The Europe/Oslo date of the UTC hour `hour` (hours since the epoch).
fn oslo_date_of_hour(hour: i64) -> Result<NaiveDate, crate::db::BadTimestamp> {
    let utc = crate::db::from_millis(hour.saturating_mul(HOUR_MS))?;
    let local = utc.with_timezone(&chrono_tz::Europe::Oslo);
    debug_assert_eq!(local.minute(), 0);
    Ok(local.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oslo_days_are_whole_utc_hours_across_daylight_saving() {
        for date in ["2026-03-29", "2026-10-25", "2026-01-01", "2026-06-30"] {
            let date: NaiveDate = date.parse().unwrap();
            let period = DayRange {
                from: date,
                to: date,
            };
            let (start, end) = period.hours();
            assert_eq!(oslo_date_of_hour(start), Ok(date));
            assert_eq!(oslo_date_of_hour(end - 1), Ok(date));
            assert_eq!(oslo_date_of_hour(end), Ok(date.succ_opt().unwrap()));
        }
        // The spring-forward day has 23 hours, the fall-back day 25.
        let hours = |d: &str| {
            let d: NaiveDate = d.parse().unwrap();
            let (s, e) = DayRange { from: d, to: d }.hours();
            e - s
        };
        assert_eq!(hours("2026-03-29"), 23);
        assert_eq!(hours("2026-10-25"), 25);
    }

    #[test]
    fn extend_adds_events_and_keeps_the_later_active_count() {
        let mut a = DialogueStats {
            keyword_messages: 2,
            active_agreements: 5,
            amount_charged_ore: 100,
            ..Default::default()
        };
        a.extend(&DialogueStats {
            keyword_messages: 3,
            active_agreements: 4,
            amount_charged_ore: 50,
            ..Default::default()
        });
        assert_eq!(a.keyword_messages, 5);
        assert_eq!(a.active_agreements, 4);
        assert_eq!(a.amount_charged_ore, 150);
    }
}

/// A dialogue's pauses: how many of its agreements are paused now, and how many periods were
/// skipped with a due date in `period`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PauseFigures {
    pub paused_now: i64,
    pub periods_skipped: i64,
}

pub async fn pauses(
    db: &Db,
    dialogue_id: &str,
    period: DayRange,
) -> Result<PauseFigures, sqlx::Error> {
    let (paused_now, periods_skipped): (i64, i64) = with_pool!(db, |p| {
        sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM agreements WHERE dialogue_id = $1 AND paused_until_period IS NOT NULL \
              AND status = 'ACTIVE' AND paused_until_period > next_period_index), \
           (SELECT COUNT(*) FROM skipped_periods WHERE dialogue_id = $1 AND due_date >= $2 AND due_date <= $3)"
    )
    .bind(dialogue_id)
    .bind(period.from)
    .bind(period.to)
    .fetch_one(p)
    .await
    })?;
    Ok(PauseFigures {
        paused_now,
        periods_skipped,
    })
}
