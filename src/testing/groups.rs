//! The conformance suite of a [`GroupStore`]: [`check_group_store`].
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use scimkit::{MemoryGroupStore, MemoryUserStore, UserStore};
//! scimkit::testing::groups::check_group_store(|| {
//!     let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
//!     (users.clone(), MemoryGroupStore::new(users))
//! })
//! .await;
//! # }
//! ```

use std::sync::Arc;

use chrono::{SubsecRound, Utc};

use super::{ctx, join_all, new_user};
use crate::group::{Group, GroupChange, GroupFilter, GroupQuery, GroupStore, MemberEdit};
use crate::resource::{CompactString, Meta};
use crate::store::{StoreError, UserStore};

/// A new group as the server passes it to `create`: id and meta set, no version.
pub fn new_group(display_name: &str, members: &[&str]) -> Group {
    let mut g = Group::new(display_name);
    g.id = Some(uuid::Uuid::new_v4().to_string().into());
    g.meta = Some(Meta::new("Group", Utc::now().trunc_subsecs(3)));
    g.members = members.iter().map(|m| Group::member(*m)).collect();
    g
}

/// Runs every check against stores made by `make`: each call gives a fresh user store and
/// the group store whose members are its users.
pub async fn check_group_store<G: GroupStore>(make: impl Fn() -> (Arc<dyn UserStore>, G)) {
    create_returns_the_group_with_its_members_and_a_version(make()).await;
    display_name_is_unique_per_tenant_case_insensitively(make()).await;
    membership_edits_apply_in_order_and_are_idempotent(make()).await;
    members_are_users_of_the_tenant_only(make()).await;
    writes_change_the_version_and_honour_the_expected_one(make()).await;
    lists_filter_page_and_count_exactly(make()).await;
    a_deleted_user_is_no_member(make()).await;
    groups_of_lists_each_users_groups(make()).await;
    a_deleted_group_is_gone_and_frees_its_name(make()).await;
    tenants_never_meet(make()).await;
    parallel_membership_edits_lose_nothing(make()).await;
    racing_creates_of_one_name_have_one_winner(make()).await;
}

async fn user(users: &Arc<dyn UserStore>, tenant: &str, name: &str) -> String {
    let u = users.create(&ctx(tenant), new_user(name)).await.unwrap();
    u.id.clone().unwrap().to_string()
}

fn ids(group: &Group) -> Vec<String> {
    let mut v: Vec<String> = group
        .members
        .iter()
        .map(|m| m.value.as_deref().unwrap_or_default().to_owned())
        .collect();
    v.sort();
    v
}

fn sorted(v: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| (*s).clone()).collect();
    v.sort();
    v
}

fn edits(edits: Vec<MemberEdit>) -> GroupChange {
    GroupChange::edit(edits)
}

fn cs(ids: &[&String]) -> Vec<CompactString> {
    ids.iter().map(|s| s.as_str().into()).collect()
}

async fn update<G: GroupStore>(groups: &G, id: &str, change: &GroupChange) -> Group {
    groups
        .update(&ctx("t1"), id, change, Utc::now(), None, true)
        .await
        .unwrap_or_else(|e| panic!("update of group {id}: {e}"))
}

async fn create_returns_the_group_with_its_members_and_a_version<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let a = user(&users, "t1", "a@example.com").await;
    let b = user(&users, "t1", "b@example.com").await;
    let created = groups
        .create(&ctx("t1"), new_group("Admins", &[&a, &b]))
        .await
        .unwrap();
    assert!(created.version().is_some(), "create assigns meta.version");
    assert_eq!(
        ids(&created),
        sorted(&[&a, &b]),
        "create stores the members"
    );
    let got = groups
        .get(&ctx("t1"), created.id.as_deref().unwrap(), true)
        .await
        .unwrap()
        .expect("a created group is found by id");
    assert_eq!(got.display_name, "Admins");
    assert_eq!(got.version(), created.version());
    assert!(
        got.members
            .iter()
            .all(|m| m.kind.as_deref() == Some("User")),
        "members are users: {:?}",
        got.members
    );
    let bare = groups
        .get(&ctx("t1"), created.id.as_deref().unwrap(), false)
        .await
        .unwrap()
        .unwrap();
    assert!(
        bare.members.is_empty(),
        "members are read only when asked for"
    );
    assert!(
        groups
            .get(&ctx("t1"), "no-such-group", true)
            .await
            .unwrap()
            .is_none()
    );
}

async fn display_name_is_unique_per_tenant_case_insensitively<G: GroupStore>(
    (_users, groups): (Arc<dyn UserStore>, G),
) {
    groups
        .create(&ctx("t1"), new_group("Sales", &[]))
        .await
        .unwrap();
    let taken = groups.create(&ctx("t1"), new_group("SALES", &[])).await;
    assert!(
        matches!(taken, Err(StoreError::Uniqueness { ref attribute }) if attribute == "displayName"),
        "a second group named like the first (any letter case) is refused: {taken:?}"
    );
    let other = groups
        .create(&ctx("t1"), new_group("Marketing", &[]))
        .await
        .unwrap();
    let rename = GroupChange::rename("sales");
    let renamed = groups
        .update(
            &ctx("t1"),
            other.id.as_deref().unwrap(),
            &rename,
            Utc::now(),
            None,
            false,
        )
        .await;
    assert!(
        matches!(renamed, Err(StoreError::Uniqueness { .. })),
        "a rename to a taken name is refused: {renamed:?}"
    );
    // Renaming to its own name in another letter case is allowed.
    let rename = GroupChange::rename("MARKETING");
    groups
        .update(
            &ctx("t1"),
            other.id.as_deref().unwrap(),
            &rename,
            Utc::now(),
            None,
            false,
        )
        .await
        .expect("a group may change the letter case of its own name");
    groups
        .create(&ctx("t2"), new_group("Sales", &[]))
        .await
        .expect("another tenant may use the name");
}

async fn membership_edits_apply_in_order_and_are_idempotent<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let mut u = Vec::new();
    for i in 0..4 {
        u.push(user(&users, "t1", &format!("m{i}@example.com")).await);
    }
    let g = groups
        .create(&ctx("t1"), new_group("Team", &[&u[0]]))
        .await
        .unwrap();
    let id = g.id.as_deref().unwrap();
    let after = update(
        &groups,
        id,
        &edits(vec![MemberEdit::Add(cs(&[&u[0], &u[1], &u[1]]))]),
    )
    .await;
    assert_eq!(
        ids(&after),
        sorted(&[&u[0], &u[1]]),
        "adding a member twice is a no-op"
    );
    let after = update(&groups, id, &edits(vec![MemberEdit::Remove(cs(&[&u[2]]))])).await;
    assert_eq!(
        ids(&after),
        sorted(&[&u[0], &u[1]]),
        "removing an absent member is a no-op"
    );
    let after = update(
        &groups,
        id,
        &edits(vec![
            MemberEdit::Remove(cs(&[&u[0]])),
            MemberEdit::Add(cs(&[&u[2], &u[3]])),
        ]),
    )
    .await;
    assert_eq!(
        ids(&after),
        sorted(&[&u[1], &u[2], &u[3]]),
        "edits apply in order"
    );
    let after = update(
        &groups,
        id,
        &edits(vec![MemberEdit::RemoveAll, MemberEdit::Add(cs(&[&u[0]]))]),
    )
    .await;
    assert_eq!(
        ids(&after),
        sorted(&[&u[0]]),
        "remove-all then add sets the list"
    );
    let rename = GroupChange::rename("Renamed").with_external_id(Some("ext-1".into()));
    let after = update(&groups, id, &rename).await;
    assert_eq!(
        ids(&after),
        sorted(&[&u[0]]),
        "a change without edits keeps the members"
    );
    assert_eq!(after.display_name, "Renamed");
    assert_eq!(after.external_id.as_deref(), Some("ext-1"));
    let after = update(&groups, id, &edits(vec![MemberEdit::RemoveAll])).await;
    assert!(after.members.is_empty());
}

async fn members_are_users_of_the_tenant_only<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let own = user(&users, "t1", "own@example.com").await;
    let foreign = user(&users, "t2", "foreign@example.com").await;
    let missing = "no-such-user".to_owned();
    let g = groups
        .create(&ctx("t1"), new_group("Mixed", &[&own, &foreign, &missing]))
        .await
        .unwrap();
    assert_eq!(
        ids(&g),
        vec![own.clone()],
        "ids naming no user of the tenant are skipped"
    );
    let after = update(
        &groups,
        g.id.as_deref().unwrap(),
        &edits(vec![MemberEdit::Add(cs(&[&foreign, &missing]))]),
    )
    .await;
    assert_eq!(ids(&after), vec![own], "also when added later");
}

async fn writes_change_the_version_and_honour_the_expected_one<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let a = user(&users, "t1", "v@example.com").await;
    let g = groups
        .create(&ctx("t1"), new_group("Versioned", &[]))
        .await
        .unwrap();
    let id = g.id.as_deref().unwrap();
    let v1 = g.version().unwrap().to_owned();
    let change = edits(vec![MemberEdit::Add(cs(&[&a]))]);
    let after = groups
        .update(&ctx("t1"), id, &change, Utc::now(), Some(&v1), false)
        .await
        .expect("an update at the current version applies");
    let v2 = after.version().unwrap().to_owned();
    assert_ne!(v1, v2, "a membership edit changes the version");
    let stale = groups
        .update(&ctx("t1"), id, &change, Utc::now(), Some(&v1), false)
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch)),
        "{stale:?}"
    );
    let stale = groups.delete(&ctx("t1"), id, Some(&v1)).await;
    assert!(
        matches!(stale, Err(StoreError::VersionMismatch)),
        "{stale:?}"
    );
    let missing = groups
        .update(
            &ctx("t1"),
            "no-such-group",
            &change,
            Utc::now(),
            None,
            false,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    groups
        .delete(&ctx("t1"), id, Some(&v2))
        .await
        .expect("delete at the current version");
}

async fn lists_filter_page_and_count_exactly<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let a = user(&users, "t1", "la@example.com").await;
    let b = user(&users, "t1", "lb@example.com").await;
    let mut made = Vec::new();
    for i in 0..5 {
        let members: Vec<&str> = match i {
            0 => vec![&a],
            1 => vec![&a, &b],
            _ => vec![],
        };
        let mut g = new_group(&format!("List {i}"), &members);
        g.external_id = Some(format!("ext-{i}").into());
        made.push(groups.create(&ctx("t1"), g).await.unwrap());
    }
    let names = |page: &crate::list::ListPage<Group>| -> Vec<String> {
        page.resources
            .iter()
            .map(|g| g.display_name.to_string())
            .collect()
    };
    let all = groups.list(&ctx("t1"), &GroupQuery::all(2)).await.unwrap();
    assert_eq!(all.total_results, 5);
    assert_eq!(names(&all), ["List 0", "List 1"], "creation order");
    let next = groups
        .list(&ctx("t1"), &GroupQuery::all(2).start_index(3))
        .await
        .unwrap();
    assert_eq!(names(&next), ["List 2", "List 3"]);
    let count_only = groups.list(&ctx("t1"), &GroupQuery::all(0)).await.unwrap();
    assert_eq!(
        (count_only.total_results, count_only.resources.len()),
        (5, 0)
    );
    let filtered = |f: GroupFilter| {
        let groups = &groups;
        async move {
            let page = groups
                .list(&ctx("t1"), &GroupQuery::all(10).filter(f.clone()))
                .await
                .unwrap();
            assert_eq!(page.total_results, page.resources.len(), "{f:?}");
            names(&page)
        }
    };
    assert_eq!(
        filtered(GroupFilter::DisplayName("list 3".into())).await,
        ["List 3"]
    );
    assert_eq!(
        filtered(GroupFilter::ExternalId("ext-4".into())).await,
        ["List 4"]
    );
    assert!(
        filtered(GroupFilter::ExternalId("EXT-4".into()))
            .await
            .is_empty(),
        "externalId is caseExact"
    );
    let id2 = made[2].id.as_deref().unwrap().to_owned();
    assert_eq!(filtered(GroupFilter::Id(id2.clone())).await, ["List 2"]);
    assert_eq!(
        filtered(GroupFilter::Member(a.clone())).await,
        ["List 0", "List 1"]
    );
    assert_eq!(filtered(GroupFilter::Member(b.clone())).await, ["List 1"]);
    let both = GroupFilter::And(
        Box::new(GroupFilter::Member(a.clone())),
        Box::new(GroupFilter::DisplayName("LIST 1".into())),
    );
    assert_eq!(filtered(both).await, ["List 1"]);
    let either = GroupFilter::Or(
        Box::new(GroupFilter::Member(b.clone())),
        Box::new(GroupFilter::Id(id2)),
    );
    assert_eq!(filtered(either).await, ["List 1", "List 2"]);
    let without = groups
        .list(&ctx("t1"), &GroupQuery::all(10).members(false))
        .await
        .unwrap();
    assert!(without.resources.iter().all(|g| g.members.is_empty()));
    let with = groups.list(&ctx("t1"), &GroupQuery::all(10)).await.unwrap();
    assert_eq!(
        with.resources[1].members.len(),
        2,
        "members are read when asked for"
    );
}

async fn groups_of_lists_each_users_groups<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let a = user(&users, "t1", "of-a@example.com").await;
    let b = user(&users, "t1", "of-b@example.com").await;
    let lonely = user(&users, "t1", "of-c@example.com").await;
    let one = groups
        .create(&ctx("t1"), new_group("One", &[&a, &b]))
        .await
        .unwrap();
    let two = groups
        .create(&ctx("t1"), new_group("Two", &[&a]))
        .await
        .unwrap();
    groups
        .create(&ctx("t2"), new_group("Elsewhere", &[]))
        .await
        .unwrap();
    let mut found: Vec<(String, String, String)> = groups
        .groups_of(&ctx("t1"), &[a.as_str(), b.as_str(), lonely.as_str()])
        .await
        .unwrap()
        .into_iter()
        .map(|(user, m)| {
            (
                user.to_string(),
                m.value.as_deref().unwrap_or_default().to_owned(),
                m.display.as_deref().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    found.sort();
    let id = |g: &Group| g.id.as_deref().unwrap().to_owned();
    let mut expected = vec![
        (a.clone(), id(&one), "One".to_owned()),
        (a.clone(), id(&two), "Two".to_owned()),
        (b.clone(), id(&one), "One".to_owned()),
    ];
    expected.sort();
    assert_eq!(
        found, expected,
        "each user's groups, with their display names"
    );
    let other = groups.groups_of(&ctx("t2"), &[a.as_str()]).await.unwrap();
    assert!(
        other.is_empty(),
        "another tenant sees none of them: {other:?}"
    );
}

async fn a_deleted_user_is_no_member<G: GroupStore>((users, groups): (Arc<dyn UserStore>, G)) {
    let a = user(&users, "t1", "gone@example.com").await;
    let b = user(&users, "t1", "stays@example.com").await;
    let g = groups
        .create(&ctx("t1"), new_group("Leavers", &[&a, &b]))
        .await
        .unwrap();
    let id = g.id.as_deref().unwrap();
    users.delete(&ctx("t1"), &a, None).await.unwrap();
    // Even before the server tells the group store, reads show users only.
    let got = groups.get(&ctx("t1"), id, true).await.unwrap().unwrap();
    assert_eq!(
        ids(&got),
        vec![b.clone()],
        "a deleted user is not shown as a member"
    );
    groups.remove_user(&ctx("t1"), &a).await.unwrap();
    let page = groups
        .list(
            &ctx("t1"),
            &GroupQuery::all(10).filter(GroupFilter::Member(a.clone())),
        )
        .await
        .unwrap();
    assert_eq!(page.total_results, 0, "remove_user removes the memberships");
}

async fn a_deleted_group_is_gone_and_frees_its_name<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let a = user(&users, "t1", "d@example.com").await;
    let g = groups
        .create(&ctx("t1"), new_group("Doomed", &[&a]))
        .await
        .unwrap();
    let id = g.id.as_deref().unwrap();
    groups.delete(&ctx("t1"), id, None).await.unwrap();
    assert!(groups.get(&ctx("t1"), id, true).await.unwrap().is_none());
    assert!(matches!(
        groups.delete(&ctx("t1"), id, None).await,
        Err(StoreError::NotFound)
    ));
    let page = groups
        .list(
            &ctx("t1"),
            &GroupQuery::all(10).filter(GroupFilter::Member(a)),
        )
        .await
        .unwrap();
    assert_eq!(page.total_results, 0, "its memberships are gone");
    groups
        .create(&ctx("t1"), new_group("doomed", &[]))
        .await
        .expect("the name is free again");
}

async fn tenants_never_meet<G: GroupStore>((_users, groups): (Arc<dyn UserStore>, G)) {
    let g = groups
        .create(&ctx("t1"), new_group("Private", &[]))
        .await
        .unwrap();
    let id = g.id.as_deref().unwrap();
    assert!(groups.get(&ctx("t2"), id, true).await.unwrap().is_none());
    assert_eq!(
        groups
            .list(&ctx("t2"), &GroupQuery::all(10))
            .await
            .unwrap()
            .total_results,
        0
    );
    let change = edits(vec![MemberEdit::RemoveAll]);
    let other = groups
        .update(&ctx("t2"), id, &change, Utc::now(), None, false)
        .await;
    assert!(matches!(other, Err(StoreError::NotFound)), "{other:?}");
    assert!(matches!(
        groups.delete(&ctx("t2"), id, None).await,
        Err(StoreError::NotFound)
    ));
}

async fn parallel_membership_edits_lose_nothing<G: GroupStore>(
    (users, groups): (Arc<dyn UserStore>, G),
) {
    let mut members = Vec::new();
    for i in 0..32 {
        members.push(user(&users, "t1", &format!("p{i}@example.com")).await);
    }
    let g = groups
        .create(&ctx("t1"), new_group("Contended", &[]))
        .await
        .unwrap();
    let id = g.id.clone().unwrap().to_string();
    let writers = members.chunks(4).map(|chunk| {
        let (groups, id) = (&groups, &id);
        async move {
            for m in chunk {
                let change = edits(vec![MemberEdit::Add(vec![m.as_str().into()])]);
                groups
                    .update(&ctx("t1"), id, &change, Utc::now(), None, false)
                    .await
                    .unwrap();
            }
        }
    });
    join_all(writers.collect()).await;
    let got = groups.get(&ctx("t1"), &id, true).await.unwrap().unwrap();
    let expected: Vec<&String> = members.iter().collect();
    assert_eq!(ids(&got), sorted(&expected), "no membership edit is lost");
}

async fn racing_creates_of_one_name_have_one_winner<G: GroupStore>(
    (_users, groups): (Arc<dyn UserStore>, G),
) {
    let racers = (0..8).map(|i| {
        let groups = &groups;
        let name = if i % 2 == 0 { "Racers" } else { "RACERS" };
        async move { groups.create(&ctx("t1"), new_group(name, &[])).await }
    });
    let results = join_all(racers.collect()).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        won, 1,
        "exactly one of racing creates of one name wins: {results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Uniqueness { .. })))
    );
}
