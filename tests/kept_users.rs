//! Updates that start from a user the store keeps (`UserStore::kept`), which may be stale
//! (another process wrote since): every answer is the one a fresh read gives. The store
//! here keeps a snapshot taken when the test says, so the kept user is as stale as the
//! test makes it; `tests/sql_postgres.rs` runs the same situations across two
//! PostgreSQL pools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use scimkit::list::{ListPage, ListQuery};
use scimkit::{
    MemoryUserStore, Principal, RequestContext, ScimServer, ScimServerBuilder,
    StaticKeyAuthenticator, StoreError, User, UserStore,
};
use serde_json::{Value, json};

/// A memory store that hands out, as its kept users, snapshots taken by [`Snapshots::keep`]
/// and counts its reads.
struct Snapshots {
    inner: MemoryUserStore,
    kept: Mutex<HashMap<String, Arc<User>>>,
    reads: Mutex<usize>,
}

impl Snapshots {
    /// Keeps user `id` as it is now.
    async fn keep(&self, id: &str) {
        let user = self.inner.get(&ctx(), id).await.unwrap().unwrap();
        self.kept.lock().unwrap().insert(id.to_owned(), user);
    }

    fn reads(&self) -> usize {
        *self.reads.lock().unwrap()
    }
}

fn ctx() -> RequestContext {
    RequestContext::system("acme")
}

#[async_trait::async_trait]
impl UserStore for Snapshots {
    async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>, StoreError> {
        self.inner.create(ctx, user).await
    }

    async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>, StoreError> {
        *self.reads.lock().unwrap() += 1;
        self.inner.get(ctx, id).await
    }

    fn kept(&self, ctx: &RequestContext, id: &str) -> Option<Arc<User>> {
        assert_eq!(&*ctx.tenant, "acme");
        self.kept.lock().unwrap().get(id).cloned()
    }

    async fn replace(
        &self,
        ctx: &RequestContext,
        user: User,
        expected_version: Option<&str>,
    ) -> Result<Arc<User>, StoreError> {
        self.inner.replace(ctx, user, expected_version).await
    }

    async fn delete(
        &self,
        ctx: &RequestContext,
        id: &str,
        expected_version: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner.delete(ctx, id, expected_version).await
    }

    async fn list(
        &self,
        ctx: &RequestContext,
        query: &ListQuery,
    ) -> Result<ListPage<Arc<User>>, StoreError> {
        self.inner.list(ctx, query).await
    }
}

fn setup() -> (Arc<Snapshots>, ScimServer) {
    setup_with(|builder| builder)
}

/// A server over a fresh [`Snapshots`] store, configured further by `configure`.
fn setup_with(
    configure: impl FnOnce(ScimServerBuilder) -> ScimServerBuilder,
) -> (Arc<Snapshots>, ScimServer) {
    let store = Arc::new(Snapshots {
        inner: MemoryUserStore::new(),
        kept: Mutex::default(),
        reads: Mutex::default(),
    });
    let builder = ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(store.clone())
        .authenticator(StaticKeyAuthenticator::new().with_key("k", Principal::new("acme", "okta")));
    (store, configure(builder).build().unwrap())
}

async fn send(
    server: &ScimServer,
    method: &str,
    uri: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> common::Reply {
    let auth = [("authorization", "Bearer k")];
    let with = [
        ("authorization", "Bearer k"),
        ("if-match", if_match.unwrap_or("")),
    ];
    let headers: &[(&str, &str)] = if if_match.is_some() { &with } else { &auth };
    common::send_with(server, method, uri, body, headers).await
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// `PATCH uri` with the one operation `op`.
async fn patch_one(server: &ScimServer, uri: &str, op: Value) -> common::Reply {
    send(server, "PATCH", uri, Some(patch(json!([op]))), None).await
}

/// A user created, kept as it is now, then changed behind the kept copy (as another
/// process would): returns its URI.
async fn stale_user(store: &Snapshots, server: &ScimServer) -> String {
    let created = send(
        server,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "ann", "title": "A", "emails": [{"value": "a@x.example"}]})),
        None,
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json["id"].as_str().unwrap().to_owned();
    store.keep(&id).await;
    let uri = format!("/scim/v2/Users/{id}");
    // Not through the kept copy: the snapshot is left as it was.
    let mut fresh = store.inner.get(&ctx(), &id).await.unwrap().unwrap();
    let version = fresh.version().map(str::to_owned);
    let changed = Arc::make_mut(&mut fresh);
    changed.title = Some("Z".into());
    changed.display_name = Some("Ann Other".into());
    changed.emails.push(scimkit::resource::MultiValue {
        value: Some("b@x.example".into()),
        ..Default::default()
    });
    store
        .inner
        .replace(&ctx(), changed.clone(), version.as_deref())
        .await
        .unwrap();
    uri
}

#[tokio::test]
async fn a_patch_from_a_kept_user_that_is_current_reads_nothing() {
    let (store, server) = setup();
    let created = send(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "bob"})),
        None,
    )
    .await;
    let id = created.json["id"].as_str().unwrap();
    store.keep(id).await;
    let before = store.reads();
    let r = patch_one(
        &server,
        &format!("/scim/v2/Users/{id}"),
        json!({"op": "replace", "path": "title", "value": "T"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["title"], "T");
    assert_eq!(store.reads(), before, "the kept user was current: no read");
}

#[tokio::test]
async fn a_patch_from_a_stale_kept_user_keeps_what_another_process_wrote() {
    let (store, server) = setup();
    let uri = stale_user(&store, &server).await;
    let r = patch_one(
        &server,
        &uri,
        json!({"op": "replace", "path": "nickName", "value": "Annie"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["nickName"], "Annie");
    assert_eq!(
        r.json["displayName"], "Ann Other",
        "the other write is kept"
    );
    assert_eq!(r.json["title"], "Z");
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_on_a_stale_kept_user_is_decided_on_the_stored_one() {
    let (store, server) = setup();
    let uri = stale_user(&store, &server).await;
    // The kept user's title is "A" already; the stored one's is "Z": this must be written.
    let r = patch_one(
        &server,
        &uri,
        json!({"op": "replace", "path": "title", "value": "A"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["title"], "A");
    let stored = send(&server, "GET", &uri, None, None).await;
    assert_eq!(stored.json["title"], "A");
    assert_eq!(stored.json["displayName"], "Ann Other");
}

#[tokio::test]
async fn a_patch_refused_on_a_stale_kept_user_is_decided_on_the_stored_one() {
    let (store, server) = setup_with(|builder| builder.max_multi_valued_elements(2));
    let created = send(
        &server,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "cy", "emails": [{"value": "a@x.example"}, {"value": "b@x.example"}]})),
        None,
    )
    .await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    store.keep(&id).await;
    // Another process removes one of the two emails.
    let mut stored = store.inner.get(&ctx(), &id).await.unwrap().unwrap();
    let version = stored.version().map(str::to_owned);
    Arc::make_mut(&mut stored).emails.truncate(1);
    store
        .inner
        .replace(&ctx(), (*stored).clone(), version.as_deref())
        .await
        .unwrap();
    // A third email is over the limit on the kept user (3 > 2), within it on the stored one.
    let r = patch_one(
        &server,
        &format!("/scim/v2/Users/{id}"),
        json!({"op": "add", "path": "emails", "value": [{"value": "c@x.example"}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn if_match_is_compared_with_the_stored_version_not_a_stale_kept_one() {
    let (store, server) = setup();
    let uri = stale_user(&store, &server).await;
    let kept_version = {
        let id = uri.rsplit('/').next().unwrap();
        store
            .kept(&ctx(), id)
            .unwrap()
            .version()
            .unwrap()
            .to_owned()
    };
    let stored = send(&server, "GET", &uri, None, None).await;
    let current = stored.json["meta"]["version"].as_str().unwrap().to_owned();
    assert_ne!(current, kept_version);
    let body = || {
        Some(patch(
            json!([{"op": "replace", "path": "title", "value": "Q"}]),
        ))
    };
    // The stale kept version is refused...
    let r = send(&server, "PATCH", &uri, body(), Some(&kept_version)).await;
    r.assert_error(412, None);
    // ... and the stored one accepted, though the kept user is older.
    let r = send(&server, "PATCH", &uri, body(), Some(&current)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["title"], "Q");
    // PUT too.
    let r = send(
        &server,
        "PUT",
        &uri,
        Some(json!({"userName": "ann", "title": "P"})),
        Some(&kept_version),
    )
    .await;
    r.assert_error(412, None);
}

#[tokio::test]
async fn a_patch_of_a_user_deleted_behind_a_kept_copy_is_404() {
    let (store, server) = setup();
    let uri = stale_user(&store, &server).await;
    let id = uri.rsplit('/').next().unwrap().to_owned();
    store.inner.delete(&ctx(), &id, None).await.unwrap();
    let r = patch_one(
        &server,
        &uri,
        json!({"op": "replace", "path": "title", "value": "X"}),
    )
    .await;
    r.assert_error(404, None);
}
