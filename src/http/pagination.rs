//! Keyset pagination: ids sort by creation time, so a page is "the `limit` ids below the
//! cursor", stable while new rows arrive.

use crate::http::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Checks `limit` (1–500, default 50).
pub fn limit(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::bad_request("limit must be between 1 and 500")),
        n if n > MAX_LIMIT => Err(ApiError::bad_request("limit must be between 1 and 500")),
        n => Ok(i64::from(n)),
    }
}

/// Fetch one row more than asked for: its presence says there is a next page.
pub fn fetch_limit(limit: i64) -> i64 {
    limit + 1
}

/// Trims the extra row and returns the cursor for the next page.
pub fn finish<T>(
    mut rows: Vec<T>,
    limit: i64,
    cursor_of: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    (rows, next)
}
