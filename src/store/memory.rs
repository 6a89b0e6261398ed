//! [`MemoryUserStore`]: the reference implementation of [`UserStore`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use super::{RequestContext, StoreError, UserStore};
use crate::events::{self, EventOutbox, MemoryOutbox, ProvisioningEvent};
use crate::list::{ListPage, ListQuery};
use crate::resource::{CompactString, User};
use crate::schema::SchemaSet;

/// An in-memory [`UserStore`], for tests and demos.
///
/// Users are indexed by id, by lower-cased `userName` (unique per tenant) and by
/// `externalId`; `userName eq`, `externalId eq` and `id eq` filters (alone or on one side
/// of a top-level `and`) are answered from the indexes, everything else by evaluating
/// the filter over the tenant's users in creation order.
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    tenants: RwLock<HashMap<String, Tenant>>,
    /// The event outbox, when enabled ([`MemoryUserStore::with_outbox`]), shared with
    /// the store's group store ([`MemoryUserStore::group_store`]). Always locked while
    /// the tenants' write lock is held, so events are recorded atomically with their
    /// write and in commit order.
    outbox: Option<Arc<MemoryOutbox>>,
}

/// An index from a string to creation sequences that stores a 64-bit keyed hash of the
/// string instead of the string itself (the user holds the string; lookups check it), so
/// an index entry is a 16-byte slot whatever the length of the key.
///
/// Nearly every hash files one sequence, kept in `one`. A hash under which several are
/// filed (keys that collide, or users sharing an `externalId`) is marked [`MANY`] there
/// and its sequences are kept in `many`: the common entry stays two words, which matters
/// for a store that grows with every POST (fewer fresh pages to fault in, and half the
/// table to move when it doubles).
#[derive(Debug, Default)]
struct HashIndex {
    /// Keyed per index (SipHash with random keys): clients cannot aim for collisions.
    hasher: RandomState,
    /// Keyed by those hashes, used as they are: growing the map re-hashes nothing.
    one: HashMap<u64, u64, BuildHasherDefault<PreHashed>>,
    /// The sequences of the hashes marked [`MANY`] in `one`: two or more, ascending.
    many: HashMap<u64, Vec<u64>, BuildHasherDefault<PreHashed>>,
}

/// The mark, in [`HashIndex::one`], of a hash whose sequences are in [`HashIndex::many`].
/// Not a creation sequence: those count up from 1, one per create.
const MANY: u64 = u64::MAX;

/// The `Hasher` of keys that are already keyed hashes: passes the `u64` through.
#[derive(Debug, Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; fold anything else in, for completeness.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl HashIndex {
    /// The hash under which `key` is filed. `create` computes it once per unique key for
    /// both its uniqueness check and its insert ([`Keys`]).
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn insert(&mut self, key: &str, seq: u64) {
        self.insert_at(self.hash(key), seq);
    }

    fn insert_at(&mut self, h: u64, seq: u64) {
        debug_assert_ne!(seq, MANY, "creation sequences never reach the mark");
        // One probe of the table (a cache miss in a large index), not a lookup and then
        // an insert.
        let slot = match self.one.entry(h) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(seq);
                return;
            }
            std::collections::hash_map::Entry::Occupied(slot) => slot.into_mut(),
        };
        match *slot {
            existing if existing == seq => {}
            MANY => {
                let seqs = self.many.entry(h).or_default();
                if let Err(at) = seqs.binary_search(&seq) {
                    seqs.insert(at, seq);
                }
            }
            existing => {
                *slot = MANY;
                self.many
                    .insert(h, vec![existing.min(seq), existing.max(seq)]);
            }
        }
    }

    fn remove(&mut self, key: &str, seq: u64) {
        self.remove_at(self.hash(key), seq);
    }

    fn remove_at(&mut self, h: u64, seq: u64) {
        match self.one.get(&h).copied() {
            None => {}
            Some(MANY) => {
                let Some(seqs) = self.many.get_mut(&h) else {
                    debug_assert!(false, "a hash marked MANY has its sequences in `many`");
                    return;
                };
                seqs.retain(|s| *s != seq);
                // Two or more before, at most one removed: back to one sequence, it moves
                // back into `one`.
                debug_assert!(!seqs.is_empty(), "a hash marked MANY files two or more");
                if let [last] = seqs[..] {
                    self.many.remove(&h);
                    self.one.insert(h, last);
                }
            }
            Some(existing) if existing == seq => {
                self.one.remove(&h);
            }
            Some(_) => {}
        }
    }

    /// The sequences filed under `key`'s hash (a superset of those whose key is `key`).
    fn seqs(&self, key: &str) -> impl Iterator<Item = u64> + '_ {
        self.seqs_at(self.hash(key))
    }

    /// The sequences filed under the hash `h`, ascending.
    fn seqs_at(&self, h: u64) -> impl Iterator<Item = u64> + '_ {
        let (one, many) = match self.one.get(&h) {
            None => (None, &[][..]),
            Some(&MANY) => (None, self.many.get(&h).map_or(&[][..], Vec::as_slice)),
            Some(&s) => (Some(s), &[][..]),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

#[derive(Debug, Default)]
struct Tenant {
    /// creation sequence → user: the stable list order, and the only copy of each user.
    users: BTreeMap<u64, Arc<User>>,
    by_id: HashIndex,
    /// by lower-cased userName
    by_user_name: HashIndex,
    by_external_id: HashIndex,
    next_seq: u64,
    /// The tenant's own version counter: a version says nothing about other tenants'
    /// writes. A tenant's entry is never dropped, so no version is ever reused in it.
    next_version: u64,
}

/// The case-folded form under which `userName` uniqueness is enforced (RFC 7643:
/// `userName` is `caseExact: false`): two userNames are the same in a tenant when their
/// folded forms are equal. Every store, the ones a host writes too, must fold this way.
pub fn fold_user_name(user_name: &str) -> String {
    user_name.to_lowercase()
}

/// [`fold_user_name`] without an allocation for the usual userName (ASCII, up to 64
/// bytes: its lower case is its ASCII lower case), written into `buf`.
fn fold_user_name_in<'b>(user_name: &str, buf: &'b mut [u8; 64]) -> Cow<'b, str> {
    match buf.get_mut(..user_name.len()) {
        Some(out) if user_name.is_ascii() => {
            for (o, b) in out.iter_mut().zip(user_name.bytes()) {
                *o = b.to_ascii_lowercase();
            }
            match std::str::from_utf8(out) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => Cow::Owned(fold_user_name(user_name)),
            }
        }
        _ => Cow::Owned(fold_user_name(user_name)),
    }
}

/// Whether two userNames fold to the same form (see [`fold_user_name`]).
fn same_user_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        fold_user_name(a) == fold_user_name(b)
    }
}

/// The hashes of a new user's unique keys in their indexes, computed once per create.
struct Keys {
    id: u64,
    user_name: u64,
}

impl Tenant {
    /// Files the user at `seq` under its keys, whose hashes a create has computed
    /// already for its uniqueness checks ([`Keys`]): each key is hashed once per create.
    /// `keys` must be those of `user` (its id, its folded userName).
    fn index(&mut self, seq: u64, keys: &Keys, user: &User) {
        debug_assert!(
            user.id.as_deref().map(|id| self.by_id.hash(id)) == Some(keys.id)
                && self.user_name_hash(&user.user_name) == keys.user_name,
            "the keys are the user's"
        );
        self.by_id.insert_at(keys.id, seq);
        self.by_user_name.insert_at(keys.user_name, seq);
        if let Some(ext) = &user.external_id {
            self.by_external_id.insert(ext, seq);
        }
    }

    /// Moves the index entries of the user at `seq` from `old`'s keys to `new`'s, touching
    /// only the keys that changed (most updates change none).
    fn reindex(&mut self, seq: u64, old: &User, new: &User) {
        if old.id != new.id {
            if let Some(id) = &old.id {
                self.by_id.remove(id, seq);
            }
            if let Some(id) = &new.id {
                self.by_id.insert(id, seq);
            }
        }
        if !same_user_name(&old.user_name, &new.user_name) {
            self.by_user_name
                .remove(&fold_user_name_in(&old.user_name, &mut [0; 64]), seq);
            self.by_user_name
                .insert(&fold_user_name_in(&new.user_name, &mut [0; 64]), seq);
        }
        if old.external_id != new.external_id {
            if let Some(ext) = &old.external_id {
                self.by_external_id.remove(ext, seq);
            }
            if let Some(ext) = &new.external_id {
                self.by_external_id.insert(ext, seq);
            }
        }
    }

    fn unindex(&mut self, seq: u64, user: &User) {
        if let Some(id) = &user.id {
            self.by_id.remove(id, seq);
        }
        self.by_user_name
            .remove(&fold_user_name_in(&user.user_name, &mut [0; 64]), seq);
        if let Some(ext) = &user.external_id {
            self.by_external_id.remove(ext, seq);
        }
    }

    /// The user with this id, and its creation sequence.
    fn find(&self, id: &str) -> Option<(u64, &Arc<User>)> {
        self.find_at(self.by_id.hash(id), id)
    }

    /// [`Tenant::find`] with `id`'s hash in `by_id` computed already.
    fn find_at(&self, h: u64, id: &str) -> Option<(u64, &Arc<User>)> {
        self.by_id.seqs_at(h).find_map(|seq| {
            self.users
                .get(&seq)
                .filter(|u| u.id.as_deref() == Some(id))
                .map(|u| (seq, u))
        })
    }

    /// The hash under which `user_name` is filed in `by_user_name` (of its folded form).
    fn user_name_hash(&self, user_name: &str) -> u64 {
        self.by_user_name
            .hash(&fold_user_name_in(user_name, &mut [0; 64]))
    }

    /// The user holding `user_name` (compared case-insensitively).
    fn holder_of(&self, user_name: &str) -> Option<&Arc<User>> {
        self.holder_at(self.user_name_hash(user_name), user_name)
    }

    /// [`Tenant::holder_of`] with the folded `user_name`'s hash computed already.
    fn holder_at(&self, h: u64, user_name: &str) -> Option<&Arc<User>> {
        self.by_user_name.seqs_at(h).find_map(|seq| {
            self.users
                .get(&seq)
                .filter(|u| same_user_name(&u.user_name, user_name))
        })
    }

    /// Whether `user_name` is taken by a user other than `except_id`.
    fn user_name_taken(&self, user_name: &str, except_id: Option<&str>) -> bool {
        self.holder_of(user_name)
            .is_some_and(|u| u.id.as_deref() != except_id)
    }

    /// Candidate users for a query, in creation order, before full filter evaluation.
    fn candidates<'a>(&'a self, query: &ListQuery) -> Box<dyn Iterator<Item = &'a Arc<User>> + 'a> {
        if let Some(f) = &query.filter {
            if let Some(name) = f.equality_on("userName") {
                return Box::new(self.holder_of(name).into_iter());
            }
            if let Some(id) = f.equality_on("id") {
                return Box::new(self.find(id).map(|(_, u)| u).into_iter());
            }
            if let Some(ext) = f.equality_on("externalId") {
                // A superset (hash collisions): the caller evaluates the whole filter.
                let seqs = self.by_external_id.seqs(ext);
                return Box::new(seqs.filter_map(|seq| self.users.get(&seq)));
            }
        }
        Box::new(self.users.values())
    }
}

impl Tenant {
    /// A page of a cursor query in creation order: the position is the creation sequence
    /// of the last user returned, so any page costs the same as the first.
    fn cursor_page(
        &self,
        query: &ListQuery,
        cursor: &str,
        schemas: &SchemaSet,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        let after = if cursor.is_empty() {
            0
        } else {
            cursor
                .parse::<u64>()
                .map_err(|_| StoreError::InvalidFilter("not a position of this store".into()))?
        };
        let matches = |u: &Arc<User>| {
            query
                .filter
                .as_ref()
                .is_none_or(|f| f.matches_in(u, schemas))
        };
        let total = match &query.filter {
            None => self.users.len(),
            Some(_) => self.candidates(query).filter(|u| matches(u)).count(),
        };
        let mut resources = Vec::with_capacity(query.count.min(1024));
        let mut last = None;
        let mut more = false;
        for (seq, u) in self.users.range(after.saturating_add(1)..) {
            if !matches(u) {
                continue;
            }
            if resources.len() == query.count {
                more = true;
                break;
            }
            resources.push(Arc::clone(u));
            last = Some(*seq);
        }
        let mut page = ListPage::new(total, resources);
        if more {
            page.next_cursor = last.map(|s| s.to_string());
        }
        Ok(page)
    }
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same store recording provisioning events in an outbox
    /// ([`crate::events`]), for an [`crate::events::EventDispatcher`] to deliver.
    pub fn with_outbox(mut self) -> Self {
        self.outbox = Some(Arc::default());
        self
    }

    /// The outbox, if this store keeps one (shared with its group store).
    pub(crate) fn outbox(&self) -> Option<Arc<MemoryOutbox>> {
        self.outbox.clone()
    }

    /// Whether user `id` of `tenant` exists now (for the group store of this store, which
    /// checks added members under its own lock).
    pub(crate) fn contains(&self, tenant: &str, id: &str) -> bool {
        self.read().get(tenant).and_then(|t| t.find(id)).is_some()
    }

    /// Records the events of a write. Called with the tenants' write lock held.
    fn record(&self, ctx: &RequestContext, before: Option<&User>, after: Option<&User>) {
        let Some(outbox) = &self.outbox else { return };
        let Some(user) = after.or(before) else { return };
        let kinds = events::events_for(before, after);
        outbox.record(
            ctx,
            kinds,
            user.id.as_deref().unwrap_or_default(),
            &user.user_name,
        );
    }

    /// The number of users stored for `tenant`.
    pub fn len(&self, tenant: &str) -> usize {
        self.read().get(tenant).map_or(0, |t| t.users.len())
    }

    /// Whether `tenant` has no users.
    pub fn is_empty(&self, tenant: &str) -> bool {
        self.len(tenant) == 0
    }

    /// Every user of `tenant` in creation order (a snapshot, for tests and exports).
    pub fn snapshot(&self, tenant: &str) -> Vec<User> {
        self.read().get(tenant).map_or_else(Vec::new, |t| {
            t.users.values().map(|u| User::clone(u)).collect()
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Tenant>> {
        // A panic while holding the lock cannot leave a half-applied write: every write
        // below validates first and mutates after, so the data is usable.
        self.tenants.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Tenant>> {
        self.tenants.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Tenant {
    /// The tenant's next version, `W/"n"`: written without `format!` and, being short,
    /// without an allocation (once per write).
    fn new_version(&mut self) -> CompactString {
        self.next_version += 1;
        weak_version(self.next_version)
    }
}

/// `W/"n"`, without `format!` and, being short (24 bytes at most), without an allocation.
fn weak_version(n: u64) -> CompactString {
    let mut version = CompactString::const_new("W/\"");
    version.push_str(itoa::Buffer::new().format(n));
    version.push('"');
    version
}

#[async_trait]
impl UserStore for MemoryUserStore {
    fn supports_cursors(&self) -> bool {
        true
    }

    async fn create(&self, ctx: &RequestContext, mut user: User) -> Result<Arc<User>, StoreError> {
        let Some(id) = user.id.as_deref() else {
            return Err(StoreError::backend(std::io::Error::other(
                "create called without an id",
            )));
        };
        let mut tenants = self.write();
        if !tenants.contains_key(&*ctx.tenant) {
            tenants.insert(ctx.tenant.to_string(), Tenant::default());
        }
        let tenant = tenants.get_mut(&*ctx.tenant).ok_or(StoreError::NotFound)?;
        let keys = Keys {
            id: tenant.by_id.hash(id),
            user_name: tenant.user_name_hash(&user.user_name),
        };
        if tenant.holder_at(keys.user_name, &user.user_name).is_some() {
            return Err(StoreError::Uniqueness {
                attribute: "userName".into(),
            });
        }
        if tenant.find_at(keys.id, id).is_some() {
            return Err(StoreError::Uniqueness {
                attribute: "id".into(),
            });
        }
        if let Some(meta) = user.meta.as_mut() {
            meta.version = Some(tenant.new_version());
        }
        tenant.next_seq += 1;
        let seq = tenant.next_seq;
        tenant.index(seq, &keys, &user);
        let user = Arc::new(user);
        tenant.users.insert(seq, Arc::clone(&user));
        self.record(ctx, None, Some(&user));
        Ok(user)
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        Ok(self
            .read()
            .get(&*ctx.tenant)
            .and_then(|t| t.find(id))
            .map(|(_, u)| Arc::clone(u)))
    }

    async fn replace(
        &self,
        ctx: &RequestContext,
        mut user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        let id = user.id.clone().ok_or(StoreError::NotFound)?;
        let mut tenants = self.write();
        let tenant = tenants.get_mut(&*ctx.tenant).ok_or(StoreError::NotFound)?;
        let (seq, current) = tenant.find(&id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version {
            if current.version() != Some(expected) {
                return Err(StoreError::VersionMismatch);
            }
        }
        // A userName that folds to the user's own is held by the user itself (no two
        // users share one): only a changed userName needs the uniqueness lookup.
        if !same_user_name(&current.user_name, &user.user_name)
            && tenant.user_name_taken(&user.user_name, Some(&id))
        {
            return Err(StoreError::Uniqueness {
                attribute: "userName".into(),
            });
        }
        let old = Arc::clone(current);
        if let Some(meta) = user.meta.as_mut() {
            meta.version = Some(tenant.new_version());
        }
        tenant.reindex(seq, &old, &user);
        let user = Arc::new(user);
        tenant.users.insert(seq, Arc::clone(&user));
        self.record(ctx, Some(&old), Some(&user));
        Ok(user)
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tenants = self.write();
        let tenant = tenants.get_mut(&*ctx.tenant).ok_or(StoreError::NotFound)?;
        let (seq, current) = tenant.find(id).ok_or(StoreError::NotFound)?;
        if let Some(expected) = expected_version {
            if current.version() != Some(expected) {
                return Err(StoreError::VersionMismatch);
            }
        }
        if let Some(old) = tenant.users.remove(&seq) {
            tenant.unindex(seq, &old);
            self.record(ctx, Some(&old), None);
        }
        Ok(())
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        let tenants = self.read();
        let Some(tenant) = tenants.get(&*ctx.tenant) else {
            return Ok(query.page(std::iter::empty()));
        };
        match (&query.cursor, &query.sort) {
            (Some(cursor), None) => tenant.cursor_page(query, cursor, ctx.schemas()),
            (Some(cursor), Some(_)) => {
                // Sorted cursor queries page by offset: the position is the offset.
                let offset = if cursor.is_empty() {
                    0
                } else {
                    cursor.parse::<usize>().map_err(|_| {
                        StoreError::InvalidFilter("not a position of this store".into())
                    })?
                };
                let mut by_offset = query.clone();
                by_offset.cursor = None;
                by_offset.start_index = offset.saturating_add(1);
                let mut page = tenant.index_page(&by_offset, ctx.schemas());
                let end = offset.saturating_add(page.resources.len());
                if end < page.total_results && !page.resources.is_empty() {
                    page.next_cursor = Some(end.to_string());
                }
                Ok(page)
            }
            (None, _) => Ok(tenant.index_page(query, ctx.schemas())),
        }
    }
}

#[async_trait]
impl EventOutbox for MemoryUserStore {
    async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>, StoreError> {
        Ok(self
            .outbox
            .as_ref()
            .map_or_else(Vec::new, |o| o.pending(limit)))
    }

    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        if let Some(o) = &self.outbox {
            o.acknowledge(through);
        }
        Ok(())
    }
}

impl Tenant {
    /// A page of an index query (`startIndex`/`count`), sorted if asked.
    fn index_page(&self, query: &ListQuery, schemas: &SchemaSet) -> ListPage<Arc<User>> {
        if query.filter.is_none() && query.sort.is_none() {
            // Every user matches: the count is known and the page is a slice of the order.
            let resources = self
                .users
                .values()
                .skip(query.start_index.saturating_sub(1))
                .take(query.count)
                .map(Arc::clone)
                .collect();
            return ListPage::new(self.users.len(), resources);
        }
        let matching = self.candidates(query).filter(|u| {
            query
                .filter
                .as_ref()
                .is_none_or(|f| f.matches_in(u, schemas))
        });
        match &query.sort {
            None => query.page(matching.cloned()),
            Some(sort) => {
                let sorted = sort.sort_in(matching.cloned().collect(), schemas);
                query.page(sorted.into_iter())
            }
        }
    }
}

#[cfg(test)]
mod hash_index_tests {
    use super::*;

    fn new_user(user_name: &str) -> User {
        let mut u = User::new(user_name);
        u.id = Some(uuid::Uuid::new_v4().to_string().into());
        u.meta = Some(crate::resource::Meta::new("User", chrono::Utc::now()));
        u
    }

    /// The versions a tenant sees depend on its own writes only: the same writes give
    /// the same versions whether or not another tenant wrote in between.
    #[test]
    fn versions_reveal_nothing_about_other_tenants() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let versions = |others_write: bool| {
            rt.block_on(async {
                let store = MemoryUserStore::new();
                let a = RequestContext::system("a");
                let b = RequestContext::system("b");
                let mut seen = Vec::new();
                let created = store.create(&a, new_user("alice")).await.expect("create");
                seen.push(created.version().map(str::to_owned));
                if others_write {
                    for i in 0..5 {
                        let u = new_user(&format!("bob{i}"));
                        store.create(&b, u).await.expect("create in b");
                    }
                }
                let replaced = store
                    .replace(&a, User::clone(&created), None)
                    .await
                    .expect("replace");
                seen.push(replaced.version().map(str::to_owned));
                seen
            })
        };
        assert_eq!(versions(false), versions(true));
    }

    #[test]
    fn versions_are_weak_etags_of_the_counter() {
        for n in [1u64, 9, 10, 12_345, 10_000_000_000, u64::MAX] {
            assert_eq!(weak_version(n), format!("W/\"{n}\""));
        }
    }

    #[test]
    fn entries_keep_every_sequence_in_order_and_empty_out() {
        let mut ix = HashIndex::default();
        ix.insert("a", 5);
        ix.insert("a", 5); // re-indexing the same user is idempotent
        assert_eq!(ix.seqs("a").collect::<Vec<_>>(), [5]);
        ix.insert("a", 2);
        ix.insert("a", 9);
        assert_eq!(ix.seqs("a").collect::<Vec<_>>(), [2, 5, 9]);
        assert_eq!(ix.seqs("b").count(), 0);
        ix.remove("a", 5);
        assert_eq!(ix.seqs("a").collect::<Vec<_>>(), [2, 9]);
        ix.remove("a", 2);
        ix.remove("a", 9);
        assert_eq!(ix.seqs("a").count(), 0);
        assert!(
            ix.one.is_empty() && ix.many.is_empty(),
            "an emptied key is dropped"
        );
        ix.remove("never", 1);
    }

    /// Colliding keys (forced here by filing under one hash) share the hash's entry:
    /// their sequences move to `many` and back to `one` as they come and go.
    #[test]
    fn sequences_under_one_hash_move_between_one_and_many() {
        let mut ix = HashIndex::default();
        ix.insert_at(7, 4);
        assert_eq!((ix.one.get(&7), ix.many.len()), (Some(&4), 0));
        ix.insert_at(7, 1);
        ix.insert_at(7, 9);
        ix.insert_at(7, 1);
        assert_eq!(ix.one.get(&7), Some(&MANY));
        assert_eq!(ix.seqs_at(7).collect::<Vec<_>>(), [1, 4, 9]);
        ix.remove_at(7, 4);
        ix.remove_at(7, 5); // not filed: nothing changes
        assert_eq!(ix.seqs_at(7).collect::<Vec<_>>(), [1, 9]);
        ix.remove_at(7, 1);
        assert_eq!(
            (ix.one.get(&7), ix.many.len()),
            (Some(&9), 0),
            "back to one entry"
        );
        ix.remove_at(7, 3);
        assert_eq!(ix.seqs_at(7).collect::<Vec<_>>(), [9]);
        ix.remove_at(7, 9);
        assert!(ix.one.is_empty() && ix.many.is_empty());
    }

    proptest::proptest! {
        /// Any sequence of inserts and removes under a few hashes leaves each hash filing
        /// exactly the set of sequences a plain map of sets would hold, in order.
        #[test]
        fn the_index_files_what_a_map_of_sets_files(
            ops in proptest::collection::vec((proptest::bool::ANY, 0u64..3, 1u64..6), 0..60),
        ) {
            let mut ix = HashIndex::default();
            let mut model: BTreeMap<u64, std::collections::BTreeSet<u64>> = BTreeMap::new();
            for (insert, h, seq) in ops {
                if insert {
                    ix.insert_at(h, seq);
                    model.entry(h).or_default().insert(seq);
                } else {
                    ix.remove_at(h, seq);
                    if let Some(set) = model.get_mut(&h) {
                        set.remove(&seq);
                    }
                }
                for h in 0..3 {
                    let want: Vec<u64> = model.get(&h).map_or_else(Vec::new, |s| s.iter().copied().collect());
                    proptest::prop_assert_eq!(ix.seqs_at(h).collect::<Vec<_>>(), want.clone());
                    proptest::prop_assert_eq!(ix.one.contains_key(&h), !want.is_empty());
                    proptest::prop_assert_eq!(ix.many.contains_key(&h), want.len() > 1);
                }
            }
        }
    }

    proptest::proptest! {
        /// The allocation-free folding and comparison agree with `to_lowercase`, on
        /// ASCII and on the letters whose lower case is special (Kelvin sign, dotted I,
        /// sharp s, final sigma).
        #[test]
        fn folding_without_allocation_agrees_with_to_lowercase(
            a in "[a-zA-Z@.\u{212A}\u{130}\u{DF}\u{3A3}]{0,70}",
            b in "[a-zA-Z@.\u{212A}\u{130}\u{DF}\u{3A3}]{0,70}",
        ) {
            proptest::prop_assert_eq!(
                fold_user_name_in(&a, &mut [0; 64]).into_owned(),
                fold_user_name(&a)
            );
            proptest::prop_assert_eq!(same_user_name(&a, &b), fold_user_name(&a) == fold_user_name(&b));
            let upper = a.to_ascii_uppercase();
            proptest::prop_assert_eq!(same_user_name(&a, &upper), fold_user_name(&a) == fold_user_name(&upper));
        }
    }
}
