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

pub use crate::clock::oslo_midnight_ms as oslo_day_start_ms;
