//! Hostile input that aims at work rather than at parsers (issue 20, "One PATCH stalls a
//! core for minutes"): lists of many elements, long paths, users and pages grown past any
//! real need, and the attributes a client may not read. Every bound is enforced before
//! the store is called, on the fast and on the general paths, and the maximal requests
//! the bounds allow finish (no timing is asserted: they must simply complete).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{KEY, Reply, send, send_raw};
use scimkit::filter::ParseLimits;
use scimkit::schema::{AttributeDef, SchemaDef};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator, UserStore};
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const MIB: usize = 1024 * 1024;

/// A host extension with a multi-valued attribute and write-only secrets.
const VAULT: &str = "urn:example:params:scim:schemas:extension:vault:2.0:User";

static VAULT_USER: SchemaDef = SchemaDef {
    id: VAULT,
    name: "VaultUser",
    description: "Secrets and lists of a host",
    attributes: &[
        AttributeDef::string("badges", "Badge numbers.").multi(),
        AttributeDef::string("pin", "Door PIN.").write_only(),
        AttributeDef::complex(
            "creds",
            "Credentials.",
            &[
                AttributeDef::string("value", "Credential id."),
                AttributeDef::string("type", "Kind."),
                AttributeDef::string("pin", "Credential PIN.").write_only(),
            ],
        )
        .multi(),
        AttributeDef::complex(
            "device",
            "A reader.",
            &[
                AttributeDef::string("serial", "Serial number."),
                AttributeDef::string("secret", "Pairing secret.").write_only(),
            ],
        ),
    ],
};

fn builder(store: Arc<dyn UserStore>) -> scimkit::ScimServerBuilder {
    ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")))
        .extension(&VAULT_USER)
        .max_body_bytes(MIB)
}

fn server() -> ScimServer {
    builder(Arc::new(MemoryUserStore::new())).build().unwrap()
}

fn emails(from: usize, n: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"value": format!("u{i}@example.com"), "type": "work"}))
        .collect()
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

async fn post(s: &ScimServer, body: Value) -> Reply {
    send(s, "POST", "/scim/v2/Users", Some(body)).await
}

async fn created(s: &ScimServer, body: Value) -> String {
    let r = post(s, body).await;
    assert_eq!(r.status, 201, "{}", r.json);
    r.json["id"].as_str().unwrap().to_owned()
}

async fn patch(s: &ScimServer, id: &str, body: Value) -> Reply {
    send(s, "PATCH", &format!("/scim/v2/Users/{id}"), Some(body)).await
}

async fn get(s: &ScimServer, id: &str) -> Value {
    send(s, "GET", &format!("/scim/v2/Users/{id}"), None)
        .await
        .json
}

fn assert_invalid_value_naming(r: &Reply, what: &str) {
    r.assert_error(400, Some("invalidValue"));
    let detail = r.json["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(what), "{detail}");
}

// --- the element limit --------------------------------------------------------------

#[tokio::test]
async fn post_with_more_emails_than_the_element_limit_is_invalid_value_naming_emails() {
    let s = server();
    let r = post(&s, json!({"userName": "many", "emails": emails(0, 1001)})).await;
    assert_invalid_value_naming(&r, "emails");
    let r = send(&s, "GET", "/scim/v2/Users", None).await;
    assert_eq!(r.json["totalResults"], 0, "nothing was stored");
    // At the limit, it is a user.
    created(&s, json!({"userName": "enough", "emails": emails(0, 1000)})).await;
}

#[tokio::test]
async fn put_and_patch_past_the_element_limit_are_invalid_value_and_change_nothing() {
    let s = builder(Arc::new(MemoryUserStore::new()))
        .max_multi_valued_elements(10)
        .build()
        .unwrap();
    let id = created(&s, json!({"userName": "b", "roles": [{"value": "r0"}]})).await;
    let before = get(&s, &id).await;
    let roles: Vec<Value> = (0..11).map(|i| json!({"value": format!("r{i}")})).collect();
    let r = send(
        &s,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "b", "roles": roles})),
    )
    .await;
    assert_invalid_value_naming(&r, "roles");
    let r = patch(
        &s,
        &id,
        ops(json!([{"op": "add", "path": "roles", "value": roles[1..].to_vec()}])),
    )
    .await;
    assert_invalid_value_naming(&r, "roles");
    assert_eq!(get(&s, &id).await, before);
    // Adding what is already there (in any letter case) does not count twice.
    let again: Vec<Value> = (0..10).map(|_| json!({"value": "R0"})).collect();
    let r = patch(
        &s,
        &id,
        ops(json!([{"op": "add", "path": "roles", "value": again}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["roles"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn extension_lists_past_the_element_limit_are_invalid_value_naming_the_attribute() {
    let s = builder(Arc::new(MemoryUserStore::new()))
        .max_multi_valued_elements(3)
        .build()
        .unwrap();
    let r = post(
        &s,
        json!({"userName": "e", VAULT: {"badges": ["1", "2", "3", "4"]}}),
    )
    .await;
    assert_invalid_value_naming(&r, &format!("{VAULT}:badges"));
    let id = created(
        &s,
        json!({"userName": "e", VAULT: {"badges": ["1", "2", "3"]}}),
    )
    .await;
    let r = patch(
        &s,
        &id,
        ops(json!([{"op": "add", "path": format!("{VAULT}:badges"), "value": ["5"]}])),
    )
    .await;
    assert_invalid_value_naming(&r, &format!("{VAULT}:badges"));
}

/// The maximal PATCH the default limits allow: a body of nearly 1 MiB adding 30,000
/// emails, all of them the user's 1,000 emails in other letter cases (so the result is
/// at the element limit and valid), then one of 1,000 new ones (refused). Before the
/// matching was indexed, the first took minutes; it must simply finish.
#[tokio::test]
async fn a_maximal_patch_of_emails_finishes() {
    let s = server();
    let id = created(&s, json!({"userName": "max", "emails": emails(0, 1000)})).await;
    let value: Vec<Value> = (0..30_000)
        .map(|i| json!({"value": format!("U{}@EXAMPLE.COM", i % 1000)}))
        .collect();
    let body = ops(json!([{"op": "add", "path": "emails", "value": value}]));
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!((MIB * 3 / 4..=MIB).contains(&size), "{size}");
    let r = patch(&s, &id, body).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 1000);
    let r = patch(
        &s,
        &id,
        ops(json!([{"op": "add", "path": "emails", "value": emails(1000, 1000)}])),
    )
    .await;
    assert_invalid_value_naming(&r, "emails");
    // remove with a value list of every email, and a remove by value filter.
    let r = patch(
        &s,
        &id,
        ops(json!([
            {"op": "remove", "path": "emails", "value": emails(0, 999)},
            {"op": "remove", "path": "emails[value ew \"example.com\"]"}
        ])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json.get("emails").is_none(), "{}", r.json);
}

/// Each operation may cost up to the length of the list it touches: the number of
/// operations is bounded too. 20,000 operations (a 1 MiB body) over 1,000 emails took
/// seconds; now more than 1,000 operations are refused before any is applied, and the
/// largest request allowed (1,000 operations over 1,000 emails) finishes.
#[tokio::test]
async fn patch_with_more_operations_than_the_limit_is_invalid_value() {
    let s = server();
    let id = created(&s, json!({"userName": "ops", "emails": emails(0, 1000)})).await;
    let before = get(&s, &id).await;
    let many = |n: usize| {
        let op = json!({"op": "remove", "path": "emails[value eq \"none\"]"});
        let mut list: Vec<Value> = std::iter::repeat_n(op, n - 1).collect();
        list.push(json!({"op": "replace", "path": "displayName", "value": "changed"}));
        ops(json!(list))
    };
    let r = patch(&s, &id, many(1001)).await;
    assert_invalid_value_naming(&r, "operations");
    assert_eq!(get(&s, &id).await, before);
    let r = patch(&s, &id, many(1000)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["displayName"], "changed");
    assert_eq!(r.json["emails"].as_array().unwrap().len(), 1000);
}

// --- paths are bounded like filters, on both readers ----------------------------------

/// A PATCH whose `path` is a 65,536-character attribute name: 400 `invalidPath` (it used
/// to be ignored as an unknown attribute, 200), both when the fast reader reads the
/// message and when the general reader does (an operation of more than 32 members sends
/// it there).
#[tokio::test]
async fn patch_paths_longer_than_the_filter_limit_are_invalid_path_on_both_readers() {
    let s = server();
    let id = created(&s, json!({"userName": "p"})).await;
    let long = "a".repeat(65_536);
    let fast = ops(json!([{"op": "add", "path": long, "value": "x"}]));
    let mut op = serde_json::Map::new();
    op.insert("op".into(), json!("add"));
    op.insert("path".into(), json!(long));
    op.insert("value".into(), json!("x"));
    for i in 0..40 {
        op.insert(format!("x{i}"), json!(i));
    }
    let general = ops(json!([op]));
    for body in [fast, general] {
        let r = patch(&s, &id, body).await;
        r.assert_error(400, Some("invalidPath"));
        assert!(r.json["detail"].as_str().unwrap().len() < 200, "{}", r.json);
    }
    // The server's configured limits apply, not only the default ones.
    let strict = builder(Arc::new(MemoryUserStore::new()))
        .filter_limits(ParseLimits {
            max_len: 32,
            ..ParseLimits::default()
        })
        .build()
        .unwrap();
    let id = created(&strict, json!({"userName": "p"})).await;
    let r = patch(
        &strict,
        &id,
        ops(json!([{"op": "replace", "path": "emails[type eq \"work\" or type eq \"home\"].value", "value": "x@example.com"}])),
    )
    .await;
    r.assert_error(400, Some("invalidPath"));
    let r = patch(
        &strict,
        &id,
        ops(json!([{"op": "replace", "path": "displayName", "value": "D"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

/// `value` with 40 unknown members added: more than the fast readers take (32), so the
/// general reader reads it.
fn for_the_general_reader(mut value: Value) -> Value {
    let obj = value.as_object_mut().unwrap();
    for i in 0..40 {
        obj.insert(format!("unknownMember{i}"), json!(i));
    }
    value
}

#[tokio::test]
async fn patch_value_filters_deeper_than_the_limit_are_invalid_path_on_both_readers() {
    let s = builder(Arc::new(MemoryUserStore::new()))
        .filter_limits(ParseLimits {
            max_depth: 3,
            ..ParseLimits::default()
        })
        .build()
        .unwrap();
    let id = created(
        &s,
        json!({"userName": "d", "emails": [{"value": "a@x.com", "type": "work"}]}),
    )
    .await;
    let deep = "emails[not (not (not (not (type eq \"work\"))))].value";
    let shallow = "emails[not (type eq \"home\")].value";
    for general in [false, true] {
        let op = |path: &str| {
            let op = json!({"op": "replace", "path": path, "value": "b@x.com"});
            if general {
                for_the_general_reader(op)
            } else {
                op
            }
        };
        let r = patch(&s, &id, ops(json!([op(deep)]))).await;
        r.assert_error(400, Some("invalidPath"));
        let r = patch(&s, &id, ops(json!([op(shallow)]))).await;
        assert_eq!(r.status, 200, "general: {general}: {}", r.json);
    }
}

#[tokio::test]
async fn the_element_limit_holds_on_both_post_readers() {
    let s = builder(Arc::new(MemoryUserStore::new()))
        .max_multi_valued_elements(5)
        .build()
        .unwrap();
    for general in [false, true] {
        let body = json!({"userName": format!("g{general}"), "emails": emails(0, 6)});
        let body = if general {
            for_the_general_reader(body)
        } else {
            body
        };
        let r = post(&s, body).await;
        assert_invalid_value_naming(&r, "emails");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_on_post_put_and_patch() {
    let s = builder(Arc::new(MemoryUserStore::new()))
        .max_body_bytes(1024)
        .build()
        .unwrap();
    let id = created(&s, json!({"userName": "small"})).await;
    let big = json!({"userName": "x", "displayName": "d".repeat(2000)});
    for (method, uri) in [
        ("POST", "/scim/v2/Users".to_owned()),
        ("PUT", format!("/scim/v2/Users/{id}")),
        ("PATCH", format!("/scim/v2/Users/{id}")),
    ] {
        let r = send(&s, method, &uri, Some(big.clone())).await;
        r.assert_error(413, None);
    }
}

// --- the size of a user and of a page ---------------------------------------------------

#[tokio::test]
async fn users_past_the_byte_limit_are_invalid_value_on_post_put_and_patch() {
    let s = server();
    // 200 KB of display name: under the 1 MiB body limit, over the 100 KiB user limit.
    let r = post(
        &s,
        json!({"userName": "big", "displayName": "d".repeat(200_000)}),
    )
    .await;
    assert_invalid_value_naming(&r, "bytes");
    let id = created(&s, json!({"userName": "big"})).await;
    let r = send(
        &s,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "big", "title": "t".repeat(200_000)})),
    )
    .await;
    assert_invalid_value_naming(&r, "bytes");
    // Each PATCH is small, but together they would grow the user past the limit.
    for i in 0..3 {
        let r = patch(
            &s,
            &id,
            ops(json!([{"op": "add", "path": "x509Certificates",
                        "value": [{"value": format!("{i}{}", "c".repeat(40_000))}]}])),
        )
        .await;
        if i < 2 {
            assert_eq!(r.status, 200, "{}", r.json);
        } else {
            assert_invalid_value_naming(&r, "bytes");
        }
    }
    let user = get(&s, &id).await;
    assert_eq!(user["x509Certificates"].as_array().unwrap().len(), 2);
}

/// Fills a server with `n` users as large as `user_bytes` lets through.
async fn maximal_users(s: &ScimServer, n: usize, user_bytes: usize) {
    for i in 0..n {
        let mut size = user_bytes;
        loop {
            let name = format!("u{i:03}");
            let r = post(
                s,
                json!({"userName": name, "displayName": "d".repeat(size)}),
            )
            .await;
            if r.status == 201 {
                break;
            }
            assert_invalid_value_naming(&r, "bytes");
            size -= 64;
        }
    }
}

/// Pages through every user, by `startIndex` or by cursor, checking each response's
/// size against `max_bytes` and `itemsPerPage` against what it holds; the user names in
/// order.
async fn page_through(s: &ScimServer, cursor: bool, max_bytes: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start = 1;
    let mut next = Some(String::new());
    loop {
        let uri = if cursor {
            match next.take() {
                Some(c) => format!("/scim/v2/Users?count=1000&cursor={}", enc(&c)),
                None => break,
            }
        } else {
            format!("/scim/v2/Users?startIndex={start}&count=1000")
        };
        let r = send(s, "GET", &uri, None).await;
        assert_eq!(r.status, 200, "{}", r.json);
        let bytes = serde_json::to_vec(&r.json).unwrap().len();
        assert!(bytes <= max_bytes, "{bytes} bytes > {max_bytes}");
        let page = r.json["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(r.json["itemsPerPage"], page.len());
        next = r.json["nextCursor"].as_str().map(str::to_owned);
        if page.is_empty() {
            break;
        }
        for u in &page {
            seen.push(u["userName"].as_str().unwrap().to_owned());
        }
        start += page.len();
    }
    seen
}

/// A page is at most `max_page_size` users of at most `max_user_bytes` each (plus their
/// `meta.location` and the envelope): filling a store with maximal users and asking for
/// the largest page stays under that bound, and paging still reaches every user.
#[tokio::test]
async fn the_largest_page_of_maximal_users_is_bounded_by_the_user_limit() {
    const USER_BYTES: usize = 4096;
    const PAGE: usize = 20;
    let s = builder(Arc::new(MemoryUserStore::new()))
        .max_user_bytes(USER_BYTES)
        .max_page_size(PAGE)
        .build()
        .unwrap();
    maximal_users(&s, 3 * PAGE + 1, USER_BYTES).await;
    let per_user_overhead = 256; // meta.location
    let bound = PAGE * (USER_BYTES + per_user_overhead) + 1024;
    let seen = page_through(&s, false, bound).await;
    assert_eq!(seen.len(), 3 * PAGE + 1);
}

/// A list whose page would pass the byte budget returns fewer users (`itemsPerPage`
/// says how many), never a response past the budget, and paging by `startIndex` or by
/// cursor still reaches every user exactly once, in order.
async fn list_responses_stay_within_the_byte_budget(store: Arc<dyn UserStore>) {
    const USER_BYTES: usize = 4096;
    const BUDGET: usize = 5 * USER_BYTES;
    let s = builder(store.clone())
        .max_user_bytes(USER_BYTES)
        .max_list_bytes(BUDGET)
        .build()
        .unwrap();
    let n = 23;
    maximal_users(&s, n, USER_BYTES).await;
    let envelope = 1024;
    let expected: Vec<String> = (0..n).map(|i| format!("u{i:03}")).collect();
    for cursor in [false, true] {
        let seen = page_through(&s, cursor, BUDGET + envelope).await;
        assert_eq!(seen, expected, "cursor: {cursor}");
    }
    // A budget smaller than one user still returns one user a page.
    let tiny = builder(store).max_list_bytes(1).build().unwrap();
    let r = send(&tiny, "GET", "/scim/v2/Users?count=5", None).await;
    assert_eq!(r.json["itemsPerPage"], 1, "{}", r.json["itemsPerPage"]);
    assert_eq!(r.json["totalResults"], n);
}

#[tokio::test]
async fn list_responses_stay_within_the_byte_budget_in_memory() {
    list_responses_stay_within_the_byte_budget(Arc::new(MemoryUserStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn list_responses_stay_within_the_byte_budget_on_sqlite() {
    let store = scimkit::store::SqliteUserStore::in_memory().await.unwrap();
    list_responses_stay_within_the_byte_budget(Arc::new(store)).await;
}

// --- what a client may not read is not observable --------------------------------------

/// `creds[pin eq "1234"]` used to answer 200 when the guess was right and 400 `noTarget`
/// when it was wrong; now it is refused whatever the guess, as `GET ?filter=` refuses it.
#[tokio::test]
async fn patch_value_filters_on_write_only_sub_attributes_are_invalid_filter() {
    let s = server();
    let id = created(
        &s,
        json!({"userName": "v", VAULT: {
            "creds": [{"value": "c1", "type": "door", "pin": "1234"}],
            "device": {"serial": "s1", "secret": "sesame"}
        }}),
    )
    .await;
    for path in [
        format!("{VAULT}:creds[pin eq \"1234\"].type"),
        format!("{VAULT}:creds[pin eq \"0000\"].type"),
        format!("{VAULT}:creds[type eq \"door\" and pin sw \"1\"].type"),
        format!("{VAULT}:creds[not (pin pr)]"),
        format!("{VAULT}:device[secret eq \"sesame\"].serial"),
    ] {
        for op in ["replace", "remove"] {
            let r = patch(
                &s,
                &id,
                ops(json!([{"op": op, "path": path, "value": "x"}])),
            )
            .await;
            r.assert_error(400, Some("invalidFilter"));
        }
    }
    // Readable sub-attributes still select.
    let r = patch(
        &s,
        &id,
        ops(json!([{"op": "replace", "path": format!("{VAULT}:creds[type eq \"door\"].value"), "value": "c2"}])),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
}

#[tokio::test]
async fn list_filters_on_write_only_values_are_invalid_filter() {
    let s = server();
    created(
        &s,
        json!({"userName": "v", VAULT: {"pin": "1", "device": {"secret": "s"}, "creds": [{"value": "c", "pin": "2"}]}}),
    )
    .await;
    for filter in [
        format!("{VAULT}:pin eq \"1\""),
        format!("{VAULT}:device.secret eq \"s\""),
        format!("{VAULT}:device[secret eq \"s\"]"),
        format!("{VAULT}:creds[pin eq \"2\"]"),
        format!("{VAULT}:creds.pin pr"),
    ] {
        let uri = format!("/scim/v2/Users?filter={}", enc(&filter));
        let r = send(&s, "GET", &uri, None).await;
        r.assert_error(400, Some("invalidFilter"));
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The user names of a sorted list, in order.
async fn sorted(s: &ScimServer, by: &str) -> Vec<String> {
    let r = send(
        s,
        "GET",
        &format!("/scim/v2/Users?sortBy={}", enc(by)),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    r.json["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect()
}

/// Sorting by a write-only sub-attribute gives creation order on every store (it used
/// to sort by the secret on the SQL stores).
async fn sorting_by_write_only_values_reveals_no_order(store: Arc<dyn UserStore>) {
    let s = builder(store).build().unwrap();
    for (name, secret) in [("w1", "c"), ("w2", "a"), ("w3", "b")] {
        created(
            &s,
            json!({"userName": name, VAULT: {
                "pin": secret,
                "device": {"serial": secret, "secret": secret},
                "creds": [{"value": secret, "pin": secret}]
            }}),
        )
        .await;
    }
    for by in [
        format!("{VAULT}:pin"),
        format!("{VAULT}:device.secret"),
        format!("{VAULT}:creds.pin"),
    ] {
        assert_eq!(sorted(&s, &by).await, ["w1", "w2", "w3"], "{by}");
    }
    // A readable sub-attribute does sort.
    assert_eq!(
        sorted(&s, &format!("{VAULT}:device.serial")).await,
        ["w2", "w3", "w1"]
    );
}

#[tokio::test]
async fn sorting_by_write_only_values_reveals_no_order_in_memory() {
    sorting_by_write_only_values_reveals_no_order(Arc::new(MemoryUserStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sorting_by_write_only_values_reveals_no_order_on_sqlite() {
    let store = scimkit::store::SqliteUserStore::in_memory().await.unwrap();
    sorting_by_write_only_values_reveals_no_order(Arc::new(store)).await;
}

#[cfg(feature = "csv")]
#[tokio::test]
async fn csv_export_leaves_write_only_values_empty() {
    use scimkit::RequestContext;
    use scimkit::csv::{ColumnMap, Export};
    let store = Arc::new(MemoryUserStore::new());
    let s = builder(store.clone()).build().unwrap();
    created(
        &s,
        json!({"userName": "v", VAULT: {"pin": "1234", "device": {"serial": "S1", "secret": "sesame"}}}),
    )
    .await;
    let columns = ColumnMap::user_name_only()
        .with_schemas(Arc::clone(s.schemas()))
        .column("PIN", &format!("{VAULT}:pin"))
        .unwrap()
        .column("Secret", &format!("{VAULT}:device.secret"))
        .unwrap()
        .column("Serial", &format!("{VAULT}:device.serial"))
        .unwrap();
    let mut out = Vec::new();
    let ctx = RequestContext::system("acme").with_schemas(Arc::clone(s.schemas()));
    Export::new(store.as_ref(), ctx)
        .columns(columns)
        .run(&mut out)
        .await
        .unwrap();
    let csv = String::from_utf8(out).unwrap();
    assert_eq!(csv, "userName,PIN,Secret,Serial\nv,,,S1\n");
}

#[tokio::test]
async fn raw_patch_with_a_long_path_and_no_schemas_is_invalid_path() {
    let s = server();
    let id = created(&s, json!({"userName": "raw"})).await;
    let body = format!(
        "{{\"Operations\":[{{\"op\":\"remove\",\"path\":\"{}\"}}]}}",
        "b".repeat(5000)
    );
    let r = send_raw(
        &s,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        body.as_bytes(),
        &[
            ("authorization", &format!("Bearer {KEY}")),
            ("content-type", "application/scim+json"),
        ],
    )
    .await;
    r.assert_error(400, Some("invalidPath"));
}

#[cfg(all(feature = "postgres", feature = "testing"))]
#[tokio::test(flavor = "multi_thread")]
async fn sorting_and_list_budget_on_postgres() {
    use scimkit::testing::postgres::Schemas;
    for check in 0..2 {
        let Some(schemas) = Schemas::connect().await else {
            return;
        };
        let store: Arc<dyn UserStore> = Arc::new(schemas.store().await);
        if check == 0 {
            sorting_by_write_only_values_reveals_no_order(store).await;
        } else {
            list_responses_stay_within_the_byte_budget(store).await;
        }
        schemas.drop_all().await;
    }
}
