//! The scale of membership PATCHes (issue 23): through `GroupStore::update`, a PATCH adding
//! 1,000 members to a group of 100,000, and one removing 1,000, on the memory, SQLite
//! (a file, default options) and PostgreSQL group stores. Each figure is the wall time of
//! one `update` call (members not read back, as the server's 204 PATCH), over several
//! rounds that alternately add and remove the same 1,000 users; the group holds 100,000
//! members before each add and after each remove.
//!
//! `cargo bench --bench groups` (add `-- ROUNDS` to change the 5 rounds, and store names,
//! `memory`, `sqlite`, `postgres`, to run only those; `group=N` for a group of N; `outbox`
//! for stores recording events, as the example server runs them). PostgreSQL is
//! `SCIMKIT_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), in a
//! scratch schema dropped at the end; skipped with a note when no server answers.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use scimkit::group::{GroupChange, GroupStore, MemberEdit};
use scimkit::resource::CompactString;
use scimkit::store::{PostgresUserStore, SqliteDatabase, SqliteUserStore};
use scimkit::testing::groups::new_group;
use scimkit::testing::new_user;
use scimkit::testing::postgres::Schemas;
use scimkit::{MemoryUserStore, RequestContext, UserStore};

/// The group's size, unless an argument `group=N` says otherwise.
const GROUP: usize = 100_000;
const CHANGE: usize = 1_000;
/// Concurrent creates while seeding the users.
const SEEDERS: usize = 8;

/// Creates `n` users of the tenant and returns their ids.
async fn seed(users: &Arc<dyn UserStore>, ctx: &RequestContext, n: usize) -> Vec<CompactString> {
    let mut tasks = Vec::new();
    for w in 0..SEEDERS {
        let (users, ctx) = (users.clone(), ctx.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (w..n).step_by(SEEDERS) {
                let u = users
                    .create(&ctx, new_user(&format!("user{i:06}@example.com")))
                    .await
                    .unwrap();
                ids.push(u.id.clone().unwrap());
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    ids
}

/// Times of the adds and the removes.
struct Figures {
    add: Vec<Duration>,
    remove: Vec<Duration>,
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "median {:.1} ms (min {:.1}, max {:.1}, n={})",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    )
}

async fn measure(
    name: &str,
    users: Arc<dyn UserStore>,
    groups: impl GroupStore,
    (rounds, size): (usize, usize),
) -> Figures {
    let ctx = RequestContext::system("bench");
    let start = Instant::now();
    let ids = seed(&users, &ctx, size + CHANGE).await;
    let (members, extra) = ids.split_at(size);
    let members: Vec<&str> = members.iter().map(CompactString::as_str).collect();
    let group = groups
        .create(&ctx, new_group("Everyone", &members))
        .await
        .unwrap();
    assert_eq!(group.members.len(), size);
    eprintln!(
        "{name}: seeded {} users and a group of {size} in {:.1} s",
        ids.len(),
        start.elapsed().as_secs_f64()
    );
    let id = group.id.clone().unwrap();
    let add = GroupChange::edit(vec![MemberEdit::Add(extra.to_vec())]);
    let remove = GroupChange::edit(vec![MemberEdit::Remove(extra.to_vec())]);
    let mut figures = Figures {
        add: Vec::new(),
        remove: Vec::new(),
    };
    for _ in 0..rounds {
        for (change, times) in [(&add, &mut figures.add), (&remove, &mut figures.remove)] {
            let t = Instant::now();
            groups
                .update(&ctx, &id, change, chrono::Utc::now(), None, false)
                .await
                .unwrap();
            times.push(t.elapsed());
        }
    }
    let after = groups.get(&ctx, &id, true).await.unwrap().unwrap();
    assert_eq!(after.members.len(), size, "every remove undid its add");
    eprintln!(
        "{name}: add {CHANGE} to {size}: {} | remove {CHANGE} of {}: {}",
        summary(&mut figures.add),
        size + CHANGE,
        summary(&mut figures.remove)
    );
    figures
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let size: usize = args
        .iter()
        .find_map(|a| a.strip_prefix("group=")?.parse().ok())
        .unwrap_or(GROUP);
    let rounds = (rounds, size);
    let outbox = args.iter().any(|a| a == "outbox");
    let label = |name: &str| {
        if outbox {
            format!("{name}, with the outbox")
        } else {
            name.to_owned()
        }
    };
    // Store names among the arguments run those stores only (`memory`, `sqlite`,
    // `postgres`); `cargo bench` passes `--bench`, which names none.
    let names: Vec<&str> = ["memory", "sqlite", "postgres"]
        .into_iter()
        .filter(|n| args.iter().any(|a| a == n))
        .collect();
    let run = |name: &str| names.is_empty() || names.contains(&name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if run("memory") {
            let users = MemoryUserStore::new();
            let users = Arc::new(if outbox { users.with_outbox() } else { users });
            let groups = users.group_store();
            measure(&label("memory"), users, groups, rounds).await;
        }
        if !run("sqlite") {
            return postgres(rounds, run("postgres"), outbox).await;
        }
        let dir =
            std::env::temp_dir().join(format!("scimkit-bench-groups-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = SqliteDatabase::open(dir.join("groups.db")).unwrap();
        let users = SqliteUserStore::new(db);
        let users = if outbox { users.with_outbox() } else { users };
        let groups = users.group_store();
        measure(
            &label("sqlite (file, Durability::Normal)"),
            Arc::new(users),
            groups,
            rounds,
        )
        .await;
        std::fs::remove_dir_all(&dir).ok();
        postgres(rounds, run("postgres"), outbox).await;
    });
}

async fn postgres(rounds: (usize, usize), run: bool, outbox: bool) {
    if !run {
        return;
    }
    match Schemas::connect().await {
        Some(schemas) => {
            let users: PostgresUserStore = schemas.store().await;
            let (users, name) = if outbox {
                (users.with_outbox(), "postgres, with the outbox")
            } else {
                (users, "postgres")
            };
            let groups = users.group_store();
            measure(name, Arc::new(users), groups, rounds).await;
            schemas.drop_all().await;
        }
        None => eprintln!("postgres: skipped (no server)"),
    }
}
