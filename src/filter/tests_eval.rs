//! Evaluation and validation tests against a realistic User resource.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;

pub(super) fn sample_user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Ext-701984",
        "userName": "BJensen@Example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": ""
        },
        "displayName": "Babs Jensen",
        "nickName": null,
        "title": "",
        "active": false,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "ims": [{"type": "xmpp"}, {"value": ""}],
        "roles": [{"value": "admin"}, {"value": "Auditor"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        "meta": {
            "resourceType": "User",
            "created": "2024-01-01T00:00:00Z",
            "lastModified": "2024-03-15T12:30:00+02:00",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223"
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "x-custom": {"level": 7, "ratio": 0.5, "Tags": ["Alpha", "beta"]}
    })
}

fn check(filter: &str) -> bool {
    match parse(filter) {
        Ok(f) => f.matches_value(&sample_user()),
        Err(e) => panic!("{filter:?}: {e}"),
    }
}

fn assert_matches(cases: &[(&str, bool)]) {
    for (filter, expected) in cases {
        assert_eq!(check(filter), *expected, "{filter}");
    }
}

#[test]
fn strings_honour_case_exact() {
    assert_matches(&[
        // userName is caseExact false.
        ("userName eq \"bjensen@example.com\"", true),
        ("USERNAME eq \"BJENSEN@EXAMPLE.COM\"", true),
        ("userName ne \"bjensen@example.com\"", false),
        ("userName sw \"bjen\"", true),
        ("userName ew \"@EXAMPLE.COM\"", true),
        ("userName co \"sen@ex\"", true),
        ("userName co \"nobody\"", false),
        ("userName gt \"a\"", true),
        ("userName lt \"a\"", false),
        ("userName ge \"bjensen@example.com\"", true),
        ("userName le \"BJENSEN@EXAMPLE.COM\"", true),
        // externalId and id are caseExact.
        ("externalId eq \"Ext-701984\"", true),
        ("externalId eq \"ext-701984\"", false),
        ("externalId ne \"ext-701984\"", true),
        ("externalId sw \"ext\"", false),
        ("id eq \"2819C223-7F76-453A-919D-413861904646\"", false),
        ("meta.resourceType eq \"user\"", false),
        ("meta.resourceType eq \"User\"", true),
        ("meta.version eq \"W/\\\"3694e05e9dff591\\\"\"", true),
        // name.* is caseExact false; resource keys match case-insensitively.
        ("name.givenname eq \"BARBARA\"", true),
        ("NAME.FAMILYNAME sw \"jen\"", true),
        // Unknown attributes compare case-insensitively.
        ("x-custom.Tags eq \"ALPHA\"", true),
        ("x-custom.tags eq \"gamma\"", false),
        ("displayName eq \"babs jensen\"", true),
    ]);
}

#[test]
fn multi_valued_attributes() {
    assert_matches(&[
        ("emails.value eq \"babs@jensen.org\"", true),
        ("emails eq \"BABS@jensen.org\"", true),
        ("emails co \"example\"", true),
        ("emails.type eq \"other\"", false),
        ("emails ne \"babs@jensen.org\"", false),
        ("emails ne \"nobody@example.com\"", true),
        ("emails.type ne \"home\"", false),
        ("emails.primary eq true", true),
        ("emails.primary eq false", false),
        (
            "emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"home\" and value co \"@example.com\"]",
            false,
        ),
        (
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            true,
        ),
        (
            "emails[type eq \"home\"].value eq \"bjensen@example.com\"",
            false,
        ),
        ("emails[TYPE eq \"WORK\" and primary eq true]", true),
        ("emails[not (type eq \"work\")]", true),
        ("emails[primary pr]", true),
        ("emails[display pr]", false),
        ("roles eq \"auditor\"", true),
        ("phoneNumbers eq \"123\"", false),
        ("phoneNumbers ne \"123\"", true),
        ("phoneNumbers[type eq \"work\"]", false),
    ]);
}

#[test]
fn presence() {
    assert_matches(&[
        ("userName pr", true),
        ("title pr", false),        // empty string
        ("nickName pr", false),     // null
        ("timezone pr", false),     // absent
        ("phoneNumbers pr", false), // empty array
        ("ims pr", true),           // an element with a non-empty member
        ("ims.value pr", false),    // only an empty value
        ("emails pr", true),
        ("emails.display pr", false),
        ("name pr", true),
        ("name.middleName pr", false),
        ("name.givenName pr", true),
        ("active pr", true), // false is a value
        ("title eq null", true),
        ("nickName eq null", true),
        ("timezone eq null", true),
        ("userName eq null", false),
        ("userName ne null", true),
        ("timezone ne null", false),
        ("phoneNumbers eq null", true),
        ("emails ne null", true),
    ]);
}

#[test]
fn absent_attributes() {
    assert_matches(&[
        ("timezone eq \"x\"", false),
        ("timezone ne \"x\"", true),
        ("timezone co \"x\"", false),
        ("timezone gt \"a\"", false),
        ("name.honorificPrefix ne \"Dr\"", true),
        ("addresses.country eq \"NL\"", false),
        ("addresses.country ne \"NL\"", true),
        ("addresses[type eq \"work\"]", false),
        ("noSuchAttr eq \"x\"", false),
        ("noSuchAttr ne \"x\"", true),
        (
            "urn:example:unknown:userName eq \"bjensen@example.com\"",
            false,
        ),
    ]);
}

#[test]
fn booleans_numbers_and_dates() {
    assert_matches(&[
        ("active eq false", true),
        ("active eq true", false),
        ("active ne true", true),
        ("active ne false", false),
        ("active eq \"false\"", false),
        ("x-custom.level eq 7", true),
        ("x-custom.level eq 7.0", true),
        ("x-custom.level gt 6.5", true),
        ("x-custom.level le -1", false),
        ("x-custom.ratio lt 1", true),
        ("x-custom.ratio ge 5e-1", true),
        ("x-custom.level eq \"7\"", false),
        ("meta.lastModified gt \"2024-03-15T10:00:00Z\"", true),
        ("meta.lastModified gt \"2024-03-15T10:30:00Z\"", false),
        ("meta.lastModified eq \"2024-03-15T10:30:00Z\"", true),
        ("meta.lastModified ge \"2024-03-15T10:30:00.000Z\"", true),
        ("meta.created lt \"2024-01-01T01:00:00+00:00\"", true),
        ("meta.created gt \"2023-12-31T23:00:00-02:00\"", false),
        ("meta.created gt \"not a date\"", false),
        ("meta.created eq \"not a date\"", false),
        ("meta.created ne \"not a date\"", true),
        ("meta.created sw \"2024-01\"", true),
    ]);
}

#[test]
fn enterprise_extension_with_urn() {
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert_matches(&[
        (&format!("{ENT}:employeeNumber eq \"701984\""), true),
        (&format!("{ENT}:employeenumber eq \"701985\""), false),
        (
            &format!("{}:employeeNumber eq \"701984\"", ENT.to_uppercase()),
            true,
        ),
        (
            &format!("{ENT}:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            true,
        ),
        (&format!("{ENT}:manager.displayName co \"smith\""), true),
        (&format!("{ENT}:manager[displayName sw \"john\"]"), true),
        (&format!("{ENT}:department pr and {ENT}:division pr"), false),
        // Without the URN, extension attributes are not core attributes.
        ("employeeNumber eq \"701984\"", false),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bjensen@example.com\"",
            true,
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq \"barbara\"",
            true,
        ),
    ]);
}

#[test]
fn logical_operators_and_singular_complex_value_paths() {
    assert_matches(&[
        ("userName pr and active eq false", true),
        ("userName pr and active eq true", false),
        ("active eq true or title eq \"\"", true),
        ("not (active eq true)", true),
        ("not (userName pr)", false),
        (
            "title pr or (userName sw \"b\" and not (emails.type eq \"other\"))",
            true,
        ),
        (
            "name[givenName eq \"barbara\" and familyName eq \"JENSEN\"]",
            true,
        ),
        (
            "name[givenName eq \"barbara\" and familyName eq \"Smith\"]",
            false,
        ),
        ("userName[value eq \"x\"]", false),
    ]);
    // Non-object resources match nothing (except negations).
    let f = parse("userName pr").ok();
    assert_eq!(f.map(|f| f.matches_value(&json!([1, 2]))), Some(false));
}

#[test]
fn deep_json_does_not_overflow() {
    let mut deep = json!("x");
    for _ in 0..50_000 {
        deep = Value::Array(vec![deep]);
    }
    let mut resource = json!({});
    if let Some(obj) = resource.as_object_mut() {
        obj.insert("deep".into(), deep);
    }
    let f = parse("deep pr").ok();
    assert_eq!(f.map(|f| f.matches_value(&resource)), Some(true));
    // Dropping the deeply nested JSON value recursively could overflow; leak it in the test.
    std::mem::forget(resource);
}

fn validation(filter: &str) -> Result<(), String> {
    match parse(filter) {
        Ok(f) => f.validate().map_err(|e| e.message),
        Err(e) => panic!("{filter:?}: {e}"),
    }
}

#[test]
fn validation_errors() {
    for bad in [
        "active gt true",
        "active gt false",
        "active lt \"x\"",
        "emails.primary ge true",
        "emails[primary le false]",
        "name eq \"x\"",
        "name co \"x\"",
        "meta eq \"x\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"x\"",
        "name gt \"x\"",
        "emails gt 3 and userName pr",
        "x509Certificates gt \"a\"",
        "emails gt \"a\"",
        "userName[value eq \"x\"]",
        "title gt null",
        "title co null",
        "userName lt true",
        "title pr or not (active le true)",
    ] {
        assert!(validation(bad).is_err(), "{bad} should be invalid");
    }
    let msg = validation("active gt true").err().unwrap_or_default();
    assert!(msg.contains("'gt'"), "{msg}");
    let msg = validation("name eq \"x\"").err().unwrap_or_default();
    assert!(
        msg.contains("complex") && msg.contains("name.formatted"),
        "{msg}"
    );
    let e = parse("active ge false").ok().map(|f| f.validate());
    assert!(matches!(e, Some(Err(FilterError { position: 0, .. }))));
}

#[test]
fn validation_accepts() {
    for ok in [
        "userName eq \"x\"",
        "unknownAttr gt 3 and unknown.sub lt \"x\"",
        "name.unknownSub gt 3",
        "emails eq \"x@example.com\"",
        "emails sw \"x\"",
        "name eq null",
        "name ne null",
        "name pr",
        "active eq true",
        "active ne false",
        "meta.lastModified gt \"2024-01-01T00:00:00Z\"",
        "emails[type eq \"work\" and primary eq true]",
        "emails[unknown gt \"x\"]",
        "unknownComplex[anything lt 5]",
        "urn:example:other:foo gt 2",
        "x509Certificates eq \"abc\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"1\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq \"1\"]",
    ] {
        assert_eq!(validation(ok), Ok(()), "{ok}");
    }
}

#[test]
fn rfc_7644_examples() {
    let mut user = sample_user();
    if let Some(obj) = user.as_object_mut() {
        obj.insert("userType".into(), json!("Employee"));
        obj.insert("title".into(), json!("Tour Guide"));
    }
    for (filter, expected) in [
        ("userName Eq \"bjensen@example.com\"", true),
        ("name.familyName co \"O'Malley\"", false),
        ("userName sw \"J\"", false),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName co \"jen\"",
            true,
        ),
        ("title pr", true),
        ("meta.lastModified gt \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified ge \"2011-05-13T04:42:34Z\"", true),
        ("meta.lastModified lt \"2011-05-13T04:42:34Z\"", false),
        ("meta.lastModified le \"2011-05-13T04:42:34Z\"", false),
        ("title pr and userType eq \"Employee\"", true),
        ("title pr or userType eq \"Intern\"", true),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            true,
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            true,
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            false,
        ),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            true,
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            true,
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            true,
        ),
    ] {
        let f = parse(filter);
        assert!(f.is_ok(), "{filter}: {f:?}");
        let f = f.unwrap();
        assert_eq!(f.validate(), Ok(()), "{filter}");
        assert_eq!(f.matches_value(&user), expected, "{filter}");
        assert_eq!(parse(&f.to_string()), Ok(f), "{filter}");
    }
}

#[test]
fn password_cannot_be_filtered() {
    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    for bad in [
        "password eq \"t1meMa$heen\"",
        "password pr",
        "password eq null",
        "PASSWORD sw \"t\"",
        "password.value pr",
        "password[value eq \"x\"]",
        "not (password pr)",
        "userName pr or password co \"a\"",
        &format!("{CORE}:password gt \"a\""),
    ] {
        let message = validation(bad).err().unwrap_or_default();
        assert!(
            message.contains("'password'") && message.contains("never returned"),
            "{bad}: {message:?}"
        );
    }
    // Only the core attribute is protected; elsewhere `password` is just an unknown name.
    for ok in [
        "emails[password pr]",
        "name.password pr",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:password pr",
    ] {
        assert_eq!(validation(ok), Ok(()), "{ok}");
    }
}
