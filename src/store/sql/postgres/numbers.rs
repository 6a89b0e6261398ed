//! Versions and creation positions of [`PostgresUserStore`]: values of a tenant's counter,
//! reserved [`BLOCK`] at a time and handed out to the store's writes, smallest first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::PostgresUserStore;
use crate::store::StoreError;
use crate::store::sql::backend_msg;
use crate::store::sql::driver::ReadRow;

/// How many values of a tenant's counter a store reserves at a time.
const BLOCK: i64 = 64;

/// Past this many tenants with reserved values, a store forgets them all (the values
/// are skipped: a gap, never a reuse).
const MAX_RESERVING_TENANTS: usize = 10_000;

/// Reserves `$2` values of tenant `$1`'s counter and returns the last: the values
/// `last - $2 + 1 ..= last` are this store's. A tenant's first reservation starts above
/// `scimkit_counter_base` (see migration 0005). Runs on its own, committed at once, so
/// the counter's row is locked only for that statement.
const RESERVE: &str = "INSERT INTO scimkit_tenant_counters AS c (tenant, value) \
     VALUES ($1, (SELECT value FROM scimkit_counter_base) + $2) \
     ON CONFLICT (tenant) DO UPDATE SET value = c.value + $2 RETURNING value";

/// Reserved counter values, per tenant: ranges `(next, last)` sorted by `next`, so that
/// the smallest is handed out first and a store's successive writes get increasing
/// values.
#[derive(Debug, Default)]
pub(super) struct Numbers {
    reserved: Mutex<Reserved>,
}

/// Per tenant, the ranges `(next, last)` of reserved values, sorted.
type Reserved = HashMap<Arc<str>, Vec<(i64, i64)>>;

impl Numbers {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Reserved> {
        // Every operation below completes before it could panic: the map stays whole.
        self.reserved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The smallest reserved value of `tenant`, if any is left.
    pub(super) fn take(&self, tenant: &str) -> Option<i64> {
        let mut map = self.lock();
        let ranges = map.get_mut(tenant)?;
        let (next, last) = ranges.first_mut()?;
        let n = *next;
        if *next >= *last {
            ranges.remove(0);
            if ranges.is_empty() {
                map.remove(tenant);
            }
        } else {
            *next += 1;
        }
        Some(n)
    }

    /// Keeps `next..=last` of `tenant` for later writes.
    pub(super) fn put(&self, tenant: &Arc<str>, next: i64, last: i64) {
        if next > last {
            return;
        }
        let mut map = self.lock();
        if map.len() >= MAX_RESERVING_TENANTS && !map.contains_key(tenant) {
            map.clear();
        }
        let ranges = map.entry(tenant.clone()).or_default();
        let at = ranges.partition_point(|r| r.0 < next);
        ranges.insert(at, (next, last));
    }
}

impl PostgresUserStore {
    /// The next value of the tenant's counter for a write: from this store's reserved
    /// block, or from a new block (one more round trip every [`BLOCK`] writes).
    pub(super) async fn number(&self, tenant: &Arc<str>) -> Result<i64, StoreError> {
        if let Some(n) = self.numbers.take(tenant) {
            return Ok(n);
        }
        let q = sqlx::query(RESERVE).bind(&**tenant).bind(BLOCK);
        let last = self
            .conns
            .fetch_one(q, |r| r.int(0))
            .await?
            .ok_or_else(|| backend_msg("reserving versions returned no row"))?;
        let first = last - (BLOCK - 1);
        self.numbers.put(tenant, first + 1, last);
        Ok(first)
    }
}
