//! Token buckets by key: a device's requests, an address's or a code's enrollment attempts.
//!
//! Each key holds up to `burst` tokens, refilled at `per_minute` a minute; a request takes
//! one or is told how long until one is there. The table is bounded: past `MAX_KEYS` keys,
//! the full buckets (keys quiet long enough to have refilled) are forgotten, and if that
//! is not enough the whole table is, which only ever lets requests through.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys remembered before the table is pruned.
const MAX_KEYS: usize = 100_000;

/// A rate limit per key.
#[derive(Debug)]
pub struct Buckets<K> {
    burst: f64,
    per_sec: f64,
    table: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// `count` a minute, up to `burst` at once; a `count` of 0 means no limit.
    pub fn per_minute(count: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(count) / 60.0, burst)
    }

    /// `count` an hour, up to `burst` at once; a `count` of 0 means no limit.
    pub fn per_hour(count: u32, burst: u32) -> Self {
        Self::with_rate(f64::from(count) / 3_600.0, burst)
    }

    fn with_rate(per_sec: f64, burst: u32) -> Self {
        Buckets {
            burst: f64::from(burst.max(1)),
            per_sec,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`, or says how long until there is one.
    pub fn take(&self, key: &K) -> Result<(), Duration> {
        self.take_at(key, Instant::now())
    }

    fn take_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        // A poisoned lock only means another thread panicked mid-update of a counter.
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() >= MAX_KEYS && !table.contains_key(key) {
            let (burst, per_sec) = (self.burst, self.per_sec);
            table.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
            if table.len() >= MAX_KEYS {
                table.clear();
            }
        }
        let (tokens, at) = table.entry(key.clone()).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / self.per_sec))
        }
    }
}

/// Whole seconds to wait, at least one (for `Retry-After`).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_for_the_refill_while_other_keys_are_untouched() {
        let buckets = Buckets::per_minute(60, 3);
        let now = Instant::now();
        for _ in 0..3 {
            assert!(buckets.take_at(&"a", now).is_ok());
        }
        let wait = buckets.take_at(&"a", now).expect_err("the burst is spent");
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(
            buckets.take_at(&"b", now).is_ok(),
            "another key has its own bucket"
        );
        assert!(
            buckets
                .take_at(&"a", now + Duration::from_millis(1_050))
                .is_ok(),
            "one token a second comes back"
        );
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2_500)), 3);
    }

    #[test]
    fn a_zero_rate_never_refuses() {
        let buckets = Buckets::per_minute(0, 1);
        let now = Instant::now();
        for _ in 0..100 {
            assert!(buckets.take_at(&1, now).is_ok());
        }
    }
}
