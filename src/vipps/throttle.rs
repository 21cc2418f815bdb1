//! Client-side throttle: a GCRA limiter per key (merchant + operation + documented scope)
//! that makes callers wait for their slot instead of failing. Vipps counts requests per minute,
//! so the limiter never lets more than `per_minute` through in *any* 60 s span: a small burst
//! `b` (a twentieth of the limit, at least 2) and then one request every
//! `60 s / (per_minute - b + 1)` (a burst of a whole minute's allowance followed by steady
//! spacing would send almost twice the limit in the first minute). A 429 with `Retry-After`
//! holds the key for that long ([`Throttle::hold`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Forget idle keys when the map grows past this size.
const PRUNE_ABOVE: usize = 10_000;

/// GCRA emission interval and burst tolerance for a limit of `per_minute`: a burst of `b`,
/// then one every `60 s / (per_minute - b + 1)`, so that no 60 s span holds more than the limit.
fn shape(per_minute: u32) -> (Duration, Duration) {
    let n = per_minute.max(1);
    let burst = n.div_ceil(20).clamp(2, n.max(2)).min(n);
    // Rounded up: a nanosecond short would let one more in at the window's edge.
    let interval = Duration::from_nanos(60_000_000_000u64.div_ceil(u64::from(n - burst + 1)));
    (interval, interval * (burst - 1))
}

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
        let (interval, tolerance) = shape(per_minute);
        let now = Instant::now();
        let mut map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let allowed_at = tat.checked_sub(tolerance).unwrap_or(now).max(now);
        map.insert(key.to_owned(), tat.max(allowed_at) + interval);
        allowed_at - now
    }

    /// How long a request for `key` would wait now, without reserving a slot.
    pub fn would_wait(&self, key: &str, per_minute: u32) -> Duration {
        let (_, tolerance) = shape(per_minute);
        let now = Instant::now();
        let map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.get(key).copied().unwrap_or(now);
        tat.checked_sub(tolerance).unwrap_or(now).max(now) - now
    }

    /// Vipps answered 429 with `Retry-After`: nothing goes out for `key` before `after` has
    /// passed.
    pub fn hold(&self, key: &str, after: Duration, per_minute: u32) {
        // Past the burst tolerance, so that the first request after the hold waits it out.
        let until = Instant::now() + after + shape(per_minute).1;
        let mut map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.entry(key.to_owned()).or_insert(until);
        *tat = (*tat).max(until);
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
    async fn a_small_burst_then_even_spacing() {
        let t = Throttle::new();
        // 300/min: a burst of 15, then one every 60/286 s.
        for _ in 0..15 {
            assert_eq!(t.reserve("k", 300), Duration::ZERO);
        }
        assert_eq!(
            t.reserve("k", 300),
            Duration::from_nanos(60_000_000_000u64.div_ceil(286))
        );
        // Other keys are independent.
        assert_eq!(t.reserve("other", 300), Duration::ZERO);
        // 2/min (a charge's create): both at once, then one a minute.
        assert_eq!(t.reserve("c", 2), Duration::ZERO);
        assert_eq!(t.reserve("c", 2), Duration::ZERO);
        assert_eq!(t.reserve("c", 2), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_any_minute() {
        for limit in [1, 2, 5, 10, 120, 300] {
            let t = Throttle::new();
            let mut sent: Vec<Instant> = Vec::new();
            let mut seed = 0x9e37_79b9_u64;
            for _ in 0..(limit as usize * 4) {
                // Callers arrive in bursts with idle gaps in between.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if seed.is_multiple_of(7) {
                    tokio::time::advance(Duration::from_millis(seed % 90_000)).await;
                }
                let wait = t.reserve("k", limit);
                sent.push(Instant::now() + wait);
            }
            sent.sort();
            for (i, at) in sent.iter().enumerate() {
                let in_window = sent[i..]
                    .iter()
                    .take_while(|later| **later < *at + Duration::from_secs(60))
                    .count();
                assert!(
                    in_window <= limit as usize,
                    "{in_window} within a minute at {limit}/min"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn would_wait_peeks_without_reserving() {
        let t = Throttle::new();
        for _ in 0..3 {
            t.reserve("k", 5);
        }
        // 5/min: burst 2, then every 15 s; the third waited 15 s, the fourth waits 30 s.
        assert_eq!(t.would_wait("k", 5), Duration::from_secs(30));
        assert_eq!(
            t.would_wait("k", 5),
            Duration::from_secs(30),
            "peeking twice"
        );
        assert_eq!(t.reserve("k", 5), Duration::from_secs(30));
        assert_eq!(t.would_wait("fresh", 5), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_delays_the_key() {
        let t = Throttle::new();
        t.hold("k", Duration::from_secs(30), 300);
        assert_eq!(t.would_wait("k", 300), Duration::from_secs(30));
        assert_eq!(t.reserve("k", 300), Duration::from_secs(30));
        assert_eq!(t.would_wait("other", 300), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn acquire_waits_instead_of_failing() {
        let t = Throttle::new();
        let start = Instant::now();
        for _ in 0..3 {
            t.acquire("c", 2).await;
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    }
}
