#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::*;
use crate::filter::parse;
use crate::group::GroupStore;
use crate::resource::{Meta, MultiValue};
use crate::store::sql::driver::Param;
use crate::store::sql::encode::parse_version;
use crate::store::sql::list_sql::PAGE_SELECT;
use crate::store::sql::list_sql::test_plans::{
    assert_read_in_order, indexed_filters, page_statement, sorted_pages,
};
use crate::store::sql::user_rows::COLUMNS_BEFORE_8;
use crate::testing::postgres::Schemas;

/// Runs `test` with a pool on a scratch schema (dropped after), or skips it when there is
/// no test server.
fn on_scratch_pool(test: impl AsyncFnOnce(PgPool)) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(schemas) = Schemas::connect().await else {
            return;
        };
        let pool = schemas.pool().await;
        test(pool.clone()).await;
        pool.close().await;
        schemas.drop_all().await;
    });
}

/// A store on `pool` with `n` users in tenant `t`: `u{i}`, id `id{i}`, a work email
/// `u{i}@example.com`.
async fn store_with_users(pool: &PgPool, n: usize) -> PostgresUserStore {
    let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
    let c = RequestContext::system("t");
    for i in 0..n {
        let mut u = new_user(&format!("u{i}"), &format!("id{i}"));
        u.emails = vec![MultiValue::typed(format!("u{i}@example.com"), "work")];
        store.create(&c, u).await.unwrap();
    }
    store
}

/// A user named `name` with id `id`, as the server hands it to `create`.
fn new_user(name: &str, id: &str) -> User {
    let mut u = User::new(name);
    u.id = Some(id.into());
    u.meta = Some(Meta::new("User", chrono::Utc::now()));
    u
}

#[test]
fn indexed_filters_use_their_index() {
    on_scratch_pool(async |pool| {
        store_with_users(&pool, 50).await;
        sqlx::query("ANALYZE scimkit_users")
            .execute(&pool)
            .await
            .unwrap();
        for (filter, index, q) in indexed_filters(Dialect::Postgres) {
            // With sequential scans priced out, a plan without the index means the
            // condition cannot use it.
            let lines = explain_without_seq_scans(&pool, &q).await;
            assert!(
                lines.iter().any(|l| l.contains(index)),
                "{filter}: {lines:#?}"
            );
        }
    });
}

/// The lines of `EXPLAIN` for the page statement of `q` (tenant `t`), with
/// sequential scans priced out for the transaction.
async fn explain_without_seq_scans(pool: &PgPool, q: &ListQuery) -> Vec<String> {
    let (sql, params) = page_statement(q, Dialect::Postgres);
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await
        .unwrap();
    let explain = format!("EXPLAIN {sql}");
    bind_params(sqlx::query(&explain), &params)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect()
}

#[test]
fn pages_sorted_by_family_name_read_its_index_without_sorting() {
    on_scratch_pool(async |pool| {
        PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        for (by, index, q) in sorted_pages() {
            // On an empty table a sequential scan and a sort cost nothing: priced
            // out, the plan shows whether an index gives the order.
            let lines = explain_without_seq_scans(&pool, &q).await;
            assert_read_in_order(by, index, &lines, "Sort  (");
        }
    });
}

/// An update that changes attributes no index reads (here `displayName`) writes no index
/// entry: PostgreSQL keeps it heap-only (HOT), since no index is on `search` or
/// `resource`, the columns every update rewrites (migration 0008).
#[test]
fn an_update_of_unindexed_attributes_is_heap_only() {
    on_scratch_pool(async |pool| {
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        let c = RequestContext::system("t");
        let mut u = new_user("hot", "id-hot");
        u.external_id = Some("ext-hot".into());
        u.emails = vec![MultiValue::typed("hot@example.com", "work")];
        u.name = Some(crate::resource::Name {
            family_name: Some("Jensen".into()),
            ..Default::default()
        });
        let created = store.create(&c, u).await.unwrap();
        let mut changed = created.as_ref().clone();
        changed.display_name = Some("Someone Else".into());
        let row = encode(&changed, crate::schema::SchemaSet::core()).unwrap();
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("BEGIN").execute(&mut *conn).await.unwrap();
        let (version, found) = swap_row(&mut conn, "t", &row, None, 1_000, &[])
            .await
            .unwrap();
        assert_eq!((version, found), (Some(1_000), true));
        let hot: i64 = sqlx::query_scalar(
            "SELECT pg_stat_get_xact_tuples_hot_updated('scimkit_users'::regclass)",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        assert_eq!(hot, 1, "the update was not heap-only");
    });
}

#[test]
fn writes_never_merge_a_pending_list_of_the_email_index() {
    on_scratch_pool(async |pool| {
        let options = async |pool: &PgPool| -> Vec<String> {
            sqlx::query_scalar(
                "SELECT unnest(reloptions) FROM pg_class \
                 WHERE oid = 'scimkit_users_emails'::regclass",
            )
            .fetch_all(pool)
            .await
            .unwrap()
        };
        assert_eq!(migrate_to(&pool, 13).await.unwrap(), 13);
        assert!(
            options(&pool).await.is_empty(),
            "GIN's default: a pending list"
        );
        let store = store_with_users(&pool, 20).await;
        assert_eq!(options(&pool).await, vec!["fastupdate=off".to_owned()]);
        // The index still finds users by address.
        let c = RequestContext::system("t");
        for email in ["u7@example.com", "u19@example.com"] {
            let q =
                ListQuery::all(10).with_filter(parse(&format!(r#"emails eq "{email}""#)).unwrap());
            assert_eq!(
                store.list(&c, &q).await.unwrap().total_results,
                1,
                "{email}"
            );
        }
    });
}

#[test]
fn users_read_are_decoded_once_per_version_and_tenant() {
    on_scratch_pool(async |pool| {
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        let a = RequestContext::system("a");
        let b = RequestContext::system("b");
        for (c, name) in [(&a, "a0"), (&a, "a1"), (&b, "b0")] {
            let u = new_user(name, &format!("id-{name}"));
            store.create(c, u).await.unwrap();
        }
        let page = |c: RequestContext| {
            let store = store.clone();
            async move { store.list(&c, &ListQuery::all(10)).await.unwrap().resources }
        };
        let first = page(a.clone()).await;
        let again = page(a.clone()).await;
        assert!(
            first.iter().zip(&again).all(|(x, y)| Arc::ptr_eq(x, y)),
            "a page read twice is decoded once"
        );
        let got = store.get(&a, "id-a0").await.unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&got, &first[0]),
            "a GET hands out the kept user"
        );
        // Both tenants' first rows may share a row number and a version: each tenant
        // gets its own user.
        let other = page(b.clone()).await;
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].user_name, "b0");
        // A replace gives the row a new version: the next read shows the new content.
        let mut changed = User::clone(&first[0]);
        changed.display_name = Some("Changed".into());
        store.replace(&a, changed, None).await.unwrap();
        let after = page(a.clone()).await;
        assert_eq!(after[0].display_name.as_deref(), Some("Changed"));
        assert_ne!(after[0].version(), first[0].version());
        assert!(
            Arc::ptr_eq(&after[1], &first[1]),
            "the other user is still kept"
        );
        // A store keeping none decodes every read.
        let none = store.clone().with_decoded_users(0);
        let x = none.get(&a, "id-a1").await.unwrap().unwrap();
        let y = none.get(&a, "id-a1").await.unwrap().unwrap();
        assert!(!Arc::ptr_eq(&x, &y));
        assert_eq!(x, y);
    });
}

#[test]
fn a_page_whose_rows_change_between_keys_and_resources_is_read_whole() {
    on_scratch_pool(async |pool| {
        let store = store_with_users(&pool, 3).await;
        let params = [Param::Text("t".into())];
        let page = |rows: &str| format!("{PAGE_SELECT} FROM ({rows}) AS u ORDER BY u.seq");
        let plain = page("SELECT * FROM scimkit_users WHERE tenant = $1");
        let (rows, _) = store
            .page_through_kept("t", &plain, &params, false)
            .await
            .unwrap()
            .expect("nothing changed");
        let names: Vec<_> = rows.iter().map(|(_, u)| u.user_name.as_str()).collect();
        assert_eq!(names, ["u0", "u1", "u2"]);
        // The keys name a version (or a row) the resources no longer have, as after a
        // replace (or a delete) between the two statements: neither is handed out.
        for rows in [
            "SELECT seq, resource, version + 1000 AS version FROM scimkit_users \
             WHERE tenant = $1 AND id = 'id1'",
            "SELECT seq + 1000 AS seq, resource, version FROM scimkit_users \
             WHERE tenant = $1 AND id = 'id2'",
        ] {
            let fresh = store.clone().with_decoded_users(64);
            let changed = fresh
                .page_through_kept("t", &page(rows), &params, false)
                .await
                .unwrap();
            assert!(changed.is_none(), "{rows}");
        }
    });
}

#[test]
fn reserved_numbers_are_handed_out_once_smallest_first() {
    let numbers = Numbers::default();
    let t: Arc<str> = Arc::from("t");
    assert_eq!(numbers.take("t"), None);
    numbers.put(&t, 130, 131);
    numbers.put(&t, 2, 3);
    numbers.put(&t, 5, 4); // empty
    numbers.put(&Arc::from("other"), 7, 7);
    let got: Vec<i64> = std::iter::from_fn(|| numbers.take("t")).collect();
    assert_eq!(got, [2, 3, 130, 131]);
    assert_eq!(numbers.take("other"), Some(7));
    assert!(numbers.lock().is_empty(), "exhausted tenants are forgotten");
}

/// A create as scimkit wrote it before migration 5 (versions from the database-wide
/// sequence, `seq` from the identity column).
async fn legacy_create(pool: &PgPool, tenant: &str, id: &str, user_name: &str) -> i64 {
    let mut u = new_user(user_name, id);
    u.emails = vec![MultiValue::typed(
        format!("{user_name}@Example.com"),
        "work",
    )];
    let row = encode(&u, crate::schema::SchemaSet::core()).unwrap();
    let sql = format!(
        "INSERT INTO scimkit_users (tenant, id, {}, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::json, $12::jsonb, $13, \
         nextval('scimkit_user_version')) RETURNING version",
        COLUMNS_BEFORE_8
    );
    bind(
        sqlx::query(&sql).bind(tenant).bind(id),
        row.args().into_iter().take(11),
    )
    .fetch_one(pool)
    .await
    .unwrap()
    .try_get(0)
    .unwrap()
}

#[test]
fn a_version_1_database_is_upgraded_with_its_data() {
    on_scratch_pool(async |pool| {
        assert_eq!(migrate_to(&pool, 1).await.unwrap(), 1);
        legacy_create(&pool, "t", "old-id", "Old").await;
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        assert_eq!(
            PostgresUserStore::schema_version(&pool).await.unwrap(),
            PostgresUserStore::latest_schema_version()
        );
        let c = RequestContext::system("t");
        let q = ListQuery::all(10).with_filter(parse(r#"emails eq "old@example.com""#).unwrap());
        let page = store.list(&c, &q).await.unwrap();
        assert_eq!(page.total_results, 1);
    });
}

#[test]
fn after_the_upgrade_to_tenant_counters_no_version_is_reused_and_new_users_sort_last() {
    on_scratch_pool(async |pool| {
        assert_eq!(migrate_to(&pool, 4).await.unwrap(), 4);
        let a = legacy_create(&pool, "t", "a", "a").await;
        legacy_create(&pool, "t2", "b", "b").await;
        // The highest version ever handed out belonged to a user deleted since.
        let gone = legacy_create(&pool, "t2", "gone", "gone").await;
        sqlx::query("DELETE FROM scimkit_users WHERE id = 'gone'")
            .execute(&pool)
            .await
            .unwrap();
        assert!(gone > a);
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        let version = |u: &User| parse_version(u.version().unwrap()).unwrap();
        for tenant in ["t", "t2", "new-tenant"] {
            let c = RequestContext::system(tenant);
            let u = new_user("fresh", &format!("fresh-{tenant}"));
            let created = store.create(&c, u).await.unwrap();
            assert!(version(&created) > gone, "{tenant}: {created:?}");
        }
        let c = RequestContext::system("t2");
        let again = store.create(&c, new_user("gone", "gone")).await.unwrap();
        assert!(version(&again) > gone, "a re-created id gets a new version");
        let c = RequestContext::system("t");
        let old = store.get(&c, "a").await.unwrap().unwrap();
        let replaced = store.replace(&c, User::clone(&old), None).await.unwrap();
        assert!(version(&replaced) > gone);
        // Keyset pages: the users of before the upgrade first, then the new one.
        let ids: Vec<String> = store
            .list(
                &c,
                &ListQuery {
                    cursor: Some(String::new()),
                    ..ListQuery::all(10)
                },
            )
            .await
            .unwrap()
            .resources
            .iter()
            .map(|u| u.id.as_deref().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["a", "fresh-t"]);
    });
}

/// The total of the unfiltered pages of `tenant` and its exact count of rows.
async fn totals(store: &PostgresUserStore, pool: &PgPool, tenant: &str) -> (usize, i64) {
    let c = RequestContext::system(tenant);
    let page = store
        .list(&c, &ListQuery::all(1).starting_at(2))
        .await
        .unwrap();
    let counted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scimkit_users WHERE tenant = $1")
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap();
    (page.total_results, counted)
}

/// Unfiltered totals come from the counts the trigger of migration 0010 keeps: exact
/// after creates and deletes from two pools (other server processes, other slots),
/// refused writes, a delete in SQL, a rolled-back delete and a `TRUNCATE`, per tenant.
#[test]
fn unfiltered_totals_are_kept_exact_by_the_trigger() {
    runtime_on_schemas(async |schemas| {
        let one = PostgresUserStore::from_pool(schemas.pool().await)
            .await
            .unwrap();
        let pool = one.pool().clone();
        let two = PostgresUserStore::from_pool(schemas.second_pool(&pool).await)
            .await
            .unwrap();
        let a = RequestContext::system("a");
        let mut ids = Vec::new();
        for i in 0..6 {
            let store = if i % 2 == 0 { &one } else { &two };
            let u = new_user(&format!("a{i}"), &format!("id-a{i}"));
            ids.push(store.create(&a, u).await.unwrap().id.clone().unwrap());
        }
        let b = RequestContext::system("b");
        two.create(&b, new_user("b0", "id-b0")).await.unwrap();
        assert!(one.create(&a, new_user("A0", "other")).await.is_err());
        assert!(two.delete(&a, &ids[0], Some("W/\"999999\"")).await.is_err());
        one.delete(&a, &ids[1], None).await.unwrap();
        two.delete(&a, &ids[2], None).await.unwrap();
        sqlx::query("DELETE FROM scimkit_users WHERE id = 'id-a3'")
            .execute(&pool)
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("DELETE FROM scimkit_users WHERE id = 'id-a4'")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(totals(&one, &pool, "a").await, (3, 3));
        assert_eq!(totals(&two, &pool, "a").await, (3, 3));
        assert_eq!(totals(&one, &pool, "b").await, (1, 1));
        assert_eq!(totals(&one, &pool, "nobody").await, (0, 0));
        // The total is the kept count, not a count of the rows.
        sqlx::query("UPDATE scimkit_user_counts SET users = users + 10 WHERE tenant = 'b'")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(totals(&one, &pool, "b").await, (11, 1));
        // CASCADE: the group memberships reference the users (migration 0011).
        sqlx::query("TRUNCATE scimkit_users CASCADE")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(totals(&one, &pool, "b").await, (0, 0));
        one.create(&b, new_user("b1", "id-b1")).await.unwrap();
        assert_eq!(totals(&two, &pool, "b").await, (1, 1));
    });
}

/// Runs `test` on the test server's scratch schemas (dropped after), or skips it.
fn runtime_on_schemas(test: impl AsyncFnOnce(&Schemas)) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(schemas) = Schemas::connect().await else {
            return;
        };
        test(&schemas).await;
        schemas.drop_all().await;
    });
}

/// Users written before migration 0010 are counted by it, per tenant.
#[test]
fn the_upgrade_to_kept_counts_counts_the_users_there_are() {
    on_scratch_pool(async |pool| {
        assert_eq!(migrate_to(&pool, 9).await.unwrap(), 9);
        for (tenant, n) in [("t", 3), ("u", 1)] {
            for i in 0..n {
                sqlx::query(
                    "INSERT INTO scimkit_users (tenant, id, seq, user_name, user_name_lower, \
                     version, resource, search, present) \
                     VALUES ($1, $2, $3, $2, $2, $3, json_build_object('userName', $2), \
                     '{}', ' ')",
                )
                .bind(tenant)
                .bind(format!("{tenant}{i}"))
                // Below the numbers the tenant's counter hands out.
                .bind(-i64::from(i) - 1)
                .execute(&pool)
                .await
                .unwrap();
            }
        }
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        assert_eq!(totals(&store, &pool, "t").await, (3, 3));
        assert_eq!(totals(&store, &pool, "u").await, (1, 1));
        store
            .create(&RequestContext::system("u"), new_user("new", "new"))
            .await
            .unwrap();
        assert_eq!(totals(&store, &pool, "u").await, (2, 2));
    });
}

/// Users written before migration 0013 have the Enterprise URN in full in `present`: the
/// upgrade writes it `E:` as the store now does, so `pr` on an Enterprise attribute still
/// finds them (and only them).
#[test]
fn the_upgrade_to_compact_present_keeps_pr_on_enterprise_attributes() {
    on_scratch_pool(async |pool| {
        assert_eq!(migrate_to(&pool, 11).await.unwrap(), 11);
        let urn = crate::schema::ENTERPRISE_USER_SCHEMA;
        for (seq, id, present) in [
            (
                -1_i64,
                "with",
                format!(" userName {urn}:department {urn}:manager.value "),
            ),
            (-2, "without", " userName ".to_owned()),
        ] {
            sqlx::query(
                "INSERT INTO scimkit_users (tenant, id, seq, user_name, user_name_lower, \
                 version, resource, search, present) \
                 VALUES ('t', $1, $3, $1, $1, $3, json_build_object('id', $1, 'userName', $1), \
                 '{}', $2)",
            )
            .bind(id)
            .bind(present)
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
        }
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        let present: String =
            sqlx::query_scalar("SELECT present FROM scimkit_users WHERE id = 'with'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(present, " userName E:department E:manager.value ");
        let c = RequestContext::system("t");
        for path in ["department", "manager.value"] {
            let q = ListQuery::all(10)
                .with_filter(crate::filter::parse(&format!("{urn}:{path} pr")).unwrap());
            let page = store.list(&c, &q).await.unwrap();
            let names: Vec<_> = page
                .resources
                .iter()
                .map(|u| u.user_name.as_str())
                .collect();
            assert_eq!(names, ["with"], "{path}");
        }
    });
}

/// A pool the store opens ([`pool_with`]) prices random reads for cached data unless
/// the connection, database, role or server set the price, and then an unfiltered page
/// in the middle of a freshly written tenant (no statistics yet) is read from the index
/// of its order instead of all the tenant's rows and a sort.
#[test]
fn pools_of_the_store_read_pages_in_index_order() {
    runtime_on_schemas(async |schemas| {
        let options = schemas.options().await;
        let pool = pool_with(options.clone()).await.unwrap();
        let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
        let show = |pool: PgPool| async move {
            let cost: String = sqlx::query_scalar("SHOW random_page_cost")
                .fetch_one(&pool)
                .await
                .unwrap();
            let source: String = sqlx::query_scalar(
                "SELECT source FROM pg_settings WHERE name = 'random_page_cost'",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            (cost, source)
        };
        let (unset_cost, unset_source) = show(schemas.admin().clone()).await;
        let (cost, _) = show(pool.clone()).await;
        if unset_source == "default" {
            assert_eq!(cost, "1.1");
        } else {
            assert_eq!(cost, unset_cost, "set by the server ({unset_source}): kept");
        }
        let chosen = pool_with(options.options([("random_page_cost", "2.5")]))
            .await
            .unwrap();
        assert_eq!(
            show(chosen.clone()).await.0,
            "2.5",
            "the connection's own kept"
        );
        chosen.close().await;
        if cost != "1.1" {
            return; // the server's price is set: its plans are its own
        }
        // A thousand users of about the size of a typical user, never analyzed.
        sqlx::query(
            "INSERT INTO scimkit_users (tenant, id, seq, user_name, user_name_lower, \
             version, resource, search, present, family_name) \
             SELECT 't', 'id' || i, i, 'u' || i, 'u' || i, i, \
             json_build_object('userName', 'u' || i, 'pad', repeat('x', 900)), \
             jsonb_build_object('pad', repeat('x', 900)), ' ', md5(i::text) \
             FROM generate_series(1, 1000) AS i",
        )
        .execute(&pool)
        .await
        .unwrap();
        for q in [
            ListQuery::all(100).starting_at(401),
            ListQuery::all(100)
                .starting_at(401)
                .sorted_by(crate::sort::SortSpec::parse("name.familyName", None).unwrap()),
        ] {
            let (sql, params) = page_statement(&q, Dialect::Postgres);
            let explain = format!("EXPLAIN {sql}");
            let lines: Vec<String> = bind_params(sqlx::query(&explain), &params)
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get(0).unwrap())
                .collect();
            assert!(
                lines.iter().any(|l| l.contains("Index Scan"))
                    && !lines.iter().any(|l| l.contains("Sort  (")),
                "{q:?}: {lines:#?}"
            );
        }
        let page = store
            .list(
                &RequestContext::system("t"),
                &ListQuery::all(100).starting_at(401),
            )
            .await
            .unwrap();
        assert_eq!((page.resources.len(), page.total_results), (100, 1000));
        pool.close().await;
    });
}

/// Waits until `done` holds (checked every 5 ms, for up to 5 s), else fails with `what`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let wait = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect(what);
}

/// The store keeps the connections it used for its next statements, up to three quarters
/// of the pool's maximum (3 of the scratch pool's 4); the others go back to the pool,
/// where other users of a shared pool find them.
#[test]
fn used_connections_are_kept_up_to_three_quarters_of_the_pool() {
    on_scratch_pool(async |pool| {
        let store = store_with_users(&pool, 1).await;
        let c = RequestContext::system("t");
        let max = pool.options().get_max_connections() as usize;
        assert_eq!(max, 4);
        let mut held = Vec::new();
        for _ in 0..max {
            held.push(store.conns.get().await.unwrap());
        }
        assert_eq!(store.kept_connections(), 0, "all four in use");
        for conn in held {
            conn.done();
        }
        assert_eq!(store.kept_connections(), 3);
        // The fourth is back in the pool (after sqlx's test of it).
        let other = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
            .await
            .expect("the pool still has a connection for others")
            .unwrap();
        drop(other);
        // The next statements run on a kept connection, which is kept again.
        assert!(store.get(&c, "id0").await.unwrap().is_some());
        assert_eq!(store.kept_connections(), 3);
    });
}

/// A request dropped in the middle of its statement (a client gone, a timeout) does not
/// leave its connection among the kept ones: the connection goes back to the pool, which
/// waits for the statement's answer and tests it before handing it out again.
#[test]
fn a_connection_dropped_mid_statement_goes_back_to_the_pool() {
    on_scratch_pool(async |pool| {
        let store = store_with_users(&pool, 1).await;
        let c = RequestContext::system("t");
        let current = store.get(&c, "id0").await.unwrap().unwrap();
        let kept = store.kept_connections();
        assert!(kept >= 1);
        // Another transaction holds the user's row: the store's update waits for it.
        let mut locker = pool.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM scimkit_users WHERE id = 'id0' FOR UPDATE")
            .execute(&mut *locker)
            .await
            .unwrap();
        let mut next = User::clone(&current);
        next.title = Some("Waited".into());
        let dropped = tokio::time::timeout(
            Duration::from_millis(300),
            store.replace(&c, next, current.version()),
        )
        .await;
        assert!(dropped.is_err(), "the update waited for the row lock");
        assert_eq!(
            store.kept_connections(),
            kept - 1,
            "the connection of the dropped update is not kept"
        );
        locker.rollback().await.unwrap();
        // The store goes on; every connection ends idle, kept or in the pool.
        assert!(store.get(&c, "id0").await.unwrap().is_some());
        eventually(
            "the dropped update's connection came back to the pool",
            || pool.num_idle() + store.kept_connections() >= pool.size() as usize,
        )
        .await;
    });
}

/// Closing the pool hands the kept connections back to it at once, to be closed: `close`
/// does not wait for the store to be dropped, no connection stays open, and the store
/// then fails its statements.
#[test]
fn closing_the_pool_closes_the_kept_connections() {
    on_scratch_pool(async |pool| {
        let store = store_with_users(&pool, 1).await;
        let c = RequestContext::system("t");
        assert!(store.kept_connections() >= 1);
        tokio::time::timeout(Duration::from_secs(10), pool.close())
            .await
            .expect("closing the pool waited for the store's kept connections");
        eventually("the kept connections were closed with the pool", || {
            store.kept_connections() == 0 && pool.size() == 0
        })
        .await;
        assert!(store.get(&c, "id0").await.is_err());
    });
}

/// A connection kept idle too long, or checked out of the pool too long ago, goes back to
/// the pool when next met (the pool tests it before it is used again), instead of being
/// used: a connection the server closed while it was idle never serves a statement.
#[test]
fn stale_kept_connections_go_back_to_the_pool() {
    on_scratch_pool(async |pool| {
        let short = Duration::from_millis(50);
        for (idle_for, keep_for) in [
            (short, Duration::from_secs(600)),
            (Duration::from_secs(600), short),
        ] {
            let kept = kept::Kept::timed(pool.clone(), 3, idle_for, keep_for);
            kept.get().await.unwrap().done();
            assert_eq!(kept.idle(), 1);
            tokio::time::sleep(short * 3).await;
            let after_sleep = std::time::Instant::now();
            let conn = kept.get().await.unwrap();
            assert!(
                conn.checked_out() >= after_sleep,
                "the stale connection was handed out instead of one from the pool"
            );
            assert_eq!(kept.idle(), 0);
            conn.done();
            // The stale one went back to the pool and the statement took another
            // connection (or the same one, once the pool had tested it).
            assert!(kept.idle() <= 1);
            eventually("the stale connection came back to the pool", || {
                pool.num_idle() + kept.idle() >= pool.size() as usize
            })
            .await;
        }
    });
}

/// A kept connection that PostgreSQL closed while it was idle (a restart, an
/// administrator's `pg_terminate_backend`) fails the one statement that meets it, which
/// hands it back to the pool (where sqlx's test finds it dead and closes it); the next
/// statement gets a live connection. This is the pool's own behaviour without a test
/// before each acquisition (`test_before_acquire` off, as before).
/// Waits (up to 5 s) until the backend `pid` has exited.
async fn backend_exited(pool: &PgPool, pid: i32) {
    let gone = async {
        loop {
            let alive: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
                    .bind(pid)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            if !alive {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("the backend exited");
}

/// Terminates the backend of the one connection `store` keeps (asserted), and waits
/// until it has exited.
async fn terminate_the_kept_connection(store: &PostgresUserStore, pool: &PgPool) {
    let mut conn = store.conns.get().await.unwrap();
    assert_eq!(store.kept_connections(), 0);
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    conn.done();
    assert_eq!(store.kept_connections(), 1);
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(terminated);
    backend_exited(pool, pid).await;
}

#[test]
fn a_read_that_meets_a_kept_connection_closed_by_the_server_runs_again_on_another() {
    on_scratch_pool(async |pool| {
        let store = store_with_users(&pool, 1).await;
        let c = RequestContext::system("t");
        // The read met the dead connection, then ran on a live one.
        terminate_the_kept_connection(&store, &pool).await;
        let user = store.get(&c, "id0").await.unwrap();
        assert!(user.is_some());
        assert_eq!(store.kept_connections(), 1, "the live one is kept");
        // So does a list page (its keys, then the resources not kept).
        terminate_the_kept_connection(&store, &pool).await;
        let page = store.list(&c, &ListQuery::all(10)).await.unwrap();
        assert_eq!(page.total_results, 1);
        assert_eq!(store.kept_connections(), 1);
        // So does a read of the group store, which shares the connections.
        let groups = store.group_store();
        let group = groups
            .create(&c, crate::testing::groups::new_group("G", &["id0"]))
            .await
            .unwrap();
        terminate_the_kept_connection(&store, &pool).await;
        let read = groups
            .get(&c, group.id.as_deref().unwrap(), true)
            .await
            .unwrap();
        assert_eq!(read.map(|g| g.members.len()), Some(1));
        assert_eq!(store.kept_connections(), 1);
        // A write that meets one is not run again: it fails, and the next runs.
        terminate_the_kept_connection(&store, &pool).await;
        let mut u = new_user("w", "id-w");
        u.emails = vec![MultiValue::typed("w@example.com", "work")];
        let failed = store.create(&c, u.clone()).await;
        assert!(failed.is_err(), "the dead connection was used: {failed:?}");
        store.create(&c, u).await.unwrap();
    });
}

/// When the pool's connections are all out, some with its other users (a host's own
/// long queries), a statement of the store waits in the pool's queue: a connection the
/// store finishes with then goes back to the pool for it, instead of being kept idle
/// while the statement waits (until the pool's acquire timeout).
#[test]
fn a_statement_waiting_in_the_pool_gets_the_next_connection_back() {
    on_scratch_pool(async |pool| {
        assert_eq!(pool.options().get_max_connections(), 4);
        let kept = kept::Kept::keeping(pool.clone(), 3);
        // The host holds two connections; the store uses the other two.
        let host = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        let first = kept.get().await.unwrap();
        let second = kept.get().await.unwrap();
        let waiting = kept.get();
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut waiting)
                .await
                .is_err(),
            "every connection of the pool is out"
        );
        first.done();
        let third = tokio::time::timeout(Duration::from_secs(5), &mut waiting)
            .await
            .expect("the waiting statement got the connection the store finished with")
            .unwrap();
        assert_eq!(kept.idle(), 0, "nothing kept while a statement waited");
        second.done();
        third.done();
        assert_eq!(kept.idle(), 2, "kept again once nobody waits");
        drop(host);
    });
}

/// A store on `pool` with one user, `kim` (id `id-kim`) of tenant `t`, just created:
/// its context and the user the create returned.
async fn store_with_kim(pool: &PgPool) -> (PostgresUserStore, RequestContext, Arc<User>) {
    let store = PostgresUserStore::from_pool(pool.clone()).await.unwrap();
    let c = RequestContext::system("t");
    let created = store.create(&c, new_user("kim", "id-kim")).await.unwrap();
    (store, c, created)
}

/// A user just written is kept under its row: a create's row is numbered by its first
/// version, an update keeps the row of the version it replaced; the next read of it is
/// the user the write returned, not its JSON decoded again.
#[test]
fn the_first_read_after_a_write_finds_the_written_user_by_its_row() {
    on_scratch_pool(async |pool| {
        let (store, c, created) = store_with_kim(&pool).await;
        let row = || async {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT seq, version FROM scimkit_users WHERE id = 'id-kim'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        };
        let (seq, version) = row().await;
        let kept = store.decoded.get("t", seq, version).expect("kept by row");
        assert!(Arc::ptr_eq(&kept, &created));
        let read = store.get(&c, "id-kim").await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&read, &created), "read without decoding");
        let mut next = User::clone(&read);
        next.title = Some("Dr".into());
        let updated = store.replace(&c, next, read.version()).await.unwrap();
        let (same_seq, new_version) = row().await;
        assert_eq!(same_seq, seq);
        let kept = store
            .decoded
            .get("t", seq, new_version)
            .expect("kept by row");
        assert!(Arc::ptr_eq(&kept, &updated));
    });
}

/// A GET of a user kept at the row's version hands out the kept user without its JSON
/// (`GET_UNLESS_KEPT`); a row at any other version is decoded.
#[test]
fn a_get_hands_out_the_kept_version_and_decodes_any_other() {
    on_scratch_pool(async |pool| {
        let (store, a, created) = store_with_kim(&pool).await;
        // The JSON spoiled at the same version: a GET that decoded it would fail.
        sqlx::query("UPDATE scimkit_users SET resource = '[]' WHERE id = 'id-kim'")
            .execute(&pool)
            .await
            .unwrap();
        let read = store.get(&a, "id-kim").await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&read, &created), "the kept user");
        // Another process's write (a new version): decoded.
        let mut theirs = new_user("kim", "id-kim");
        theirs.display_name = Some("Theirs".into());
        let row = encode(&theirs, a.schemas()).unwrap();
        sqlx::query(
            "UPDATE scimkit_users SET resource = $1::json, version = version + 1000 \
             WHERE id = 'id-kim'",
        )
        .bind(&row.resource)
        .execute(&pool)
        .await
        .unwrap();
        let read = store.get(&a, "id-kim").await.unwrap().unwrap();
        assert_eq!(read.display_name.as_deref(), Some("Theirs"));
        assert_ne!(read.version(), created.version());
    });
}
