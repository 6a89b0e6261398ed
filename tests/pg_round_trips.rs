//! Round trips to PostgreSQL per request type, counted on the wire: the stores connect
//! through a TCP proxy on loopback that parses the frontend protocol and counts the
//! messages after which the client waits for the server, `Sync` (extended protocol) and
//! `Query` (simple protocol: `BEGIN`, `COMMIT`). Each is one round trip.
//!
//! A `Sync` that follows another `Sync` (nothing to synchronize) is a connection test:
//! sqlx sends one when a connection goes back to the pool, in a task of its own after the
//! response, and one before every acquisition when `test_before_acquire` is on. Those
//! are counted apart: none per request shows that the store keeps its connections
//! between requests instead of handing them back to the pool after each.
//!
//! Statements are prepared once per connection and cached, so every operation runs once
//! before it is counted, and the test waits for every connection to be idle (kept by the
//! store, or back in the pool) after each one. Writes
//! take their version from a block of tenant numbers reserved by an earlier write (one
//! more round trip every 64 writes of a tenant, not counted here). The figures are
//! recorded in BENCHMARKS.md.
//!
//! The schema is a scratch schema of `scimkit::testing::postgres::Schemas` (the server and
//! when the test is skipped are described there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use scimkit::keys::{ApiKeys, Tenants};
use scimkit::store::{PostgresApiKeyStore, PostgresTenantStore, PostgresUserStore};
use scimkit::testing::postgres::Schemas;
use scimkit::{ListQuery, RequestContext, ScimServer, User, UserStore};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback proxy to PostgreSQL that counts the client's `Sync` and `Query` messages.
struct Proxy {
    port: u16,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// `Sync` after other messages, and `Query`: the client waits for their answer.
    round_trips: AtomicUsize,
    /// `Sync` after `Sync`: connection tests.
    tests: AtomicUsize,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(Counts::default());
        let counter = counts.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (client_read, mut client_write) = client.into_split();
                let (mut server_read, server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                tokio::spawn(forward_counting(client_read, server_write, counter.clone()));
            }
        });
        Self { port, counts }
    }

    /// Round trips and connection tests since the last call.
    fn take(&self) -> (usize, usize) {
        (
            self.counts.round_trips.swap(0, Ordering::SeqCst),
            self.counts.tests.swap(0, Ordering::SeqCst),
        )
    }
}

/// Waits until every connection of the pool of `stores` (one pool) is idle: kept by one
/// of them, or back in the pool (tested after release).
async fn settle(stores: &[&PostgresUserStore]) {
    let pool = stores[0].pool();
    for _ in 0..5000 {
        let kept: usize = stores.iter().map(|s| s.kept_connections()).sum();
        if pool.num_idle() + kept >= pool.size() as usize {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("the pool's connections did not come back");
}

/// Forwards the client's bytes, counting `Sync` ('S') and `Query` ('Q') messages. The
/// messages before the startup message have no type byte (an `SSLRequest` may come
/// first); every later one is a type byte and a length that counts itself.
async fn forward_counting(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counts: Arc<Counts>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut started = false;
    let mut after_sync = true;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        loop {
            let header = if started { 5 } else { 4 };
            if pending.len() < header {
                break;
            }
            let at = header - 4;
            let len = u32::from_be_bytes(pending[at..at + 4].try_into().unwrap()) as usize;
            let total = at + len;
            if pending.len() < total {
                break;
            }
            if started {
                match pending[0] {
                    b'S' if after_sync => counts.tests.fetch_add(1, Ordering::SeqCst),
                    b'S' | b'Q' => counts.round_trips.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
                after_sync = matches!(pending[0], b'S' | b'Q');
            } else {
                let code = u32::from_be_bytes(pending[4..8].try_into().unwrap());
                started = code == 196_608; // protocol 3.0: the startup message
            }
            pending.drain(..total);
        }
    }
}

/// A fresh schema on the test database, reached through a new proxy.
async fn setup() -> Option<(Proxy, PgConnectOptions, Schemas)> {
    let schemas = Schemas::connect().await?;
    let direct = schemas.options().await;
    let upstream = format!("{}:{}", direct.get_host(), direct.get_port());
    let proxy = Proxy::start(upstream).await;
    let options = direct
        .host("127.0.0.1")
        .port(proxy.port)
        .ssl_mode(sqlx::postgres::PgSslMode::Disable);
    Some((proxy, options, schemas))
}

fn user(name: &str) -> User {
    let mut u = User::new(name);
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.meta = Some(scimkit::Meta::new("User", chrono::Utc::now()));
    u
}

/// The round trips of one call of `op` (and the connection tests), after calls that
/// prepare its statements on every connection of the pool (which hands them out in turn).
/// An operation that acquires a connection twice (a page past the end counts apart) can
/// meet a connection on which its second statement is not prepared yet, depending on the
/// order in which connections came back: the figure is the fewest of three counted calls,
/// which is the steady state (an extra round trip in the code shows in every call).
macro_rules! count {
    ($proxy:expr, $stores:expr, $op:expr) => {{
        for _ in 0..(2 * $stores[0].pool().size() + 2) {
            $op;
            settle($stores).await;
        }
        let mut fewest: Option<(usize, usize)> = None;
        for _ in 0..3 {
            $proxy.take();
            $op;
            settle($stores).await;
            let got = $proxy.take();
            fewest = Some(fewest.map_or(got, |f| f.min(got)));
        }
        fewest.expect("three counted calls")
    }};
}

#[tokio::test]
async fn postgres_store_round_trips_per_operation() {
    let Some((proxy, options, schemas)) = setup().await else {
        return;
    };
    let mut figures = Vec::new();
    for outbox in [false, true] {
        let store = PostgresUserStore::connect_with(options.clone())
            .await
            .unwrap();
        let store = if outbox { store.with_outbox() } else { store };
        let c = RequestContext::system(if outbox { "with-outbox" } else { "plain" });
        let pool = &[&store.clone()];
        for i in 0..150 {
            store.create(&c, user(&format!("u{i:03}"))).await.unwrap();
            settle(pool).await;
        }
        let some = store.list(&c, &ListQuery::all(1)).await.unwrap().resources[0].clone();
        let id = some.id.as_deref().unwrap().to_owned();
        let by_name = ListQuery::all(100)
            .with_filter(scimkit::filter::parse(r#"userName eq "U042""#).unwrap());
        let page = ListQuery::all(100).starting_at(21);
        let past_the_end = ListQuery::all(100).starting_at(1000);
        let mut cursor_page = ListQuery::all(100);
        let first = store
            .list(&c, &{
                let mut q = ListQuery::all(10);
                q.cursor = Some(String::new());
                q
            })
            .await
            .unwrap();
        cursor_page.cursor = first.next_cursor.clone();

        let get = count!(proxy, pool, store.get(&c, &id).await.unwrap().unwrap());
        let filter = count!(proxy, pool, {
            let p = store.list(&c, &by_name).await.unwrap();
            assert_eq!(p.total_results, 1);
        });
        // Also when the page has room for one user only (the total is in the statement).
        let mut one = by_name.clone();
        one.count = 1;
        let filter_one = count!(proxy, pool, {
            let p = store.list(&c, &one).await.unwrap();
            assert_eq!((p.total_results, p.resources.len()), (1, 1));
        });
        assert_eq!(filter_one.0, 1, "userName eq with count=1");
        let offset = count!(proxy, pool, {
            let p = store.list(&c, &page).await.unwrap();
            assert_eq!((p.total_results, p.resources.len()), (150, 100));
        });
        let keyset = count!(proxy, pool, {
            let p = store.list(&c, &cursor_page).await.unwrap();
            assert_eq!((p.total_results, p.resources.len()), (150, 100));
        });
        // The same page on a store that has read none of its users yet (each call, a
        // clone of the store with new, empty decoded users): the keys and the total,
        // then the resources of the users it does not keep.
        let cold = count!(proxy, pool, {
            let fresh = store.clone().with_decoded_users(4_096);
            let p = fresh.list(&c, &page).await.unwrap();
            assert_eq!((p.total_results, p.resources.len()), (150, 100));
        });
        let empty = count!(proxy, pool, {
            let p = store.list(&c, &past_the_end).await.unwrap();
            assert_eq!((p.total_results, p.resources.len()), (150, 0));
        });
        let create = count!(
            proxy,
            pool,
            store
                .create(&c, user(&uuid::Uuid::new_v4().to_string()))
                .await
                .unwrap()
        );
        let replace = count!(proxy, pool, {
            let current = store.get(&c, &id).await.unwrap().unwrap();
            settle(pool).await;
            proxy.take();
            let mut next = User::clone(&current);
            next.title = Some(uuid::Uuid::new_v4().to_string().into());
            store.replace(&c, next, current.version()).await.unwrap();
        });
        let delete = count!(proxy, pool, {
            let u = store
                .create(&c, user(&uuid::Uuid::new_v4().to_string()))
                .await
                .unwrap();
            settle(pool).await;
            proxy.take();
            store
                .delete(&c, u.id.as_deref().unwrap(), u.version())
                .await
                .unwrap();
        });
        let missing = count!(proxy, pool, {
            let mut ghost = user("ghost");
            ghost.id = Some("no-such-id".into());
            assert!(store.replace(&c, ghost, Some("W/\"1\"")).await.is_err());
        });
        figures.push((
            outbox,
            [
                get, filter, offset, keyset, cold, empty, create, replace, delete, missing,
            ],
        ));
        store.pool().close().await;
    }
    for (outbox, f) in &figures {
        eprintln!(
            "outbox {outbox} (round trips, connection tests): get {:?} | userName eq {:?} | \
             page of 100 {:?} | cursor page {:?} | page of 100 not read before {:?} | \
             empty page past the end {:?} | create {:?} | replace {:?} | delete {:?} | \
             failed swap {:?}",
            f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]
        );
    }
    let trips = |f: &[(usize, usize); 10]| f.map(|(trips, _)| trips);
    // A page of users the store keeps decoded (read before) is one round trip without
    // their JSON; one with users not read yet takes a second for their resources. A swap
    // that writes nothing asks whether the user exists in a second statement (a miss
    // only: a replace that succeeds does not read the row).
    assert_eq!(
        trips(&figures[0].1),
        [1, 1, 1, 1, 2, 2, 1, 1, 1, 2],
        "without the outbox"
    );
    // With the outbox too, a replace at the version just read is one round trip: the user
    // at that version is kept decoded, so its events (the difference) are computed without
    // reading it again, and the swap is conditional on that version. (A user it does not
    // keep is read first: a missing one fails there, in one round trip.)
    assert_eq!(
        trips(&figures[1].1),
        [1, 1, 1, 1, 2, 2, 1, 1, 1, 1],
        "with the outbox"
    );
    // No connection test, before the query or after it: the store keeps the connections
    // it used (sqlx would test each one it gets back). Only a connection whose request
    // ended in an error goes back to the pool, which tests it: the failed swap with the
    // outbox, whose missing user is an error of the read that precedes the swap.
    let tests = |f: &[(usize, usize); 10]| f.map(|(_, tests)| tests);
    assert_eq!(tests(&figures[0].1), [0; 10], "without the outbox");
    assert_eq!(
        tests(&figures[1].1),
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        "with the outbox"
    );
    schemas.drop_all().await;
}

#[tokio::test]
async fn scim_requests_round_trips_with_api_keys_on_postgres() {
    let Some((proxy, options, schemas)) = setup().await else {
        return;
    };
    let users = PostgresUserStore::connect_with(options)
        .await
        .unwrap()
        .with_outbox();
    let pool = &[&users.clone()];
    let tenants = Tenants::new(
        PostgresTenantStore::from_pool(users.pool().clone())
            .await
            .unwrap(),
    );
    let keys = ApiKeys::new(
        PostgresApiKeyStore::from_pool(users.pool().clone())
            .await
            .unwrap(),
        tenants.clone(),
    );
    tenants.set_scim_entitled("acme", true).await.unwrap();
    tenants.set_scim_enabled("acme", true).await.unwrap();
    let secret = keys.create("acme", "Okta", None).await.unwrap().secret;
    let server = ScimServer::builder()
        .base_path("/scim/v2")
        .store(users)
        .authenticator(keys)
        .build()
        .unwrap();
    let auth = format!("Bearer {}", secret.expose());
    let headers = [("authorization", auth.as_str())];
    let send = |method: &'static str, uri: String, body: Option<serde_json::Value>| {
        let server = &server;
        let headers = &headers;
        async move { common::send_with(server, method, &uri, body, headers).await }
    };

    let created = send(
        "POST",
        "/scim/v2/Users".into(),
        Some(json!({"userName": "first"})),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let mut n = 0;
    let post = count!(proxy, pool, {
        n += 1;
        let r = send(
            "POST",
            "/scim/v2/Users".into(),
            Some(json!({"userName": format!("u{n}")})),
        )
        .await;
        assert_eq!(r.status, 201);
    });
    let get = count!(
        proxy,
        pool,
        assert_eq!(
            send("GET", format!("/scim/v2/Users/{id}"), None)
                .await
                .status,
            200
        )
    );
    let filter = count!(proxy, pool, {
        let r = send(
            "GET",
            "/scim/v2/Users?filter=userName%20eq%20%22first%22".into(),
            None,
        )
        .await;
        assert_eq!(r.json["totalResults"], 1);
    });
    let patch = count!(proxy, pool, {
        n += 1;
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": format!("d{n}")}]});
        let r = send("PATCH", format!("/scim/v2/Users/{id}"), Some(body)).await;
        assert_eq!(r.status, 200);
    });
    let delete = count!(proxy, pool, {
        let r = send(
            "POST",
            "/scim/v2/Users".into(),
            Some(json!({"userName": uuid::Uuid::new_v4().to_string()})),
        )
        .await;
        let gone = r.json["id"].as_str().unwrap().to_owned();
        settle(pool).await;
        proxy.take();
        assert_eq!(
            send("DELETE", format!("/scim/v2/Users/{gone}"), None)
                .await
                .status,
            204
        );
    });
    eprintln!(
        "through ScimServer::handle with ApiKeys, outbox on (round trips, connection tests): \
         POST {post:?} | GET {get:?} | userName eq {filter:?} | PATCH {patch:?} | \
         DELETE {delete:?}"
    );
    // Authentication is served from the cache: no round trip of its own.
    let trips = [post, get, filter, patch, delete].map(|(trips, _)| trips);
    // And no connection test: the store keeps its connections between requests.
    let tests = [post, get, filter, patch, delete].map(|(_, tests)| tests);
    assert_eq!(tests, [0; 5], "connection tests");
    // PATCH: one statement (swap and events), from the user this process keeps as it
    // last read or wrote it (`UserStore::kept`; a stale one costs a read and a retry).
    assert_eq!(trips, [1, 1, 1, 1, 1]);
    drop(server);
    schemas.drop_all().await;
}

/// A membership PATCH (`GroupStore::update`) is the same statements whatever the size of
/// the group: `BEGIN`, the group's row (compare-and-swap, new version), one statement per
/// edit, `COMMIT`; it never reads the member list. Counted on a group of 10 members and
/// one of 2,000, for an edit removing 5 members and adding them back.
#[tokio::test]
async fn group_membership_edits_do_not_grow_with_the_group() {
    use scimkit::group::{GroupChange, GroupQuery, GroupStore, MemberEdit};
    let Some((proxy, options, schemas)) = setup().await else {
        return;
    };
    let users = PostgresUserStore::connect_with(options).await.unwrap();
    let groups = users.group_store();
    let pool = &[&users.clone()];
    let c = RequestContext::system("groups");
    let mut ids = Vec::new();
    for i in 0..2_000 {
        let u = users.create(&c, user(&format!("m{i:04}"))).await.unwrap();
        ids.push(u.id.clone().unwrap());
    }
    let mut figures = Vec::new();
    for size in [10, 2_000] {
        let members: Vec<&str> = ids[..size].iter().map(|s| s.as_str()).collect();
        let group = scimkit::testing::groups::new_group(&format!("Size {size}"), &members);
        let g = groups.create(&c, group).await.unwrap();
        assert_eq!(g.members.len(), size);
        let id = g.id.clone().unwrap();
        let five = ids[..5].to_vec();
        let change = GroupChange::edit(vec![
            MemberEdit::Remove(five.clone()),
            MemberEdit::Add(five),
        ]);
        let patch = count!(proxy, pool, {
            groups
                .update(&c, &id, &change, chrono::Utc::now(), None, false)
                .await
                .unwrap();
        });
        let get = count!(proxy, pool, {
            let got = groups.get(&c, &id, false).await.unwrap().unwrap();
            assert!(got.members.is_empty());
        });
        let page = count!(proxy, pool, {
            let p = groups
                .list(&c, &GroupQuery::all(100).members(false))
                .await
                .unwrap();
            assert!(p.total_results >= 1);
        });
        figures.push((size, patch.0, get.0, page.0));
        let all = groups.get(&c, &id, true).await.unwrap().unwrap();
        assert_eq!(all.members.len(), size, "the edits kept every member");
        // With the outbox: the edit's statement returns who joined (the five, not the
        // group), and the events are one more statement before COMMIT.
        let evented_users = PostgresUserStore::from_pool(users.pool().clone())
            .await
            .unwrap()
            .with_outbox();
        let with_events = evented_users.group_store();
        let both = &[&users, &evented_users];
        // Each call moves the same five users out of the group or back in, so each
        // records one event.
        let five = ids[size - 5..size].to_vec();
        let calls = std::cell::Cell::new(0_usize);
        let evented = count!(proxy, both, {
            calls.set(calls.get() + 1);
            let edit = if calls.get() % 2 == 1 {
                MemberEdit::Remove(five.clone())
            } else {
                MemberEdit::Add(five.clone())
            };
            with_events
                .update(
                    &c,
                    &id,
                    &GroupChange::edit(vec![edit]),
                    chrono::Utc::now(),
                    None,
                    false,
                )
                .await
                .unwrap();
        });
        if calls.get() % 2 == 1 {
            let back = GroupChange::edit(vec![MemberEdit::Add(five.clone())]);
            with_events
                .update(&c, &id, &back, chrono::Utc::now(), None, false)
                .await
                .unwrap();
        }
        assert_eq!(
            evented.0, 5,
            "BEGIN, the group's row, the add returning who joined, the events, COMMIT \
             (group of {size})"
        );
    }
    eprintln!("group round trips (size, PATCH, GET without members, page): {figures:?}");
    assert_eq!(
        figures.iter().map(|f| (f.1, f.2, f.3)).collect::<Vec<_>>(),
        [(5, 1, 1), (5, 1, 1)],
        "BEGIN, the group's row, one statement per edit, COMMIT; reads are one statement"
    );
    let (events, joined): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), SUM(jsonb_array_length(kind->'joined')) FROM scimkit_outbox_staged \
         WHERE kind->>'type' = 'groupMembersChanged'",
    )
    .fetch_one(users.pool())
    .await
    .unwrap();
    assert!(
        events > 10 && joined * 2 >= (events - 1) * 5,
        "every call recorded one event of five members: {events} events, {joined} joined"
    );
    users.pool().close().await;
    schemas.drop_all().await;
}
