//! `SqliteUserStore` (feature `sqlite`): the shared conformance suite, filter push-down
//! against `Filter::matches`, races across two stores (as two processes) on one file, migrations, restarts;
//! `SqliteApiKeyStore` and `SqliteTenantStore` against the shared key and tenant checks;
//! the event outbox against the shared outbox checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/store/sql/tests_shared/mod.rs"]
mod shared;

use std::path::PathBuf;
use std::sync::Arc;

use scimkit::events::EventOutbox;
use scimkit::keys::{ApiKeyStore, KeyHash, TenantStore};
use scimkit::store::{SqliteApiKeyStore, SqliteTenantStore, SqliteUserStore};
use scimkit::testing::keys::{check_api_key_store, check_tenant_store};
use scimkit::testing::outbox::{check_outbox, check_outbox_commit_order};
use scimkit::{RequestContext, UserStore};

/// A fresh directory for database files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("scimkit-sqlite-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_passes_the_conformance_suite() {
    scimkit::testing::check_user_store(|| block_on(SqliteUserStore::in_memory()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_passes_the_conformance_suite() {
    let dir = TempDir::new();
    let n = std::sync::atomic::AtomicUsize::new(0);
    scimkit::testing::check_user_store(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        block_on(SqliteUserStore::open(dir.file(&format!("c{i}.db")))).unwrap()
    })
    .await;
}

#[tokio::test]
async fn filters_pushed_down_agree_with_filter_matches() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    let ran = shared::check_filters_agree(&store, 1500, 0x5eed).await;
    assert!(ran > 1000, "only {ran} filters ran");
}

#[tokio::test]
async fn sorting_in_sql_agrees_with_sort_spec() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    shared::check_sorts_agree(&store, 0x50).await;
}

#[tokio::test]
async fn cursor_paging_visits_every_match_once() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    shared::check_cursor_paging(&store, 0xc0).await;
}

#[tokio::test]
async fn untranslatable_filters_are_evaluated_in_rust_or_refused() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    let small = SqliteUserStore::in_memory()
        .await
        .unwrap()
        .with_fallback_limit(5);
    shared::check_untranslatable_filter(&store, &small).await;
}

#[tokio::test]
async fn long_and_deep_filters_run() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    shared::check_long_filter(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_on_two_pools_give_one_uniqueness_error() {
    let dir = TempDir::new();
    let path = dir.file("race.db");
    let a: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap());
    let b: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap());
    shared::check_racing_creates(a, b, "race").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compare_and_swap_loses_no_update() {
    let dir = TempDir::new();
    let path = dir.file("cas.db");
    let a: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap());
    let b: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap());
    shared::check_no_lost_update(vec![a, b], "cas").await;
}

/// Two servers over two opens of one file (as two processes would), each updating from
/// the users it keeps: a stale kept user is read again, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_through_two_opens_of_one_file_from_kept_users_lose_nothing() {
    let dir = TempDir::new();
    let path = dir.file("replicas.db");
    let a = SqliteUserStore::open(&path).await.unwrap().with_outbox();
    let b = SqliteUserStore::open(&path).await.unwrap().with_outbox();
    shared::check_updates_through_two_replicas(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test]
async fn every_statement_is_scoped_by_tenant() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    shared::check_tenant_scoping(&store).await;
}

#[tokio::test]
async fn versions_are_never_reused_and_nul_is_refused() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    shared::check_versions_never_reused(&store).await;
    shared::check_nul_is_refused(&store).await;
}

#[tokio::test]
async fn migrations_are_recorded_and_idempotent() {
    let dir = TempDir::new();
    let path = dir.file("migrate.db");
    let store = SqliteUserStore::open(&path).await.unwrap();
    let latest = SqliteUserStore::latest_schema_version();
    assert!(latest >= 2);
    assert_eq!(store.database().migrate().unwrap(), latest);
    assert_eq!(store.database().migrate().unwrap(), latest);
    // A second process opening the same file migrates nothing.
    let again = SqliteUserStore::open(&path).await.unwrap();
    assert_eq!(again.database().schema_version().unwrap(), latest);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut st = conn
        .prepare("SELECT version FROM scimkit_schema_migrations ORDER BY version")
        .unwrap();
    let recorded: Vec<i64> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(recorded, (1..=latest).collect::<Vec<_>>());
}

#[tokio::test]
async fn users_survive_a_restart() {
    let dir = TempDir::new();
    let path = dir.file("restart.db");
    let c = RequestContext::system("restart");
    let (id, version, first_id) = {
        let store = SqliteUserStore::open(&path).await.unwrap();
        let first = store.create(&c, shared::new_user("first")).await.unwrap();
        let mut u = shared::new_user("Persisted@Example.com");
        u.title = Some("kept".into());
        let stored = store.create(&c, u).await.unwrap();
        drop(store);
        (
            stored.id.clone().unwrap(),
            stored.version().unwrap().to_owned(),
            first.id.clone().unwrap(),
        )
    };
    let store = SqliteUserStore::open(&path).await.unwrap();
    let got = store.get(&c, &id).await.unwrap().expect("still there");
    assert_eq!(got.title.as_deref(), Some("kept"));
    assert_eq!(got.version(), Some(version.as_str()));
    let page = store.list(&c, &scimkit::ListQuery::all(10)).await.unwrap();
    let order: Vec<_> = page
        .resources
        .iter()
        .map(|u| u.id.clone().unwrap())
        .collect();
    assert_eq!(order, vec![first_id, id.clone()], "creation order survives");
    assert!(matches!(
        store
            .create(&c, shared::new_user("persisted@example.com"))
            .await,
        Err(scimkit::StoreError::Uniqueness { .. })
    ));
    let next = store.create(&c, shared::new_user("later")).await.unwrap();
    assert_ne!(
        next.version(),
        Some(version.as_str()),
        "the version counter persists"
    );
}

#[tokio::test]
async fn connect_takes_sqlite_urls() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.file("url.db").display());
    let store = SqliteUserStore::connect(&url).await.unwrap();
    let c = RequestContext::system("url");
    store.create(&c, shared::new_user("u")).await.unwrap();
    let memory = SqliteUserStore::connect("sqlite::memory:").await.unwrap();
    assert!(memory.get(&c, "x").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_tenant_stores_pass_the_shared_checks_in_memory() {
    check_api_key_store(|| block_on(SqliteApiKeyStore::in_memory()).unwrap()).await;
    check_tenant_store(|| block_on(SqliteTenantStore::in_memory()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_tenant_stores_pass_the_shared_checks_on_the_user_stores_pool() {
    let dir = TempDir::new();
    let users = SqliteUserStore::open(dir.file("keys.db")).await.unwrap();
    let db = users.database().clone();
    check_api_key_store(|| SqliteApiKeyStore::new(db.clone())).await;
    check_tenant_store(|| SqliteTenantStore::new(db.clone())).await;
    // Another process opening the same file sees the same keys and switches.
    let tenants = SqliteTenantStore::open(dir.file("keys.db")).await.unwrap();
    assert!(!tenants.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn api_keys_and_tenants_work_end_to_end_over_sqlite() {
    let users = SqliteUserStore::in_memory().await.unwrap();
    let db = users.database().clone();
    shared::check_api_keys_end_to_end(
        Arc::new(users),
        Arc::new(SqliteApiKeyStore::new(db.clone())),
        Arc::new(SqliteTenantStore::new(db)),
    )
    .await;
}

#[tokio::test]
async fn keys_tenants_and_events_survive_a_restart() {
    let dir = TempDir::new();
    let path = dir.file("restart-keys.db");
    let tenant = shared::unique("restart");
    let key = {
        let users = SqliteUserStore::open(&path).await.unwrap().with_outbox();
        let keys = SqliteApiKeyStore::new(users.database().clone());
        let tenants = SqliteTenantStore::new(users.database().clone());
        tenants.set_scim_entitled(&tenant, true).await.unwrap();
        tenants.set_scim_enabled(&tenant, true).await.unwrap();
        let key = scimkit::keys::ApiKeyRecord {
            id: Arc::from("restart-key"),
            tenant: Arc::from(tenant.as_str()),
            name: "Okta".into(),
            hash: KeyHash::of("restart-secret"),
            created_at: chrono::Utc::now(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
        };
        keys.insert(key.clone()).await.unwrap();
        let c = RequestContext::system(&tenant);
        users.create(&c, shared::new_user("kept")).await.unwrap();
        drop(users);
        key
    };
    let users = SqliteUserStore::open(&path).await.unwrap();
    let keys = SqliteApiKeyStore::open(&path).await.unwrap();
    let tenants = SqliteTenantStore::open(&path).await.unwrap();
    assert_eq!(
        keys.find_by_hash(&KeyHash::of("restart-secret"))
            .await
            .unwrap(),
        Some(key)
    );
    assert!(tenants.get(&tenant).await.unwrap().unwrap().scim_active());
    let pending = users.pending_events(10).await.unwrap();
    assert_eq!(pending.len(), 1, "undelivered events survive a restart");
    assert_eq!(pending[0].resource_name, "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_passes_the_shared_checks() {
    check_outbox(|| {
        block_on(SqliteUserStore::in_memory())
            .unwrap()
            .with_outbox()
    })
    .await;
    let dir = TempDir::new();
    let n = std::sync::atomic::AtomicUsize::new(0);
    check_outbox(|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        block_on(SqliteUserStore::open(dir.file(&format!("o{i}.db"))))
            .unwrap()
            .with_outbox()
    })
    .await;
}

#[tokio::test]
async fn outbox_is_off_by_default() {
    let plain = SqliteUserStore::in_memory().await.unwrap();
    let with_outbox = SqliteUserStore::new(plain.database().clone()).with_outbox();
    shared::check_outbox_off_by_default(&plain, &with_outbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_records_events_in_commit_order_across_two_pools() {
    let dir = TempDir::new();
    let path = dir.file("outbox-order.db");
    let a = Arc::new(SqliteUserStore::open(&path).await.unwrap().with_outbox());
    let b = Arc::new(SqliteUserStore::open(&path).await.unwrap().with_outbox());
    check_outbox_commit_order(vec![a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatching_during_writes_from_two_pools_loses_no_event() {
    let dir = TempDir::new();
    let path = dir.file("outbox-live.db");
    let a: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap().with_outbox());
    let b: Arc<dyn UserStore> = Arc::new(SqliteUserStore::open(&path).await.unwrap().with_outbox());
    let dispatcher: Arc<dyn EventOutbox> = Arc::new(SqliteUserStore::open(&path).await.unwrap());
    shared::check_dispatch_during_writes_loses_nothing(vec![a, b], dispatcher).await;
}
