//! Injected time: the business clock reads a [`TimeSource`] (the system clock in production,
//! the Vipps simulator's clock in simulator mode) plus an offset tests can move.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Utc};

/// Where "now" comes from when it is not the system clock.
pub trait TimeSource: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The business clock. Cloning shares the offset.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// `None`: the system clock. In simulator mode the business clock follows the
    /// simulator's, so that advancing the simulator walks agreements through their periods.
    source: Option<Arc<dyn TimeSource>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("now", &self.now()).finish()
    }
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `source`'s time.
    pub fn following(source: Arc<dyn TimeSource>) -> Self {
        Self {
            offset_ms: Arc::default(),
            source: Some(source),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let base = self
            .source
            .as_ref()
            .map(|s| s.now())
            .unwrap_or_else(Utc::now);
        base + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves the clock forward (tests, simulator mode).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }

    /// Today's calendar date in Europe/Oslo.
    pub fn today_oslo(&self) -> chrono::NaiveDate {
        self.now()
            .with_timezone(&chrono_tz::Europe::Oslo)
            .date_naive()
    }
}

/// Midnight of `date` in Europe/Oslo (our calendar) as epoch milliseconds: where an Oslo day
/// starts for `from`/`to` filters and statistics.
pub fn oslo_midnight_ms(date: chrono::NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(chrono_tz::Europe::Oslo).earliest())
        .map(|d| d.timestamp_millis())
        .unwrap_or_default()
}
