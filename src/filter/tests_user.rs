//! Typed evaluation ([`Filter::matches`]) against the JSON evaluation of the same user.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;

use super::tests::{CORE, ENT, p};
use super::*;
use crate::resource::{
    Address, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, Secret, User,
};
use crate::testing::arbitrary::{filter, user};

/// Asserts the typed and the JSON evaluation agree, and returns the answer.
fn both(filter: &Filter, user: &User) -> bool {
    let typed = filter.matches(user);
    let json = filter.matches_value(&user.to_value());
    assert_eq!(typed, json, "{filter} on {:#}", user.to_value());
    typed
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .map(|n| n.and_utc())
        .unwrap()
}

/// The typed counterpart of `tests_eval::sample_user`, with a password.
pub(super) fn sample_user() -> User {
    let mut u = User::new("BJensen@Example.com");
    u.id = Some("2819c223-7f76-453a-919d-413861904646".into());
    u.external_id = Some("Ext-701984".into());
    u.name = Some(Name {
        formatted: Some("Ms. Barbara J Jensen, III".into()),
        family_name: Some("Jensen".into()),
        given_name: Some("Barbara".into()),
        middle_name: Some(Default::default()),
        ..Name::default()
    });
    u.display_name = Some("Babs Jensen".into());
    u.title = Some(Default::default());
    u.active = Some(false);
    u.password = Some(Secret::new("t1meMa$heen"));
    u.emails = vec![
        MultiValue {
            primary: Some(true),
            ..MultiValue::typed("bjensen@example.com", "work")
        },
        MultiValue::typed("babs@jensen.org", "home"),
    ];
    u.ims = vec![
        MultiValue {
            kind: Some("xmpp".into()),
            ..MultiValue::default()
        },
        MultiValue {
            value: Some(Default::default()),
            ..MultiValue::default()
        },
    ];
    u.roles = vec![
        MultiValue {
            value: Some("admin".into()),
            ..MultiValue::default()
        },
        MultiValue {
            value: Some("Auditor".into()),
            ..MultiValue::default()
        },
    ];
    u.groups = vec![GroupMembership {
        value: Some("e9e30dba".into()),
        reference: Some("https://example.com/v2/Groups/e9e30dba".into()),
        display: Some("Tour Guides".into()),
        kind: Some("direct".into()),
    }];
    u.addresses = vec![Address {
        locality: Some("Hollywood".into()),
        country: Some("US".into()),
        kind: Some("work".into()),
        ..Address::default()
    }];
    u.enterprise = Some(EnterpriseUser {
        employee_number: Some("701984".into()),
        cost_center: Some("4130".into()),
        department: Some("Tour Operations".into()),
        manager: Some(Manager {
            value: Some("26118915-6090-4610-87e4-49d8ca9f808d".into()),
            display_name: Some("John Smith".into()),
            ..Manager::default()
        }),
        ..EnterpriseUser::default()
    });
    let mut meta = Meta::new("User", at(2024, 1, 1, 0, 0, 0));
    meta.last_modified = at(2024, 3, 15, 10, 30, 0);
    meta.version = Some("W/\"3694e05e9dff591\"".into());
    meta.location = Some("https://example.com/v2/Users/2819c223".into());
    u.meta = Some(meta);
    u
}

#[test]
fn typed_evaluation_semantics() {
    let u = sample_user();
    for (filter, expected) in [
        ("userName eq \"bjensen@example.com\"", true),
        ("USERNAME sw \"BJEN\"", true),
        ("userName gt \"BJENSEN\"", true),
        ("externalId eq \"ext-701984\"", false),
        ("externalId eq \"Ext-701984\"", true),
        (
            "emails[type eq \"work\" and value co \"@EXAMPLE.com\"]",
            true,
        ),
        (
            "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
            false,
        ),
        ("emails eq \"BABS@jensen.org\"", true),
        ("emails.primary eq true", true),
        ("emails ne \"babs@jensen.org\"", false),
        ("phoneNumbers pr", false),
        ("phoneNumbers ne \"1\"", true),
        ("ims pr", true),
        ("ims.value pr", false),
        ("title pr", false),
        ("title eq \"\"", true),
        ("name.middleName pr", false),
        (
            "name[givenName eq \"barbara\" and familyName sw \"JEN\"]",
            true,
        ),
        ("active eq false", true),
        ("active pr", true),
        ("nickName eq null", true),
        ("groups.$ref ew \"/e9e30dba\"", true),
        ("groups[display co \"guide\"]", true),
        ("addresses[type eq \"work\" and country eq \"us\"]", true),
        ("meta.resourceType eq \"user\"", false),
        ("meta.lastModified eq \"2024-03-15T12:30:00+02:00\"", true),
        (
            "meta.lastModified gt \"2024-03-15T10:30:00.000000001Z\"",
            false,
        ),
        ("meta.created sw \"2024-01-01T00\"", true),
        ("meta.created co \"t00:00\"", true),
        ("meta.created gt \"not a date\"", false),
        ("meta[created lt \"2024-01-02T00:00:00Z\"]", true),
        (&format!("schemas eq \"{ENT}\""), true),
        (&format!("{ENT}:manager.displayName co \"smith\""), true),
        (&format!("{ENT}:manager[value sw \"26118915\"]"), true),
        (&format!("{ENT}:department pr and {ENT}:division pr"), false),
        (&format!("{CORE}:name.familyName co \"jen\""), true),
        ("employeeNumber eq \"701984\"", false),
        // A "URN" must name a schema of the resource: one naming a complex attribute
        // reads nothing (the SQL stores agree: tests/store_conformance.rs).
        ("name:givenName eq \"BARBARA\"", false),
        ("meta:version pr", false),
        ("not (meta:version pr)", true),
        // password is never visible.
        ("password pr", false),
        ("password eq \"t1meMa$heen\"", false),
        ("password ne \"t1meMa$heen\"", true),
        ("noSuchAttribute ne \"x\"", true),
    ] {
        assert_eq!(both(&p(filter), &u), expected, "{filter}");
    }
}

#[test]
fn typed_evaluation_edge_cases() {
    // Empty extension and empty complex values.
    let mut u = User::new("x");
    u.enterprise = Some(EnterpriseUser::default());
    u.name = Some(Name::default());
    u.emails = vec![MultiValue::default()];
    for filter in [
        format!("{ENT}:department pr"),
        format!("schemas eq \"{ENT}\""),
        "name pr".to_string(),
        "name eq null".to_string(),
        "emails pr".to_string(),
        "emails ne null".to_string(),
        "emails[value eq null]".to_string(),
    ] {
        both(&p(&filter), &u);
    }
    u.enterprise = Some(EnterpriseUser {
        manager: Some(Manager::default()),
        ..EnterpriseUser::default()
    });
    for filter in [
        format!("{ENT}:manager pr"),
        format!("{ENT}:manager eq null"),
        format!("schemas eq \"{ENT}\""),
        format!("{ENT}:manager[value pr]"),
    ] {
        both(&p(&filter), &u);
    }
    // Unicode case folding: the Kelvin sign lower-cases to an ASCII 'k'; final sigma.
    u.display_name = Some("\u{212A}elvin ΟΔΟΣ".into());
    assert!(both(&p("displayName sw \"kelvin\""), &u));
    assert!(both(&p("displayName ew \"οδος\""), &u));
    assert!(!both(&p("displayName ew \"οδοσ\""), &u));
    assert!(both(&p("displayName gt \"KELVIN\""), &u));
    // Timestamps whose JSON form is not plain RFC 3339 compare as that string.
    for created in [
        at(10_000, 1, 1, 0, 0, 0),
        at(-1, 6, 1, 0, 0, 0),
        at(2024, 1, 1, 0, 0, 0) + chrono::Duration::nanoseconds(1_500),
    ] {
        u.meta = Some(Meta::new("User", created));
        for op in ["eq", "ne", "gt", "ge", "lt", "le", "co", "sw", "ew"] {
            for lit in [
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:00:00.0000015Z",
                "+10000-01-01T00:00:00Z",
                "10000-01-01T00:00:00Z",
                "-0001-06-01T00:00:00Z",
                "0000-01-01T00:00:00Z",
                "00",
            ] {
                both(&p(&format!("meta.created {op} \"{lit}\"")), &u);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn typed_matches_agree_with_json(
        (u, f) in user().prop_flat_map(|u| {
            let f = filter(&u);
            (Just(u), f)
        })
    ) {
        let json = u.to_value();
        prop_assert_eq!(f.matches(&u), f.matches_value(&json), "{} on {:#}", f, json);
    }
}
