//! Pauses. Vipps has no pause of its own: a paused agreement stays ACTIVE at Vipps and we do
//! not create charges for the periods it skips. A pause of `n` periods skips the next `n`
//! periods not yet created (a charge already created ahead of its due date is still taken) and
//! is kept as the first period charged again, `paused_until_period`; the sweep records the
//! periods below it as skipped. Resuming clears it.

use chrono::NaiveDate;

use super::period::Period;

/// Where an agreement's billing stands, as the pause rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billing {
    pub anchor: NaiveDate,
    pub period: Period,
    /// The first period without a charge (or a skip) yet.
    pub next_period: u32,
    /// The first period charged again after a pause (`None`: not paused).
    pub paused_until: Option<u32>,
    /// The dialogue's last day: no period due after it is charged.
    pub end_date: NaiveDate,
}

impl Billing {
    /// The first period charged again after pausing `n` periods from now.
    pub fn pause_until(&self, n: u32) -> u32 {
        self.next_period + n
    }

    /// Whether periods are being skipped: a pause that still has periods ahead of it.
    pub fn is_paused(&self) -> bool {
        self.paused_until.is_some_and(|u| u > self.next_period)
    }

    /// The due dates of the periods still to be skipped (those within the dialogue's dates).
    pub fn skipped_dates(&self) -> Vec<NaiveDate> {
        let until = self.paused_until.unwrap_or(self.next_period);
        (self.next_period..until)
            .map(|k| self.period.due_date(self.anchor, k))
            .filter(|d| *d <= self.end_date)
            .collect()
    }

    /// The due date of the next period that will be charged (`None`: none before the dialogue
    /// ends).
    pub fn next_charge_date(&self) -> Option<NaiveDate> {
        let k = self.paused_until.unwrap_or(0).max(self.next_period);
        Some(self.period.due_date(self.anchor, k)).filter(|d| *d <= self.end_date)
    }
}

/// Whether the sweep skips period `k` of an agreement paused until `paused_until`.
pub fn skips(paused_until: Option<u32>, k: u32) -> bool {
    paused_until.is_some_and(|u| k < u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn billing(paused_until: Option<u32>) -> Billing {
        Billing {
            anchor: d(2027, 1, 31),
            period: Period::Month,
            next_period: 2,
            paused_until,
            end_date: d(2027, 12, 31),
        }
    }

    #[test]
    fn a_pause_skips_the_next_periods_not_yet_created() {
        let b = billing(Some(billing(None).pause_until(2)));
        assert!(b.is_paused());
        assert_eq!(b.skipped_dates(), [d(2027, 3, 31), d(2027, 4, 30)]);
        assert_eq!(b.next_charge_date(), Some(d(2027, 5, 31)));
        assert!(skips(b.paused_until, 3));
        assert!(!skips(b.paused_until, 4));
        assert!(!skips(None, 0));
    }

    #[test]
    fn a_pause_past_its_periods_or_the_end_is_over() {
        let b = Billing {
            next_period: 4,
            ..billing(Some(4))
        };
        assert!(!b.is_paused());
        assert!(b.skipped_dates().is_empty());
        assert_eq!(b.next_charge_date(), Some(d(2027, 5, 31)));
        let late = Billing {
            next_period: 10,
            ..billing(Some(13))
        };
        assert_eq!(late.skipped_dates(), [d(2027, 11, 30), d(2027, 12, 31)]);
        assert_eq!(late.next_charge_date(), None, "the dialogue ends first");
    }
}
