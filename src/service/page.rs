//! Keyset pagination: ids sort by creation time, so a page is "the `limit` ids below the
//! cursor", stable while new rows arrive.

use crate::service::{ServiceError, ServiceResult};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// A page request: how many rows (checked, 1–500) below which cursor.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Checks `limit` (1–500, default 50).
    pub fn new(limit: Option<u32>, cursor: Option<String>) -> ServiceResult<Self> {
        match limit.unwrap_or(DEFAULT_LIMIT) {
            n if n == 0 || n > MAX_LIMIT => Err(ServiceError::BadInput(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            ))),
            n => Ok(Self {
                limit: i64::from(n),
                cursor,
            }),
        }
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Fetch one row more than asked for: its presence says there is a next page.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Trims the extra row and returns the page with the cursor for the next one.
    pub fn finish<T>(&self, mut rows: Vec<T>, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next_cursor = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// One page of rows, and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_cursor: self.next_cursor,
        })
    }
}
