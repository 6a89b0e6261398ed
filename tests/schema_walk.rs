//! The advertisement is the behaviour: every attribute `/Schemas` lists is walked through
//! create → get, and what comes back must agree with its `mutability` and `returned`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use scimkit::schema::{AttributeDef, AttributeType, Mutability, Returned, SchemaDef};
use serde_json::{Map, Value, json};

/// A value of the advertised type (for multi-valued attributes, a one-element array).
fn sample(attr: &Value, n: usize) -> Value {
    let single = match attr["type"].as_str().unwrap() {
        "string" => match attr["canonicalValues"].as_array().and_then(|c| c.first()) {
            Some(c) => c.clone(),
            None => json!(format!("v{n}-{}", attr["name"].as_str().unwrap())),
        },
        "boolean" => json!(true),
        "reference" => json!(format!("https://example.com/{n}")),
        "binary" => json!(
            "TUlJREN6Q0NBcXlnQXdJQkFnSUNFQUF3RFFZSktvWklodmNOQVFFRkJRQXdUakVMTUFrR0ExVUVCaE1DVlZN"
        ),
        "dateTime" => json!("2024-01-02T03:04:05Z"),
        "integer" => json!(7),
        "decimal" => json!(7.5),
        "complex" => {
            let mut m = Map::new();
            for (i, sub) in attr["subAttributes"].as_array().unwrap().iter().enumerate() {
                let mut s = sub.clone();
                s["multiValued"] = json!(false);
                m.insert(sub["name"].as_str().unwrap().to_owned(), sample(&s, n + i));
            }
            Value::Object(m)
        }
        other => panic!("unexpected type {other}"),
    };
    if attr["multiValued"] == true {
        json!([single])
    } else {
        single
    }
}

/// What the server must return for an attribute we sent: `None` when it must not appear.
fn expected(attr: &Value, sent: &Value) -> Option<Value> {
    if attr["mutability"] == "readOnly"
        || attr["returned"] == "never"
        || attr["returned"] == "request"
    {
        return None;
    }
    if attr["type"] != "complex" {
        return Some(sent.clone());
    }
    let strip = |obj: &Value| {
        let mut out = Map::new();
        for sub in attr["subAttributes"].as_array().unwrap() {
            let name = sub["name"].as_str().unwrap();
            if let Some(v) = obj.get(name) {
                if sub["mutability"] != "readOnly" && sub["returned"] != "never" {
                    out.insert(name.to_owned(), v.clone());
                }
            }
        }
        Value::Object(out)
    };
    Some(match sent {
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        obj => strip(obj),
    })
}

static ACME_USER: SchemaDef = SchemaDef {
    id: "urn:example:params:scim:schemas:extension:walk:2.0:User",
    name: "WalkUser",
    description: "One attribute of every type and characteristic",
    attributes: &[
        AttributeDef::string("costCenter", "").case_exact(),
        AttributeDef::new("seats", AttributeType::Integer, ""),
        AttributeDef::new("ratio", AttributeType::Decimal, ""),
        AttributeDef::new("vip", AttributeType::Boolean, ""),
        AttributeDef::new("hireDate", AttributeType::DateTime, ""),
        AttributeDef::new("avatar", AttributeType::Binary, ""),
        AttributeDef::new("home", AttributeType::Reference, "").refs(&["external"]),
        AttributeDef::string("tags", "").multi(),
        AttributeDef::complex(
            "sponsor",
            "",
            &[
                AttributeDef::string("value", ""),
                AttributeDef::string("displayName", ""),
            ],
        )
        .multi(),
        AttributeDef::string("badge", "").returned(Returned::Request),
        AttributeDef::string("pin", "").mutability(Mutability::WriteOnly),
        AttributeDef::string("score", "").read_only(),
    ],
};

/// The built-in schemas on a plain server, then a server with the custom extension: each
/// server advertises (and so walks) only its own extensions.
#[tokio::test]
async fn every_advertised_attribute_behaves_as_advertised() {
    let checked = walk(&server()).await;
    assert_eq!(
        checked,
        21 + 6,
        "every core and enterprise attribute was walked"
    );
    // Then a custom extension with an attribute of every type and characteristic.
    let s = scimkit::ScimServer::builder()
        .base_path("/scim/v2")
        .store(scimkit::MemoryUserStore::new())
        .authenticator(
            scimkit::StaticKeyAuthenticator::new()
                .with_key(KEY, scimkit::Principal::new("acme", "k1")),
        )
        .extension(&ACME_USER)
        .build()
        .unwrap();
    let checked = walk(&s).await;
    assert_eq!(checked, 21 + 6 + ACME_USER.attributes.len());
}

/// Walks every attribute `/Schemas` advertises through create → get; returns how many.
async fn walk(s: &scimkit::ScimServer) -> usize {
    let s = s.clone();
    let schemas = send(&s, "GET", "/scim/v2/Schemas", None).await.json;
    let mut checked = 0;
    for schema in schemas["Resources"].as_array().unwrap() {
        let urn = schema["id"].as_str().unwrap();
        let core = urn == "urn:ietf:params:scim:schemas:core:2.0:User";
        for (n, attr) in schema["attributes"].as_array().unwrap().iter().enumerate() {
            let name = attr["name"].as_str().unwrap();
            let value = sample(attr, n);
            let user_name = format!("walk-{n}-{}", urn.len());
            let mut body = json!({"userName": user_name});
            if name == "userName" {
                body["userName"] = value.clone();
            } else if core {
                body[name] = value.clone();
            } else {
                body[urn] = json!({ name: value.clone() });
            }
            let created = send(&s, "POST", "/scim/v2/Users", Some(body)).await;
            assert_eq!(created.status, 201, "{urn}:{name}: {}", created.json);
            let id = created.json["id"].as_str().unwrap();
            let got = send(&s, "GET", &format!("/scim/v2/Users/{id}"), None)
                .await
                .json;
            let returned = if core {
                got.get(name)
            } else {
                got.get(urn).and_then(|e| e.get(name))
            };
            match expected(attr, &value) {
                Some(v) => assert_eq!(returned, Some(&v), "{urn}:{name} must round-trip"),
                None => assert!(
                    returned.is_none() || returned != Some(&value),
                    "{urn}:{name} is {}/{} and must not echo the client's value",
                    attr["mutability"],
                    attr["returned"]
                ),
            }
            if attr["returned"] == "never" {
                assert!(returned.is_none(), "{name} is returned: never");
            }
            send(&s, "DELETE", &format!("/scim/v2/Users/{id}"), None).await;
            checked += 1;
        }
    }
    checked
}
