//! Quiet hours: the part of the night (Europe/Oslo) when the SMS we send on our own (receipts,
//! failed-payment notices) are held back until it ends. Replies to a user's own message are
//! never held: they answer something the user just did.
//!
//! Written `HH:MM-HH:MM` (`sms.quiet_hours`, default `21:00-08:00`); a range that passes
//! midnight is the usual case. `off` (or an empty value) switches them off.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Days, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Europe::Oslo;

/// A daily range of local (Europe/Oslo) time, start inclusive, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

/// Why `sms.quiet_hours` does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quiet hours must be written HH:MM-HH:MM (e.g. 21:00-08:00) or off, not {0:?}")]
pub struct QuietHoursError(String);

impl QuietHours {
    /// The default: 21:00 to 08:00.
    pub fn evening_to_morning() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
        }
    }

    /// `None` when `now` is outside quiet hours; otherwise when they end.
    pub fn held_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&Oslo).naive_local();
        let time = local.time();
        let today = local.date();
        let end_day = if self.start <= self.end {
            (self.start <= time && time < self.end).then_some(today)?
        } else if time >= self.start {
            today.checked_add_days(Days::new(1))?
        } else if time < self.end {
            today
        } else {
            return None;
        };
        Some(oslo_to_utc(end_day.and_time(self.end)))
    }
}

/// A local time in Oslo as an instant; a time inside the spring-forward gap is taken an hour
/// later, as clocks show it.
fn oslo_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    local
        .and_local_timezone(Oslo)
        .earliest()
        .or_else(|| {
            (local + chrono::Duration::hours(1))
                .and_local_timezone(Oslo)
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| local.and_utc())
}

impl FromStr for QuietHours {
    type Err = QuietHoursError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || QuietHoursError(s.to_owned());
        let (start, end) = s.trim().split_once('-').ok_or_else(bad)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(bad());
        }
        Ok(Self { start, end })
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// `sms.quiet_hours` as configured: `off` or empty for none.
pub fn parse_setting(s: &str) -> Result<Option<QuietHours>, QuietHoursError> {
    match s.trim() {
        "" | "off" => Ok(None),
        other => other.parse().map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn oslo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Oslo.with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_night_is_held_until_the_morning() {
        let q = QuietHours::evening_to_morning();
        assert_eq!(q.held_until(oslo(2026, 12, 7, 20, 59)), None);
        assert_eq!(
            q.held_until(oslo(2026, 12, 7, 21, 0)),
            Some(oslo(2026, 12, 8, 8, 0))
        );
        assert_eq!(
            q.held_until(oslo(2026, 12, 8, 3, 30)),
            Some(oslo(2026, 12, 8, 8, 0))
        );
        assert_eq!(q.held_until(oslo(2026, 12, 8, 8, 0)), None);
    }

    #[test]
    fn a_range_within_one_day_and_daylight_saving() {
        let q: QuietHours = "12:00-13:30".parse().unwrap();
        assert_eq!(
            q.held_until(oslo(2026, 6, 1, 12, 10)),
            Some(oslo(2026, 6, 1, 13, 30))
        );
        assert_eq!(q.held_until(oslo(2026, 6, 1, 13, 30)), None);
        // The night clocks go forward (29 March 2026): 08:00 is still 08:00 on the wall.
        let night = QuietHours::evening_to_morning();
        assert_eq!(
            night.held_until(oslo(2026, 3, 28, 23, 0)),
            Some(oslo(2026, 3, 29, 8, 0))
        );
    }

    #[test]
    fn the_setting_parses_or_says_how_to_write_it() {
        assert_eq!(parse_setting("off"), Ok(None));
        assert_eq!(parse_setting(""), Ok(None));
        assert_eq!(
            parse_setting(" 21:00 - 08:00 ")
                .unwrap()
                .unwrap()
                .to_string(),
            "21:00-08:00"
        );
        for bad in ["21-08", "21:00", "25:00-08:00", "08:00-08:00", "nightly"] {
            assert!(parse_setting(bad).is_err(), "{bad}");
        }
    }
}
