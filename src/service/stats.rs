//! Statistics of dialogues for a period: the default period, its limits, and the series by
//! day, week or month (the dialogue list's figures and the dialogue page's chart).

use chrono::{Datelike, NaiveDate};

use crate::{
    db::stats::{self, DayRange, DialogueStats},
    service::{ServiceError, ServiceResult},
    state::AppState,
};

/// The longest period a statistics request may cover, in days (about ten years).
const MAX_PERIOD_DAYS: i64 = 3660;

/// `from`/`to` (Europe/Oslo dates, inclusive), each defaulting to the current month's bounds;
/// `from` must not be after `to`, and the period is at most ten years.
pub fn period(
    today: NaiveDate,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ServiceResult<DayRange> {
    let month_start = today.with_day(1).unwrap_or(today);
    let month_end = month_start
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today);
    let (from, to) = (from.unwrap_or(month_start), to.unwrap_or(month_end));
    if from > to {
        return Err(ServiceError::BadInput(
            "from must be on or before to".to_owned(),
        ));
    }
    if (to - from).num_days() > MAX_PERIOD_DAYS {
        return Err(ServiceError::BadInput(
            "the period is limited to ten years".to_owned(),
        ));
    }
    Ok(DayRange { from, to })
}

/// The dialogue list's period menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Today,
    Last7Days,
    Last30Days,
    ThisMonth,
    LastMonth,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Today,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::ThisMonth,
        Preset::LastMonth,
    ];

    /// The value in a URL (`?period=last-7-days`).
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Last7Days => "last-7-days",
            Preset::Last30Days => "last-30-days",
            Preset::ThisMonth => "this-month",
            Preset::LastMonth => "last-month",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The days it covers, seen from `today` (Europe/Oslo); "last N days" ends today.
    pub fn range(self, today: NaiveDate) -> DayRange {
        let back = |days: u64| {
            today
                .checked_sub_days(chrono::Days::new(days))
                .unwrap_or(today)
        };
        let month_start = today.with_day(1).unwrap_or(today);
        match self {
            Preset::Today => DayRange {
                from: today,
                to: today,
            },
            Preset::Last7Days => DayRange {
                from: back(6),
                to: today,
            },
            Preset::Last30Days => DayRange {
                from: back(29),
                to: today,
            },
            Preset::ThisMonth => DayRange {
                from: month_start,
                to: month_start
                    .checked_add_months(chrono::Months::new(1))
                    .and_then(|d| d.pred_opt())
                    .unwrap_or(today),
            },
            Preset::LastMonth => {
                let to = month_start.pred_opt().unwrap_or(today);
                DayRange {
                    from: to.with_day(1).unwrap_or(to),
                    to,
                }
            }
        }
    }
}

/// How a series groups days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucket {
    #[default]
    Day,
    Week,
    Month,
}

impl Bucket {
    /// The first day of the bucket after the one starting on `start`.
    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Bucket::Day => start.succ_opt(),
            Bucket::Week => start.checked_add_days(chrono::Days::new(7)),
            Bucket::Month => start.checked_add_months(chrono::Months::new(1)),
        }
    }
}

/// A period's figures in total and per bucket (buckets start on the first day with figures
/// and are cut at the period's end).
#[derive(Debug, Clone)]
pub struct Series {
    pub total: (DayRange, DialogueStats),
    pub buckets: Vec<(DayRange, DialogueStats)>,
}

/// One dialogue's figures over `period`, grouped by `bucket`.
pub async fn series(
    state: &AppState,
    dialogue_id: &str,
    period: DayRange,
    bucket: Bucket,
) -> ServiceResult<Series> {
    let days = stats::daily(&state.db, dialogue_id, period).await?;
    Ok(group(&days, period, bucket))
}

/// A dialogue's pauses: paused now, and periods skipped with a due date in `period`.
pub async fn pauses(
    state: &AppState,
    dialogue_id: &str,
    period: DayRange,
) -> ServiceResult<stats::PauseFigures> {
    Ok(stats::pauses(&state.db, dialogue_id, period).await?)
}

/// Several dialogues' figures added up per bucket, every bucket of `period` from its first
/// day on, empty ones included (the dialogue list's chart). Events add up; the number of
/// active agreements is not summed and stays 0.
pub async fn summed_series(
    state: &AppState,
    dialogue_ids: &[String],
    period: DayRange,
    bucket: Bucket,
) -> ServiceResult<Vec<(DayRange, DialogueStats)>> {
    let mut buckets = Vec::new();
    let mut start = Some(period.from);
    while let Some(from) = start.filter(|s| *s <= period.to) {
        let next = bucket.next(from);
        let to = next
            .and_then(|n| n.pred_opt())
            .map_or(period.to, |e| e.min(period.to));
        buckets.push((DayRange { from, to }, DialogueStats::default()));
        start = next;
    }
    for (day, figures) in stats::daily_of(&state.db, dialogue_ids, period).await? {
        let at = buckets.partition_point(|(r, _)| r.to < day);
        if let Some((_, sum)) = buckets.get_mut(at) {
            let active = sum.active_agreements;
            sum.extend(&figures);
            sum.active_agreements = active;
        }
    }
    Ok(buckets)
}

fn group(days: &[(NaiveDate, DialogueStats)], period: DayRange, bucket: Bucket) -> Series {
    let mut total = DialogueStats::default();
    let mut buckets = Vec::new();
    let mut current: Option<(DayRange, DialogueStats)> = None;
    for (day, figures) in days {
        total.extend(figures);
        match &mut current {
            Some((p, s)) if *day <= p.to => s.extend(figures),
            _ => {
                buckets.extend(current.take());
                let end = bucket
                    .next(*day)
                    .and_then(|n| n.pred_opt())
                    .map_or(period.to, |e| e.min(period.to));
                current = Some((
                    DayRange {
                        from: *day,
                        to: end,
                    },
                    figures.clone(),
                ));
            }
        }
    }
    buckets.extend(current);
    Series {
        total: (period, total),
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn messages(n: i64) -> DialogueStats {
        DialogueStats {
            keyword_messages: n,
            ..DialogueStats::default()
        }
    }

    #[test]
    fn the_default_period_is_the_current_month() {
        let p = period(d("2026-02-14"), None, None).unwrap();
        assert_eq!((p.from, p.to), (d("2026-02-01"), d("2026-02-28")));
    }

    #[test]
    fn presets_cover_the_days_their_names_say() {
        let today = d("2026-03-15");
        let range = |p: Preset| {
            let r = p.range(today);
            (r.from, r.to)
        };
        assert_eq!(range(Preset::Today), (today, today));
        assert_eq!(range(Preset::Last7Days), (d("2026-03-09"), today));
        assert_eq!(range(Preset::Last30Days), (d("2026-02-14"), today));
        assert_eq!(range(Preset::ThisMonth), (d("2026-03-01"), d("2026-03-31")));
        assert_eq!(range(Preset::LastMonth), (d("2026-02-01"), d("2026-02-28")));
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.as_str()), Some(p));
        }
    }

    #[test]
    fn a_backwards_or_overlong_period_is_refused() {
        assert!(
            period(
                d("2026-02-14"),
                Some(d("2026-03-01")),
                Some(d("2026-02-01"))
            )
            .is_err()
        );
        assert!(
            period(
                d("2026-02-14"),
                Some(d("2000-01-01")),
                Some(d("2026-01-01"))
            )
            .is_err()
        );
    }

    #[test]
    fn weeks_start_on_the_first_day_with_figures_and_stop_at_the_period_end() {
        let p = DayRange {
            from: d("2026-01-01"),
            to: d("2026-01-10"),
        };
        let days = [
            (d("2026-01-02"), messages(1)),
            (d("2026-01-05"), messages(2)),
            (d("2026-01-09"), messages(4)),
        ];
        let s = group(&days, p, Bucket::Week);
        let ranges: Vec<_> = s
            .buckets
            .iter()
            .map(|(r, f)| (r.from, r.to, f.keyword_messages))
            .collect();
        assert_eq!(
            ranges,
            [
                (d("2026-01-02"), d("2026-01-08"), 3),
                (d("2026-01-09"), d("2026-01-10"), 4)
            ]
        );
        assert_eq!(s.total.1.keyword_messages, 7);
    }
}
