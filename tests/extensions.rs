//! Extension schemas registered by the host: accepted, validated, stored, returned,
//! filterable, sortable, patchable and advertised exactly like the Enterprise extension,
//! through `ScimServer::handle`, on the memory, SQLite and PostgreSQL stores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::*;
use scimkit::schema::{AttributeDef, AttributeType, Returned, SchemaDef};
use scimkit::store::{PostgresUserStore, SqliteUserStore};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator, UserStore};
use serde_json::{Value, json};

const ACME: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";

static ACME_USER: SchemaDef = SchemaDef {
    id: ACME,
    name: "AcmeUser",
    description: "Acme's own user attributes",
    attributes: &[
        AttributeDef::string("costCenter", "Cost center code.").case_exact(),
        AttributeDef::string("team", "Team name."),
        AttributeDef::new("seats", AttributeType::Integer, "Licensed seats."),
        AttributeDef::new("vip", AttributeType::Boolean, "VIP support."),
        AttributeDef::new("hireDate", AttributeType::DateTime, "Hire date."),
        AttributeDef::string("tags", "Free-form tags.").multi(),
        AttributeDef::complex(
            "sponsor",
            "The user's sponsor.",
            &[
                AttributeDef::string("value", "Sponsor id."),
                AttributeDef::string("displayName", "Sponsor name."),
            ],
        ),
        AttributeDef::string("badge", "Badge number, only on request.").returned(Returned::Request),
        AttributeDef::string("pin", "Door PIN, write-only.")
            .mutability(scimkit::schema::Mutability::WriteOnly),
        AttributeDef::string("score", "Computed by the product.").read_only(),
        AttributeDef::string("hrId", "Set once by HR.")
            .mutability(scimkit::schema::Mutability::Immutable),
        AttributeDef::string("tenantTag", "Always shown.").always(),
        AttributeDef::complex(
            "device",
            "The user's badge reader.",
            &[
                AttributeDef::string("serial", "Serial number."),
                AttributeDef::string("secret", "Pairing secret.")
                    .mutability(scimkit::schema::Mutability::WriteOnly),
                AttributeDef::string("model", "Model, only on request.")
                    .returned(Returned::Request),
            ],
        ),
    ],
};

fn server_on(store: Arc<dyn UserStore>) -> ScimServer {
    ScimServer::builder()
        .base_path("/scim/v2")
        .shared_store(store)
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")))
        .extension(&ACME_USER)
        .build()
        .unwrap()
}

fn acme_server() -> ScimServer {
    server_on(Arc::new(MemoryUserStore::new()))
}

fn alice() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
        "userName": "alice",
        ACME: {
            "costCenter": "CC-7",
            "team": "Platform",
            "seats": 3,
            "vip": true,
            "hireDate": "2021-04-01T09:00:00Z",
            "tags": ["oncall", "eu"],
            "sponsor": {"value": "s-1", "displayName": "Sam"},
            "badge": "B-42",
            "pin": "1234",
            "score": 99
        }
    })
}

async fn user_names(s: &ScimServer, query: &str) -> Vec<String> {
    let r = send(s, "GET", &format!("/scim/v2/Users?{query}"), None).await;
    assert_eq!(r.status, 200, "{query}: {}", r.json);
    r.json["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /Users?filter=...` with `filter` (URL-encoded here).
async fn filtered(s: &ScimServer, filter: &str) -> Reply {
    send(
        s,
        "GET",
        &format!("/scim/v2/Users?filter={}", enc(filter)),
        None,
    )
    .await
}

fn enc(s: &str) -> String {
    s.replace('%', "%25")
        .replace(' ', "%20")
        .replace('"', "%22")
        .replace('[', "%5B")
        .replace(']', "%5D")
        .replace(':', "%3A")
}

#[tokio::test]
async fn custom_extension_attributes_round_trip_through_post_and_get() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let ext = &created[ACME];
    assert_eq!(ext["costCenter"], "CC-7");
    assert_eq!(ext["seats"], 3);
    assert_eq!(ext["vip"], true);
    assert_eq!(ext["tags"], json!(["oncall", "eu"]));
    assert_eq!(
        ext["sponsor"],
        json!({"value": "s-1", "displayName": "Sam"})
    );
    assert!(ext.get("pin").is_none(), "write-only is never returned");
    assert!(
        ext.get("badge").is_none(),
        "returned: request is not returned by default"
    );
    assert!(
        ext.get("score").is_none(),
        "read-only values from the client are ignored"
    );
    assert!(
        created["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ACME)),
        "{}",
        created["schemas"]
    );
    let id = created["id"].as_str().unwrap();
    let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(got.json[ACME], created[ACME]);
}

#[tokio::test]
async fn extension_attribute_names_are_case_insensitive_and_may_carry_the_urn() {
    let s = acme_server();
    let created = create(
        &s,
        json!({
            "userName": "bob",
            "urn:example:params:scim:schemas:extension:ACME:2.0:User": {"COSTCENTER": "CC-1"},
            format!("{ACME}:seats"): 5,
        }),
    )
    .await;
    assert_eq!(created[ACME], json!({"costCenter": "CC-1", "seats": 5}));
}

#[tokio::test]
async fn wrong_type_in_extension_attribute_is_invalid_value_naming_it() {
    let s = acme_server();
    for (attr, value) in [
        ("seats", json!("many")),
        ("vip", json!("perhaps")),
        ("hireDate", json!("last tuesday")),
        ("sponsor", json!(7)),
        ("costCenter", json!({"x": 1})),
    ] {
        let r = send(
            &s,
            "POST",
            "/scim/v2/Users",
            Some(json!({"userName": "carol", ACME: { attr: value }})),
        )
        .await;
        r.assert_error(400, Some("invalidValue"));
        let detail = r.json["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("{ACME}:{attr}")), "{detail}");
    }
    assert!(user_names(&s, "").await.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn extension_attributes_are_filterable_honouring_case_exact_and_types() {
    let s = acme_server();
    create(&s, alice()).await;
    create(
        &s,
        json!({"userName": "bob", ACME: {"costCenter": "cc-7", "team": "PLATFORM", "seats": 10,
            "vip": false, "hireDate": "2023-01-01T00:00:00Z", "tags": ["us"],
            "sponsor": {"value": "s-2"}}}),
    )
    .await;
    create(&s, json!({"userName": "carol"})).await;
    let cases: &[(&str, &[&str])] = &[
        // caseExact: true
        (r#"costCenter eq "CC-7""#, &["alice"]),
        (r#"costCenter eq "cc-7""#, &["bob"]),
        // caseExact: false
        (r#"team eq "platform""#, &["alice", "bob"]),
        (r#"team sw "PLAT""#, &["alice", "bob"]),
        ("seats gt 3", &["bob"]),
        ("seats le 3", &["alice"]),
        ("vip eq true", &["alice"]),
        (r#"hireDate gt "2022-01-01T00:00:00Z""#, &["bob"]),
        (r#"tags eq "eu""#, &["alice"]),
        (r#"sponsor.value eq "s-2""#, &["bob"]),
        (r#"sponsor[displayName pr]"#, &["alice"]),
        ("costCenter pr", &["alice", "bob"]),
        ("not (ACME:costCenter pr)", &["carol"]),
    ];
    for (filter, expected) in cases {
        let full = if filter.contains("ACME:") {
            filter.replace("ACME", ACME)
        } else {
            format!("{ACME}:{filter}")
        };
        let mut got = user_names(&s, &format!("filter={}", enc(&full))).await;
        got.sort();
        assert_eq!(got, *expected, "{full}");
    }
    // The whole extension object is not a comparable value.
    let r = filtered(&s, &format!("{ACME}:vip gt true")).await;
    r.assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn extension_attributes_are_sortable_with_absent_values_last() {
    let s = acme_server();
    for (name, cc, seats) in [("u1", Some("b"), 2), ("u2", Some("A"), 9), ("u3", None, 5)] {
        let mut body = json!({"userName": name, ACME: {"seats": seats}});
        if let Some(cc) = cc {
            body[ACME]["costCenter"] = json!(cc);
        }
        create(&s, body).await;
    }
    let by = |attr: &str, order: &str| {
        format!(
            "sortBy={}&sortOrder={order}",
            enc(&format!("{ACME}:{attr}"))
        )
    };
    assert_eq!(
        user_names(&s, &by("seats", "ascending")).await,
        ["u1", "u3", "u2"]
    );
    assert_eq!(
        user_names(&s, &by("seats", "descending")).await,
        ["u2", "u3", "u1"]
    );
    // caseExact: "A" < "b" by code point; the user without a value comes last.
    assert_eq!(
        user_names(&s, &by("costCenter", "ascending")).await,
        ["u2", "u1", "u3"]
    );
}

#[tokio::test]
async fn extension_attributes_are_patchable() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});

    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(json!([
            {"op": "replace", "path": format!("{ACME}:costCenter"), "value": "CC-8"},
            {"op": "add", "value": {ACME: {"seats": 4}}},
            {"op": "add", "path": format!("{ACME}:tags"), "value": ["apac"]},
            {"op": "replace", "path": format!("{ACME}:sponsor.displayName"), "value": "Samantha"}
        ]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let ext = &r.json[ACME];
    assert_eq!(ext["costCenter"], "CC-8");
    assert_eq!(ext["seats"], 4);
    assert_eq!(ext["tags"], json!(["oncall", "eu", "apac"]));
    assert_eq!(ext["sponsor"]["displayName"], "Samantha");

    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(json!([
            {"op": "replace", "path": format!("{ACME}:seats"), "value": "four"}
        ]))),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));

    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(json!([
            {"op": "remove", "path": format!("{ACME}:sponsor")},
            {"op": "replace", "path": format!("{ACME}:tags"), "value": ["oncall", "apac"]}
        ]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json[ACME].get("sponsor").is_none());
    assert_eq!(r.json[ACME]["tags"], json!(["oncall", "apac"]));

    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(json!([{"op": "remove", "path": ACME}]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json.get(ACME).is_none(), "{}", r.json);
    assert!(!r.json["schemas"].as_array().unwrap().contains(&json!(ACME)));
}

#[tokio::test]
async fn put_replaces_the_extension_object() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(
        &s,
        "PUT",
        &uri,
        Some(json!({"userName": "alice", ACME: {"team": "Data"}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json[ACME], json!({"team": "Data"}));
}

#[tokio::test]
async fn projection_selects_and_excludes_extension_attributes() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(
        &s,
        "GET",
        &format!("{uri}?attributes={}", enc(&format!("{ACME}:seats"))),
        None,
    )
    .await;
    assert_eq!(r.json[ACME], json!({"seats": 3}));
    assert!(r.json.get("userName").is_none());
    // returned: request comes back only when asked for by name.
    let r = send(
        &s,
        "GET",
        &format!("{uri}?attributes={}", enc(&format!("{ACME}:badge"))),
        None,
    )
    .await;
    assert_eq!(r.json[ACME], json!({"badge": "B-42"}));
    let r = send(&s, "GET", &format!("{uri}?attributes={}", enc(ACME)), None).await;
    assert!(r.json[ACME].get("badge").is_none(), "{}", r.json);
    let r = send(
        &s,
        "GET",
        &format!("{uri}?excludedAttributes={}", enc(ACME)),
        None,
    )
    .await;
    assert!(r.json.get(ACME).is_none());
    assert!(!r.json["schemas"].as_array().unwrap().contains(&json!(ACME)));
    // write-only is never returned, even when asked for.
    let r = send(
        &s,
        "GET",
        &format!("{uri}?attributes={}", enc(&format!("{ACME}:pin"))),
        None,
    )
    .await;
    assert!(r.json.get(ACME).is_none(), "{}", r.json);
}

#[tokio::test]
async fn filter_on_write_only_extension_attribute_is_invalid_filter() {
    let s = acme_server();
    let r = filtered(&s, &format!("{ACME}:pin eq \"1234\"")).await;
    r.assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn discovery_advertises_the_custom_extension() {
    let s = acme_server();
    let schemas = send(&s, "GET", "/scim/v2/Schemas", None).await.json;
    let ours = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == ACME)
        .expect("listed in /Schemas");
    let attrs = ours["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), ACME_USER.attributes.len());
    let cost = attrs.iter().find(|a| a["name"] == "costCenter").unwrap();
    assert_eq!(cost["caseExact"], true);
    let badge = attrs.iter().find(|a| a["name"] == "badge").unwrap();
    assert_eq!(badge["returned"], "request");
    let one = send(&s, "GET", &format!("/scim/v2/Schemas/{ACME}"), None).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json["name"], "AcmeUser");
    let rt = send(&s, "GET", "/scim/v2/ResourceTypes/User", None)
        .await
        .json;
    assert!(
        rt["schemaExtensions"]
            .as_array()
            .unwrap()
            .contains(&json!({"schema": ACME, "required": false})),
        "{}",
        rt["schemaExtensions"]
    );
    // Extensions belong to the server they were given to (invariant 8): a server built
    // without `.extension()` neither accepts them nor advertises them.
    let plain = server();
    let schemas = send(&plain, "GET", "/scim/v2/Schemas", None).await.json;
    assert!(
        !schemas["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == ACME),
        "a server advertises only its own extensions"
    );
    let created = create(&plain, json!({"userName": "via-plain", ACME: {"seats": 2}})).await;
    assert!(
        created.get(ACME).is_none(),
        "an unknown extension is ignored: {created}"
    );
}

#[test]
fn invalid_or_conflicting_extension_schemas_fail_the_build() {
    static NOT_A_URN: SchemaDef = SchemaDef {
        id: "acme-user",
        name: "Bad",
        description: "",
        attributes: &[AttributeDef::string("x", "")],
    };
    static BAD_NAME: SchemaDef = SchemaDef {
        id: "urn:example:bad-name",
        name: "Bad",
        description: "",
        attributes: &[AttributeDef::string("has space", "")],
    };
    static OTHER_ACME: SchemaDef = SchemaDef {
        id: ACME,
        name: "AcmeUser",
        description: "A different definition of the same URN",
        attributes: &[AttributeDef::string("costCenter", "")],
    };
    static CORE_AGAIN: SchemaDef = SchemaDef {
        id: "urn:ietf:params:scim:schemas:core:2.0:User",
        name: "User",
        description: "",
        attributes: &[AttributeDef::string("x", "")],
    };
    // ACME_USER is given first, so OTHER_ACME clashes with it.
    for bad in [&NOT_A_URN, &BAD_NAME, &OTHER_ACME, &CORE_AGAIN] {
        let built = ScimServer::builder()
            .store(MemoryUserStore::new())
            .authenticator(StaticKeyAuthenticator::new())
            .extension(&ACME_USER)
            .extension(bad)
            .build();
        assert!(built.is_err(), "{} must be refused", bad.id);
    }
}

/// The same provisioning on a persistent store: stored, read back after a new server is
/// built on the same database, filtered and sorted in SQL.
async fn extension_on_store(store: Arc<dyn UserStore>, tag: &str) {
    let s = server_on(store.clone());
    let mut a = alice();
    a["userName"] = json!(format!("alice-{tag}"));
    create(&s, a).await;
    create(&s, json!({"userName": format!("bob-{tag}"), ACME: {"costCenter": "cc-7", "seats": 10, "team": "PLATFORM"}})).await;
    let s = server_on(store);
    let with = |f: &str| format!("filter={}", enc(&format!("{f} and userName ew \"-{tag}\"")));
    assert_eq!(
        user_names(&s, &with(&format!("{ACME}:costCenter eq \"CC-7\""))).await,
        [format!("alice-{tag}")]
    );
    let mut both = user_names(&s, &with(&format!("{ACME}:team eq \"platform\""))).await;
    both.sort();
    assert_eq!(both, [format!("alice-{tag}"), format!("bob-{tag}")]);
    assert_eq!(
        user_names(&s, &with(&format!("{ACME}:seats gt 5"))).await,
        [format!("bob-{tag}")]
    );
    assert_eq!(
        user_names(&s, &with(&format!("{ACME}:tags eq \"EU\""))).await,
        [format!("alice-{tag}")]
    );
    let sorted = user_names(
        &s,
        &format!(
            "{}&sortBy={}&sortOrder=descending",
            with("userName pr"),
            enc(&format!("{ACME}:seats"))
        ),
    )
    .await;
    assert_eq!(sorted, [format!("bob-{tag}"), format!("alice-{tag}")]);
    let got = send(
        &s,
        "GET",
        &format!("/scim/v2/Users?{}", with(&format!("{ACME}:seats eq 3"))),
        None,
    )
    .await;
    assert_eq!(
        got.json["Resources"][0][ACME]["sponsor"]["displayName"],
        "Sam"
    );
}

#[tokio::test]
async fn custom_extension_is_stored_filtered_and_sorted_on_sqlite() {
    let store = SqliteUserStore::in_memory().await.unwrap();
    extension_on_store(Arc::new(store), "sqlite").await;
}

#[tokio::test]
async fn custom_extension_is_stored_filtered_and_sorted_on_postgres() {
    let Ok(url) = std::env::var("SCIMKIT_TEST_DATABASE_URL") else {
        eprintln!("skipped: SCIMKIT_TEST_DATABASE_URL is not set");
        return;
    };
    let store = PostgresUserStore::connect(&url).await.unwrap();
    let tag = format!("pg{}", std::process::id());
    extension_on_store(Arc::new(store), &tag).await;
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The server sets a read-only value (as a product would, with `update_user`).
async fn set_score(s: &ScimServer, id: &str, score: &str) {
    let ctx = scimkit::RequestContext::new(Principal::new("acme", "k1"), "test");
    s.update_user(&ctx, id, None, |current| {
        let mut next = scimkit::User::clone(current);
        next.extensions
            .entry(ACME.to_owned())
            .or_default()
            .insert("score".into(), json!(score));
        Ok(next)
    })
    .await
    .unwrap();
}

async fn stored(s: &ScimServer, id: &str) -> serde_json::Map<String, Value> {
    let ctx = scimkit::RequestContext::new(Principal::new("acme", "k1"), "test");
    s.get_user(&ctx, id)
        .await
        .unwrap()
        .extensions
        .get(ACME)
        .cloned()
        .unwrap_or_default()
}

/// A logged user leaks no secret: `Debug` redacts `writeOnly` extension values (`pin`,
/// `device.secret`, in arrays too) as it redacts `password`, and shows everything else.
#[tokio::test]
async fn debug_output_redacts_write_only_extension_values() {
    let s = acme_server();
    let mut body = alice();
    body["password"] = json!("hunter2-pass");
    body[ACME]["pin"] = json!("pin-5150-x");
    body[ACME]["device"] = json!({"serial": "SN-9", "secret": "pair-me-42"});
    let r = send(&s, "POST", "/scim/v2/Users", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.json);
    let ctx = scimkit::RequestContext::new(Principal::new("acme", "k1"), "test");
    let mut user = scimkit::User::clone(
        &s.get_user(&ctx, r.json["id"].as_str().unwrap())
            .await
            .unwrap(),
    );
    assert_eq!(
        user.extensions[ACME]["pin"], "pin-5150-x",
        "stored, as the design keeps it"
    );
    // The same sub-attribute in an array of complex values (as a host may store it).
    user.extensions.get_mut(ACME).unwrap().insert(
        "device".into(),
        json!([{"serial": "SN-1", "SECRET": "pair-me-43"}]),
    );
    let shown = format!("{:?}", user.redacted(s.schemas()));
    for secret in ["pin-5150-x", "pair-me-43", "hunter2-pass"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    for visible in [
        "CC-7",
        "Platform",
        "SN-1",
        "B-42",
        "\"pin\": Secret(***)",
        "alice",
    ] {
        assert!(shown.contains(visible), "{visible} missing from {shown}");
    }
    user.extensions.get_mut(ACME).unwrap().insert(
        "device".into(),
        json!({"serial": "SN-2", "secret": "pair-me-44"}),
    );
    let shown = format!("{:?}", user.redacted(s.schemas()));
    assert!(
        !shown.contains("pair-me-44") && shown.contains("SN-2"),
        "{shown}"
    );
    // Without the server's schemas, `Debug` cannot tell which values are write-only:
    // it shows none.
    let plain = format!("{user:?}");
    for hidden in ["pair-me-44", "pin-5150-x", "hunter2-pass", "CC-7", "SN-2"] {
        assert!(!plain.contains(hidden), "{hidden} in {plain}");
    }
    assert!(
        plain.contains("alice") && plain.contains("costCenter"),
        "{plain}"
    );
}

#[tokio::test]
async fn put_keeps_read_only_write_only_and_request_extension_values() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let id = created["id"].as_str().unwrap();
    set_score(&s, id, "99").await;
    // Okta's PUT: what it read back (no pin, no badge, no score), with a change.
    let mut body = created.clone();
    body[ACME]["team"] = json!("Data");
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let ext = stored(&s, id).await;
    assert_eq!(ext["team"], "Data");
    assert_eq!(ext["score"], "99", "read-only: the server's value stays");
    assert_eq!(
        ext["pin"], "1234",
        "write-only: kept when the client does not send it"
    );
    assert_eq!(
        ext["badge"], "B-42",
        "returned on request: kept when not sent"
    );
    // A client that does send them changes them; a read-only value it sends is ignored.
    let mut body = created.clone();
    body[ACME]["pin"] = json!("9999");
    body[ACME]["score"] = json!("0");
    let r = send(&s, "PUT", &format!("/scim/v2/Users/{id}"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let ext = stored(&s, id).await;
    assert_eq!(ext["pin"], "9999");
    assert_eq!(ext["score"], "99");
}

#[tokio::test]
async fn patch_removing_the_whole_extension_keeps_read_only_values() {
    let s = acme_server();
    let created = create(&s, alice()).await;
    let id = created["id"].as_str().unwrap();
    set_score(&s, id, "7").await;
    let r = send(
        &s,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        Some(patch(json!([{"op": "remove", "path": ACME}]))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let ext = stored(&s, id).await;
    assert_eq!(ext.len(), 1, "only the read-only value is left: {ext:?}");
    assert_eq!(ext["score"], "7");
    // A write-only value is removed when the client says so.
    let created = create(&s, json!({"userName": "pin-holder", ACME: {"pin": "1"}})).await;
    let id = created["id"].as_str().unwrap();
    let r = send(
        &s,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        Some(patch(
            json!([{"op": "remove", "path": format!("{ACME}:pin")}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(stored(&s, id).await.get("pin").is_none());
}

#[tokio::test]
async fn immutable_extension_attribute_is_set_once_then_refused_with_mutability() {
    let s = acme_server();
    let created = create(&s, json!({"userName": "hr"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    // Setting it the first time is allowed.
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(
            json!([{"op": "add", "path": format!("{ACME}:hrId"), "value": "H-1"}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    // The same value again is no change.
    let r = send(
        &s,
        "PATCH",
        &uri,
        Some(patch(
            json!([{"op": "replace", "path": format!("{ACME}:hrId"), "value": "H-1"}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    for ops in [
        json!([{"op": "replace", "path": format!("{ACME}:hrId"), "value": "H-2"}]),
        json!([{"op": "remove", "path": format!("{ACME}:hrId")}]),
    ] {
        send(&s, "PATCH", &uri, Some(patch(ops)))
            .await
            .assert_error(400, Some("mutability"));
    }
    let r = send(
        &s,
        "PUT",
        &uri,
        Some(json!({"userName": "hr", ACME: {"hrId": "H-3"}})),
    )
    .await;
    r.assert_error(400, Some("mutability"));
    let r = send(&s, "GET", &uri, None).await;
    assert_eq!(r.json[ACME]["hrId"], "H-1");
}

#[tokio::test]
async fn sub_attributes_follow_their_own_returned() {
    let s = acme_server();
    let created = create(
        &s,
        json!({"userName": "dev", ACME: {"device": {"serial": "S1", "secret": "x", "model": "M"}}}),
    )
    .await;
    assert_eq!(
        created[ACME]["device"],
        json!({"serial": "S1"}),
        "write-only and request sub-attributes are not returned"
    );
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(
        &s,
        "GET",
        &format!("{uri}?attributes={}", enc(&format!("{ACME}:device.model"))),
        None,
    )
    .await;
    assert_eq!(r.json[ACME]["device"], json!({"model": "M"}));
    let r = send(
        &s,
        "GET",
        &format!("{uri}?attributes={}", enc(&format!("{ACME}:device.secret"))),
        None,
    )
    .await;
    assert!(r.json.get(ACME).is_none(), "{}", r.json);
}

#[tokio::test]
async fn excluding_the_whole_extension_keeps_its_always_attributes() {
    let s = acme_server();
    let created = create(
        &s,
        json!({"userName": "tagged", ACME: {"tenantTag": "T", "team": "X"}}),
    )
    .await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let r = send(
        &s,
        "GET",
        &format!("{uri}?excludedAttributes={}", enc(ACME)),
        None,
    )
    .await;
    assert_eq!(r.json[ACME], json!({"tenantTag": "T"}));
    let r = send(&s, "GET", &format!("{uri}?attributes=userName"), None).await;
    assert_eq!(r.json[ACME], json!({"tenantTag": "T"}));
}

#[tokio::test]
async fn sorting_by_a_write_only_attribute_reveals_no_order() {
    let s = acme_server();
    for (name, pin) in [("p1", "3"), ("p2", "1"), ("p3", "2")] {
        create(&s, json!({"userName": name, ACME: {"pin": pin}})).await;
    }
    let got = user_names(&s, &format!("sortBy={}", enc(&format!("{ACME}:pin")))).await;
    assert_eq!(
        got,
        ["p1", "p2", "p3"],
        "creation order: every user has no sort value"
    );
}

#[test]
fn csv_columns_may_name_registered_extension_attributes() {
    let schemas = scimkit::schema::SchemaSet::default()
        .with_extension(&ACME_USER)
        .unwrap();
    let t = scimkit::csv::Target::parse_in(&format!("{ACME}:SEATS"), &schemas).unwrap();
    assert_eq!(t.to_string(), format!("{ACME}:seats"));
    assert!(scimkit::csv::Target::parse_in("urn:example:unknown:2.0:User:x", &schemas).is_err());
    // Without the server's schemas, the extension is unknown.
    assert!(scimkit::csv::Target::parse(&format!("{ACME}:SEATS")).is_err());
}

#[test]
fn extension_schemas_that_would_advertise_what_the_server_does_not_do_are_refused() {
    use scimkit::schema::{Mutability, validate_extension};
    macro_rules! schema {
        ($id:expr, $($attr:expr),+) => {
            SchemaDef { id: $id, name: "X", description: "", attributes: &[$($attr),+] }
        };
    }
    static UPPER: SchemaDef = schema!("URN:example:upper:2.0:User", AttributeDef::string("a", ""));
    static REQUIRED_READ_ONLY: SchemaDef = schema!(
        "urn:example:rro:2.0:User",
        AttributeDef::string("a", "").required().read_only()
    );
    static UNIQUE: SchemaDef = schema!(
        "urn:example:unique:2.0:User",
        AttributeDef::string("a", "").unique()
    );
    static REQUIRED_SUB: SchemaDef = schema!(
        "urn:example:rsub:2.0:User",
        AttributeDef::complex("c", "", &[AttributeDef::string("v", "").required()])
    );
    static MULTI_SUB: SchemaDef = schema!(
        "urn:example:msub:2.0:User",
        AttributeDef::complex("c", "", &[AttributeDef::string("v", "").multi()])
    );
    static REF_SUB: SchemaDef = schema!(
        "urn:example:refsub:2.0:User",
        AttributeDef::complex(
            "c",
            "",
            &[
                AttributeDef::string("value", ""),
                AttributeDef::new("$ref", AttributeType::Reference, "")
            ]
        )
    );
    static IMMUTABLE: SchemaDef = schema!(
        "urn:example:imm:2.0:User",
        AttributeDef::string("a", "").mutability(Mutability::Immutable)
    );
    for bad in [
        &UPPER,
        &REQUIRED_READ_ONLY,
        &UNIQUE,
        &REQUIRED_SUB,
        &MULTI_SUB,
    ] {
        assert!(
            validate_extension(bad).is_err(),
            "{} must be refused",
            bad.id
        );
    }
    for good in [&REF_SUB, &IMMUTABLE] {
        validate_extension(good).unwrap();
    }
    // A URN that starts with a registered one (or the other way round) is ambiguous.
    static PARENT: SchemaDef = schema!("urn:example:nest:2.0:User", AttributeDef::string("a", ""));
    static CHILD: SchemaDef = schema!(
        "urn:example:nest:2.0:User:Sub",
        AttributeDef::string("b", "")
    );
    let parent = scimkit::schema::SchemaSet::default()
        .with_extension(&PARENT)
        .unwrap();
    assert!(parent.clone().with_extension(&CHILD).is_err());
    let child = scimkit::schema::SchemaSet::default()
        .with_extension(&CHILD)
        .unwrap();
    assert!(child.with_extension(&PARENT).is_err());
}

#[tokio::test]
async fn a_refused_configuration_registers_nothing() {
    static LATE: SchemaDef = SchemaDef {
        id: "urn:example:late:2.0:User",
        name: "Late",
        description: "",
        attributes: &[AttributeDef::string("a", "")],
    };
    let built = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new())
        .extension(&LATE)
        .max_page_size(0)
        .build();
    assert!(built.is_err());
    // A server built next knows only its own extensions.
    let s = ScimServer::builder()
        .base_path("/scim/v2")
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")))
        .build()
        .unwrap();
    assert!(s.schemas().extension(LATE.id).is_none());
    let r = send(&s, "GET", &format!("/scim/v2/Schemas/{}", LATE.id), None).await;
    assert_eq!(r.status, 404, "{}", r.json);
}

#[tokio::test]
async fn objects_of_extensions_this_process_does_not_know_survive_a_put() {
    let s = acme_server();
    let ctx = scimkit::RequestContext::new(Principal::new("acme", "k1"), "test");
    // As a replica that has not registered the extension reads a user stored by one
    // that has (the SQL stores decode such objects into `extensions`).
    let mut user = scimkit::User::new("keeper");
    let other = "urn:example:params:scim:schemas:extension:unknown-here:2.0:User";
    user.extensions.insert(
        other.to_owned(),
        json!({"x": 1}).as_object().unwrap().clone(),
    );
    let created = s.create_user(&ctx, user).await.unwrap();
    let id = created.id.clone().unwrap();
    let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None).await;
    assert!(got.json.get(other).is_none(), "not rendered: {}", got.json);
    let r = send(
        &s,
        "PUT",
        &format!("/scim/v2/Users/{id}"),
        Some(json!({"userName": "keeper", "title": "T"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let r = send(
        &s,
        "PATCH",
        &format!("/scim/v2/Users/{id}"),
        Some(patch(
            json!([{"op": "replace", "path": "title", "value": "U"}]),
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let after = s.get_user(&ctx, &id).await.unwrap();
    assert_eq!(
        after.extensions[other]["x"], 1,
        "kept through PUT and PATCH"
    );
}

/// Integer extension attributes are compared in SQL: with a fallback limit of one row,
/// anything evaluated in Rust over several candidates would be refused.
async fn integer_filters_in_sql(store: Arc<dyn UserStore>, tag: &str) {
    let s = server_on(store);
    for (name, seats) in [
        ("a", Some(3)),
        ("b", Some(10)),
        ("c", None),
        ("d", Some(-2)),
    ] {
        let mut body = json!({"userName": format!("{name}-{tag}"), ACME: {"team": "T"}});
        if let Some(n) = seats {
            body[ACME]["seats"] = json!(n);
        }
        create(&s, body).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("seats eq 3", &["a"]),
        ("seats ne 3", &["b", "c", "d"]),
        ("seats gt 3", &["b"]),
        ("seats ge 3", &["a", "b"]),
        ("seats lt 3", &["d"]),
        ("seats le -2", &["d"]),
        ("seats co 3", &[]),
        ("seats eq \"3\"", &[]),
        ("not (seats gt 3)", &["a", "c", "d"]),
    ];
    for (filter, expected) in cases {
        let full = if let Some(rest) = filter.strip_prefix("not (") {
            format!("not ({ACME}:{rest}")
        } else {
            format!("{ACME}:{filter}")
        };
        let q = format!(
            "filter={}",
            enc(&format!("({full}) and userName ew \"-{tag}\""))
        );
        let mut got: Vec<String> = user_names(&s, &q)
            .await
            .into_iter()
            .map(|n| n.trim_end_matches(&format!("-{tag}")).to_owned())
            .collect();
        got.sort();
        assert_eq!(got, *expected, "{full}");
    }
    // A fraction is compared as f64 by `Filter::matches`, over the candidates: with a
    // fallback limit of one row that is refused, which shows the cases above ran in SQL.
    let q = format!(
        "filter={}",
        enc(&format!("{ACME}:seats gt 2.5 and userName ew \"-{tag}\""))
    );
    let r = send(&s, "GET", &format!("/scim/v2/Users?{q}"), None).await;
    r.assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn integer_extension_filters_run_in_sql_on_sqlite() {
    let store = SqliteUserStore::in_memory()
        .await
        .unwrap()
        .with_fallback_limit(1);
    integer_filters_in_sql(Arc::new(store), "sqlite").await;
}

#[tokio::test]
async fn integer_extension_filters_run_in_sql_on_postgres() {
    let Ok(url) = std::env::var("SCIMKIT_TEST_DATABASE_URL") else {
        eprintln!("skipped: SCIMKIT_TEST_DATABASE_URL is not set");
        return;
    };
    let store = PostgresUserStore::connect(&url)
        .await
        .unwrap()
        .with_fallback_limit(1);
    let tag = format!("int{}", std::process::id());
    integer_filters_in_sql(Arc::new(store), &tag).await;
}

/// Invariant 8: two servers of one process, each with its own extension (one of them
/// required), each advertises, accepts, returns, filters and requires only its own.
#[tokio::test]
async fn two_servers_in_one_process_see_only_their_own_extensions() {
    const BETA: &str = "urn:example:params:scim:schemas:extension:beta:2.0:User";
    static BETA_USER: SchemaDef = SchemaDef {
        id: BETA,
        name: "BetaUser",
        description: "Beta's own user attributes",
        attributes: &[AttributeDef::string("region", "Sales region.").required()],
    };
    let build = |schema: &'static SchemaDef| {
        ScimServer::builder()
            .base_path("/scim/v2")
            .store(MemoryUserStore::new())
            .authenticator(
                StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")),
            )
            .extension(schema)
            .build()
            .unwrap()
    };
    let (acme, beta) = (build(&ACME_USER), build(&BETA_USER));
    for (s, own, other) in [(&acme, ACME, BETA), (&beta, BETA, ACME)] {
        // Advertised: /Schemas, /Schemas/{urn} and /ResourceTypes name only its own.
        let schemas = send(s, "GET", "/scim/v2/Schemas", None).await;
        let ids: Vec<&str> = schemas.json["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&own) && !ids.contains(&other), "{ids:?}");
        let r = send(s, "GET", &format!("/scim/v2/Schemas/{other}"), None).await;
        assert_eq!(r.status, 404, "{}", r.json);
        let types = send(s, "GET", "/scim/v2/ResourceTypes/User", None).await;
        let extensions = types.json["schemaExtensions"].to_string();
        assert!(
            extensions.contains(own) && !extensions.contains(other),
            "{extensions}"
        );
        assert_eq!(s.schemas().extensions().len(), 1);
    }
    // Required: Beta's `region` is required by Beta only.
    let r = send(
        &beta,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "no-region"})),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.json["detail"].as_str().unwrap().contains("region"),
        "{}",
        r.json
    );
    let body = json!({
        "userName": "both",
        ACME: {"costCenter": "CC-1"},
        BETA: {"region": "EMEA"},
    });
    // Accepted and returned: each keeps its own extension's values, ignores the other's.
    let a = create(&acme, body.clone()).await;
    assert_eq!(a[ACME]["costCenter"], "CC-1");
    assert!(a.get(BETA).is_none(), "{a}");
    assert!(!a["schemas"].to_string().contains(BETA), "{a}");
    let b = create(&beta, body).await;
    assert_eq!(b[BETA]["region"], "EMEA");
    assert!(b.get(ACME).is_none(), "{b}");
    // Filtered: only the server's own extension attributes name anything.
    let r = filtered(&acme, &format!("{ACME}:costCenter eq \"CC-1\"")).await;
    assert_eq!(r.json["totalResults"], 1, "{}", r.json);
    let r = filtered(&acme, &format!("{BETA}:region eq \"EMEA\"")).await;
    assert_eq!(r.json["totalResults"], 0, "{}", r.json);
    let r = filtered(&beta, &format!("{BETA}:region eq \"emea\"")).await;
    assert_eq!(
        r.json["totalResults"], 1,
        "case-insensitive by Beta's schema: {}",
        r.json
    );
    // PATCH by URN path: the other server's extension is not its to write.
    let id = b["id"].as_str().unwrap();
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": format!("{ACME}:costCenter"), "value": "CC-9"}],
    });
    let r = send(&beta, "PATCH", &format!("/scim/v2/Users/{id}"), Some(patch)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json.get(ACME).is_none(), "{}", r.json);
}

/// A page of users follows each extension attribute's `returned` as a single GET does:
/// no `writeOnly` PIN and no `returned: request` badge unless named, an `always` tag
/// even when excluded.
#[tokio::test]
async fn list_pages_apply_each_extension_attributes_returned_to_every_user() {
    let s = acme_server();
    create(&s, alice()).await;
    create(
        &s,
        json!({"userName": "bob", ACME: {"badge": "B-7", "pin": "9", "tenantTag": "T"}}),
    )
    .await;
    let page = |q: String| {
        let s = s.clone();
        async move {
            let r = send(
                &s,
                "GET",
                &format!("/scim/v2/Users?sortBy=userName&{q}"),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["Resources"].as_array().unwrap().clone()
        }
    };
    let whole = page(String::new()).await;
    assert_eq!(whole.len(), 2);
    for u in &whole {
        assert!(u[ACME].get("pin").is_none(), "{u}");
        assert!(u[ACME].get("badge").is_none(), "{u}");
    }
    assert_eq!(whole[1][ACME], json!({"tenantTag": "T"}));
    let badges = page(format!(
        "attributes={}",
        enc(&format!("{ACME}:badge,{ACME}:pin"))
    ))
    .await;
    assert_eq!(badges[0][ACME], json!({"badge": "B-42"}));
    assert_eq!(badges[1][ACME], json!({"badge": "B-7", "tenantTag": "T"}));
    assert!(badges[0].get("userName").is_none());
    let excluded = page(format!("excludedAttributes={}", enc(ACME))).await;
    assert!(excluded[0].get(ACME).is_none(), "{}", excluded[0]);
    assert_eq!(
        excluded[0]["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
    assert_eq!(excluded[1][ACME], json!({"tenantTag": "T"}));
    assert!(
        excluded[1]["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ACME))
    );
}
