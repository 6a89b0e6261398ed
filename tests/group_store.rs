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
