//! Generated users and filters for the differential checks: words with LIKE/GLOB
//! metacharacters and Unicode case mappings, random and hand-written filters.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use scimkit::resource::CompactString;
use scimkit::{Address, EnterpriseUser, Manager, Meta, MultiValue, Name, Secret, User};

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
    /// `s`, or a prefix, a suffix, or `s` in upper or lower case.
    fn variant(&mut self, s: String) -> String {
        let chars: Vec<char> = s.chars().collect();
        let cut = self.below(chars.len() + 1);
        match self.below(5) {
            0 => chars[..cut].iter().collect(),
            1 => chars[cut..].iter().collect(),
            2 => s.to_uppercase(),
            3 => s.to_lowercase(),
            _ => s,
        }
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

/// Attribute paths for filters and sorting: every kind of attribute, in other letter
/// cases, with URNs, sub-attributes, unknown and never-returned ones.
pub(super) const PATHS: &[&str] = &[
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
    "name.nosuch",
    "roles",
    "password",
    "userName.x",
    "urn:ietf:params:scim:schemas:core:2.0:User:title",
    "urn:example:other:title",
];

const OPS: &[&str] = &["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"];

/// A literal for a filter, drawn from the users' own values (in other letter cases,
/// prefixes and suffixes) and from edge cases.
fn literal(rng: &mut Rng, path: &str, users: &[Arc<User>]) -> String {
    let user = &users[rng.below(users.len())];
    if let Some(v) = value_at(user, path).filter(|_| rng.chance(60)) {
        return serde_json::to_string(&rng.variant(v)).unwrap();
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
            serde_json::to_string(&rng.variant(s)).unwrap()
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

pub(super) fn random_filter(rng: &mut Rng, users: &[Arc<User>], depth: usize) -> String {
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
