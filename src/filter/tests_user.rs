//! Typed evaluation ([`Filter::matches`]) against the JSON evaluation of the same user.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Number;

use super::*;
use crate::resource::{
    Address, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, Secret, User,
};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn p(s: &str) -> Filter {
    match parse(s) {
        Ok(f) => f,
        Err(e) => panic!("{s:?} failed to parse: {e}"),
    }
}

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
        middle_name: Some(String::new()),
        ..Name::default()
    });
    u.display_name = Some("Babs Jensen".into());
    u.title = Some(String::new());
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
            value: Some(String::new()),
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
        // A "URN" naming a top-level complex attribute reads inside it, as in JSON.
        ("name:givenName eq \"BARBARA\"", true),
        ("meta:version pr", true),
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

// ---------------------------------------------------------------------------------------
// Property: typed == JSON on random users and filters over real attribute names
// ---------------------------------------------------------------------------------------

const WORDS: &[&str] = &[
    "",
    "bjensen",
    "BJensen@Example.com",
    "bjensen@example.com",
    "work",
    "Work",
    "home",
    "other",
    "example.com",
    "EXAMPLE",
    "@",
    "Straße",
    "STRASSE",
    "ΟΔΟΣ",
    "οδος",
    "\u{212A}",
    "k",
    "İ",
    "i\u{307}",
    "User",
    "2024-01-01T00:00:00Z",
    "Ext-1",
    "x",
    CORE,
    ENT,
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(WORDS).prop_map(String::from),
        // Strings whose Unicode lower case differs from their ASCII lower case.
        2 => select(&["\u{212A}", "\u{212A}elvin", "İstanbul", "ΟΔΟΣ", "Straße"][..])
            .prop_map(String::from),
        1 => "[a-zA-Z@.é \u{212A}]{0,6}",
    ]
    .boxed()
}

fn opt_text() -> BoxedStrategy<Option<String>> {
    proptest::option::of(text()).boxed()
}

fn instant() -> BoxedStrategy<DateTime<Utc>> {
    prop_oneof![
        3 => select(vec![
            at(2024, 1, 1, 0, 0, 0),
            at(2024, 3, 15, 10, 30, 0),
            at(2011, 5, 13, 4, 42, 34),
            at(10_000, 1, 1, 0, 0, 0),
            at(-1, 6, 1, 0, 0, 0),
        ]),
        2 => (0i64..4_102_444_800, prop_oneof![Just(0u32), 0u32..1_000_000_000])
            .prop_filter_map("in range", |(s, n)| DateTime::from_timestamp(s, n)),
    ]
    .boxed()
}

fn multi_value() -> BoxedStrategy<MultiValue> {
    (
        opt_text(),
        opt_text(),
        proptest::option::of(select(&["work", "home", "Work", "other", ""][..])),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(value, display, kind, primary)| MultiValue {
            value,
            display,
            kind: kind.map(String::from),
            primary,
        })
        .boxed()
}

fn multi_values() -> BoxedStrategy<Vec<MultiValue>> {
    proptest::collection::vec(multi_value(), 0..3).boxed()
}

fn name() -> BoxedStrategy<Name> {
    (opt_text(), opt_text(), opt_text(), opt_text())
        .prop_map(|(formatted, family_name, given_name, middle_name)| Name {
            formatted,
            family_name,
            given_name,
            middle_name,
            ..Name::default()
        })
        .boxed()
}

fn address() -> BoxedStrategy<Address> {
    (
        opt_text(),
        opt_text(),
        opt_text(),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(locality, country, kind, primary)| Address {
            locality,
            country,
            kind,
            primary,
            ..Address::default()
        })
        .boxed()
}

fn group() -> BoxedStrategy<GroupMembership> {
    (opt_text(), opt_text(), opt_text())
        .prop_map(|(value, reference, display)| GroupMembership {
            value,
            reference,
            display,
            kind: None,
        })
        .boxed()
}

fn enterprise() -> BoxedStrategy<EnterpriseUser> {
    let manager =
        (opt_text(), opt_text(), opt_text()).prop_map(|(value, reference, display_name)| Manager {
            value,
            reference,
            display_name,
        });
    let some = (
        opt_text(),
        opt_text(),
        opt_text(),
        proptest::option::of(manager),
    )
        .prop_map(
            |(employee_number, department, organization, manager)| EnterpriseUser {
                employee_number,
                department,
                organization,
                manager,
                ..EnterpriseUser::default()
            },
        );
    // An empty extension is not shown in JSON at all.
    prop_oneof![1 => Just(EnterpriseUser::default()), 4 => some].boxed()
}

fn meta() -> BoxedStrategy<Meta> {
    (
        select(&["User", "user", ""][..]),
        instant(),
        instant(),
        opt_text(),
        opt_text(),
    )
        .prop_map(
            |(resource_type, created, last_modified, location, version)| Meta {
                resource_type: resource_type.to_string(),
                created,
                last_modified,
                location,
                version,
            },
        )
        .boxed()
}

fn user() -> impl Strategy<Value = User> {
    let strings = (
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        proptest::option::of(any::<bool>()),
        opt_text(),
    );
    let complex = (
        proptest::option::of(name()),
        multi_values(),
        multi_values(),
        multi_values(),
        proptest::collection::vec(address(), 0..2),
        proptest::collection::vec(group(), 0..2),
        proptest::option::of(enterprise()),
        proptest::option::of(meta()),
    );
    (strings, complex).prop_map(
        |(
            (user_name, id, external_id, display_name, title, user_type, locale, active, password),
            (name, emails, phone_numbers, roles, addresses, groups, enterprise, meta),
        )| {
            let mut u = User::new(user_name);
            u.id = id;
            u.external_id = external_id;
            u.display_name = display_name;
            u.title = title;
            u.user_type = user_type;
            u.locale = locale;
            u.active = active;
            u.password = password.map(Secret::new);
            u.name = name;
            u.emails = emails;
            u.phone_numbers = phone_numbers;
            u.roles = roles;
            u.addresses = addresses;
            u.groups = groups;
            u.enterprise = enterprise;
            u.meta = meta;
            u
        },
    )
}

const TOP: &[&str] = &[
    "userName",
    "id",
    "externalId",
    "displayName",
    "title",
    "userType",
    "locale",
    "timezone",
    "active",
    "password",
    "schemas",
    "emails",
    "phoneNumbers",
    "roles",
    "addresses",
    "groups",
    "name",
    "meta",
    "employeeNumber",
    "department",
    "organization",
    "manager",
    "noSuch",
];

const SUB: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "familyName",
    "formatted",
    "locality",
    "country",
    "created",
    "lastModified",
    "resourceType",
    "version",
    "location",
    "displayName",
    "noSuch",
];

/// A real attribute name, sometimes in another letter case.
fn real_name(names: &'static [&'static str]) -> BoxedStrategy<String> {
    (select(names), 0..4u8)
        .prop_map(|(n, case)| recase(n, case))
        .boxed()
}

fn urn() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(CORE.to_string())),
        3 => Just(Some(ENT.to_string())),
        1 => Just(Some(ENT.to_uppercase())),
        1 => Just(Some("name".to_string())),
        1 => Just(Some("meta".to_string())),
        1 => Just(Some("urn:example:other".to_string())),
    ]
    .boxed()
}

/// Paths that exist in the typed model, as (URN, attribute, sub-attribute).
const REAL_PATHS: &[(Option<&str>, &str, Option<&str>)] = &[
    (None, "userName", None),
    (None, "id", None),
    (None, "externalId", None),
    (None, "displayName", None),
    (None, "title", None),
    (None, "userType", None),
    (None, "locale", None),
    (None, "active", None),
    (None, "password", None),
    (None, "schemas", None),
    (None, "schemas", None),
    (None, "emails", None),
    (None, "emails", Some("value")),
    (None, "emails", Some("type")),
    (None, "emails", Some("primary")),
    (None, "emails", Some("display")),
    (None, "phoneNumbers", Some("value")),
    (None, "roles", None),
    (None, "addresses", Some("country")),
    (None, "addresses", Some("primary")),
    (None, "groups", Some("$ref")),
    (None, "groups", Some("value")),
    (None, "name", None),
    (None, "name", Some("givenName")),
    (None, "name", Some("familyName")),
    (None, "meta", Some("created")),
    (None, "meta", Some("lastModified")),
    (None, "meta", Some("created")),
    (None, "meta", Some("lastModified")),
    (None, "meta", Some("resourceType")),
    (None, "meta", Some("version")),
    (Some(CORE), "userName", None),
    (Some(CORE), "name", Some("givenName")),
    (Some(ENT), "employeeNumber", None),
    (Some(ENT), "department", None),
    (Some(ENT), "manager", None),
    (Some(ENT), "manager", Some("value")),
    (Some(ENT), "manager", Some("displayName")),
    (Some("meta"), "created", None),
    (Some("name"), "givenName", None),
];

/// A name in its own or another letter case.
fn recase(name: &str, case: u8) -> String {
    match case {
        0 => name.to_uppercase(),
        1 => name.to_lowercase(),
        _ => name.to_string(),
    }
}

fn path() -> BoxedStrategy<AttrPath> {
    let real = (select(REAL_PATHS), 0..6u8).prop_map(|((urn, name, sub), case)| AttrPath {
        urn: urn.map(|u| recase(u, case)),
        name: recase(name, case),
        sub_attr: sub.map(|s| recase(s, case)),
    });
    let random = (
        urn(),
        real_name(TOP),
        proptest::option::weighted(0.5, real_name(SUB)),
    )
        .prop_map(|(urn, name, sub_attr)| AttrPath {
            urn,
            name,
            sub_attr,
        });
    prop_oneof![3 => real, 1 => random].boxed()
}

/// The strings of a user's JSON form, upper-cased and cut short too: literals that match.
fn own_strings(user: &User) -> Vec<String> {
    let mut out = vec![
        CORE.to_string(),
        ENT.to_string(),
        "2024-01-01T00:00:00Z".into(),
    ];
    let mut stack = vec![user.to_value()];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) => {
                out.push(s.to_uppercase());
                out.push(s.to_lowercase());
                out.push(s.chars().take(3).collect());
                out.push(
                    s.chars()
                        .rev()
                        .take(3)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect(),
                );
                out.push(s);
            }
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    out
}

fn literal(own: Vec<String>) -> BoxedStrategy<CompValue> {
    prop_oneof![
        1 => Just(CompValue::Null),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => (-2i64..3).prop_map(|n| CompValue::Number(Number::from(n))),
        3 => text().prop_map(CompValue::String),
        6 => select(own).prop_map(CompValue::String),
        1 => select(&["bj", "ss", "ος", "2024", "T00:00", "+10000-01-01T00:00:00Z"][..])
            .prop_map(|s| CompValue::String(s.to_string())),
        2 => (instant(), select(&["+00:00", "+02:00", "-05:30"][..])).prop_map(|(t, off)| {
            let off = DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{off}"))
                .map(|d| *d.offset())
                .unwrap();
            CompValue::String(t.with_timezone(&off).to_rfc3339())
        }),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = CompareOp> {
    select(vec![
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ])
}

fn leaf(path: BoxedStrategy<AttrPath>, own: Vec<String>) -> BoxedStrategy<Filter> {
    prop_oneof![
        1 => path.clone().prop_map(Filter::Present),
        4 => (path, op(), literal(own)).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
    ]
    .boxed()
}

/// The strings a comparison on a real path reads in `json`, with case variants and cut
/// short: literals that match that very attribute.
fn strings_at(json: &serde_json::Value, path: &(Option<&str>, &str, Option<&str>)) -> Vec<String> {
    let (urn, name, sub) = *path;
    let container = match urn {
        None | Some(CORE) => Some(json),
        Some(u) => json.get(u),
    };
    let Some(attr) = container.and_then(|c| c.get(name)) else {
        return Vec::new();
    };
    let elements = match attr {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for e in elements {
        let v = match sub {
            Some(s) => e.get(s),
            None if e.is_object() => e.get("value"),
            None => Some(e),
        };
        if let Some(s) = v.and_then(serde_json::Value::as_str) {
            let chars: Vec<char> = s.chars().collect();
            out.push(s.to_uppercase());
            out.push(s.to_lowercase());
            out.push(chars.iter().take(3).collect());
            out.push(chars.iter().skip(chars.len().saturating_sub(3)).collect());
            out.push(chars.iter().skip(1).take(3).collect());
            out.push(s.to_string());
        }
    }
    out
}

/// Comparisons on a real path of `user` with a literal read from that same attribute.
fn coupled_leaf(user: &User) -> BoxedStrategy<Filter> {
    let json = user.to_value();
    let options: Vec<(AttrPath, Vec<String>)> = REAL_PATHS
        .iter()
        .filter_map(|path| {
            let strings = strings_at(&json, path);
            let (urn, name, sub) = *path;
            let path = AttrPath {
                urn: urn.map(String::from),
                name: name.to_string(),
                sub_attr: sub.map(String::from),
            };
            (!strings.is_empty()).then_some((path, strings))
        })
        .collect();
    // `userName` is always there, so `options` is never empty.
    select(options)
        .prop_flat_map(|(path, strings)| (Just(path), op(), select(strings)))
        .prop_map(|(path, op, s)| Filter::Compare {
            path,
            op,
            value: CompValue::String(s),
        })
        .boxed()
}

fn combine(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
    .boxed()
}

/// Random filters over real attribute names, with literals mostly from `user` itself.
fn filter(user: &User) -> BoxedStrategy<Filter> {
    let own = own_strings(user);
    let sub = real_name(SUB).prop_map(AttrPath::new).boxed();
    let complex = prop_oneof![
        3 => select(&["emails", "addresses", "groups", "name", "meta", "roles", "phoneNumbers"][..])
            .prop_map(|n| (None, n.to_string())),
        1 => Just((Some(ENT.to_string()), "manager".to_string())),
        1 => (urn(), real_name(TOP)),
    ];
    let value_path = (
        complex,
        proptest::option::weighted(0.1, real_name(SUB)),
        combine(leaf(sub, own.clone())),
    )
        .prop_map(|((urn, name), sub_attr, filter)| Filter::ValuePath {
            path: AttrPath {
                urn,
                name,
                sub_attr,
            },
            filter: Box::new(filter),
        });
    combine(prop_oneof![2 => leaf(path(), own), 2 => coupled_leaf(user), 1 => value_path].boxed())
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
