//! Users decoded from their rows, kept by both SQL stores: a stored user is decoded from
//! its JSON once, then handed out again for as long as its row keeps that version.
//!
//! The key is the tenant and the version of the content: a tenant never hands out a
//! version twice (every write takes the next value of its counter), so the pair names one
//! row's content, and a kept user is never stale: a write gives the row a new version, and
//! the old entry is simply not asked for again (it ages out). A write conditional on a
//! version finds there the user it replaces ([`Decoded::at_version`]).

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

/// The key of a decoded user: a hash of its tenant and the version of its content. A
/// version is never handed out twice in a tenant (every write of the tenant takes the
/// next value of its counter), so it names one row's content; the tenant, the row's `seq`
/// and the user's `id` are kept beside the user and compared on every hit.
type DecodedKey = (u64, i64);

/// A decoded user with what its key does not hold.
struct Entry {
    tenant: Arc<str>,
    seq: i64,
    user: Arc<User>,
}

/// One generation of decoded users.
type Generation = HashMap<DecodedKey, Entry>;

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

    #[cfg(feature = "postgres")]
    pub(super) fn capacity(&self) -> usize {
        self.half.saturating_mul(2)
    }

    fn key(tenant: &str, version: i64) -> DecodedKey {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        tenant.hash(&mut h);
        (h.finish(), version)
    }

    /// The kept user of `tenant` at `version` that `is` accepts (moved to the newer
    /// generation when found in the older).
    fn find(&self, tenant: &str, version: i64, is: impl Fn(&Entry) -> bool) -> Option<Arc<User>> {
        if self.half == 0 {
            return None;
        }
        let key = Self::key(tenant, version);
        let hit = |e: &Entry| &*e.tenant == tenant && is(e);
        let mut maps = lock(&self.maps);
        if let Some(e) = maps[0].get(&key) {
            return hit(e).then(|| Arc::clone(&e.user));
        }
        if !maps[1].get(&key).is_some_and(hit) {
            return None;
        }
        let e = maps[1].remove(&key)?;
        let user = Arc::clone(&e.user);
        Self::insert(self.half, &mut maps, key, e);
        Some(user)
    }

    /// The user of `tenant`'s row `seq` at `version`, if it is kept.
    pub(super) fn get(&self, tenant: &str, seq: i64, version: i64) -> Option<Arc<User>> {
        self.find(tenant, version, |e| e.seq == seq)
    }

    /// The user `id` of `tenant` as it was at `version`, if it is kept: what a write
    /// conditional on that version replaces (read here instead of from the database).
    pub(super) fn at_version(&self, tenant: &str, id: &str, version: i64) -> Option<Arc<User>> {
        self.find(tenant, version, |e| e.user.id.as_deref() == Some(id))
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
            let entry = Entry {
                tenant: Arc::from(tenant),
                seq,
                user: Arc::clone(&user),
            };
            Self::insert(
                self.half,
                &mut lock(&self.maps),
                Self::key(tenant, version),
                entry,
            );
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

    fn insert(half: usize, maps: &mut [Generation; 2], key: DecodedKey, entry: Entry) {
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
    fn a_kept_user_is_found_by_its_id_at_its_version_only() {
        let kept = Decoded::new(8);
        kept.get_or_decode("t", 1, 7, &resource("a")).unwrap();
        let found = kept.at_version("t", "id-a", 7).unwrap();
        assert_eq!(found.user_name, "a");
        assert!(kept.at_version("t", "id-a", 8).is_none(), "another version");
        assert!(kept.at_version("t", "id-b", 7).is_none(), "another user");
        assert!(kept.at_version("u", "id-a", 7).is_none(), "another tenant");
        assert!(kept.get("t", 2, 7).is_none(), "another row at that version");
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
