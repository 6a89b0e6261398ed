//! `SqliteGroupStore` and `PostgresGroupStore`: the group store conformance suite
//! (`scimkit::testing::groups`) on both SQL stores, the memberships of a deleted user,
//! and the `/Groups` endpoints over HTTP on SQLite.
//!
//! The PostgreSQL tests use scratch schemas of `scimkit::testing::postgres::Schemas` (the
//! server and when the tests are skipped are described there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::{Arc, Mutex};

use scimkit::group::{GroupChange, GroupFilter, GroupQuery, GroupStore, MemberEdit};
use scimkit::store::{PostgresUserStore, SqliteDatabase, SqliteGroupStore, SqliteUserStore};
use scimkit::testing::group_outbox::{check_group_outbox, check_group_outbox_commit_order};
use scimkit::testing::groups::{check_group_store, new_group};
use scimkit::testing::new_user;
use scimkit::testing::postgres::Schemas;
use scimkit::{Principal, RequestContext, ScimServer, StaticKeyAuthenticator, UserStore};
use serde_json::json;

#[tokio::test]
async fn sqlite_group_store_in_memory_passes_the_conformance_suite() {
    check_group_store(|| {
        let users = SqliteUserStore::new(SqliteDatabase::in_memory().unwrap());
        let groups = users.group_store();
        (Arc::new(users) as Arc<dyn UserStore>, groups)
    })
    .await;
}

#[tokio::test]
async fn sqlite_group_store_on_a_file_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("scimkit-groups-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    check_group_store(|| {
        let db = SqliteDatabase::open(dir.join(format!("{}.db", uuid::Uuid::new_v4()))).unwrap();
        let users: Arc<dyn UserStore> = Arc::new(SqliteUserStore::new(db.clone()));
        (users, SqliteGroupStore::new(db))
    })
    .await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn postgres_group_store_passes_the_conformance_suite() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    // A fresh schema for each check of the suite (it calls `make` once per check).
    let mut stores = Vec::new();
    for _ in 0..16 {
        stores.push(schemas.store().await);
    }
    let stores = Mutex::new(stores);
    check_group_store(|| {
        let users = stores.lock().unwrap().pop().expect("a store per check");
        let groups = users.group_store();
        (Arc::new(users) as Arc<dyn UserStore>, groups)
    })
    .await;
    drop(stores);
    schemas.drop_all().await;
}

#[tokio::test]
async fn sqlite_group_store_records_group_events_in_the_outbox() {
    check_group_outbox(|| {
        let users =
            Arc::new(SqliteUserStore::new(SqliteDatabase::in_memory().unwrap()).with_outbox());
        let groups = Arc::new(users.group_store());
        (users.clone(), users, groups)
    })
    .await;
}

#[tokio::test]
async fn sqlite_group_store_with_outbox_over_a_shared_database_records_group_events() {
    check_group_outbox(|| {
        let db = SqliteDatabase::in_memory().unwrap();
        let users = Arc::new(SqliteUserStore::new(db.clone()).with_outbox());
        let groups = Arc::new(SqliteGroupStore::new(db).with_outbox());
        (users.clone(), users, groups)
    })
    .await;
}

#[tokio::test]
async fn postgres_group_store_records_group_events_in_the_outbox() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let mut stores = Vec::new();
    for _ in 0..2 {
        stores.push(schemas.store().await.with_outbox());
    }
    let stores = Mutex::new(stores);
    check_group_outbox(|| {
        let users = Arc::new(stores.lock().unwrap().pop().expect("a store per check"));
        let groups = Arc::new(users.group_store());
        (users.clone(), users, groups)
    })
    .await;
    drop(stores);
    schemas.drop_all().await;
}

/// Group writes racing through two pools on one PostgreSQL database (two replicas):
/// their events are in commit order.
#[tokio::test]
async fn postgres_group_events_from_two_pools_keep_commit_order() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let a = schemas.store().await.with_outbox();
    let b = PostgresUserStore::from_pool(schemas.second_pool(a.pool()).await)
        .await
        .unwrap()
        .with_outbox();
    let groups: Vec<Arc<dyn GroupStore>> =
        vec![Arc::new(a.group_store()), Arc::new(b.group_store())];
    let a = Arc::new(a);
    check_group_outbox_commit_order(a.clone(), a.clone(), groups).await;
    a.pool().close().await;
    b.pool().close().await;
    schemas.drop_all().await;
}

#[tokio::test]
async fn sqlite_group_events_keep_commit_order() {
    let users = Arc::new(SqliteUserStore::new(SqliteDatabase::in_memory().unwrap()).with_outbox());
    let groups: Arc<dyn GroupStore> = Arc::new(users.group_store());
    check_group_outbox_commit_order(users.clone(), users, vec![groups.clone(), groups]).await;
}

/// `groups_of` (for `User.groups`): every group of each user asked for, in its tenant
/// only, in one call.
async fn groups_of_answers_for_every_user(users: Arc<dyn UserStore>, groups: impl GroupStore) {
    let c = RequestContext::system("t1");
    let a = users
        .create(&c, new_user("a"))
        .await
        .unwrap()
        .id
        .clone()
        .unwrap();
    let b = users
        .create(&c, new_user("b"))
        .await
        .unwrap()
        .id
        .clone()
        .unwrap();
    let lone = users
        .create(&c, new_user("lone"))
        .await
        .unwrap()
        .id
        .clone()
        .unwrap();
    let one = groups
        .create(&c, new_group("One", &[&a, &b]))
        .await
        .unwrap();
    let two = groups.create(&c, new_group("Two", &[&a])).await.unwrap();
    let other = RequestContext::system("t2");
    assert!(
        groups
            .groups_of(&other, &[&a, &b])
            .await
            .unwrap()
            .is_empty(),
        "another tenant sees none"
    );
    let mut found: Vec<(String, String, String, String)> = groups
        .groups_of(&c, &[&a, &b, &lone, "no-such-user"])
        .await
        .unwrap()
        .into_iter()
        .map(|(user, m)| {
            (
                user.to_string(),
                m.value.unwrap().to_string(),
                m.display.unwrap().to_string(),
                m.kind.unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let id = |g: &scimkit::Group| g.id.clone().unwrap().to_string();
    let mut expected = vec![
        (
            a.to_string(),
            id(&one),
            "One".to_owned(),
            "direct".to_owned(),
        ),
        (
            a.to_string(),
            id(&two),
            "Two".to_owned(),
            "direct".to_owned(),
        ),
        (
            b.to_string(),
            id(&one),
            "One".to_owned(),
            "direct".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn sqlite_groups_of_answers_for_every_user() {
    let users = SqliteUserStore::new(SqliteDatabase::in_memory().unwrap());
    let groups = users.group_store();
    groups_of_answers_for_every_user(Arc::new(users), groups).await;
}

#[tokio::test]
async fn postgres_groups_of_answers_for_every_user() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let users = schemas.store().await;
    let groups = users.group_store();
    groups_of_answers_for_every_user(Arc::new(users), groups).await;
    schemas.drop_all().await;
}

/// On PostgreSQL, deleting a user deletes its membership rows (the foreign key's
/// cascade), before the server calls `remove_user`, and an edit adding it later skips it.
#[tokio::test]
async fn postgres_memberships_go_with_the_user() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let users = schemas.store().await;
    let groups = users.group_store();
    let c = RequestContext::system("t");
    let gone = users.create(&c, new_user("gone")).await.unwrap();
    let gone = gone.id.clone().unwrap();
    let stays = users.create(&c, new_user("stays")).await.unwrap();
    let stays = stays.id.clone().unwrap();
    let g = groups
        .create(&c, new_group("G", &[&gone, &stays]))
        .await
        .unwrap();
    let rows = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM scimkit_group_members")
            .fetch_one(users.pool())
            .await
            .unwrap()
    };
    assert_eq!(rows().await, 2);
    users.delete(&c, &gone, None).await.unwrap();
    assert_eq!(rows().await, 1, "the user's row went with it");
    let change = GroupChange::edit(vec![MemberEdit::Add(vec![gone.clone()])]);
    let after = groups
        .update(
            &c,
            g.id.as_deref().unwrap(),
            &change,
            chrono::Utc::now(),
            None,
            true,
        )
        .await
        .unwrap();
    assert_eq!(after.members.len(), 1);
    assert_eq!(rows().await, 1, "a deleted user is not added again");
    schemas.drop_all().await;
}

/// Writes racing on one group from two pools (as two replicas) lose no edit and keep
/// the versions apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_edits_from_two_pools_lose_nothing() {
    let Some(schemas) = Schemas::connect().await else {
        return;
    };
    let first = schemas.store().await;
    let second = PostgresUserStore::from_pool(schemas.second_pool(first.pool()).await)
        .await
        .unwrap();
    let c = RequestContext::system("t");
    let mut ids = Vec::new();
    for i in 0..40 {
        let u = first.create(&c, new_user(&format!("p{i}"))).await.unwrap();
        ids.push(u.id.clone().unwrap());
    }
    let g = first
        .group_store()
        .create(&c, new_group("Shared", &[]))
        .await
        .unwrap();
    let id = g.id.clone().unwrap();
    let writers = ids.chunks(10).enumerate().map(|(i, chunk)| {
        let groups = if i % 2 == 0 {
            first.group_store()
        } else {
            second.group_store()
        };
        let (c, id, chunk) = (c.clone(), id.clone(), chunk.to_vec());
        tokio::spawn(async move {
            for m in chunk {
                let change = GroupChange::edit(vec![MemberEdit::Add(vec![m])]);
                groups
                    .update(&c, &id, &change, chrono::Utc::now(), None, false)
                    .await
                    .unwrap();
            }
        })
    });
    for w in writers.collect::<Vec<_>>() {
        w.await.unwrap();
    }
    let got = first
        .group_store()
        .get(&c, &id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.members.len(), 40);
    let page = first
        .group_store()
        .list(
            &c,
            &GroupQuery::all(10).filter(GroupFilter::Member(ids[39].to_string())),
        )
        .await
        .unwrap();
    assert_eq!(page.total_results, 1);
    schemas.drop_all().await;
}

fn sqlite_server() -> ScimServer {
    let users = SqliteUserStore::new(SqliteDatabase::in_memory().unwrap());
    let groups = users.group_store();
    ScimServer::builder()
        .base_path("/scim/v2")
        .store(users)
        .groups(groups)
        .authenticator(
            StaticKeyAuthenticator::new().with_key(common::KEY, Principal::new("acme", "key-1")),
        )
        .build()
        .unwrap()
}

/// The `/Groups` endpoints on the SQLite stores: create with members, a taken name (409
/// `uniqueness`), Okta's PATCH forms, filters, and a deleted user leaving its group.
#[tokio::test]
async fn groups_over_http_on_sqlite() {
    let server = sqlite_server();
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = common::send(
            &server,
            "POST",
            "/scim/v2/Users",
            Some(common::okta_user(&format!("m{i}@example.com"))),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_owned());
    }
    let schema = "urn:ietf:params:scim:schemas:core:2.0:Group";
    let body = json!({"schemas": [schema], "displayName": "Engineering",
        "members": [{"value": ids[0]}, {"value": "no-such-user"}]});
    let r = common::send(&server, "POST", "/scim/v2/Groups", Some(body.clone())).await;
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["members"].as_array().unwrap().len(), 1);
    let gid = r.json["id"].as_str().unwrap().to_owned();
    let mut again = body;
    again["displayName"] = json!("ENGINEERING");
    let r = common::send(&server, "POST", "/scim/v2/Groups", Some(again)).await;
    r.assert_error(409, Some("uniqueness"));

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": ids[2]}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
        {"op": "replace", "value": {"id": gid, "displayName": "Eng"}}
    ]});
    let r = common::send(
        &server,
        "PATCH",
        &format!("/scim/v2/Groups/{gid}"),
        Some(patch),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.json);
    let filter = format!(
        "/scim/v2/Groups?filter=displayName%20eq%20%22eng%22%20and%20members%20eq%20%22{}%22",
        ids[2]
    );
    let r = common::send(&server, "GET", &filter, None).await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
    let members = r.json["Resources"][0]["members"]
        .as_array()
        .unwrap()
        .clone();
    let mut values: Vec<&str> = members
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    values.sort_unstable();
    let mut expected = vec![ids[1].as_str(), ids[2].as_str()];
    expected.sort_unstable();
    assert_eq!(values, expected);
    assert_eq!(members[0]["type"], "User");
    let user = format!("/scim/v2/Users/{}", ids[2]);
    let r = common::send(&server, "GET", &user, None).await;
    assert_eq!(r.json["groups"][0]["value"], gid.as_str(), "{}", r.json);
    assert_eq!(r.json["groups"][0]["display"], "Eng", "{}", r.json);

    let r = common::send(
        &server,
        "DELETE",
        &format!("/scim/v2/Users/{}", ids[1]),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = common::send(&server, "GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.json["members"].as_array().unwrap().len(), 1, "{}", r.json);
    let r = common::send(
        &server,
        "GET",
        "/scim/v2/Groups?excludedAttributes=members",
        None,
    )
    .await;
    assert_eq!(r.json["totalResults"], 1);
    assert!(
        r.json["Resources"][0].get("members").is_none(),
        "{}",
        r.json
    );
    let r = common::send(&server, "DELETE", &format!("/scim/v2/Groups/{gid}"), None).await;
    assert_eq!(r.status, 204);
    let r = common::send(&server, "GET", &format!("/scim/v2/Groups/{gid}"), None).await;
    r.assert_error(404, None);
}
