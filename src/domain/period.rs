//! Billing periods and the billing calendar.
//!
//! Due dates are anchored on the agreement's activation date (Europe/Oslo) and always computed
//! from the anchor and the period index, never from the previous due date: week = +7k days;
//! month = the anchor's day k months later, clamped to the month's last day (Jan 31 → Feb 28/29 →
//! Mar 31 → Apr 30); year = the same date k years later (Feb 29 → Feb 28 in common years).

use chrono::{Months, NaiveDate};

use super::text_enum::text_enum;

text_enum! {
    /// A dialogue's billing interval (stored as `week`, `month`, `year`; the migrations check
    /// the same three).
    pub enum Period as "period" {
        Week => "week",
        Month => "month",
        Year => "year",
    }
}

impl Period {
    /// The due date of period `index` (0 = the initial charge on the anchor date).
    pub fn due_date(self, anchor: NaiveDate, index: u32) -> NaiveDate {
        match self {
            Period::Week => anchor + chrono::Days::new(7 * u64::from(index)),
            // `checked_add_months` clamps to the last day of a shorter month.
            Period::Month => anchor
                .checked_add_months(Months::new(index))
                .unwrap_or(NaiveDate::MAX),
            Period::Year => anchor
                .checked_add_months(Months::new(index.saturating_mul(12)))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn month_end_clamping_returns_to_the_anchor_day() {
        let a = d(2027, 1, 31);
        let dates: Vec<NaiveDate> = (0..5).map(|k| Period::Month.due_date(a, k)).collect();
        assert_eq!(
            dates,
            [
                d(2027, 1, 31),
                d(2027, 2, 28),
                d(2027, 3, 31),
                d(2027, 4, 30),
                d(2027, 5, 31)
            ]
        );
        assert_eq!(Period::Month.due_date(d(2028, 1, 31), 1), d(2028, 2, 29));
    }

    #[test]
    fn periods_round_trip_and_refuse_unknown_texts() {
        for p in Period::ALL {
            assert_eq!(p.as_str().parse::<Period>(), Ok(*p));
        }
        for text in ["", "Month", "day", "MONTH"] {
            let err = text.parse::<Period>().unwrap_err();
            assert_eq!(err.value, text);
            assert!(err.to_string().starts_with("unknown period"), "{err}");
        }
    }

    #[test]
    fn leap_day_anchors_yearly() {
        let a = d(2028, 2, 29);
        assert_eq!(Period::Year.due_date(a, 1), d(2029, 2, 28));
        assert_eq!(Period::Year.due_date(a, 4), d(2032, 2, 29));
        assert_eq!(Period::Week.due_date(a, 1), d(2028, 3, 7));
    }

    proptest::proptest! {
        /// Over ten years of anchors: strictly increasing, one due date per calendar
        /// month/year (none skipped or doubled), weeks exactly 7 days apart, and the anchor
        /// day comes back whenever the month has it.
        #[test]
        fn no_period_is_skipped_or_doubled(offset in 0u32..3653, period in 0u8..3) {
            let anchor = d(2026, 1, 1) + chrono::Days::new(u64::from(offset));
            let period = [Period::Week, Period::Month, Period::Year][period as usize];
            let count = match period { Period::Week => 530, Period::Month => 130, Period::Year => 12 };
            let dates: Vec<NaiveDate> = (0..count).map(|k| period.due_date(anchor, k)).collect();
            for (k, pair) in dates.windows(2).enumerate() {
                proptest::prop_assert!(pair[0] < pair[1]);
                match period {
                    Period::Week => proptest::prop_assert_eq!((pair[1] - pair[0]).num_days(), 7),
                    Period::Month => {
                        let months = |x: NaiveDate| x.year() * 12 + x.month0() as i32;
                        proptest::prop_assert_eq!(months(pair[1]) - months(pair[0]), 1);
                        let next = pair[1];
                        let last_day = next.checked_add_months(Months::new(1)).map(|n| n.with_day(1).unwrap().pred_opt().unwrap()).unwrap();
                        let expected_day = anchor.day().min(last_day.day());
                        proptest::prop_assert_eq!(next.day(), expected_day, "period {}", k + 1);
                    }
                    Period::Year => proptest::prop_assert_eq!(pair[1].year() - pair[0].year(), 1),
                }
            }
        }
    }
}
