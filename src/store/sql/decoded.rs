//! Users decoded from their rows, kept by both SQL stores: a stored user is decoded from
//! its JSON once, then handed out again for as long as its row keeps that version.
//!
//! The key is the tenant and the version of the content: a tenant never hands out a
//! version twice (every write takes the next value of its counter), so the pair names one
//! row's content, and a kept user is never stale: a write gives the row a new version, and
//! the old entry is simply not asked for again (it ages out). A write conditional on a
//! version finds there the user it replaces ([`Decoded::at_version`]).
//!
//! Beside them, the latest version of each user this process read or wrote
//! ([`Decoded::latest`]): the base of a compare-and-swap write that needs no read first.
//! That one may be stale (another process may have written since); the swap, conditional
//! on its version, then misses and the server reads the user again.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use super::driver::ReadRow;
use super::encode::decode;
use super::lock;
use crate::resource::User;
use crate::store::StoreError;

/// Decoded users kept by default.
pub(super) const DEFAULT_DECODED: usize = 4_096;

/// The key of a decoded user: a hash of its tenant (seeded per cache, [`Decoded::key`])
/// and the version of its content. A version is never handed out twice in a tenant
/// (every write of the tenant takes the next value of its counter), so it names one
/// row's content; the tenant, the row's `seq` and the user's `id` are kept beside the
/// user and compared on every hit.
type DecodedKey = (u64, i64);

/// The `seq` of a kept user whose row is not known (written, not read).
const UNKNOWN_ROW: i64 = -1;

/// A decoded user with what its key does not hold.
struct Entry {
    tenant: Arc<str>,
    seq: i64,
    user: Arc<User>,
}

impl Entry {
    /// Whether the entry is of user `id`.
    fn is_user(&self, id: &str) -> bool {
        self.user.id.as_deref() == Some(id)
    }
}

/// Hashes the keys of the maps below, which are hashes already (of strings an identity
/// provider chooses, with the cache's random seed: [`Decoded::key`],
/// [`Decoded::user_key`]): it only mixes their words instead of hashing them a second
/// time. Keys an identity provider cannot predict keep the maps' buckets unpredictable.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        // A multiply spreads a small word (a version) into the high bits too.
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(u64::from_ne_bytes(n.to_ne_bytes()));
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by the maps' keys (words); any other bytes are mixed all the same.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
}

/// A map kept in two generations: entries go into the newer; when it holds `half` it
/// becomes the older and the older one is dropped.
struct Generations<K, V>([HashMap<K, V, BuildHasherDefault<Prehashed>>; 2]);

impl<K, V> Default for Generations<K, V> {
    fn default() -> Self {
        Self([HashMap::default(), HashMap::default()])
    }
}

impl<K: std::hash::Hash + Eq, V> Generations<K, V> {
    /// The entry of `key`, the newer generation's first.
    fn get(&self, key: &K) -> Option<&V> {
        self.0[0].get(key).or_else(|| self.0[1].get(key))
    }

    /// Removes the entry of `key` from both generations.
    fn remove(&mut self, key: &K) -> Option<V> {
        let newer = self.0[0].remove(key);
        let older = self.0[1].remove(key);
        newer.or(older)
    }

    fn put(&mut self, half: usize, key: K, value: V) {
        if self.0[0].len() >= half {
            self.0[1] = std::mem::take(&mut self.0[0]);
        }
        self.0[0].insert(key, value);
    }
}

/// The decoded users, and the latest version seen of each user by a hash of its tenant
/// and id (a collision only makes [`Decoded::latest`] miss: the user found is checked).
#[derive(Default)]
struct Maps {
    users: Generations<DecodedKey, Entry>,
    latest: Generations<u64, i64>,
}

/// Users decoded from their rows. Two generations: a hit in the older one moves the user
/// to the newer; when the newer is full it becomes the older and the oldest is dropped.
/// So at most `2 × half` users are kept, and the ones in use stay; the same for the
/// latest versions.
pub(super) struct Decoded {
    half: usize,
    maps: Mutex<Maps>,
    /// Hashes tenants and ids into the maps' keys, with a seed of this cache's own.
    seed: foldhash::fast::RandomState,
}

impl Decoded {
    /// Keeps up to `capacity` users (0 keeps none).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            half: capacity / 2,
            maps: Mutex::new(Maps::default()),
            seed: foldhash::fast::RandomState::default(),
        }
    }

    #[cfg(feature = "postgres")]
    pub(super) fn capacity(&self) -> usize {
        self.half.saturating_mul(2)
    }

    fn key(&self, tenant: &str, version: i64) -> DecodedKey {
        (self.seed.hash_one(tenant), version)
    }

    fn user_key(&self, tenant: &str, id: &str) -> u64 {
        self.seed.hash_one((tenant, id))
    }

    /// The kept user of `tenant` at `version` that `is` accepts (moved to the newer
    /// generation when found in the older).
    fn find(
        &self,
        tenant: &str,
        version: i64,
        is: impl Fn(&Entry) -> bool,
    ) -> Option<(i64, Arc<User>)> {
        if self.half == 0 {
            return None;
        }
        self.find_in(&mut lock(&self.maps), tenant, version, is)
    }

    /// [`Decoded::find`] in `maps`, already locked.
    fn find_in(
        &self,
        maps: &mut Maps,
        tenant: &str,
        version: i64,
        is: impl Fn(&Entry) -> bool,
    ) -> Option<(i64, Arc<User>)> {
        let key = self.key(tenant, version);
        let hit = |e: &Entry| &*e.tenant == tenant && is(e);
        let [newer, older] = &mut maps.users.0;
        if let Some(e) = newer.get(&key) {
            return hit(e).then(|| (e.seq, Arc::clone(&e.user)));
        }
        if !older.get(&key).is_some_and(hit) {
            return None;
        }
        let e = older.remove(&key)?;
        let found = (e.seq, Arc::clone(&e.user));
        self.insert(maps, key, e);
        Some(found)
    }

    /// The user `id` of `tenant` at the latest version this process read or wrote, if
    /// it is kept. It may be stale: use it only as the base of a write conditional on its
    /// version.
    pub(super) fn latest(&self, tenant: &str, id: &str) -> Option<Arc<User>> {
        self.latest_kept(tenant, id).map(|(_, user)| user)
    }

    /// [`Decoded::latest`] with its version: what a read of user `id` passes to
    /// [`GET_UNLESS_KEPT`](super::user_rows::GET_UNLESS_KEPT), then to
    /// [`Decoded::read_unless_kept`].
    pub(super) fn latest_kept(&self, tenant: &str, id: &str) -> Option<(i64, Arc<User>)> {
        if self.half == 0 {
            return None;
        }
        // One lock for both lookups (this runs on every GET by id).
        let mut maps = lock(&self.maps);
        let version = maps.latest.get(&self.user_key(tenant, id)).copied()?;
        let (_, user) = self.find_in(&mut maps, tenant, version, |e| e.is_user(id))?;
        Some((version, user))
    }

    /// Reads a row of [`GET_UNLESS_KEPT`](super::user_rows::GET_UNLESS_KEPT) (`seq`,
    /// `resource`, `version`) asked with `kept` (from [`Decoded::latest_kept`]): the
    /// kept user when the row is at its version (the resource NULL), else as
    /// [`Decoded::read_row`].
    pub(super) fn read_unless_kept(
        &self,
        tenant: &str,
        row: &impl ReadRow,
        kept: Option<(i64, Arc<User>)>,
    ) -> Result<(i64, Arc<User>), StoreError> {
        match kept {
            Some((version, user)) if version == row.int(2)? => Ok((row.int(0)?, user)),
            _ => self.read_row(tenant, row),
        }
    }

    /// Keeps `user` of `tenant` as written (its version set): the latest version of its
    /// id, found by [`Decoded::at_version`], and by row ([`Decoded::get`]) when the
    /// version it replaced is kept with its row (a write keeps the user's row), so that
    /// the next read of the user does not decode it again. A written user is what its row
    /// decodes to (`written_users_are_what_their_rows_decode_to`). A user just `created`
    /// is in row `seq` = its first version (both dialects insert it so).
    pub(super) fn wrote(&self, tenant: &str, user: &Arc<User>, created: bool) {
        let version = user.version().and_then(super::encode::parse_version);
        let (Some(version), true) = (version, self.half > 0) else {
            return;
        };
        let mut maps = lock(&self.maps);
        let seq = if created {
            Some(version)
        } else {
            user.id.as_deref().and_then(|id| {
                let before = *maps.latest.get(&self.user_key(tenant, id))?;
                let key = self.key(tenant, before);
                let e = maps.users.get(&key)?;
                let seq =
                    (&*e.tenant == tenant && e.is_user(id) && before < version).then_some(e.seq)?;
                // The version replaced is no longer anyone's latest: only a read that
                // started before this write could still ask for it (and decodes it
                // then). Dropped, it does not crowd the users in use out of the cache.
                maps.users.remove(&key);
                Some(seq)
            })
        }
        .unwrap_or(UNKNOWN_ROW);
        let entry = Entry {
            tenant: Arc::from(tenant),
            seq,
            user: Arc::clone(user),
        };
        self.insert(&mut maps, self.key(tenant, version), entry);
    }

    /// The user of `tenant`'s row `seq` at `version`, if it is kept.
    pub(super) fn get(&self, tenant: &str, seq: i64, version: i64) -> Option<Arc<User>> {
        self.find(tenant, version, |e| e.seq == seq)
            .map(|(_, user)| user)
    }

    /// The user `id` of `tenant` as it was at `version`, if it is kept: what a write
    /// conditional on that version replaces (read here instead of from the database).
    #[cfg(feature = "postgres")]
    pub(super) fn at_version(&self, tenant: &str, id: &str, version: i64) -> Option<Arc<User>> {
        self.row_at_version(tenant, id, version)
            .map(|(_, user)| user)
    }

    /// [`Decoded::at_version`] with the user's row (`seq`), when known.
    pub(super) fn row_at_version(
        &self,
        tenant: &str,
        id: &str,
        version: i64,
    ) -> Option<(Option<i64>, Arc<User>)> {
        self.find(tenant, version, |e| e.is_user(id))
            .map(|(seq, user)| ((seq != UNKNOWN_ROW).then_some(seq), user))
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
            self.insert(&mut lock(&self.maps), self.key(tenant, version), entry);
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

    /// Keeps `entry`, and its version as its id's latest unless a later one is known.
    fn insert(&self, maps: &mut Maps, key: DecodedKey, entry: Entry) {
        if let Some(id) = entry.user.id.as_deref() {
            let user = self.user_key(&entry.tenant, id);
            if maps.latest.get(&user).is_none_or(|v| *v < key.1) {
                maps.latest.put(self.half, user, key.1);
            }
        }
        maps.users.put(self.half, key, entry);
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
    fn the_latest_version_of_a_user_is_found_by_its_id() {
        let kept = Decoded::new(8);
        kept.get_or_decode("t", 1, 7, &resource("a")).unwrap();
        assert_eq!(kept.latest("t", "id-a").unwrap().version(), Some("W/\"7\""));
        assert!(kept.latest("u", "id-a").is_none(), "another tenant");
        assert!(kept.latest("t", "id-b").is_none(), "another user");
        // A write of version 9 is the latest; reading version 7 again does not go back.
        let mut written = (*kept.latest("t", "id-a").unwrap()).clone();
        written.title = Some("Dr".into());
        written.meta.as_mut().unwrap().version = Some("W/\"9\"".into());
        kept.wrote("t", &Arc::new(written), false);
        kept.get_or_decode("t", 1, 7, &resource("a")).unwrap();
        let latest = kept.latest("t", "id-a").unwrap();
        assert_eq!(
            (latest.version(), latest.title.as_deref()),
            (Some("W/\"9\""), Some("Dr"))
        );
        assert!(
            kept.get("t", 2, 9).is_none(),
            "a written user is found by its own row only"
        );
        assert!(Decoded::new(0).latest("t", "id-a").is_none());
    }

    /// A write keeps its user's row: the user written over a version kept with its row is
    /// found by that row at the new version (the next read needs no decoding); a user
    /// written without a kept row (a create) is found by id only.
    #[test]
    fn a_written_user_is_found_by_the_row_of_the_version_it_replaced() {
        let kept = Decoded::new(8);
        kept.get_or_decode("t", 1, 7, &resource("a")).unwrap();
        let mut next = (*kept.at_version("t", "id-a", 7).unwrap()).clone();
        next.title = Some("Dr".into());
        next.meta.as_mut().unwrap().version = Some("W/\"9\"".into());
        let next = Arc::new(next);
        kept.wrote("t", &next, false);
        let read = kept.get("t", 1, 9).expect("found by its row");
        assert!(Arc::ptr_eq(&read, &next));
        assert!(kept.get("t", 2, 9).is_none(), "another row");
        assert!(kept.get("u", 1, 9).is_none(), "another tenant");
        // Written again, from the written one: still its row.
        let mut again = (*next).clone();
        again.meta.as_mut().unwrap().version = Some("W/\"10\"".into());
        kept.wrote("t", &Arc::new(again), false);
        assert!(kept.get("t", 1, 10).is_some());
        // A user written over a version not kept has no known row: found by id only.
        let mut unknown = (*next).clone();
        unknown.id = Some("id-other".into());
        unknown.meta.as_mut().unwrap().version = Some("W/\"11\"".into());
        kept.wrote("t", &Arc::new(unknown), false);
        assert!(kept.at_version("t", "id-other", 11).is_some());
        assert!((0..20).all(|seq| kept.get("t", seq, 11).is_none()));
        // A user just created is in the row numbered by its first version.
        let mut created = (*next).clone();
        created.id = Some("id-new".into());
        created.meta.as_mut().unwrap().version = Some("W/\"12\"".into());
        let created = Arc::new(created);
        kept.wrote("t", &created, true);
        assert!(Arc::ptr_eq(&kept.get("t", 12, 12).unwrap(), &created));
        assert!(kept.get("t", 11, 12).is_none());
    }

    #[test]
    fn users_written_again_and_again_stay_kept_without_their_replaced_versions() {
        // Room for four users; three users, each written ten times in turn. Every write
        // used to add a version and keep the replaced ones until they aged out, so the
        // users in use were pushed out (an update then needed a read first).
        let kept = Decoded::new(4);
        let ids = ["a", "b", "c"];
        let mut version = 0;
        let mut latest = std::collections::HashMap::new();
        for (seq, id) in ids.iter().enumerate() {
            version += 1;
            kept.get_or_decode("t", seq as i64 + 1, version, &resource(id))
                .unwrap();
            latest.insert(*id, version);
        }
        for _ in 0..10 {
            for id in ids {
                let current = kept.latest("t", &format!("id-{id}")).expect("kept");
                assert_eq!(
                    current.version(),
                    Some(format!("W/\"{}\"", latest[id]).as_str())
                );
                version += 1;
                let mut next = (*current).clone();
                next.meta.as_mut().unwrap().version = Some(format!("W/\"{version}\"").into());
                kept.wrote("t", &Arc::new(next), false);
                assert!(
                    kept.at_version("t", &format!("id-{id}"), latest[id])
                        .is_none(),
                    "the replaced version is dropped"
                );
                latest.insert(id, version);
            }
        }
        for (seq, id) in ids.iter().enumerate() {
            assert!(
                kept.get("t", seq as i64 + 1, latest[id]).is_some(),
                "{id} by its row"
            );
        }
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
