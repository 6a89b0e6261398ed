//! Protocol behaviours every IdP relies on (RFC 7644), through `ScimServer::handle`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn responses_are_application_scim_json() {
    let s = server();
    for uri in [
        "/scim/v2/Users",
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/Schemas",
        "/scim/v2/ResourceTypes",
        "/scim/v2/Groups",
    ] {
        let r = send(&s, "GET", uri, None).await;
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(
            r.header("content-type"),
            Some("application/scim+json"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn request_content_types_scim_json_and_json_with_charset_are_accepted() {
    let s = server();
    let auth = format!("Bearer {KEY}");
    for (i, ct) in [
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-8",
        "Application/SCIM+JSON;charset=UTF-8",
    ]
    .iter()
    .enumerate()
    {
        let body = format!(r#"{{"userName":"ct{i}"}}"#);
        let r = send_raw(
            &s,
            "POST",
            "/scim/v2/Users",
            body.as_bytes(),
            &[("authorization", &auth), ("content-type", ct)],
        )
        .await;
        assert_eq!(r.status, 201, "{ct}: {}", r.json);
    }
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        let r = send_raw(
            &s,
            "POST",
            "/scim/v2/Users",
            br#"{"userName":"x"}"#,
            &headers,
        )
        .await;
        r.assert_error(415, None);
    }
    assert_eq!(
        send(&s, "GET", "/scim/v2/Users", None).await.json["totalResults"],
        4
    );
}

#[tokio::test]
async fn unsupported_methods_are_405_with_allow() {
    let s = server();
    let r = send(&s, "DELETE", "/scim/v2/Users", None).await;
    r.assert_error(405, None);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = send(
        &s,
        "POST",
        "/scim/v2/ServiceProviderConfig",
        Some(json!({})),
    )
    .await;
    r.assert_error(405, None);
    assert_eq!(r.header("allow"), Some("GET"));
    send(&s, "POST", "/scim/v2/Users/abc", Some(json!({})))
        .await
        .assert_error(405, None);
}

#[tokio::test]
async fn unknown_routes_are_404_scim_errors() {
    let s = server();
    for uri in [
        "/scim/v2/Widgets",
        "/scim/v2",
        "/scim/v2/Users/a/b",
        "/other/Users",
        "/scim/v2Users",
    ] {
        send(&s, "GET", uri, None).await.assert_error(404, None);
    }
}

#[tokio::test]
async fn groups_are_not_offered_writes_are_501() {
    let s = server();
    send(
        &s,
        "POST",
        "/scim/v2/Groups",
        Some(json!({"displayName": "Admins"})),
    )
    .await
    .assert_error(501, None);
    let r = send(
        &s,
        "PUT",
        "/scim/v2/Groups/123",
        Some(json!({"displayName": "Admins"})),
    )
    .await;
    r.assert_error(501, None);
    assert!(r.json["detail"].as_str().unwrap().contains("groups"));
    send(&s, "GET", "/scim/v2/Groups/123", None)
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn service_provider_config_is_truthful() {
    let s = server();
    let r = send(&s, "GET", "/scim/v2/ServiceProviderConfig", None).await;
    let spc = &r.json;
    assert_eq!(
        spc["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], false);
    assert_eq!(spc["filter"]["supported"], true);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    // and the server behaves as advertised
    let created = create(&s, json!({"userName": "p"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let patched = send(&s, "PATCH", &uri, Some(patch)).await;
    assert_eq!(patched.json["active"], false);
    send(&s, "POST", "/scim/v2/Bulk", Some(json!({})))
        .await
        .assert_error(501, None);
    create(&s, json!({"userName": "a"})).await;
    let sorted = send(
        &s,
        "GET",
        "/scim/v2/Users?sortBy=userName&sortOrder=descending",
        None,
    )
    .await;
    assert_eq!(
        sorted.json["Resources"][0]["userName"], "p",
        "sorting works, as advertised"
    );
}

#[tokio::test]
async fn sort_by_and_sort_order_order_the_whole_result_before_paging() {
    let s = server();
    for (name, family) in [
        ("u1", "Delta"),
        ("u2", "alpha"),
        ("u3", "Charlie"),
        ("u4", "BRAVO"),
    ] {
        create(
            &s,
            json!({"userName": name, "name": {"familyName": family}}),
        )
        .await;
    }
    create(&s, json!({"userName": "u5"})).await;
    let page = |q: &str| {
        let s = s.clone();
        let q = q.to_owned();
        async move {
            let r = send(&s, "GET", &format!("/scim/v2/Users?{q}"), None).await;
            assert_eq!(r.status, 200, "{}", r.json);
            r.json["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page("sortBy=name.familyName").await,
        ["u2", "u4", "u3", "u1", "u5"]
    );
    assert_eq!(
        page("sortBy=name.familyName&sortOrder=DESCENDING").await,
        ["u1", "u3", "u4", "u2", "u5"]
    );
    assert_eq!(
        page("sortBy=name.familyName&startIndex=2&count=2").await,
        ["u4", "u3"]
    );
    assert_eq!(
        page("sortBy=USERNAME&sortOrder=descending&count=1").await,
        ["u5"]
    );
    let search = send(
        &s,
        "POST",
        "/scim/v2/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "sortBy": "name.familyName", "filter": "userName sw \"u\"", "count": 1
        })),
    )
    .await;
    assert_eq!(search.json["Resources"][0]["userName"], "u2");
    assert_eq!(search.json["totalResults"], 5);
    send(
        &s,
        "GET",
        "/scim/v2/Users?sortBy=userName&sortOrder=sideways",
        None,
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn resource_types_offer_only_user() {
    let s = server();
    let r = send(&s, "GET", "/scim/v2/ResourceTypes", None).await;
    assert_eq!(r.json["totalResults"], 1);
    let rt = &r.json["Resources"][0];
    assert_eq!(rt["id"], "User");
    assert_eq!(rt["endpoint"], "/Users");
    assert_eq!(rt["schema"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(
        rt["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(
        send(&s, "GET", "/scim/v2/ResourceTypes/User", None)
            .await
            .json["id"],
        "User"
    );
    send(&s, "GET", "/scim/v2/ResourceTypes/Group", None)
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn schemas_describe_user_and_enterprise_user() {
    let s = server();
    let r = send(&s, "GET", "/scim/v2/Schemas", None).await;
    assert_eq!(r.json["totalResults"], 2);
    let user = send(
        &s,
        "GET",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    )
    .await
    .json;
    let attrs = user["attributes"].as_array().unwrap();
    let find = |n: &str| attrs.iter().find(|a| a["name"] == n).cloned().unwrap();
    assert_eq!(find("userName")["required"], true);
    assert_eq!(find("userName")["uniqueness"], "server");
    assert_eq!(find("userName")["caseExact"], false);
    assert_eq!(find("password")["returned"], "never");
    assert_eq!(find("groups")["mutability"], "readOnly");
    for name in [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        assert_eq!(find(name)["multiValued"], true, "{name}");
    }
    let ent = send(
        &s,
        "GET",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        None,
    )
    .await
    .json;
    let names: Vec<_> = ent["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
    send(&s, "GET", "/scim/v2/Schemas/urn:example:nope", None)
        .await
        .assert_error(404, None);
}

#[tokio::test]
async fn every_rfc_7643_user_attribute_round_trips() {
    let s = server();
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "entitlements": [{"value": "Premium", "primary": true}],
        "roles": [{"value": "Student", "display": "student"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    });
    let created = create(&s, body.clone()).await;
    let got = send(
        &s,
        "GET",
        &format!("/scim/v2/Users/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await
    .json;
    for (key, value) in body.as_object().unwrap() {
        assert_eq!(&got[key], value, "{key}");
    }
}

#[tokio::test]
async fn input_attribute_names_are_case_insensitive() {
    let s = server();
    let created = create(
        &s,
        json!({"USERNAME": "ci", "Name": {"GIVENNAME": "Ann"}, "Active": false}),
    )
    .await;
    assert_eq!(created["userName"], "ci");
    assert_eq!(created["name"]["givenName"], "Ann");
    assert_eq!(created["active"], false);
}

#[tokio::test]
async fn unknown_attributes_are_ignored_and_bad_types_are_invalid_value() {
    let s = server();
    let created = create(
        &s,
        json!({"userName": "u", "shoeSize": 44, "urn:example:ext:1.0:User": {"x": 1}}),
    )
    .await;
    assert!(created.get("shoeSize").is_none());
    send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "v", "active": 3})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"displayName": "no user name"})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    let auth = format!("Bearer {KEY}");
    let r = send_raw(
        &s,
        "POST",
        "/scim/v2/Users",
        b"{\"userName\": ",
        &[
            ("authorization", &auth),
            ("content-type", "application/scim+json"),
        ],
    )
    .await;
    r.assert_error(400, Some("invalidSyntax"));
    assert_eq!(
        send(&s, "GET", "/scim/v2/Users", None).await.json["totalResults"],
        1,
        "no partial write"
    );
}

#[tokio::test]
async fn invalid_filter_is_400_invalid_filter() {
    let s = server();
    for f in [
        "userName%20eq",
        "userName%20zz%20%22a%22",
        "%28userName%20eq%20%22a%22",
        "active%20gt%20true",
    ] {
        send(&s, "GET", &format!("/scim/v2/Users?filter={f}"), None)
            .await
            .assert_error(400, Some("invalidFilter"));
    }
    send(&s, "GET", "/scim/v2/Users?count=abc", None)
        .await
        .assert_error(400, Some("invalidValue"));
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let s = server();
    let big = json!({"userName": "big", "displayName": "x".repeat(70 * 1024)});
    send(&s, "POST", "/scim/v2/Users", Some(big))
        .await
        .assert_error(413, None);
}

#[tokio::test]
async fn if_match_mismatch_is_412_and_if_none_match_is_304() {
    let s = server();
    let created = create(&s, json!({"userName": "etag"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let version = created["meta"]["version"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {KEY}");
    let r = send_with(
        &s,
        "GET",
        &uri,
        None,
        &[("authorization", &auth), ("if-none-match", &version)],
    )
    .await;
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(version.as_str()));
    let stale = "W/\"999999\"";
    let r = send_with(
        &s,
        "PUT",
        &uri,
        Some(json!({"userName": "etag2"})),
        &[("authorization", &auth), ("if-match", stale)],
    )
    .await;
    r.assert_error(412, None);
    let r = send_with(
        &s,
        "PUT",
        &uri,
        Some(json!({"userName": "etag2"})),
        &[("authorization", &auth), ("if-match", &version)],
    )
    .await;
    assert_eq!(r.status, 200);
    send_with(
        &s,
        "DELETE",
        &uri,
        None,
        &[("authorization", &auth), ("if-match", &version)],
    )
    .await
    .assert_error(412, None);
    let current = r.json["meta"]["version"].as_str().unwrap().to_owned();
    assert_eq!(
        send_with(
            &s,
            "DELETE",
            &uri,
            None,
            &[("authorization", &auth), ("if-match", &current)]
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn tenants_never_meet() {
    let s = server();
    let created = create(&s, json!({"userName": "shared@example.com"})).await;
    let other = format!("Bearer {OTHER_TENANT_KEY}");
    let list = send_with(
        &s,
        "GET",
        "/scim/v2/Users",
        None,
        &[("authorization", &other)],
    )
    .await;
    assert_eq!(list.json["totalResults"], 0);
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    send_with(&s, "GET", &uri, None, &[("authorization", &other)])
        .await
        .assert_error(404, None);
    send_with(&s, "DELETE", &uri, None, &[("authorization", &other)])
        .await
        .assert_error(404, None);
    // the same userName is free in the other tenant
    let r = send_with(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "shared@example.com"})),
        &[("authorization", &other)],
    )
    .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn racing_creates_of_one_user_name_give_one_201_and_one_409() {
    let s = server();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        let name = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        tasks.push(tokio::spawn(async move {
            send(
                &s,
                "POST",
                "/scim/v2/Users",
                Some(json!({"userName": name})),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn concurrent_puts_without_if_match_lose_no_update() {
    let s = server();
    let created = create(&s, json!({"userName": "cas"})).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (s, uri) = (s.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            send(
                &s,
                "PUT",
                &uri,
                Some(json!({"userName": "cas", "title": format!("t{i}")})),
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let got = send(&s, "GET", &uri, None).await;
    assert!(got.json["title"].as_str().unwrap().starts_with('t'));
}

#[tokio::test]
async fn meta_location_uses_configured_base_url() {
    let s = scimkit::ScimServer::builder()
        .base_url("https://api.example.com/scim/v2/")
        .store(scimkit::MemoryUserStore::new())
        .authenticator(
            scimkit::StaticKeyAuthenticator::new().with_key(KEY, scimkit::Principal::new("t", "k")),
        )
        .build()
        .unwrap();
    let created = create(&s, json!({"userName": "loc"})).await;
    let loc = created["meta"]["location"].as_str().unwrap();
    assert_eq!(
        loc,
        format!(
            "https://api.example.com/scim/v2/Users/{}",
            created["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn host_required_attributes_are_enforced_on_every_write_and_advertised() {
    let s = scimkit::ScimServer::builder()
        .store(scimkit::MemoryUserStore::new())
        .authenticator(
            scimkit::StaticKeyAuthenticator::new().with_key(KEY, scimkit::Principal::new("t", "k")),
        )
        .required_attributes(["name.givenName", "name.familyName", "emails"])
        .build()
        .unwrap();
    let r = send(
        &s,
        "POST",
        "/scim/v2/Users",
        Some(json!({"userName": "a", "name": {"givenName": "Ann"}})),
    )
    .await;
    r.assert_error(400, Some("invalidValue"));
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("name.familyName") && detail.contains("emails"),
        "{detail}"
    );
    let full = json!({"userName": "a", "name": {"givenName": "Ann", "familyName": "Lee"}, "emails": [{"value": "a@x.com"}]});
    let created = create(&s, full.clone()).await;
    let uri = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
    send(&s, "PUT", &uri, Some(json!({"userName": "a"})))
        .await
        .assert_error(400, Some("invalidValue"));
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": "emails"}]});
    send(&s, "PATCH", &uri, Some(patch))
        .await
        .assert_error(400, Some("invalidValue"));
    assert_eq!(
        send(&s, "GET", &uri, None).await.json,
        created,
        "nothing was written"
    );
    let schema = send(
        &s,
        "GET",
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    )
    .await
    .json;
    let attrs = schema["attributes"].as_array().unwrap();
    let attr = |n: &str| attrs.iter().find(|a| a["name"] == n).unwrap().clone();
    assert_eq!(attr("emails")["required"], true);
    assert_eq!(attr("name")["required"], false);
    let subs = attr("name")["subAttributes"].as_array().unwrap().clone();
    let sub = |n: &str| subs.iter().find(|a| a["name"] == n).unwrap()["required"].clone();
    assert_eq!(
        (sub("givenName"), sub("familyName"), sub("middleName")),
        (json!(true), json!(true), json!(false))
    );
    let bad = scimkit::ScimServer::builder()
        .store(scimkit::MemoryUserStore::new())
        .authenticator(scimkit::StaticKeyAuthenticator::new())
        .required_attributes(["shoeSize"])
        .build();
    assert!(matches!(bad, Err(scimkit::BuildError::Invalid(_))));
}

#[tokio::test]
async fn rate_limited_key_gets_429_with_integer_retry_after() {
    let s = scimkit::ScimServer::builder()
        .store(scimkit::MemoryUserStore::new())
        .authenticator(
            scimkit::StaticKeyAuthenticator::new()
                .with_key(KEY, scimkit::Principal::new("acme", "k1"))
                .with_key(OTHER_TENANT_KEY, scimkit::Principal::new("globex", "k2")),
        )
        .rate_limit(scimkit::RateLimit::new(0.5, 2))
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(send(&s, "GET", "/scim/v2/Users", None).await.status, 200);
    }
    let r = send(&s, "GET", "/scim/v2/Users", None).await;
    r.assert_error(429, None);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let other = format!("Bearer {OTHER_TENANT_KEY}");
    let r = send_with(
        &s,
        "GET",
        "/scim/v2/Users",
        None,
        &[("authorization", &other)],
    )
    .await;
    assert_eq!(r.status, 200, "each key has its own budget");
}

/// Okta and Entra reconcile with pages of a few attributes (`attributes=userName,...`,
/// or a SearchRequest's `excludedAttributes`): every user of the page carries exactly
/// those (and `id`, `schemas`), the extension leaves `schemas` with its object, and the
/// envelope still counts every match.
#[tokio::test]
async fn list_and_search_pages_return_only_the_requested_attributes_of_each_user() {
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let s = server();
    for i in 0..3 {
        create(
            &s,
            json!({
                "userName": format!("p{i}"),
                "name": {"givenName": "G", "familyName": format!("F{i}")},
                "emails": [{"value": format!("p{i}@x"), "type": "work"}, {"value": format!("q{i}@x")}],
                ENT: {"department": "D"}
            }),
        )
        .await;
    }
    let r = send(
        &s,
        "GET",
        "/scim/v2/Users?sortBy=userName&count=2&attributes=USERNAME,emails.value,name.familyName",
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["totalResults"], 3);
    assert_eq!(r.json["itemsPerPage"], 2);
    for (i, u) in r.json["Resources"].as_array().unwrap().iter().enumerate() {
        let mut u = u.clone();
        assert!(u["id"].is_string());
        u.as_object_mut().unwrap().remove("id");
        assert_eq!(
            u,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("p{i}"),
                "name": {"familyName": format!("F{i}")},
                "emails": [{"value": format!("p{i}@x")}, {"value": format!("q{i}@x")}]
            })
        );
    }
    let search = send(
        &s,
        "POST",
        "/scim/v2/Users/.search",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "excludedAttributes": ["emails.value", "meta", "name"],
            "sortBy": "userName"
        })),
    )
    .await;
    assert_eq!(search.status, 200, "{}", search.json);
    let users = search.json["Resources"].as_array().unwrap();
    assert_eq!(users.len(), 3);
    for u in users {
        assert!(u.get("meta").is_none() && u.get("name").is_none(), "{u}");
        assert_eq!(u["emails"], json!([{"type": "work"}]), "{u}");
        assert_eq!(u[ENT], json!({"department": "D"}));
        assert_eq!(
            u["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENT])
        );
    }
}
