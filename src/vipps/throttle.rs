//! Client-side throttle: a GCRA limiter per key (merchant + operation + documented scope)
//! that makes callers wait for their slot instead of failing. Each key allows a burst of
//! `per_minute` requests and then one every `60 s / per_minute`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Forget idle keys when the map grows past this size.
const PRUNE_ABOVE: usize = 10_000;

/// The limiter.
#[derive(Default)]
pub struct Throttle {
    /// key → theoretical arrival time of the next request.
    tat: Mutex<HashMap<String, Instant>>,
}

impl Throttle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a slot for `key` and returns how long the caller must wait for it.
    pub fn reserve(&self, key: &str, per_minute: u32) -> Duration {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        let tolerance = interval * (per_minute - 1);
        let now = Instant::now();
        let mut map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = tat.checked_sub(tolerance).unwrap_or(now).max(now);
        map.insert(key.to_owned(), tat + interval);
        allowed_at - now
    }

    /// How long a request for `key` would wait now, without reserving a slot.
    pub fn would_wait(&self, key: &str, per_minute: u32) -> Duration {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        let tolerance = interval * (per_minute - 1);
        let now = Instant::now();
        let map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        tat.checked_sub(tolerance).unwrap_or(now).max(now) - now
    }

    /// Waits for a slot for `key`.
    pub async fn acquire(&self, key: &str, per_minute: u32) {
        let wait = self.reserve(key, per_minute);
        if !wait.is_zero() {
            tracing::debug!(
                throttle.key = key,
                throttle.wait_ms = wait.as_millis() as u64,
                "vipps client throttled"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_spacing() {
        let t = Throttle::new();
        for _ in 0..5 {
            assert_eq!(t.reserve("k", 5), Duration::ZERO);
        }
        assert_eq!(t.reserve("k", 5), Duration::from_secs(12));
        assert_eq!(t.reserve("k", 5), Duration::from_secs(24));
        // Other keys are independent.
        assert_eq!(t.reserve("other", 5), Duration::ZERO);
        tokio::time::advance(Duration::from_secs(60)).await;
        // After a minute the queue has drained back to (almost) a fresh burst.
        assert_eq!(t.reserve("k", 5), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn would_wait_peeks_without_reserving() {
        let t = Throttle::new();
        for _ in 0..5 {
            t.reserve("k", 5);
        }
        assert_eq!(t.would_wait("k", 5), Duration::from_secs(12));
        assert_eq!(
            t.would_wait("k", 5),
            Duration::from_secs(12),
            "peeking twice"
        );
        assert_eq!(t.reserve("k", 5), Duration::from_secs(12));
        assert_eq!(t.would_wait("fresh", 5), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_instead_of_failing() {
        let t = Throttle::new();
        let start = Instant::now();
        for _ in 0..3 {
            t.acquire("c", 2).await;
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(30));
    }
}
