//! The group store conformance suite (`scimkit::testing::groups`) on the memory stores.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use scimkit::{MemoryGroupStore, MemoryUserStore, UserStore};

#[tokio::test]
async fn memory_group_store_passes_the_conformance_suite() {
    scimkit::testing::groups::check_group_store(|| {
        let users: Arc<dyn UserStore> = Arc::new(MemoryUserStore::new());
        (users.clone(), MemoryGroupStore::new(users))
    })
    .await;
}

#[tokio::test]
async fn memory_group_store_records_group_events_in_the_user_stores_outbox() {
    scimkit::testing::group_outbox::check_group_outbox(|| {
        let users = Arc::new(MemoryUserStore::new().with_outbox());
        let groups = Arc::new(users.group_store());
        (users.clone(), users, groups)
    })
    .await;
}

#[tokio::test]
async fn memory_group_store_without_an_outbox_records_nothing() {
    use scimkit::events::EventOutbox;
    use scimkit::group::GroupStore;
    let users = Arc::new(MemoryUserStore::new());
    let groups = users.group_store();
    let c = scimkit::RequestContext::system("t");
    groups
        .create(&c, scimkit::testing::groups::new_group("G", &[]))
        .await
        .unwrap();
    assert!(users.pending_events(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_group_events_keep_commit_order() {
    let users = Arc::new(MemoryUserStore::new().with_outbox());
    let groups: Arc<dyn scimkit::GroupStore> = Arc::new(users.group_store());
    scimkit::testing::group_outbox::check_group_outbox_commit_order(
        users.clone(),
        users,
        vec![groups.clone(), groups],
    )
    .await;
}
