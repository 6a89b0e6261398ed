//! The in-process cache of [`super::ApiKeys`] (verified keys by [`super::KeyHash`]) and
//! [`super::Tenants`] (whether SCIM is on, by tenant id): bounded, with a time to live, and
//! invalidated by the writes of its own process. See the
//! [module documentation](super#the-authentication-cache) for the guarantees.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How long, by default, a cached key or tenant state is served before it is read again
/// from its store: the longest a change made by another process goes unseen.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(1);

/// How many keys (or tenants) a cache holds by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// The time to live and the size of the authentication cache of [`super::ApiKeys`] and
/// [`super::Tenants`].
///
/// A change made through another process (another replica, an admin CLI) is seen at most
/// `ttl` after it is committed; a change made through the same `ApiKeys`/`Tenants` (or a
/// clone) is seen at once. A `ttl` of zero or a `capacity` of zero turns the cache off:
/// every request reads the stores, as without a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePolicy {
    /// How long an entry is served before it is read again from the store.
    pub ttl: Duration,
    /// The most entries kept; past it, entries not used since the last sweep (and
    /// expired ones) are dropped first.
    pub capacity: usize,
}

impl CachePolicy {
    /// A cache of `capacity` entries served for `ttl` each.
    pub const fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity }
    }

    /// No cache: every request reads the stores.
    pub const DISABLED: Self = Self::new(Duration::ZERO, 0);

    fn enabled(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }
}

impl Default for CachePolicy {
    /// [`DEFAULT_CACHE_TTL`] (1 s) and [`DEFAULT_CACHE_CAPACITY`].
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_TTL, DEFAULT_CACHE_CAPACITY)
    }
}

/// Taken before a store read whose result may be cached: the read's result is inserted
/// only if no invalidation happened since, and it counts as read at `started`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    epoch: u64,
    started: Instant,
}

/// A bounded map from `K` to `V` whose entries are served for [`CachePolicy::ttl`].
///
/// The map hashes with the standard library's randomly keyed SipHash, so keys an
/// attacker chooses cannot be made to collide.
pub(crate) struct Cache<K, V> {
    policy: CachePolicy,
    inner: RwLock<Inner<K, V>>,
}

struct Inner<K, V> {
    map: HashMap<K, Entry<V>>,
    /// Bumped by every invalidation: a read that started before it is not inserted.
    epoch: u64,
}

struct Entry<V> {
    value: V,
    /// When the read that produced the value started.
    fetched: Instant,
    /// Set by every hit, cleared by a sweep: the second chance of CLOCK.
    referenced: AtomicBool,
}

/// A cache shows as its policy (its entries are keys and tenants).
impl<K, V> std::fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.policy, f)
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    pub(crate) fn new(policy: CachePolicy) -> Self {
        Self {
            policy,
            inner: RwLock::new(Inner {
                map: HashMap::new(),
                epoch: 0,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner<K, V>> {
        // Every write completes its map operation before it can panic: the map stays whole.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner<K, V>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`, if it was read from the store less than the TTL ago.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if !self.policy.enabled() {
            return None;
        }
        let inner = self.read();
        let entry = inner.map.get(key)?;
        if entry.fetched.elapsed() >= self.policy.ttl {
            return None;
        }
        entry.referenced.store(true, Ordering::Relaxed);
        Some(entry.value.clone())
    }

    /// To take before reading the store for a value to [`Cache::insert`].
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            epoch: self.read().epoch,
            started: Instant::now(),
        }
    }

    /// Caches `value`, read from the store after `ticket` was taken, unless something was
    /// invalidated since (the value may then predate that change).
    pub(crate) fn insert(&self, ticket: Ticket, key: K, value: V) {
        if !self.policy.enabled() {
            return;
        }
        let mut inner = self.write();
        if inner.epoch != ticket.epoch {
            return;
        }
        if inner.map.len() >= self.policy.capacity && !inner.map.contains_key(&key) {
            self.make_room(&mut inner.map);
        }
        inner.map.insert(
            key,
            Entry {
                value,
                fetched: ticket.started,
                referenced: AtomicBool::new(false),
            },
        );
    }

    /// Forgets `key` and every read in flight: the next lookup reads the store.
    pub(crate) fn invalidate(&self, key: &K) {
        let mut inner = self.write();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner.map.remove(key);
    }

    /// Forgets `key` (a value found out of date by a read of the store).
    pub(crate) fn remove(&self, key: &K) {
        if self.policy.enabled() {
            self.write().map.remove(key);
        }
    }

    /// Frees at least an eighth of the capacity: expired entries and those not used since
    /// the last sweep go first (their bits are cleared for the next one), then arbitrary
    /// ones. An insertion into a full cache thus costs O(1) amortized.
    fn make_room(&self, map: &mut HashMap<K, Entry<V>>) {
        let capacity = self.policy.capacity;
        let target = capacity.saturating_sub((capacity / 8).max(1));
        let ttl = self.policy.ttl;
        map.retain(|_, e| e.fetched.elapsed() < ttl && e.referenced.swap(false, Ordering::Relaxed));
        if map.len() > target {
            let excess = map.len() - target;
            let victims: Vec<K> = map.keys().take(excess).cloned().collect();
            for k in &victims {
                map.remove(k);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.read().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(ttl_ms: u64, capacity: usize) -> Cache<u32, u32> {
        Cache::new(CachePolicy::new(Duration::from_millis(ttl_ms), capacity))
    }

    #[test]
    fn entries_are_served_until_their_ttl_runs_out() {
        let c = cache(3_600_000, 10);
        assert_eq!(c.get(&1), None);
        c.insert(c.ticket(), 1, 10);
        assert_eq!(c.get(&1), Some(10));
        let c = cache(1, 10);
        c.insert(c.ticket(), 1, 10);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.get(&1), None, "expired");
    }

    #[test]
    fn a_read_that_started_before_an_invalidation_is_not_cached() {
        let c = cache(3_600_000, 10);
        let before = c.ticket();
        c.invalidate(&2);
        c.insert(before, 1, 10);
        assert_eq!(c.get(&1), None);
        c.insert(c.ticket(), 1, 10);
        c.invalidate(&1);
        assert_eq!(c.get(&1), None);
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity_and_keeps_used_entries() {
        let c = cache(3_600_000, 16);
        for k in 0..16 {
            c.insert(c.ticket(), k, k);
        }
        // 0..4 are in use; the sweep drops unused entries first.
        for k in 0..4 {
            assert_eq!(c.get(&k), Some(k));
        }
        for k in 100..1000 {
            c.insert(c.ticket(), k, k);
            assert!(c.len() <= 16);
            if k == 100 {
                for used in 0..4 {
                    assert_eq!(c.get(&used), Some(used), "second chance for {used}");
                }
            }
        }
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        for policy in [
            CachePolicy::DISABLED,
            CachePolicy::new(Duration::ZERO, 10),
            CachePolicy::new(DEFAULT_CACHE_TTL, 0),
        ] {
            let c: Cache<u32, u32> = Cache::new(policy);
            c.insert(c.ticket(), 1, 1);
            assert_eq!((c.get(&1), c.len()), (None, 0));
        }
    }
}
