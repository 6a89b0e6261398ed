//! `PostgresUserStore` (feature `postgres`): the shared conformance suite, filter
//! push-down against `Filter::matches`, races across two pools, migrations;
//! `PostgresApiKeyStore` and `PostgresTenantStore` against the shared key and tenant
//! checks; the event outbox against the shared outbox checks, across two pools.
//!
//! Every store gets a scratch schema of its own from `scimkit::testing::postgres::Schemas`
//! (the server and when tests are skipped are described there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/store/sql/tests_shared/mod.rs"]
mod shared;

use std::sync::Arc;

use scimkit::events::EventOutbox;
use scimkit::store::{PostgresApiKeyStore, PostgresTenantStore, PostgresUserStore};
use scimkit::testing::keys::{check_api_key_store, check_tenant_store};
use scimkit::testing::outbox::{check_outbox, check_outbox_commit_order};
use scimkit::testing::postgres::Schemas;
use scimkit::{RequestContext, UserStore};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    scimkit::testing::check_user_store(|| block_on(schemas.store())).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn filters_pushed_down_agree_with_filter_matches() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = schemas.store().await;
    let ran = shared::check_filters_agree(&store, 1500, 0x5eed).await;
    assert!(ran > 1000, "only {ran} filters ran");
    schemas.drop_all().await;
}

#[tokio::test]
async fn sorting_in_sql_agrees_with_sort_spec() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    shared::check_sorts_agree(&schemas.store().await, 0x50).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn cursor_paging_visits_every_match_once() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    shared::check_cursor_paging(&schemas.store().await, 0xc0).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn untranslatable_filters_are_evaluated_in_rust_or_refused() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = schemas.store().await;
    let small = schemas.store().await.with_fallback_limit(5);
    shared::check_untranslatable_filter(&store, &small).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn long_and_deep_filters_run() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    shared::check_long_filter(&schemas.store().await).await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_on_two_pools_give_one_uniqueness_error() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let a: Arc<dyn UserStore> = Arc::new(PostgresUserStore::from_pool(pool).await.unwrap());
    let b: Arc<dyn UserStore> = Arc::new(PostgresUserStore::from_pool(other).await.unwrap());
    shared::check_racing_creates(a, b, "race").await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_compare_and_swap_loses_no_update() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let a: Arc<dyn UserStore> = Arc::new(PostgresUserStore::from_pool(pool).await.unwrap());
    let b: Arc<dyn UserStore> = Arc::new(PostgresUserStore::from_pool(other).await.unwrap());
    shared::check_no_lost_update(vec![a, b], "cas").await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn every_statement_is_scoped_by_tenant() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    shared::check_tenant_scoping(&schemas.store().await).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn versions_are_never_reused_and_nul_is_refused() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = schemas.store().await;
    shared::check_versions_never_reused(&store).await;
    shared::check_nul_is_refused(&store).await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_idempotent_and_safe_to_race() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    // Two replicas starting at once: the advisory lock applies each migration once.
    let (a, b) = tokio::join!(
        PostgresUserStore::migrate(&pool),
        PostgresUserStore::migrate(&other)
    );
    let latest = PostgresUserStore::latest_schema_version();
    assert!(latest >= 2);
    assert_eq!((a.unwrap(), b.unwrap()), (latest, latest));
    assert_eq!(PostgresUserStore::migrate(&pool).await.unwrap(), latest);
    assert_eq!(
        PostgresUserStore::schema_version(&pool).await.unwrap(),
        latest
    );
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM scimkit_schema_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(recorded, (1..=latest).collect::<Vec<_>>());
    // A store reconnecting later sees what an earlier one stored.
    let c = RequestContext::system("restart");
    let first = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
    let stored = first.create(&c, shared::new_user("kept")).await.unwrap();
    let second = PostgresUserStore::from_pool(other).await.unwrap();
    let got = second
        .get(&c, stored.id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.version(), stored.version());
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_tenant_stores_pass_the_shared_checks() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    // Each store on a database of its own ...
    check_api_key_store(|| {
        block_on(async { PostgresApiKeyStore::from_pool(schemas.pool().await).await }).unwrap()
    })
    .await;
    check_tenant_store(|| {
        block_on(async { PostgresTenantStore::from_pool(schemas.pool().await).await }).unwrap()
    })
    .await;
    // ... and all of them on the pool of one user store.
    let users = schemas.store().await;
    let pool = users.pool().clone();
    check_api_key_store(|| block_on(PostgresApiKeyStore::from_pool(pool.clone())).unwrap()).await;
    check_tenant_store(|| block_on(PostgresTenantStore::from_pool(pool.clone())).unwrap()).await;
    pool.close().await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_switches_set_from_two_pools_never_overwrite_each_other() {
    use scimkit::keys::TenantStore;
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let a = Arc::new(PostgresTenantStore::from_pool(pool).await.unwrap());
    let b = Arc::new(PostgresTenantStore::from_pool(other).await.unwrap());
    for round in 0..20 {
        let id = shared::unique("two-pools");
        let (sa, sb, ia, ib) = (a.clone(), b.clone(), id.clone(), id.clone());
        let ta = tokio::spawn(async move { sa.set_scim_entitled(&ia, true).await });
        let tb = tokio::spawn(async move { sb.set_scim_enabled(&ib, true).await });
        ta.await.unwrap().unwrap();
        tb.await.unwrap().unwrap();
        let t = a.get(&id).await.unwrap().unwrap();
        assert!(t.scim_entitled && t.scim_enabled, "round {round}: {t:?}");
    }
    schemas.drop_all().await;
}

#[tokio::test]
async fn keys_are_found_by_the_unique_hash_index() {
    use sqlx::Row;
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    PostgresApiKeyStore::from_pool(pool.clone()).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let lines: Vec<String> =
        sqlx::query("EXPLAIN SELECT id, tenant FROM scimkit_api_keys WHERE hash = $1")
            .bind(&[7u8; 32][..])
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>(0).unwrap())
            .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("scimkit_api_keys_hash_key")),
        "{lines:#?}"
    );
    drop(tx);
    pool.close().await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn api_keys_and_tenants_work_end_to_end_over_postgres() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let users = schemas.store().await;
    let pool = users.pool().clone();
    shared::check_api_keys_end_to_end(
        Arc::new(users),
        Arc::new(PostgresApiKeyStore::from_pool(pool.clone()).await.unwrap()),
        Arc::new(PostgresTenantStore::from_pool(pool.clone()).await.unwrap()),
    )
    .await;
    pool.close().await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_passes_the_shared_checks() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    check_outbox(|| block_on(schemas.store()).with_outbox()).await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn outbox_is_off_by_default() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let plain = schemas.store().await;
    let with_outbox = PostgresUserStore::from_pool(plain.pool().clone())
        .await
        .unwrap()
        .with_outbox();
    shared::check_outbox_off_by_default(&plain, &with_outbox).await;
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM scimkit_outbox) + (SELECT COUNT(*) FROM scimkit_outbox_staged)",
    )
    .fetch_one(plain.pool())
    .await
    .unwrap();
    assert_eq!(rows, 0);
    plain.pool().close().await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_records_events_in_commit_order_across_two_pools() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let a = Arc::new(
        PostgresUserStore::from_pool(pool.clone())
            .await
            .unwrap()
            .with_outbox(),
    );
    let b = Arc::new(
        PostgresUserStore::from_pool(other.clone())
            .await
            .unwrap()
            .with_outbox(),
    );
    check_outbox_commit_order(vec![a, b]).await;
    pool.close().await;
    other.close().await;
    schemas.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatching_during_writes_from_two_pools_loses_no_event() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let third = schemas.second_pool(&pool).await;
    let a: Arc<dyn UserStore> = Arc::new(
        PostgresUserStore::from_pool(pool.clone())
            .await
            .unwrap()
            .with_outbox(),
    );
    let b: Arc<dyn UserStore> = Arc::new(
        PostgresUserStore::from_pool(other.clone())
            .await
            .unwrap()
            .with_outbox(),
    );
    let dispatcher: Arc<dyn EventOutbox> =
        Arc::new(PostgresUserStore::from_pool(third.clone()).await.unwrap());
    shared::check_dispatch_during_writes_loses_nothing(vec![a, b], dispatcher).await;
    for p in [pool, other, third] {
        p.close().await;
    }
    schemas.drop_all().await;
}

/// Versions and cursor positions come from a counter per tenant: another tenant's writes
/// do not move them (issue 20: they must reveal nothing about other tenants).
#[tokio::test]
async fn versions_and_positions_reveal_nothing_about_other_tenants() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = schemas.store().await;
    let (a, b) = (RequestContext::system("a"), RequestContext::system("b"));
    let version = |u: &scimkit::User| -> i64 {
        let tag = u.version().unwrap();
        tag.trim_start_matches("W/\"")
            .trim_end_matches('"')
            .parse()
            .unwrap()
    };
    let first = store.create(&a, shared::new_user("first")).await.unwrap();
    // Another tenant's activity: creates, replaces, deletes, a failed swap.
    for i in 0..5 {
        let u = store
            .create(&b, shared::new_user(&format!("b{i}")))
            .await
            .unwrap();
        let u = store
            .replace(&b, scimkit::User::clone(&u), None)
            .await
            .unwrap();
        let _ = store
            .replace(&b, scimkit::User::clone(&u), Some("W/\"1\""))
            .await;
        store
            .delete(&b, u.id.as_deref().unwrap(), None)
            .await
            .unwrap();
    }
    let second = store.create(&a, shared::new_user("second")).await.unwrap();
    assert_eq!(
        version(&second),
        version(&first) + 1,
        "no gap from tenant b"
    );
    let replaced = store
        .replace(&a, scimkit::User::clone(&first), None)
        .await
        .unwrap();
    assert_eq!(version(&replaced), version(&second) + 1);
    // The position after the first user is its creation number in tenant a.
    let mut query = scimkit::ListQuery::all(1);
    query.cursor = Some(String::new());
    let page = store.list(&a, &query).await.unwrap();
    assert_eq!(page.resources[0].id, first.id);
    assert_eq!(
        page.next_cursor.as_deref(),
        Some(version(&first).to_string().as_str())
    );
    schemas.drop_all().await;
}

/// `replace` without an expected version, with the outbox, racing on one user from two
/// pools: every write succeeds (read again after a lost race, and locked after a few),
/// and each records its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_unconditional_replaces_with_the_outbox_all_succeed_with_their_events() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let stores: Vec<Arc<PostgresUserStore>> = vec![
        Arc::new(
            PostgresUserStore::from_pool(pool.clone())
                .await
                .unwrap()
                .with_outbox(),
        ),
        Arc::new(
            PostgresUserStore::from_pool(other.clone())
                .await
                .unwrap()
                .with_outbox(),
        ),
    ];
    let c = RequestContext::system("race");
    let created = stores[0]
        .create(&c, shared::new_user("contended"))
        .await
        .unwrap();
    let (writers, writes) = (8, 10);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = stores[w % 2].clone();
        let user = scimkit::User::clone(&created);
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..writes {
                let mut next = user.clone();
                next.title = Some(format!("w{w}-{i}").into());
                store.replace(&c, next, None).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = stores[0].pending_events(1000).await.unwrap();
    assert_eq!(events.len(), 1 + writers * writes, "one event per write");
    let stored = stores[1]
        .get(&c, created.id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.title.as_deref().is_some_and(|t| t.starts_with('w')));
    pool.close().await;
    other.close().await;
    schemas.drop_all().await;
}

/// A store reserves its tenant numbers a block at a time (one statement every 64 writes,
/// not a lock held by every write), hands them out in order, and two stores on one
/// database (two processes) get disjoint blocks.
#[tokio::test]
async fn tenant_numbers_are_reserved_a_block_at_a_time_and_never_shared() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let a = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
    let b = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
    let c = RequestContext::system("t");
    let version = |u: &scimkit::User| -> i64 {
        let tag = u.version().unwrap();
        tag.trim_start_matches("W/\"")
            .trim_end_matches('"')
            .parse()
            .unwrap()
    };
    let mut seen = Vec::new();
    for i in 0..100 {
        let u = a
            .create(&c, shared::new_user(&format!("a{i}")))
            .await
            .unwrap();
        seen.push(version(&u));
    }
    // A fresh database: the first block is 1..=64, the second 65..=128.
    assert_eq!(seen, (1..=100).collect::<Vec<i64>>());
    let reserved: i64 =
        sqlx::query_scalar("SELECT value FROM scimkit_tenant_counters WHERE tenant = 't'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(reserved, 128, "two reservations for 100 writes");
    let from_b = b.create(&c, shared::new_user("b")).await.unwrap();
    assert_eq!(version(&from_b), 129, "the other store's block follows");
    let from_a = a.create(&c, shared::new_user("a100")).await.unwrap();
    assert_eq!(version(&from_a), 101, "each store keeps its own block");
    pool.close().await;
    schemas.drop_all().await;
}

/// Two servers on two pools of one database (two replicas), each updating from the users
/// it keeps: nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_through_two_replicas_from_kept_users_lose_nothing() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let pool = schemas.pool().await;
    let other = schemas.second_pool(&pool).await;
    let a = PostgresUserStore::from_pool(pool)
        .await
        .unwrap()
        .with_outbox();
    let b = PostgresUserStore::from_pool(other)
        .await
        .unwrap()
        .with_outbox();
    shared::check_updates_through_two_replicas(Arc::new(a), Arc::new(b)).await;
    schemas.drop_all().await;
}

/// Events are staged by the writes, which do not wait for each other (the outbox's lock
/// taken shared), and numbered by the reader, which takes it exclusive: it waits for the
/// writes in progress, then numbers what they staged in staging order; a rolled-back
/// write's events never come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_events_are_numbered_after_the_writes_in_progress_finish() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let store = Arc::new(schemas.store().await.with_outbox());
    let pool = store.pool().clone();
    let c = RequestContext::system("staged");
    // What a write with the outbox does: the lock shared, then its rows.
    let stage = |name: &'static str| {
        format!(
            "WITH l AS (SELECT pg_advisory_xact_lock_shared({})) \
             INSERT INTO scimkit_outbox_staged (tenant, key_id, request_id, user_id, \
             user_name, kind, time_s, time_ns) SELECT 'staged', 'k', '{name}', 'u', '{name}', \
             '{{\"type\": \"userCreated\"}}', 0, 0 FROM l",
            0x5c13_6b17_0002_i64
        )
    };
    let mut open = pool.begin().await.unwrap();
    sqlx::query(&stage("first"))
        .execute(&mut *open)
        .await
        .unwrap();
    let mut aborted = pool.begin().await.unwrap();
    sqlx::query(&stage("aborted"))
        .execute(&mut *aborted)
        .await
        .unwrap();
    // A write with the outbox does not wait for the open ones.
    store.create(&c, shared::new_user("second")).await.unwrap();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.pending_events(10).await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !reader.is_finished(),
        "the reader waits for the writes in progress"
    );
    aborted.rollback().await.unwrap();
    open.commit().await.unwrap();
    let events = reader.await.unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.resource_name.as_str()).collect();
    assert_eq!(
        names,
        ["first", "second"],
        "in staging order, the rolled back one never"
    );
    assert!(events[0].id < events[1].id);
    store.acknowledge_events(events[1].id).await.unwrap();
    assert!(store.pending_events(10).await.unwrap().is_empty());
    // A reader asking for 2 numbers 2 (the lock is held for what it needs); the rest
    // follow, in order, at the next read.
    for i in 0..5 {
        store
            .create(&c, shared::new_user(&format!("batch{i}")))
            .await
            .unwrap();
    }
    let first = store.pending_events(2).await.unwrap();
    let staged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scimkit_outbox_staged")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((first.len(), staged), (2, 3));
    store.acknowledge_events(first[1].id).await.unwrap();
    let rest = store.pending_events(10).await.unwrap();
    let names: Vec<&str> = first
        .iter()
        .chain(&rest)
        .map(|e| e.resource_name.as_str())
        .collect();
    assert_eq!(names, ["batch0", "batch1", "batch2", "batch3", "batch4"]);
    assert!(first[1].id < rest[0].id);
    schemas.drop_all().await;
}
