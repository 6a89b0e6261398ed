//! Users decoded from their rows, kept by both SQL stores: a stored user is decoded from
//! its JSON once, then handed out again for as long as its row keeps that version.
//!
//! The key is the tenant, the row's `seq` (unique in the tenant, never reused) and the
//! version of its content (never reused for a row either: see the stores' counters), so
//! a kept user is never stale: a write gives the row a new version, and the old entry is
//! simply not asked for again (it ages out).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::driver::ReadRow;
use super::encode::decode;
use crate::resource::User;
use crate::store::StoreError;

/// Decoded users kept by default.
pub(super) const DEFAULT_DECODED: usize = 4_096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The key of a decoded user: a hash of its tenant, its row's `seq` (unique in the
/// tenant) and the version of its content, none ever reused. The tenant itself is kept
/// beside the user and compared on every hit.
type DecodedKey = (u64, i64, i64);

/// One generation of decoded users, each with its tenant.
type Generation = HashMap<DecodedKey, (Arc<str>, Arc<User>)>;

/// Users decoded from their rows. Two generations: a hit in the older one moves the user
/// to the newer; when the newer is full it becomes the older and the oldest is dropped.
/// So at most `2 × half` users are kept, and the ones in use stay.
pub(super) struct Decoded {
    half: usize,
    maps: Mutex<[Generation; 2]>,
}

impl Decoded {
    /// Keeps up to `capacity` users (0 keeps none).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            half: capacity / 2,
            maps: Mutex::new([HashMap::new(), HashMap::new()]),
        }
    }

    /// How many users are kept at most.
    #[cfg(feature = "postgres")]
    pub(super) fn capacity(&self) -> usize {
        self.half.saturating_mul(2)
    }

    fn key(tenant: &str, seq: i64, version: i64) -> DecodedKey {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        tenant.hash(&mut h);
        (h.finish(), seq, version)
    }

    /// The user of `tenant`'s row `seq` at `version`, if it is kept.
    pub(super) fn get(&self, tenant: &str, seq: i64, version: i64) -> Option<Arc<User>> {
        if self.half == 0 {
            return None;
        }
        let key = Self::key(tenant, seq, version);
        let mut maps = lock(&self.maps);
        if let Some((t, u)) = maps[0].get(&key) {
            return (&**t == tenant).then(|| Arc::clone(u));
        }
        let (t, u) = maps[1].remove(&key)?;
        if &*t != tenant {
            return None;
        }
        let user = Arc::clone(&u);
        Self::insert(self.half, &mut maps, key, (t, u));
        Some(user)
    }

    /// The user stored as `resource` in `tenant`'s row `seq` at `version`: the kept one,
    /// else decoded (outside the lock) and kept.
    pub(super) fn get_or_decode(
        &self,
        tenant: &str,
        seq: i64,
        version: i64,
        resource: &str,
    ) -> Result<Arc<User>, StoreError> {
        if let Some(u) = self.get(tenant, seq, version) {
            return Ok(u);
        }
        // Decoded outside the lock.
        let user = Arc::new(decode(resource, version)?);
        if self.half > 0 {
            let key = Self::key(tenant, seq, version);
            let entry = (Arc::from(tenant), Arc::clone(&user));
            Self::insert(self.half, &mut lock(&self.maps), key, entry);
        }
        Ok(user)
    }

    /// The user of a row whose first columns are `seq, resource, version` (a GET's or a
    /// page's, in either dialect), with its `seq`: the kept one, else decoded and kept
    /// (the resource is read only then).
    pub(super) fn read_row(
        &self,
        tenant: &str,
        row: &impl ReadRow,
    ) -> Result<(i64, Arc<User>), StoreError> {
        let seq = row.int(0)?;
        let version = row.int(2)?;
        if let Some(user) = self.get(tenant, seq, version) {
            return Ok((seq, user));
        }
        Ok((seq, self.get_or_decode(tenant, seq, version, row.text(1)?)?))
    }

    fn insert(
        half: usize,
        maps: &mut [Generation; 2],
        key: DecodedKey,
        entry: (Arc<str>, Arc<User>),
    ) {
        if maps[0].len() >= half {
            maps[1] = std::mem::take(&mut maps[0]);
        }
        maps[0].insert(key, entry);
    }
}

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded")
            .field("capacity", &self.half.saturating_mul(2))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::store::sql::encode::encode;

    fn resource(user_name: &str) -> String {
        let mut u = User::new(user_name);
        u.id = Some(format!("id-{user_name}").into());
        u.meta = Some(crate::resource::Meta::new("User", chrono::Utc::now()));
        encode(&u, crate::schema::SchemaSet::core())
            .unwrap()
            .resource
    }

    #[test]
    fn a_kept_user_is_handed_out_again_only_for_its_tenant_row_and_version() {
        let kept = Decoded::new(8);
        let a = resource("a");
        let first = kept.get_or_decode("t", 1, 7, &a).unwrap();
        assert_eq!(first.user_name, "a");
        assert_eq!(first.version(), Some("W/\"7\""));
        let again = kept.get("t", 1, 7).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "decoded once");
        assert!(kept.get("t", 1, 8).is_none(), "another version");
        assert!(kept.get("t", 2, 7).is_none(), "another row");
        assert!(kept.get("u", 1, 7).is_none(), "another tenant");
        // A new version of the row is decoded from its own resource.
        let b = kept.get_or_decode("t", 1, 8, &resource("b")).unwrap();
        assert_eq!(b.user_name, "b");
        assert!(kept.get_or_decode("t", 1, 7, &a).unwrap().user_name == "a");
    }

    #[test]
    fn at_most_the_capacity_is_kept_and_none_with_zero() {
        let none = Decoded::new(0);
        let a = resource("a");
        none.get_or_decode("t", 1, 1, &a).unwrap();
        assert!(none.get("t", 1, 1).is_none());
        let kept = Decoded::new(4);
        for seq in 0..100 {
            kept.get_or_decode("t", seq, 1, &a).unwrap();
        }
        let held = (0..100).filter(|s| kept.get("t", *s, 1).is_some()).count();
        assert!((1..=4).contains(&held), "{held}");
    }
}
