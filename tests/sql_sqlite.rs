//! `SqliteUserStore` (feature `sqlite`): the shared conformance suite, filter push-down
//! against `Filter::matches`, races across two pools on one file, migrations, restarts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/store/sql/tests_shared.rs"]
mod shared;

use std::path::PathBuf;
use std::sync::Arc;

use scimkit::store::SqliteUserStore;
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
    assert_eq!(
        SqliteUserStore::migrate(store.pool()).await.unwrap(),
        latest
    );
    assert_eq!(
        SqliteUserStore::migrate(store.pool()).await.unwrap(),
        latest
    );
    // A second process opening the same file migrates nothing.
    let again = SqliteUserStore::open(&path).await.unwrap();
    assert_eq!(
        SqliteUserStore::schema_version(again.pool()).await.unwrap(),
        latest
    );
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM scimkit_schema_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await
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
        store.pool().close().await;
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
