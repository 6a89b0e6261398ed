//! An optional per-key rate limiter: a token bucket for each API key (tenant + key id).
//! Over the limit, a request gets 429 with an integer `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::ScimError;
use crate::store::Principal;

/// How many requests one API key may make: `per_second` on average, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// The most requests at once (the bucket size).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained, bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A bucket's key: tenant and key id.
type KeyId = (Arc<str>, Arc<str>);

/// Token buckets keyed by principal.
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<KeyId, Bucket>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// Buckets idle this long are full again; they are dropped to bound memory.
const IDLE: Duration = Duration::from_secs(600);

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `who` at `now`, or says how long to wait.
    pub(crate) fn check(&self, who: &Principal, now: Instant) -> Result<(), ScimError> {
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
        }
        let bucket = buckets
            .entry((who.tenant.clone(), who.key_id.clone()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err(ScimError::TooManyRequests {
                retry_after_secs: if wait.is_finite() {
                    (wait as u64).max(1)
                } else {
                    1
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate_per_key() {
        let l = Limiter::new(RateLimit::new(2.0, 3));
        let a = Principal::new("t", "a");
        let b = Principal::new("t", "b");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(&a, t0).is_ok());
        }
        let e = l.check(&a, t0).unwrap_err();
        assert_eq!(
            e,
            ScimError::TooManyRequests {
                retry_after_secs: 1
            }
        );
        assert!(l.check(&b, t0).is_ok(), "another key has its own bucket");
        assert!(
            l.check(&a, t0 + Duration::from_millis(500)).is_ok(),
            "refilled one token"
        );
        assert!(l.check(&a, t0 + Duration::from_millis(500)).is_err());
    }
}
