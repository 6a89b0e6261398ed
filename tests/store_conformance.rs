//! The shared `UserStore` conformance suite, run against `MemoryUserStore`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[tokio::test]
async fn memory_user_store_passes_the_conformance_suite() {
    scimkit::testing::check_user_store(scimkit::MemoryUserStore::new).await;
}
