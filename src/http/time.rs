//! Rendering stored times (milliseconds since the epoch) for API responses.

use chrono::{DateTime, Utc};

use crate::http::error::ApiError;

/// A stored time for a response. One that is no instant (a broken row) is an internal error,
/// logged with its value, never shown as some other date.
pub fn ts(ms: i64) -> Result<DateTime<Utc>, ApiError> {
    crate::db::from_millis(ms).map_err(ApiError::internal)
}

pub fn ts_opt(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, ApiError> {
    ms.map(ts).transpose()
}

/// apalis stores job times in whole seconds.
pub fn ts_secs_opt(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
}

pub use crate::clock::oslo_midnight_ms as oslo_day_start_ms;
