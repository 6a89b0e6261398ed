//! Criterion benchmarks of `ScimServer::handle` over the SQL stores (SQLite and
//! PostgreSQL): `userName eq` filters at 1,000 and 100,000 users, cursor page 1 vs page
//! 1,000, and sustained `POST /Users` throughput.
//!
//! `cargo bench --features sqlite,postgres --bench sql -- --warm-up-time 1 --measurement-time 3`.
//! PostgreSQL is `SCIMKIT_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! it is skipped with a note when 127.0.0.1:5432 does not answer. Each run uses its own
//! schema and drops it at the end.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scimkit::store::{
    Durability, PostgresUserStore, SqliteDatabase, SqliteOptions, SqliteUserStore,
};
use scimkit::{
    Meta, Principal, RequestContext, ScimServer, StaticKeyAuthenticator, User, UserStore,
};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const KEY: &str = "bench-key";
const TENANT: &str = "bench";
const SMALL: usize = 1_000;
const LARGE: usize = 100_000;
const PAGE: usize = 100;
const CREATES: usize = 2_000;
const SEED_WORKERS: usize = 8;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn server(store: Arc<dyn UserStore>) -> ScimServer {
    ScimServer::builder()
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new(TENANT, "k")))
        .build()
        .unwrap()
}

fn request(method: &str, uri: &str, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "bench.example.com")
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/scim+json")
        .body(body)
        .unwrap()
}

fn get(rt: &tokio::runtime::Runtime, server: &ScimServer, uri: &str) -> Value {
    let resp = rt.block_on(server.handle(request("GET", uri, Vec::new())));
    assert_eq!(resp.status(), 200, "{uri}");
    serde_json::from_slice(resp.body()).unwrap()
}

fn seed_user(i: usize) -> User {
    let mut u = User::new(format!("user{i}@example.com"));
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.meta = Some(Meta::new("User", chrono::Utc::now()));
    u.active = Some(true);
    u.display_name = Some(format!("User {i}").into());
    // Family names in another order than creation, for sorted pages.
    u.name = Some(scimkit::Name {
        family_name: Some(format!("Family {:04}", (i * 7919) % 10_000).into()),
        given_name: Some(format!("Given {i}").into()),
        ..Default::default()
    });
    u
}

/// Inserts users `from..to` straight through `UserStore::create`, a few workers at once.
fn seed(rt: &tokio::runtime::Runtime, store: &Arc<dyn UserStore>, from: usize, to: usize) {
    let started = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for w in 0..SEED_WORKERS {
            let store = Arc::clone(store);
            set.spawn(async move {
                let ctx = RequestContext::system(TENANT);
                for i in (from + w..to).step_by(SEED_WORKERS) {
                    store.create(&ctx, seed_user(i)).await.unwrap();
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    });
    eprintln!(
        "seeded users {from}..{to} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn filter_uri(i: usize) -> String {
    format!("/scim/v2/Users?filter=userName%20eq%20%22user{i}%40example.com%22")
}

fn bench_store(
    c: &mut Criterion,
    name: &str,
    rt: &tokio::runtime::Runtime,
    store: Arc<dyn UserStore>,
) {
    let server = server(Arc::clone(&store));
    let mut g = c.benchmark_group(name);

    for (from, size) in [(0, SMALL), (SMALL, LARGE)] {
        seed(rt, &store, from, size);
        let uri = filter_uri(SMALL / 2);
        assert_eq!(get(rt, &server, &uri)["totalResults"], 1);
        g.bench_function(BenchmarkId::new("filter_user_name_eq", size), |b| {
            b.iter(|| black_box(rt.block_on(server.handle(request("GET", &uri, Vec::new())))));
        });
    }

    // Cursor page 1 vs page 1,000 (count=100), the latter's cursor found by walking.
    let first = format!("/scim/v2/Users?count={PAGE}&cursor=");
    let mut uri = first.clone();
    let walk = Instant::now();
    for _ in 1..1_000 {
        let page = get(rt, &server, &uri);
        let next = page["nextCursor"].as_str().expect("nextCursor");
        uri = format!("/scim/v2/Users?count={PAGE}&cursor={next}");
    }
    eprintln!(
        "{name}: walked to page 1000 in {:.1}s",
        walk.elapsed().as_secs_f64()
    );
    assert_eq!(
        get(rt, &server, &uri)["Resources"]
            .as_array()
            .unwrap()
            .len(),
        PAGE
    );
    for (page, uri) in [(1, &first), (1_000, &uri)] {
        g.bench_function(BenchmarkId::new("cursor_page", page), |b| {
            b.iter(|| black_box(rt.block_on(server.handle(request("GET", uri, Vec::new())))));
        });
    }

    // Sustained creates: one POST per iteration, then a fixed run of CREATES.
    let next = AtomicUsize::new(LARGE);
    let body = |i: usize| {
        serde_json::to_vec(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("user{i}@example.com"),
            "displayName": format!("User {i}"),
            "emails": [{"value": format!("user{i}@example.com"), "type": "work", "primary": true}],
            "active": true
        }))
        .unwrap()
    };
    let post = |i: usize| {
        let resp = rt.block_on(server.handle(request("POST", "/scim/v2/Users", body(i))));
        assert_eq!(resp.status(), 201);
        resp
    };
    g.throughput(Throughput::Elements(1));
    g.bench_function("create_user", |b| {
        b.iter(|| black_box(post(next.fetch_add(1, Ordering::Relaxed))));
    });
    g.finish();
    let started = Instant::now();
    for _ in 0..CREATES {
        black_box(post(next.fetch_add(1, Ordering::Relaxed)));
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{name}/sustained_creates: {CREATES} POST /Users in {secs:.2}s = {:.0} creates/s",
        CREATES as f64 / secs
    );
}

/// Whether a benchmark group is selected by the command line's filter (criterion filters
/// benchmarks, not the setup of a group: a group not asked for skips its seeding).
fn selected(group: &str) -> bool {
    let mut args = std::env::args().skip(1);
    let mut filters = Vec::new();
    while let Some(a) = args.next() {
        if matches!(
            a.as_str(),
            "--measurement-time"
                | "--warm-up-time"
                | "--sample-size"
                | "--save-baseline"
                | "--baseline"
                | "--output-format"
                | "--profile-time"
                | "--noise-threshold"
                | "--significance-level"
        ) {
            args.next();
        } else if !a.starts_with('-') {
            filters.push(a);
        }
    }
    filters.is_empty()
        || filters
            .iter()
            .any(|f| group.contains(f.as_str()) || f.starts_with(group))
}

/// A fresh directory for database files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("scimkit-bench-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A store on a new schema of the PostgreSQL test server, with the pool that drops it,
/// or `None` (with a note) when there is none.
fn postgres_schema(rt: &tokio::runtime::Runtime) -> Option<(PostgresUserStore, PgPool, String)> {
    let addr = "127.0.0.1:5432".parse().unwrap();
    if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        eprintln!("postgres skipped: nothing answers on 127.0.0.1:5432");
        return None;
    }
    let url = std::env::var("SCIMKIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(admin) = rt.block_on(PgPoolOptions::new().max_connections(1).connect(&url)) else {
        eprintln!("postgres skipped: cannot connect to {url}");
        return None;
    };
    let schema = format!("scimkit_bench_{}", uuid::Uuid::new_v4().simple());
    rt.block_on(sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin))
        .unwrap();
    let opts = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = rt.block_on(PostgresUserStore::connect_with(opts)).unwrap();
    Some((store, admin, schema))
}

/// Closes `store` and drops its schema.
fn drop_postgres_schema(
    rt: &tokio::runtime::Runtime,
    store: &PostgresUserStore,
    admin: &PgPool,
    schema: &str,
) {
    rt.block_on(async {
        store.pool().close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(admin)
            .await
            .unwrap();
    });
    eprintln!("dropped schema {schema}");
}

/// Pages of 100 of 1,000 users as Okta imports them (`startIndex`, a cursor, sorted by
/// `name.familyName`), on the memory store, on a SQLite file and on PostgreSQL (when
/// 127.0.0.1:5432 answers; also without decoded users kept, `postgres_undecoded`, on the
/// same rows): the SQLite store's page is to stay within 2x of the memory store's, the
/// PostgreSQL store's within 3x.
fn list_pages(c: &mut Criterion) {
    if !selected("list_pages") {
        return;
    }
    let rt = runtime();
    let dir = temp_dir("pages");
    let mut stores: Vec<(&str, Arc<dyn UserStore>, bool)> = vec![
        ("memory", Arc::new(scimkit::MemoryUserStore::new()), true),
        (
            "sqlite_file",
            Arc::new(
                rt.block_on(SqliteUserStore::open(dir.join("pages.db")))
                    .unwrap(),
            ),
            true,
        ),
    ];
    let pg = postgres_schema(&rt);
    if let Some((store, _, _)) = &pg {
        stores.push(("postgres", Arc::new(store.clone()), true));
        let undecoded = store.clone().with_decoded_users(0);
        stores.push(("postgres_undecoded", Arc::new(undecoded), false));
    }
    let mut g = c.benchmark_group("list_pages");
    for (name, store, seeded) in stores {
        if seeded {
            seed(&rt, &store, 0, SMALL);
        }
        let server = server(store);
        for (page, uri) in [
            ("start_index", "/scim/v2/Users?startIndex=101&count=100"),
            ("cursor", "/scim/v2/Users?count=100&cursor="),
            (
                "sorted_family_name",
                "/scim/v2/Users?sortBy=name.familyName&startIndex=101&count=100",
            ),
        ] {
            let body = get(&rt, &server, uri);
            assert_eq!(body["totalResults"], SMALL, "{name} {page}");
            assert_eq!(body["Resources"].as_array().unwrap().len(), PAGE);
            g.bench_function(BenchmarkId::new(page, name), |b| {
                b.iter(|| black_box(rt.block_on(server.handle(request("GET", uri, Vec::new())))));
            });
        }
    }
    g.finish();
    std::fs::remove_dir_all(&dir).ok();
    if let Some((store, admin, schema)) = &pg {
        drop_postgres_schema(&rt, store, admin, schema);
    }
}

/// Creates from many writers at once on a SQLite file, for each durability: what group
/// commit buys (one transaction, and under `Full` one sync, for every write waiting).
/// Writers are 16 OS threads, or 16 tasks on a one-worker tokio runtime (a server on one
/// core).
fn sqlite_concurrent_creates(_c: &mut Criterion) {
    if !selected("sqlite_concurrent_creates") {
        return;
    }
    const WRITERS: usize = 16;
    const PER_WRITER: usize = 250;
    for writer_thread in [false, true] {
        for durability in [Durability::Normal, Durability::Full] {
            for tasks in [false, true] {
                let dir = temp_dir("creates");
                let options = SqliteOptions {
                    writer_thread,
                    ..SqliteOptions::default().durability(durability)
                };
                let db = SqliteDatabase::open_with(dir.join("creates.db"), options).unwrap();
                let store = Arc::new(SqliteUserStore::new(db));
                let started = Instant::now();
                if tasks {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let mut set = tokio::task::JoinSet::new();
                        for t in 0..WRITERS {
                            let store = Arc::clone(&store);
                            set.spawn(async move {
                                let ctx = RequestContext::system(TENANT);
                                for i in 0..PER_WRITER {
                                    store
                                        .create(&ctx, seed_user(t * PER_WRITER + i))
                                        .await
                                        .unwrap();
                                }
                            });
                        }
                        while let Some(r) = set.join_next().await {
                            r.unwrap();
                        }
                    });
                } else {
                    std::thread::scope(|s| {
                        for t in 0..WRITERS {
                            let store = Arc::clone(&store);
                            s.spawn(move || {
                                let rt = tokio::runtime::Builder::new_current_thread()
                                    .build()
                                    .unwrap();
                                let ctx = RequestContext::system(TENANT);
                                for i in 0..PER_WRITER {
                                    rt.block_on(store.create(&ctx, seed_user(t * PER_WRITER + i)))
                                        .unwrap();
                                }
                            });
                        }
                    });
                }
                let secs = started.elapsed().as_secs_f64();
                let writers = if tasks {
                    "tasks on 1 worker"
                } else {
                    "threads"
                };
                let mode = if writer_thread {
                    "writer thread"
                } else {
                    "inline"
                };
                eprintln!(
                    "sqlite_concurrent_creates/{mode}/{durability:?}: {} creates from {WRITERS} {writers} in {secs:.2}s = {:.0} creates/s",
                    WRITERS * PER_WRITER,
                    (WRITERS * PER_WRITER) as f64 / secs
                );
                std::fs::remove_dir_all(&dir).ok();
            }
        }
    }
}

fn sqlite(c: &mut Criterion) {
    if !selected("sql_sqlite") {
        return;
    }
    let rt = runtime();
    let store = rt.block_on(SqliteUserStore::in_memory()).unwrap();
    bench_store(c, "sql_sqlite", &rt, Arc::new(store));
}

fn postgres(c: &mut Criterion) {
    if !selected("sql_postgres") {
        return;
    }
    let rt = runtime();
    let Some((store, admin, schema)) = postgres_schema(&rt) else {
        return;
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bench_store(c, "sql_postgres", &rt, Arc::new(store.clone()));
    }));
    drop_postgres_schema(&rt, &store, &admin, &schema);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

criterion_group!(
    benches,
    list_pages,
    sqlite_concurrent_creates,
    sqlite,
    postgres
);
criterion_main!(benches);
