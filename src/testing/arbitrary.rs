//! Proptest strategies for random users and for filters over them (feature `testing`).
//!
//! The users exercise the corners that break evaluators and SQL translations: letter
//! cases whose Unicode lower case differs from ASCII's (`K` Kelvin, `İ`, `ß`), empty strings,
//! absent and empty complex attributes, instants past year 9999 and before year 1. The
//! filters use real attribute names in any letter case (and some unknown ones), literals
//! drawn mostly from the users' own values, value paths, `not`, `and` and `or`.
//!
//! [`filter`] and [`filter_over`] are the generators of the differential checks
//! ([`crate::testing::differential`] and the typed-vs-JSON property of the filter module).
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Number;

use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::resource::{
    Address, CompactString, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name,
    Secret, User,
};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, s))
        .map(|n| n.and_utc())
        .unwrap()
}

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

fn opt_text() -> BoxedStrategy<Option<CompactString>> {
    proptest::option::of(text().prop_map(CompactString::from)).boxed()
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

/// A strategy for a struct from one strategy per field, each written beside its field:
/// `fields!(Name { formatted: opt_text(), .. })`; after `..`, the other fields are their
/// defaults.
macro_rules! fields {
    ($ty:ident { $($field:ident: $strategy:expr),+, .. }) => {
        ($($strategy,)+).prop_map(|($($field,)+)| $ty { $($field,)+ ..$ty::default() })
    };
    ($ty:ident { $($field:ident: $strategy:expr),+ $(,)? }) => {
        ($($strategy,)+).prop_map(|($($field,)+)| $ty { $($field),+ })
    };
}

/// `words`, as stored.
fn one_of(words: &'static [&'static str]) -> impl Strategy<Value = CompactString> {
    select(words).prop_map(CompactString::from)
}

fn opt_bool() -> BoxedStrategy<Option<bool>> {
    proptest::option::of(any::<bool>()).boxed()
}

fn multi_value() -> BoxedStrategy<MultiValue> {
    fields!(MultiValue {
        value: opt_text(),
        display: opt_text(),
        kind: proptest::option::of(one_of(&["work", "home", "Work", "other", ""])),
        primary: opt_bool(),
    })
    .boxed()
}

fn multi_values() -> BoxedStrategy<Vec<MultiValue>> {
    proptest::collection::vec(multi_value(), 0..3).boxed()
}

fn name() -> BoxedStrategy<Name> {
    fields!(Name {
        formatted: opt_text(),
        family_name: opt_text(),
        given_name: opt_text(),
        middle_name: opt_text(),
        ..
    })
    .boxed()
}

fn address() -> BoxedStrategy<Address> {
    fields!(Address {
        locality: opt_text(),
        country: opt_text(),
        kind: opt_text(),
        primary: opt_bool(),
        ..
    })
    .boxed()
}

fn group() -> BoxedStrategy<GroupMembership> {
    fields!(GroupMembership {
        value: opt_text(),
        reference: opt_text(),
        display: opt_text(),
        ..
    })
    .boxed()
}

fn enterprise() -> BoxedStrategy<EnterpriseUser> {
    let manager = fields!(Manager {
        value: opt_text(),
        reference: opt_text(),
        display_name: opt_text(),
    });
    let some = fields!(EnterpriseUser {
        employee_number: opt_text(),
        department: opt_text(),
        organization: opt_text(),
        manager: proptest::option::of(manager),
        ..
    });
    // An empty extension is not shown in JSON at all.
    prop_oneof![1 => Just(EnterpriseUser::default()), 4 => some].boxed()
}

fn meta() -> BoxedStrategy<Meta> {
    fields!(Meta {
        resource_type: one_of(&["User", "user", ""]),
        created: instant(),
        last_modified: instant(),
        location: opt_text(),
        version: opt_text(),
    })
    .boxed()
}

/// A random user: every attribute of the typed model, each present or absent, with the
/// awkward strings above (every simple and multi-valued attribute of RFC 7643 §4.1). `id`, `meta` and `password` are random too (a store's read-back
/// decides what it keeps).
pub fn user() -> impl Strategy<Value = User> {
    let strings = (
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_bool(),
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
    let more = (
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        multi_values(),
        multi_values(),
        multi_values(),
        multi_values(),
    );
    (strings, complex, more).prop_map(
        |(
            (user_name, id, external_id, display_name, title, user_type, locale, active, password),
            (name, emails, phone_numbers, roles, addresses, groups, enterprise, meta),
            (nick_name, profile_url, preferred_language, timezone, ims, photos, entitlements, x509),
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
            u.nick_name = nick_name;
            u.profile_url = profile_url;
            u.preferred_language = preferred_language;
            u.timezone = timezone;
            u.ims = ims;
            u.photos = photos;
            u.entitlements = entitlements;
            u.x509_certificates = x509;
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

/// The strings of the users' JSON forms, upper-cased and cut short too: literals that match.
fn own_strings(users: &[User]) -> Vec<String> {
    let mut out = vec![
        CORE.to_string(),
        ENT.to_string(),
        "2024-01-01T00:00:00Z".into(),
    ];
    let mut stack: Vec<serde_json::Value> = users.iter().map(User::to_value).collect();
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
    select(&CompareOp::ALL[..])
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

/// Comparisons on a real path of one of `users` with a literal read from that same
/// attribute of that user.
fn coupled_leaf(users: &[User]) -> BoxedStrategy<Filter> {
    let jsons: Vec<serde_json::Value> = users.iter().map(User::to_value).collect();
    let options: Vec<(AttrPath, Vec<String>)> = REAL_PATHS
        .iter()
        .filter_map(|path| {
            let strings: Vec<String> = jsons.iter().flat_map(|j| strings_at(j, path)).collect();
            let (urn, name, sub) = *path;
            let path = AttrPath {
                urn: urn.map(String::from),
                name: name.to_string(),
                sub_attr: sub.map(String::from),
            };
            (!strings.is_empty()).then_some((path, strings))
        })
        .collect();
    if options.is_empty() {
        // No users: comparisons with literals of their own.
        return leaf(path(), own_strings(users));
    }
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
pub fn filter(user: &User) -> BoxedStrategy<Filter> {
    filter_over(std::slice::from_ref(user))
}

/// Random filters over real attribute names, with literals mostly from the values of
/// `users`.
pub fn filter_over(users: &[User]) -> BoxedStrategy<Filter> {
    let own = own_strings(users);
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
    combine(prop_oneof![2 => leaf(path(), own), 2 => coupled_leaf(users), 1 => value_path].boxed())
}

/// Up to `max` random users as a store would be handed them: distinct ids (`u0`, `u1`,
/// ...; callers needing global uniqueness prefix them), non-empty `userName`s unique
/// case-insensitively, and no password.
pub fn users(max: usize) -> BoxedStrategy<Vec<User>> {
    proptest::collection::vec(user(), 0..=max)
        .prop_map(|mut users| {
            let mut seen = std::collections::HashSet::new();
            for (i, u) in users.iter_mut().enumerate() {
                u.id = Some(format!("u{i}").into());
                u.password = None;
                if u.user_name.is_empty() || !seen.insert(u.user_name.to_lowercase()) {
                    u.user_name = format!("{}{i}", u.user_name).into();
                    seen.insert(u.user_name.to_lowercase());
                }
            }
            users
        })
        .boxed()
}
