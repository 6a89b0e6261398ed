//! Checks shared by `tests/sql_sqlite.rs` and `tests/sql_postgres.rs`, which include this
//! file with `#[path]`. Not part of the library.
//!
//! The differential check stores a set of generated users (with LIKE metacharacters,
//! non-ASCII letters whose lower case is not ASCII's, empty strings, absent and empty
//! complex attributes) and compares, for many filters, what the store lists with what
//! [`Filter::matches`] says about the same users.

#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use scimkit::events::EventOutbox;
use scimkit::filter::{AttrPath, CompValue, CompareOp, ParseLimits, parse, parse_with_limits};
use scimkit::resource::CompactString;
use scimkit::sort::SortSpec;
use scimkit::{
    Address, EnterpriseUser, Filter, ListQuery, Manager, Meta, MultiValue, Name, RequestContext,
    Secret, StoreError, User, UserStore,
};

/// Strings with LIKE/GLOB metacharacters, case pairs, and Unicode case mappings that
/// differ from ASCII's (`İ` lower-cases to two chars, `K` (Kelvin) to ASCII `k`).
pub const WORDS: &[&str] = &[
    "alice",
    "Alice",
    "ALICE",
    "bob",
    "b%b",
    "b_b",
    "b\\b",
    "50%",
    "a_c",
    "abc",
    "École",
    "école",
    "ÉCOLE",
    "İstanbul",
    "istanbul",
    "\u{212A}elvin",
    "kelvin",
    "Straße",
    "STRASSE",
    "",
    "x",
    "Zeta",
    "o'brien",
    "[a]",
    "*star*",
    "?q",
    "%",
    "_",
    "\\",
    "a\"b",
    "ǅemal",
];

/// A small deterministic generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn word(&mut self) -> CompactString {
        CompactString::from(*self.pick(WORDS))
    }
    fn maybe_word(&mut self) -> Option<CompactString> {
        self.chance(60).then(|| self.word())
    }
}

pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

/// `n` users with unique userNames (case-insensitively).
pub fn generated_users(n: usize, seed: u64) -> Vec<User> {
    let mut rng = Rng::new(seed);
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let mut u = User::new(format!("{}{i}", rng.word()));
        u.id = Some(format!("id-{seed}-{i:03}").into());
        u.external_id = rng.maybe_word();
        u.display_name = rng.maybe_word();
        u.title = rng.maybe_word();
        u.nick_name = rng.chance(20).then(|| rng.word());
        u.active = match rng.below(3) {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        };
        if rng.chance(70) {
            u.name = Some(Name {
                given_name: rng.maybe_word(),
                family_name: rng.maybe_word(),
                middle_name: rng.chance(20).then(CompactString::default),
                ..Name::default()
            });
        }
        for _ in 0..rng.below(4) {
            u.emails.push(MultiValue {
                value: rng
                    .chance(90)
                    .then(|| format!("{}@{}.com", rng.word(), rng.word()).into()),
                kind: match rng.below(4) {
                    0 => None,
                    1 => Some("work".into()),
                    2 => Some("Work".into()),
                    _ => Some("home".into()),
                },
                primary: match rng.below(3) {
                    0 => None,
                    1 => Some(true),
                    _ => Some(false),
                },
                display: rng.chance(20).then(|| rng.word()),
            });
        }
        if rng.chance(20) {
            u.phone_numbers
                .push(MultiValue::typed(rng.word(), "mobile"));
        }
        if rng.chance(20) {
            u.addresses.push(Address {
                locality: rng.maybe_word(),
                kind: Some("work".into()),
                ..Address::default()
            });
        }
        if rng.chance(15) {
            u.roles.push(MultiValue {
                value: Some(rng.word()),
                ..MultiValue::default()
            });
        }
        u.enterprise = match rng.below(4) {
            0 => None,
            1 => Some(EnterpriseUser::default()),
            _ => Some(EnterpriseUser {
                department: rng.maybe_word(),
                employee_number: rng.chance(30).then(|| format!("{i}").into()),
                manager: rng.chance(40).then(|| Manager {
                    value: rng.maybe_word(),
                    ..Manager::default()
                }),
                ..EnterpriseUser::default()
            }),
        };
        let created = base_time()
            + Duration::minutes(i as i64)
            + Duration::nanoseconds(if rng.chance(30) { 123_456_789 } else { 0 });
        let mut meta = Meta::new("User", created);
        meta.last_modified = created + Duration::seconds(rng.below(100_000) as i64);
        u.meta = Some(meta);
        if i == 7 {
            u.meta = None;
        }
        if i == 11 {
            // Past year 9999: its JSON text is not RFC 3339, so it compares as nothing.
            if let Some(m) = u.meta.as_mut() {
                m.created = Utc.with_ymd_and_hms(12_000, 1, 1, 0, 0, 0).unwrap();
            }
        }
        u.password = rng.chance(30).then(|| Secret::new("pw"));
        users.push(u);
    }
    users
}

const PATHS: &[&str] = &[
    "userName",
    "USERNAME",
    "displayName",
    "title",
    "nickName",
    "externalId",
    "id",
    "active",
    "name",
    "name.givenName",
    "name.familyName",
    "name.middleName",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails.display",
    "phoneNumbers",
    "addresses",
    "addresses.locality",
    "roles.value",
    "meta.created",
    "meta.lastModified",
    "meta.resourceType",
    "meta.version",
    "meta.location",
    "meta",
    "schemas",
    "nosuch",
    "userName.sub",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:example:other:userName",
];

const OPS: &[&str] = &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

/// A literal for a filter, drawn from the users' own values (in other letter cases,
/// prefixes and suffixes) and from edge cases.
fn literal(rng: &mut Rng, path: &str, users: &[Arc<User>]) -> String {
    let user = &users[rng.below(users.len())];
    if let Some(v) = value_at(user, path).filter(|_| rng.chance(60)) {
        let chars: Vec<char> = v.chars().collect();
        let cut = rng.below(chars.len() + 1);
        let v: String = match rng.below(5) {
            0 => chars[..cut].iter().collect(),
            1 => chars[cut..].iter().collect(),
            2 => v.to_uppercase(),
            _ => v,
        };
        return serde_json::to_string(&v).unwrap();
    }
    let from_user: Vec<String> = [
        Some(user.user_name.clone()),
        user.title.clone(),
        user.display_name.clone(),
        user.external_id.clone(),
        user.id.clone(),
        user.version().map(CompactString::from),
        user.emails.first().and_then(|e| e.value.clone()),
        user.name.as_ref().and_then(|n| n.given_name.clone()),
    ]
    .into_iter()
    .flatten()
    .map(String::from)
    .collect();
    let typed = rng.chance(75);
    let choice = if typed && (path.ends_with("active") || path.ends_with("primary")) {
        rng.below(2)
    } else if typed && (path.ends_with("created") || path.ends_with("lastModified")) {
        4
    } else {
        rng.below(20)
    };
    match choice {
        0 => "true".into(),
        1 => "false".into(),
        2 => "null".into(),
        3 => "42".into(),
        4 => {
            let t = base_time() + Duration::minutes(rng.below(60) as i64);
            let text = match rng.below(3) {
                0 => t.to_rfc3339(),
                1 => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                _ => t.format("%Y-%m-%d").to_string(),
            };
            serde_json::to_string(&text).unwrap()
        }
        5 | 6 => serde_json::to_string(&rng.word()).unwrap(),
        _ => {
            let s = from_user
                .get(rng.below(from_user.len()))
                .cloned()
                .unwrap_or_default();
            let chars: Vec<char> = s.chars().collect();
            let cut = rng.below(chars.len() + 1);
            let s: String = match rng.below(5) {
                0 => chars[..cut].iter().collect(),
                1 => chars[cut..].iter().collect(),
                2 => s.to_uppercase(),
                3 => s.to_lowercase(),
                _ => s,
            };
            serde_json::to_string(&s).unwrap()
        }
    }
}

/// The (first) string at `path` in the user's JSON form, if any.
fn value_at(user: &User, path: &str) -> Option<String> {
    let json = user.to_value();
    let (container, rest) = match path.rsplit_once(':') {
        Some((urn, rest)) => (json.get(urn)?.clone(), rest),
        None => (json, path),
    };
    let mut value = &container;
    for key in rest.split('.') {
        if let Some(first) = value.as_array().and_then(|a| a.first()) {
            value = first;
        }
        value = value
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))?
            .1;
    }
    if let Some(first) = value.as_array().and_then(|a| a.first()) {
        value = first;
    }
    if let Some(v) = value.get("value") {
        value = v;
    }
    value.as_str().map(str::to_owned)
}

fn comparison(rng: &mut Rng, path: &str, users: &[Arc<User>]) -> String {
    if rng.chance(12) {
        return format!("{path} pr");
    }
    format!("{path} {} {}", rng.pick(OPS), literal(rng, path, users))
}

fn random_filter(rng: &mut Rng, users: &[Arc<User>], depth: usize) -> String {
    let choice = if depth == 0 { 0 } else { rng.below(10) };
    match choice {
        0..=3 => {
            let path = *rng.pick(PATHS);
            comparison(rng, path, users)
        }
        4 | 5 => format!(
            "{} and {}",
            random_filter(rng, users, depth - 1),
            random_filter(rng, users, depth - 1)
        ),
        6 => format!(
            "({} or {})",
            random_filter(rng, users, depth - 1),
            random_filter(rng, users, depth - 1)
        ),
        7 => format!("not ({})", random_filter(rng, users, depth - 1)),
        _ => {
            let (attr, subs): (&str, &[&str]) = match rng.below(6) {
                0 | 1 => ("emails", &["value", "type", "primary", "display", "nosuch"]),
                2 => ("name", &["givenName", "familyName", "middleName"]),
                3 => (
                    "meta",
                    &["created", "lastModified", "version", "resourceType"],
                ),
                4 => ("addresses", &["locality", "type"]),
                _ => ("userName", &["x"]),
            };
            let first = *rng.pick(subs);
            let mut inner = comparison(rng, first, users);
            if rng.chance(40) {
                let path = *rng.pick(subs);
                let more = comparison(rng, path, users);
                let join = if rng.chance(50) { "and" } else { "or" };
                inner = format!("{inner} {join} {more}");
            }
            if rng.chance(15) {
                inner = format!("not ({inner})");
            }
            format!("{attr}[{inner}]")
        }
    }
}

/// Hand-written filters for every translated shape.
pub fn fixed_filters(users: &[Arc<User>]) -> Vec<String> {
    let version = users
        .iter()
        .find_map(|u| u.version().map(str::to_owned))
        .unwrap();
    let mut f: Vec<String> = [
        r#"userName eq "ALICE0""#,
        r#"userName sw "b%""#,
        r#"userName sw "b_""#,
        r#"userName co "%""#,
        r#"userName co "_""#,
        r#"userName co "\\""#,
        r#"title eq "école""#,
        r#"title eq "ÉCOLE""#,
        r#"title sw "i""#,
        r#"title eq "kelvin""#,
        r#"title co "STRASSE""#,
        r#"title eq """#,
        r#"title ne """#,
        r#"title pr"#,
        r#"title eq null"#,
        r#"title ne null"#,
        r#"title gt "m""#,
        r#"title le "b""#,
        r#"title lt "a\u0000""#,
        r#"title gt "a\u0000""#,
        r#"title co "a\u0000""#,
        r#"externalId eq "alice""#,
        r#"externalId sw "A""#,
        r#"externalId co "*""#,
        r#"externalId co "?""#,
        r#"externalId co "[a""#,
        r#"active eq true"#,
        r#"active eq false"#,
        r#"active ne true"#,
        r#"active eq "true""#,
        r#"active pr"#,
        r#"name pr"#,
        r#"name.middleName pr"#,
        r#"name eq "x""#,
        r#"name[givenName sw "a" or familyName ew "e"]"#,
        r#"name[not (givenName pr)]"#,
        r#"emails pr"#,
        r#"emails co "@""#,
        r#"emails.value ew ".com""#,
        r#"emails eq "alice@bob.com""#,
        r#"emails.value eq "ALICE@BOB.COM""#,
        r#"emails[type eq "work" and value co "b%"]"#,
        r#"emails[type eq "work"].value co "a""#,
        r#"emails[primary eq true]"#,
        r#"emails[not (primary eq true)]"#,
        r#"emails[value pr and not (type pr)]"#,
        r#"emails.primary eq false"#,
        r#"emails.primary ne true"#,
        r#"phoneNumbers pr or addresses pr"#,
        r#"addresses co "x""#,
        r#"addresses[locality sw "a"]"#,
        r#"meta.created gt "2024-05-01T12:10:00Z""#,
        r#"meta.created ge "2024-05-01T12:10:00.123456789Z""#,
        r#"meta.created eq "2024-05-01T12:00:00Z""#,
        r#"meta.created eq "2024-05-01T14:00:00+02:00""#,
        r#"meta.created lt "2024-05-01T12:20:00Z" and meta.created gt "2024-05-01T12:05:00Z""#,
        r#"meta.created gt "not a date""#,
        r#"meta.created ne "not a date""#,
        r#"meta.created co "2024-05""#,
        r#"meta.created sw "12000""#,
        r#"meta.lastModified gt "2024-05-02T00:00:00Z""#,
        r#"meta[created gt "2024-05-01T12:30:00Z"]"#,
        r#"meta[version pr]"#,
        r#"meta pr"#,
        r#"meta.version pr"#,
        r#"meta.resourceType eq "User""#,
        r#"meta.resourceType eq "user""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user""#,
        r#"schemas co "core""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "a""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr"#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "bob""#,
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a""#,
        r#"nosuch eq "x""#,
        r#"nosuch ne "x""#,
        r#"nosuch pr"#,
        r#"userName.x eq "a""#,
        r#"userName[value eq "a"]"#,
        r#"title eq 42"#,
        r#"title ne 42"#,
        r#"not (title eq "x" or (active eq true and not (emails pr)))"#,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    f.push(format!(
        "meta.version eq {}",
        serde_json::to_string(&version).unwrap()
    ));
    f.push(format!(
        "meta.version ne {}",
        serde_json::to_string(&version).unwrap()
    ));
    f.push(format!(
        "meta.version sw {}",
        serde_json::to_string("W/").unwrap()
    ));
    f
}

fn ids(users: &[Arc<User>]) -> Vec<String> {
    users
        .iter()
        .map(|u| u.id.as_deref().unwrap().to_owned())
        .collect()
}

/// Stores `users` in `tenant`, returning them as stored (read back with `get`).
pub async fn store_all(store: &dyn UserStore, tenant: &str, users: Vec<User>) -> Vec<Arc<User>> {
    let c = RequestContext::system(tenant);
    let mut stored = Vec::new();
    for u in users {
        let id = u.id.clone().unwrap();
        let created = store.create(&c, u).await.expect("create");
        let got = store.get(&c, &id).await.unwrap().unwrap();
        assert_eq!(*created, *got, "create returns what get reads back");
        assert!(got.password.is_none(), "passwords are not stored");
        stored.push(got);
    }
    stored
}

/// Lists with `filter` and asserts the store's answer is [`Filter::matches`]'s.
pub async fn assert_agrees(
    store: &dyn UserStore,
    tenant: &str,
    users: &[Arc<User>],
    filter: &Filter,
) {
    let c = RequestContext::system(tenant);
    let expected: Vec<Arc<User>> = users
        .iter()
        .filter(|u| filter.matches(u))
        .cloned()
        .collect();
    let q = ListQuery::all(1000).with_filter(filter.clone());
    let page = store
        .list(&c, &q)
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert_eq!(ids(&page.resources), ids(&expected), "filter {filter}");
    assert_eq!(
        page.total_results,
        expected.len(),
        "totalResults of {filter}"
    );
    if expected.len() > 3 {
        let q = ListQuery::all(2).with_filter(filter.clone()).starting_at(2);
        let page = store.list(&c, &q).await.unwrap();
        assert_eq!(
            ids(&page.resources),
            ids(&expected[1..3]),
            "page of {filter}"
        );
        assert_eq!(
            page.total_results,
            expected.len(),
            "paged total of {filter}"
        );
    }
}

/// The differential check: `random` generated filters plus [`fixed_filters`], each listed
/// by the store and compared with [`Filter::matches`]. Returns how many filters ran.
pub async fn check_filters_agree(store: &dyn UserStore, random: usize, seed: u64) -> usize {
    let tenant = format!("diff-{seed}");
    let users = store_all(store, &tenant, generated_users(60, seed)).await;
    // Another tenant with the same data must never show up.
    store_all(
        store,
        &format!("{tenant}-other"),
        generated_users(60, seed ^ 0xabc),
    )
    .await;
    let mut texts = fixed_filters(&users);
    let mut rng = Rng::new(seed);
    texts.extend((0..random).map(|_| random_filter(&mut rng, &users, 3)));
    let mut ran = 0;
    let mut selective = 0;
    let mut seen = HashSet::new();
    for text in &texts {
        let Ok(filter) = parse(text) else {
            continue;
        };
        if !seen.insert(filter.to_string()) {
            continue;
        }
        assert_agrees(store, &tenant, &users, &filter).await;
        let hits = users.iter().filter(|u| filter.matches(u)).count();
        if hits > 0 && hits < users.len() {
            selective += 1;
        }
        ran += 1;
    }
    assert!(
        selective * 3 > ran,
        "only {selective} of {ran} filters select a proper subset: the check is too weak"
    );
    ran
}

const SORT_PATHS: &[&str] = &[
    "userName",
    "displayName",
    "title",
    "externalId",
    "id",
    "active",
    "name",
    "name.givenName",
    "name.familyName",
    "name.nosuch",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "emails.display",
    "addresses",
    "addresses.locality",
    "phoneNumbers",
    "roles",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "meta.resourceType",
    "schemas",
    "password",
    "nosuch",
    "userName.x",
    "urn:ietf:params:scim:schemas:core:2.0:User:title",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:example:other:title",
];

/// Sorting in the database agrees with [`SortSpec::sort`] over the stable order, for
/// every sortable path, both directions, with and without a filter, and across pages.
pub async fn check_sorts_agree(store: &dyn UserStore, seed: u64) {
    let tenant = format!("sort-{seed}");
    let c = RequestContext::system(&tenant);
    let users = store_all(store, &tenant, generated_users(60, seed)).await;
    for path in SORT_PATHS {
        for order in [None, Some("descending")] {
            let spec = SortSpec::parse(path, order).unwrap();
            for filter in [None, Some(r#"emails pr or title sw "a""#)] {
                let filter = filter.map(|f| parse(f).unwrap());
                let matching: Vec<Arc<User>> = users
                    .iter()
                    .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u)))
                    .cloned()
                    .collect();
                let expected = spec.sort(matching);
                let mut q = ListQuery::all(1000).sorted_by(spec.clone());
                q.filter = filter.clone();
                let page = store.list(&c, &q).await.unwrap();
                assert_eq!(
                    ids(&page.resources),
                    ids(&expected),
                    "sortBy={path} {order:?}"
                );
                let q = q.clone().starting_at(5);
                let mut q = q;
                q.count = 4;
                let page = store.list(&c, &q).await.unwrap();
                assert_eq!(
                    ids(&page.resources),
                    ids(&expected[4..8]),
                    "page of sortBy={path}"
                );
                assert_eq!(page.total_results, expected.len());
            }
        }
    }
}

/// RFC 9865 cursor paging: following `next_cursor` from `""` visits every match once, in
/// order, with the total on every page; sorted or not, filtered or not.
pub async fn check_cursor_paging(store: &dyn UserStore, seed: u64) {
    assert!(store.supports_cursors());
    let tenant = format!("cursor-{seed}");
    let c = RequestContext::system(&tenant);
    let users = store_all(store, &tenant, generated_users(40, seed)).await;
    let sorts = [
        None,
        Some(SortSpec::parse("title", Some("descending")).unwrap()),
    ];
    let filters = [None, Some(parse(r#"not (title sw "a")"#).unwrap())];
    for sort in &sorts {
        for filter in &filters {
            for count in [1, 7, 40, 100] {
                let matching: Vec<Arc<User>> = users
                    .iter()
                    .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u)))
                    .cloned()
                    .collect();
                let expected = match sort {
                    Some(s) => s.sort(matching),
                    None => matching,
                };
                let mut seen = Vec::new();
                let mut cursor = String::new();
                for _ in 0..=users.len() {
                    let mut q = ListQuery::all(count);
                    q.filter = filter.clone();
                    q.sort = sort.clone();
                    q.cursor = Some(cursor.clone());
                    let page = store.list(&c, &q).await.unwrap();
                    assert_eq!(page.total_results, expected.len(), "total on every page");
                    assert!(page.resources.len() <= count);
                    seen.extend(page.resources);
                    match page.next_cursor {
                        Some(next) => cursor = next,
                        None => break,
                    }
                }
                assert_eq!(ids(&seen), ids(&expected), "count {count}, sort {sort:?}");
            }
        }
    }
    let mut q = ListQuery::all(5);
    q.cursor = Some("not-a-position".into());
    assert!(matches!(
        store.list(&c, &q).await,
        Err(StoreError::InvalidFilter(_))
    ));
}

/// A filter shape the parser never produces (a value filter on a sub-attribute) is not
/// translated: it is evaluated in Rust over the candidates, or refused past the limit.
pub async fn check_untranslatable_filter(store: &dyn UserStore, small: &dyn UserStore) {
    let tenant = "fallback";
    let users = store_all(store, tenant, generated_users(30, 7)).await;
    let odd = Filter::ValuePath {
        path: AttrPath::with_sub("emails", "value"),
        filter: Box::new(Filter::Compare {
            path: AttrPath::new("x"),
            op: CompareOp::Eq,
            value: CompValue::String("y".into()),
        }),
    };
    for filter in [
        odd.clone(),
        Filter::Not(Box::new(odd.clone())),
        Filter::Or(
            Box::new(odd.clone()),
            Box::new(parse(r#"title sw "a""#).unwrap()),
        ),
        Filter::And(
            Box::new(Filter::Not(Box::new(odd.clone()))),
            Box::new(parse(r#"emails pr"#).unwrap()),
        ),
    ] {
        assert_agrees(store, tenant, &users, &filter).await;
    }
    store_all(small, tenant, generated_users(30, 7)).await;
    let c = RequestContext::system(tenant);
    let q = ListQuery::all(10).with_filter(Filter::Not(Box::new(odd)));
    assert!(matches!(
        small.list(&c, &q).await,
        Err(StoreError::InvalidFilter(_))
    ));
}

/// Long `or` chains (1,000 terms) stay within the database's expression limits.
pub async fn check_long_filter(store: &dyn UserStore) {
    let tenant = "long";
    let users = store_all(store, tenant, generated_users(10, 3)).await;
    let mut text = vec![r#"title eq "nothing""#.to_owned(); 999];
    text.push(format!(
        "userName eq {}",
        serde_json::to_string(&users[4].user_name).unwrap()
    ));
    let limits = ParseLimits {
        max_len: 1 << 20,
        max_depth: 256,
        ..ParseLimits::default()
    };
    let filter = parse_with_limits(&text.join(" or "), &limits).unwrap();
    assert_agrees(store, tenant, &users, &filter).await;
    let nested = (0..250).fold(r#"emails pr"#.to_owned(), |f, _| format!("not ({f})"));
    let nested = parse_with_limits(&nested, &limits).unwrap();
    assert_agrees(store, tenant, &users, &nested).await;
}

/// A new user as the server makes it.
pub fn new_user(user_name: &str) -> User {
    let mut u = User::new(user_name);
    u.id = Some(uuid::Uuid::new_v4().to_string().into());
    u.meta = Some(Meta::new("User", Utc::now()));
    u
}

/// Two stores (two pools: as two processes) race to create the same userName, in other
/// letter cases: exactly one wins each round.
pub async fn check_racing_creates(a: Arc<dyn UserStore>, b: Arc<dyn UserStore>, tenant: &str) {
    for round in 0..20 {
        let c = RequestContext::system(tenant);
        let name = format!("racer{round}");
        let (ua, ub) = (new_user(&name), new_user(&name.to_uppercase()));
        let (sa, sb, ca, cb) = (a.clone(), b.clone(), c.clone(), c.clone());
        let ta = tokio::spawn(async move { sa.create(&ca, ua).await });
        let tb = tokio::spawn(async move { sb.create(&cb, ub).await });
        let results = [ta.await.unwrap(), tb.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Uniqueness { attribute }) if attribute == "userName"))
            .count();
        assert_eq!((won, lost), (1, 1), "round {round}: {results:?}");
    }
}

/// Concurrent read-modify-write cycles with compare-and-swap, through several stores
/// (pools): every increment survives.
pub async fn check_no_lost_update(stores: Vec<Arc<dyn UserStore>>, tenant: &str) {
    let c = RequestContext::system(tenant);
    let mut u = new_user("counter");
    u.title = Some("0".into());
    let id = u.id.clone().unwrap();
    stores[0].create(&c, u).await.unwrap();
    let workers = 8;
    let per_worker = 10;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let store = stores[w % stores.len()].clone();
        let (c, id) = (c.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..per_worker {
                loop {
                    let current = store.get(&c, &id).await.unwrap().unwrap();
                    let n: u64 = current.title.as_deref().unwrap().parse().unwrap();
                    let mut next = User::clone(&current);
                    next.title = Some((n + 1).to_string().into());
                    match store.replace(&c, next, current.version()).await {
                        Ok(_) => break,
                        Err(StoreError::VersionMismatch) => conflicts += 1,
                        Err(e) => panic!("replace: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let last = stores[0].get(&c, &id).await.unwrap().unwrap();
    assert_eq!(
        last.title.as_deref(),
        Some((workers * per_worker).to_string().as_str()),
        "no update is lost ({conflicts} conflicts retried)"
    );
}

/// Every operation is scoped by tenant, including filtered lists that use indexes.
pub async fn check_tenant_scoping(store: &dyn UserStore) {
    let (a, b) = (
        RequestContext::system("scope-a"),
        RequestContext::system("scope-b"),
    );
    let mut ua = new_user("shared@example.com");
    ua.external_id = Some("ext".into());
    ua.emails = vec![MultiValue::typed("shared@example.com", "work")];
    let id = ua.id.clone().unwrap();
    let mut ub = ua.clone();
    ub.display_name = Some("b".into());
    let va = store.create(&a, ua).await.unwrap();
    // The same id and userName are free in another tenant.
    store.create(&b, ub).await.unwrap();
    for filter in [
        r#"userName eq "shared@example.com""#,
        r#"externalId eq "ext""#,
        r#"emails.value eq "shared@example.com""#,
        r#"id eq "ID""#,
    ] {
        let filter = filter.replace("ID", &id);
        let q = ListQuery::all(10).with_filter(parse(&filter).unwrap());
        for ctx in [&a, &b] {
            let page = store.list(ctx, &q).await.unwrap();
            assert_eq!(page.total_results, 1, "{filter} in {}", ctx.tenant);
        }
    }
    store.delete(&b, &id, None).await.unwrap();
    assert!(store.get(&b, &id).await.unwrap().is_none());
    let still = store.get(&a, &id).await.unwrap().unwrap();
    assert_eq!(still.version(), va.version());
    assert!(still.display_name.is_none());
}

/// Versions are never reused for a resource, even across a delete and re-create.
pub async fn check_versions_never_reused(store: &dyn UserStore) {
    let c = RequestContext::system("versions");
    let u = new_user("v");
    let first = store.create(&c, u.clone()).await.unwrap();
    store
        .delete(&c, u.id.as_deref().unwrap(), None)
        .await
        .unwrap();
    let second = store.create(&c, u).await.unwrap();
    assert_ne!(first.version(), second.version());
    assert!(matches!(
        store
            .delete(&c, second.id.as_deref().unwrap(), first.version())
            .await,
        Err(StoreError::VersionMismatch)
    ));
}

/// Strings holding U+0000 are refused, not stored half-way.
pub async fn check_nul_is_refused(store: &dyn UserStore) {
    let c = RequestContext::system("nul");
    let mut u = new_user("nul");
    u.display_name = Some("a\0b".into());
    assert!(matches!(
        store.create(&c, u).await,
        Err(StoreError::Backend(_))
    ));
    let q = ListQuery::all(10);
    assert_eq!(store.list(&c, &q).await.unwrap().total_results, 0);
}

/// A tenant name no other test run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// An `EventSink` that keeps what it is given.
#[derive(Default)]
pub struct Collect(pub std::sync::Mutex<Vec<scimkit::events::ProvisioningEvent>>);

#[async_trait::async_trait]
impl scimkit::events::EventSink for Collect {
    async fn deliver(
        &self,
        e: &scimkit::events::ProvisioningEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.lock().unwrap().push(e.clone());
        Ok(())
    }
}

/// A store built without the outbox writes no event, and `plain` (no outbox) still reads
/// and acknowledges the events `with_outbox` (same database) wrote, as a dispatcher in a
/// process of its own would.
pub async fn check_outbox_off_by_default<S: UserStore + EventOutbox>(plain: &S, with_outbox: &S) {
    let c = RequestContext::system(unique("outbox-off"));
    let u = plain.create(&c, new_user("quiet")).await.unwrap();
    let mut changed = User::clone(&u);
    changed.title = Some("changed".into());
    plain.replace(&c, changed, u.version()).await.unwrap();
    plain
        .delete(&c, u.id.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert!(
        plain.pending_events(100).await.unwrap().is_empty(),
        "no event without with_outbox()"
    );
    with_outbox.create(&c, new_user("loud")).await.unwrap();
    let pending = plain.pending_events(100).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].user_name, "loud");
    plain.acknowledge_events(pending[0].id).await.unwrap();
    assert!(with_outbox.pending_events(100).await.unwrap().is_empty());
}

/// Writers on several stores (pools) create users while one dispatcher delivers and
/// acknowledges: every event is delivered exactly once, in id order. An outbox whose ids
/// were not in commit order would lose events here (an acknowledged id range would
/// cover a row committed after it was read).
pub async fn check_dispatch_during_writes_loses_nothing(
    writers: Vec<Arc<dyn UserStore>>,
    dispatch_from: Arc<dyn EventOutbox>,
) {
    let tenant = unique("outbox-live");
    let per_writer = 40;
    let mut tasks = Vec::new();
    for (w, store) in writers.iter().enumerate() {
        for lane in 0..2 {
            let (store, tenant) = (store.clone(), tenant.clone());
            tasks.push(tokio::spawn(async move {
                let c = RequestContext::system(&tenant);
                for i in 0..per_writer / 2 {
                    let name = format!("w{w}-l{lane}-{i}");
                    store.create(&c, new_user(&name)).await.unwrap();
                }
            }));
        }
    }
    let sink = Arc::new(Collect::default());
    let dispatcher = scimkit::events::EventDispatcher::new(dispatch_from, sink.clone());
    while tasks.iter().any(|t| !t.is_finished()) {
        dispatcher.run_once().await.unwrap();
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    dispatcher.run_once().await.unwrap();
    let seen = sink.0.lock().unwrap();
    assert!(
        seen.windows(2).all(|w| w[0].id < w[1].id),
        "delivered in id order"
    );
    let mut names: Vec<_> = seen.iter().map(|e| e.user_name.clone()).collect();
    names.sort();
    let mut expected: Vec<_> = (0..writers.len())
        .flat_map(|w| {
            (0..2)
                .flat_map(move |lane| (0..per_writer / 2).map(move |i| format!("w{w}-l{lane}-{i}")))
        })
        .collect();
    expected.sort();
    assert_eq!(names, expected, "every event delivered exactly once");
}

/// `ApiKeys` and `Tenants` over the SQL stores, in front of a SQL user store: the switches
/// gate requests, the last use is recorded, revocation takes effect on the next request.
pub async fn check_api_keys_end_to_end(
    users: Arc<dyn UserStore>,
    key_store: Arc<dyn scimkit::ApiKeyStore>,
    tenant_store: Arc<dyn scimkit::TenantStore>,
) {
    use scimkit::keys::{ApiKeys, Tenants};
    let tenant = unique("e2e");
    let tenants = Tenants::shared(tenant_store);
    let keys = ApiKeys::shared(key_store, tenants.clone());
    tenants.set_scim_entitled(&tenant, true).await.unwrap();
    let key = keys.create(&tenant, "Okta", None).await.unwrap();
    let server = scimkit::ScimServer::builder()
        .shared_store(users)
        .authenticator(keys.clone())
        .build()
        .unwrap();
    let call = |method: &str, body: Option<serde_json::Value>| {
        let mut b = http::Request::builder()
            .method(method)
            .uri("/scim/v2/Users")
            .header("host", "scim.example.com")
            .header("authorization", format!("Bearer {}", key.secret.expose()));
        if body.is_some() {
            b = b.header("content-type", "application/scim+json");
        }
        let bytes = body.map(|v| v.to_string().into_bytes()).unwrap_or_default();
        let server = server.clone();
        let req = b.body(bytes).unwrap();
        async move { server.handle(req).await.status().as_u16() }
    };
    assert_eq!(call("GET", None).await, 403, "the admin's switch is off");
    tenants.set_scim_enabled(&tenant, true).await.unwrap();
    assert_eq!(call("GET", None).await, 200);
    let body = serde_json::json!({"userName": "e2e@example.com"});
    assert_eq!(call("POST", Some(body)).await, 201);
    let listed = keys.list(&tenant).await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "the use is recorded");
    tenants.set_scim_entitled(&tenant, false).await.unwrap();
    assert_eq!(call("GET", None).await, 403, "the entitlement is gone");
    let t = tenants.get(&tenant).await.unwrap();
    assert!(
        t.scim_enabled && !t.scim_entitled,
        "the admin's switch is kept"
    );
    tenants.set_scim_entitled(&tenant, true).await.unwrap();
    assert_eq!(call("GET", None).await, 200);
    keys.revoke(&tenant, &key.info.id).await.unwrap();
    assert_eq!(call("GET", None).await, 401, "revoked on the next request");
    assert!(keys.list(&tenant).await.unwrap()[0].revoked_at.is_some());
}
