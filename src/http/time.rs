//! Rendering stored times (milliseconds since the epoch) for API responses.

use chrono::{DateTime, Utc};

pub fn ts(ms: i64) -> DateTime<Utc> {
    crate::db::from_millis(ms)
}

pub fn ts_opt(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(ts)
}

/// apalis stores job times in whole seconds.
pub fn ts_secs_opt(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

/// Midnight of `date` in Europe/Oslo (our calendar), as epoch milliseconds: the start of a
/// `from`/`to` day filter.
pub fn oslo_day_start_ms(date: chrono::NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(chrono_tz::Europe::Oslo).earliest())
        .map(|d| d.timestamp_millis())
        .unwrap_or_default()
}
