//! Access-token cache: one token per set of credentials, reused until shortly before it
//! expires; concurrent callers share one refresh (single flight).

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::wire::AccessTokenResponse;

/// Refresh this long before the token expires.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(120);

/// A cached bearer token.
#[derive(Clone)]
pub struct CachedToken {
    pub token: Arc<str>,
    /// When we stop using it (expiry minus the margin).
    pub refresh_at: Instant,
}

impl CachedToken {
    /// Computes the refresh time from a token response: the earlier of `expires_on` (when
    /// it lies in the future by our clock) and `now + expires_in`, minus the margin (or half
    /// the lifetime for very short tokens).
    pub fn from_response(r: &AccessTokenResponse, now: Instant, wall: SystemTime) -> Self {
        let mut lifetime = Duration::from_secs(r.expires_in);
        if let Some(on) = r.expires_on {
            let wall_secs = wall
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            if on > wall_secs {
                lifetime = lifetime.min(Duration::from_secs(on - wall_secs));
            }
        }
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        Self {
            token: Arc::from(r.access_token.as_str()),
            refresh_at: now + lifetime.saturating_sub(margin),
        }
    }

    fn fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }
}

/// The cache. Cheap reads; refreshes serialised by an async mutex so N concurrent callers
/// trigger one fetch.
#[derive(Default)]
pub struct TokenCache {
    current: RwLock<Option<CachedToken>>,
    refresh: Mutex<()>,
}

impl TokenCache {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Option<CachedToken> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns a fresh token, fetching one with `fetch` if needed. Only one fetch runs at a
    /// time; callers that waited for it reuse its result.
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<Arc<str>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessTokenResponse, E>>,
    {
        if let Some(t) = self.read().filter(|t| t.fresh(Instant::now())) {
            return Ok(t.token);
        }
        let _guard = self.refresh.lock().await;
        if let Some(t) = self.read().filter(|t| t.fresh(Instant::now())) {
            return Ok(t.token);
        }
        let resp = fetch().await?;
        let cached = CachedToken::from_response(&resp, Instant::now(), SystemTime::now());
        let token = cached.token.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(cached);
        Ok(token)
    }

    /// Forgets `rejected` (after a 401) unless another caller already replaced it.
    pub fn invalidate(&self, rejected: &str) {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        if cur.as_ref().is_some_and(|t| &*t.token == rejected) {
            *cur = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn resp(token: &str, expires_in: u64, expires_on: Option<u64>) -> AccessTokenResponse {
        AccessTokenResponse {
            token_type: Some("Bearer".into()),
            expires_in,
            ext_expires_in: None,
            expires_on,
            not_before: None,
            resource: None,
            access_token: token.into(),
        }
    }

    #[test]
    fn refresh_time_uses_the_earlier_expiry_minus_margin() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t = CachedToken::from_response(&resp("a", 3600, None), now, wall);
        assert_eq!(t.refresh_at - now, Duration::from_secs(3600 - 120));
        let t = CachedToken::from_response(&resp("a", 86400, Some(1_000_600)), now, wall);
        assert_eq!(t.refresh_at - now, Duration::from_secs(600 - 120));
        // expires_on in the past by our clock (skew): fall back to expires_in.
        let t = CachedToken::from_response(&resp("a", 3600, Some(10)), now, wall);
        assert_eq!(t.refresh_at - now, Duration::from_secs(3600 - 120));
        let t = CachedToken::from_response(&resp("a", 60, None), now, wall);
        assert_eq!(t.refresh_at - now, Duration::from_secs(30));
    }

    #[tokio::test]
    async fn thousand_concurrent_callers_fetch_once() {
        let cache = Arc::new(TokenCache::new());
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(resp("tok", 3600, None))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(&*t.await.unwrap().unwrap(), "tok");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidate_forces_one_refetch_and_errors_are_not_cached() {
        let cache = TokenCache::new();
        let t = cache
            .get(|| async { Ok::<_, ()>(resp("one", 3600, None)) })
            .await
            .unwrap();
        cache.invalidate("someone-else");
        let again = cache
            .get(|| async { Err::<AccessTokenResponse, _>(()) })
            .await
            .unwrap();
        assert_eq!(again, t);
        cache.invalidate(&t);
        assert!(
            cache
                .get(|| async { Err::<AccessTokenResponse, _>("down") })
                .await
                .is_err()
        );
        let t2 = cache
            .get(|| async { Ok::<_, ()>(resp("two", 3600, None)) })
            .await
            .unwrap();
        assert_eq!(&*t2, "two");
    }

    #[tokio::test(start_paused = true)]
    async fn expired_tokens_are_refetched() {
        let cache = TokenCache::new();
        cache
            .get(|| async { Ok::<_, ()>(resp("one", 600, None)) })
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(479)).await;
        let t = cache
            .get(|| async { Ok::<_, ()>(resp("two", 600, None)) })
            .await
            .unwrap();
        assert_eq!(&*t, "one");
        tokio::time::advance(Duration::from_secs(2)).await;
        let t = cache
            .get(|| async { Ok::<_, ()>(resp("two", 600, None)) })
            .await
            .unwrap();
        assert_eq!(&*t, "two");
    }
}
