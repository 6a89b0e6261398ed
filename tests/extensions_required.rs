//! An extension attribute marked `required` is required on every write by the server the
//! extension was given to, and advertised so; by that server only (invariant 8: another
//! server of the process neither requires nor accepts it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use scimkit::schema::{AttributeDef, SchemaDef};
use scimkit::{MemoryUserStore, Principal, ScimServer, StaticKeyAuthenticator};
use serde_json::json;

const STRICT: &str = "urn:example:params:scim:schemas:extension:strict:2.0:User";

static STRICT_USER: SchemaDef = SchemaDef {
    id: STRICT,
    name: "StrictUser",
    description: "An extension with a required attribute",
    attributes: &[AttributeDef::string("region", "Data region.").required()],
};

#[tokio::test]
async fn required_extension_attribute_is_enforced_and_advertised() {
    let s = ScimServer::builder()
        .base_path("/scim/v2")
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new().with_key(KEY, Principal::new("acme", "k1")))
        .extension(&STRICT_USER)
        .build()
        .unwrap();
    let r = send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "dave"})),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("{STRICT}:region"))
    );
    create(&s, json!({"userName": "dave", STRICT: {"region": "eu"}})).await;
    let rt = send(&s, "GET", "/scim/v2/ResourceTypes/User", None)
        .await
        .json;
    assert!(
        rt["schemaExtensions"]
            .as_array()
            .unwrap()
            .contains(&json!({"schema": STRICT, "required": true}))
    );
    let schema = send(&s, "GET", &format!("/scim/v2/Schemas/{STRICT}"), None)
        .await
        .json;
    assert_eq!(schema["attributes"][0]["required"], true);
}

#[tokio::test]
async fn a_server_built_without_the_extension_does_not_require_it() {
    // Given to the first server; this one does not name it.
    let _first = ScimServer::builder()
        .store(MemoryUserStore::new())
        .authenticator(StaticKeyAuthenticator::new())
        .extension(&STRICT_USER)
        .build()
        .unwrap();
    let s = server();
    let r = send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "erin"})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.json);
    let created = create(&s, json!({"userName": "frank", STRICT: {"region": "us"}})).await;
    assert!(
        created.get(STRICT).is_none(),
        "not its extension: {created}"
    );
}
