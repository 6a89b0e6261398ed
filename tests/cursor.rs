//! RFC 9865 cursor paging through `ScimServer::handle`, on a store with native cursors
//! (`MemoryUserStore`) and on one without (offset cursors).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator, UserStore};
use serde_json::{Value, json};

fn server_on(store: impl UserStore + 'static, timeout_secs: u64) -> ScimServer {
    ScimServer::builder()
        .store(store)
        .authenticator(
            StaticKeyAuthenticator::new()
                .with_key(KEY, Principal::new("acme", "k1"))
                .with_key(OTHER_TENANT_KEY, Principal::new("globex", "k2")),
        )
        .cursor_timeout(std::time::Duration::from_secs(timeout_secs))
        .build()
        .unwrap()
}

async fn seed(s: &ScimServer, n: usize) -> Vec<Value> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(create(s, json!({"userName": format!("user{i:02}"), "title": if i % 2 == 0 { "even" } else { "odd" }})).await["id"].clone());
    }
    ids
}

/// Follows nextCursor from the first page; returns the ids seen and the pages' JSON.
async fn walk(s: &ScimServer, query: &str) -> (Vec<Value>, Vec<Value>) {
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut uri = format!("/scim/v2/Users?{query}&cursor=");
    for _ in 0..100 {
        let r = send(s, "GET", &uri, None).await;
        assert_eq!(r.status, 200, "{}", r.json);
        assert!(
            r.json.get("startIndex").is_none(),
            "no startIndex with cursors"
        );
        seen.extend(
            r.json["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].clone()),
        );
        let next = r
            .json
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        pages.push(r.json);
        match next {
            Some(c) => uri = format!("/scim/v2/Users?{query}&cursor={c}"),
            None => return (seen, pages),
        }
    }
    panic!("cursor paging did not end");
}

#[tokio::test]
async fn cursor_paging_visits_every_user_once_on_a_native_store() {
    let s = server_on(MemoryUserStore::new(), 3600);
    let ids = seed(&s, 7).await;
    let (seen, pages) = walk(&s, "count=3").await;
    assert_eq!(seen, ids);
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p["totalResults"] == 7));
    assert_eq!(pages[2]["itemsPerPage"], 1);
}

#[tokio::test]
async fn cursor_paging_with_filter_and_sort() {
    for native in [true, false] {
        let s = if native {
            server_on(MemoryUserStore::new(), 3600)
        } else {
            server_on(OffsetOnly(MemoryUserStore::new()), 3600)
        };
        seed(&s, 9).await;
        let (seen, pages) = walk(
            &s,
            "count=2&filter=title%20eq%20%22even%22&sortBy=userName&sortOrder=descending",
        )
        .await;
        let names: Vec<_> = pages
            .iter()
            .flat_map(|p| {
                p["Resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["userName"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(
            names,
            ["user08", "user06", "user04", "user02", "user00"],
            "native={native}"
        );
        assert_eq!(seen.len(), 5);
        assert!(pages.iter().all(|p| p["totalResults"] == 5));
    }
}

#[tokio::test]
async fn offset_cursors_on_a_store_without_native_cursors_have_previous_cursor() {
    let s = server_on(OffsetOnly(MemoryUserStore::new()), 3600);
    let ids = seed(&s, 5).await;
    let (seen, pages) = walk(&s, "count=2").await;
    assert_eq!(seen, ids);
    assert!(pages[0].get("previousCursor").is_none());
    let prev = pages[1]["previousCursor"].as_str().unwrap();
    let back = send(
        &s,
        "GET",
        &format!("/scim/v2/Users?count=2&cursor={prev}"),
        None,
    )
    .await;
    assert_eq!(back.json["Resources"], pages[0]["Resources"]);
}

#[tokio::test]
async fn tampered_foreign_or_reused_cursors_are_invalid_cursor() {
    let s = server_on(MemoryUserStore::new(), 3600);
    seed(&s, 5).await;
    let first = send(&s, "GET", "/scim/v2/Users?count=2&cursor=", None).await;
    let next = first.json["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = next.clone().into_bytes();
    tampered[5] = if tampered[5] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    for uri in [
        format!("/scim/v2/Users?count=2&cursor={tampered}"),
        "/scim/v2/Users?count=2&cursor=not-a-cursor".to_owned(),
        format!("/scim/v2/Users?count=2&filter=userName%20pr&cursor={next}"),
        format!("/scim/v2/Users?count=2&sortBy=userName&cursor={next}"),
    ] {
        send(&s, "GET", &uri, None)
            .await
            .assert_error(400, Some("invalidCursor"));
    }
    let other = format!("Bearer {OTHER_TENANT_KEY}");
    send_with(
        &s,
        "GET",
        &format!("/scim/v2/Users?cursor={next}"),
        None,
        &[("authorization", &other)],
    )
    .await
    .assert_error(400, Some("invalidCursor"));
    let another_server = server_on(MemoryUserStore::new(), 3600);
    send(
        &another_server,
        "GET",
        &format!("/scim/v2/Users?cursor={next}"),
        None,
    )
    .await
    .assert_error(400, Some("invalidCursor"));
    send(&s, "GET", "/scim/v2/Users?cursor=&startIndex=2", None)
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn expired_cursor_is_expired_cursor() {
    let s = server_on(MemoryUserStore::new(), 0);
    seed(&s, 3).await;
    let first = send(&s, "GET", "/scim/v2/Users?count=1&cursor=", None).await;
    let next = first.json["nextCursor"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    send(
        &s,
        "GET",
        &format!("/scim/v2/Users?count=1&cursor={next}"),
        None,
    )
    .await
    .assert_error(400, Some("expiredCursor"));
}

#[tokio::test]
async fn search_request_takes_a_cursor_and_spc_advertises_pagination() {
    let s = server_on(MemoryUserStore::new(), 3600);
    seed(&s, 3).await;
    let r = send(&s, "POST", "/scim/v2/.search", Some(json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "cursor": "", "count": 2
    }))).await;
    assert_eq!(r.json["itemsPerPage"], 2);
    let next = r.json["nextCursor"].as_str().unwrap();
    let r = send(
        &s,
        "POST",
        "/scim/v2/Users/.search",
        Some(json!({"cursor": next, "count": 2})),
    )
    .await;
    assert_eq!(r.json["itemsPerPage"], 1);
    assert!(r.json.get("nextCursor").is_none());
    // Cursor paging is served without being advertised (the default), and advertised
    // when the host asks for it.
    let spc = send(&s, "GET", "/scim/v2/ServiceProviderConfig", None)
        .await
        .json;
    assert!(spc.get("pagination").is_none());
    let advertised = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")))
        .cursor_timeout(std::time::Duration::from_secs(3600))
        .advertise_cursor_paging(true)
        .build()
        .unwrap();
    let spc = send(&advertised, "GET", "/scim/v2/ServiceProviderConfig", None)
        .await
        .json;
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    assert_eq!(spc["pagination"]["cursorTimeout"], 3600);
}
