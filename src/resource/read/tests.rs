//! The reader read two ways: a body's text as it streams, and the same body parsed first
//! into a `Value`. Both must give the same user, or both refuse it with the same kind of
//! error (which of two problems is named first may differ: text is read in its order, a
//! parsed object in key order).

use proptest::prelude::*;
use serde_json::json;

use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::resource::input::{parse_user, user_from_value};
use crate::resource::json::parse_body;
use crate::schema::{ENTERPRISE_USER_SCHEMA, SchemaSet, USER_SCHEMA};

/// The kind of an outcome: the user, or the error's `scimType`.
fn kind(r: &Result<crate::User, ScimError>) -> Result<&crate::User, &'static str> {
    r.as_ref().map_err(|e| match e {
        ScimError::InvalidSyntax(_) => "invalidSyntax",
        ScimError::InvalidValue(_) => "invalidValue",
        _ => "other",
    })
}

/// The property: text and parsed value read alike; malformed text is `invalidSyntax`.
fn agree(body: &[u8]) -> Result<(), TestCaseError> {
    for compat in [Compatibility::default(), Compatibility::strict()] {
        let text = parse_user(body, &compat, SchemaSet::core());
        let value = parse_body(body).and_then(|v| user_from_value(v, &compat, SchemaSet::core()));
        match &value {
            Err(ScimError::InvalidSyntax(m)) if m.starts_with("request body is not valid JSON") => {
                prop_assert_eq!(
                    kind(&text),
                    Err("invalidSyntax"),
                    "body {}",
                    String::from_utf8_lossy(body)
                );
            }
            _ => prop_assert_eq!(
                kind(&text),
                kind(&value),
                "body {}",
                String::from_utf8_lossy(body)
            ),
        }
    }
    Ok(())
}

/// One change to a JSON body, at a place chosen by `at` among the candidates.
#[derive(Debug, Clone)]
enum Mutation {
    Recase { at: usize, upper: bool },
    Replace { at: usize, with: usize },
    Wrap { at: usize },
    Unwrap { at: usize },
    Remove { at: usize },
    Insert { with: usize },
}

const REPLACEMENTS: usize = 12;

fn replacement(i: usize) -> serde_json::Value {
    match i % REPLACEMENTS {
        0 => json!(null),
        1 => json!(7),
        2 => json!("True"),
        3 => json!(" false "),
        4 => json!("yes"),
        5 => json!(true),
        6 => json!(""),
        7 => json!("a\u{0}b"),
        8 => json!({}),
        9 => json!([]),
        10 => json!({"value": "v"}),
        _ => json!("  "),
    }
}

fn inserted(i: usize) -> (String, serde_json::Value) {
    let (k, v) = match i % 11 {
        0 => ("nickname2", json!("x")),
        1 => ("id", json!("client-chosen")),
        2 => ("meta", json!({"resourceType": "User", "created": "no"})),
        3 => ("groups", json!([{"value": "g", "display": "G"}])),
        4 => ("schemas", json!([USER_SCHEMA, {"a": 1}])),
        5 => (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            json!("Dept"),
        ),
        6 => (USER_SCHEMA, json!({"title": "T"})),
        7 => ("urn:example:unknown:2.0:User", json!({"badge": 1})),
        8 => ("userName", json!(["one"])),
        9 => (
            ENTERPRISE_USER_SCHEMA,
            json!({"manager": "m-1", "costCenter": null}),
        ),
        _ => ("PASSWORD", json!("t1meMa$heen")),
    };
    (k.to_owned(), v)
}

/// Every (object, key) place in the tree, depth first, as key paths.
fn places(v: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                at.push(k.clone());
                out.push(at.clone());
                places(child, at, out);
                at.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                at.push(format!("#{i}"));
                places(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// The parent container of the place `path` and the last step.
fn parent<'a>(
    v: &'a mut serde_json::Value,
    path: &[String],
) -> Option<(&'a mut serde_json::Value, String)> {
    let (last, init) = path.split_last()?;
    let mut cur = v;
    for step in init {
        cur = match step.strip_prefix('#') {
            Some(i) => cur.get_mut(i.parse::<usize>().ok()?)?,
            None => cur.get_mut(step.as_str())?,
        };
    }
    Some((cur, last.clone()))
}

fn mutate(doc: &mut serde_json::Value, m: &Mutation) {
    let mut all = Vec::new();
    places(doc, &mut Vec::new(), &mut all);
    let pick = |at: usize| all.get(at % all.len().max(1)).cloned();
    match *m {
        Mutation::Insert { with } => {
            let (k, v) = inserted(with);
            if let Some(obj) = doc.as_object_mut() {
                obj.insert(k, v);
            }
        }
        Mutation::Recase { at, upper } => {
            let Some(path) = pick(at) else { return };
            let Some((serde_json::Value::Object(obj), key)) = parent(doc, &path) else {
                return;
            };
            let new = if upper {
                key.to_ascii_uppercase()
            } else {
                key.to_ascii_lowercase()
            };
            if let Some(v) = obj.remove(&key) {
                obj.insert(new, v);
            }
        }
        Mutation::Remove { at } => {
            let Some(path) = pick(at) else { return };
            if let Some((serde_json::Value::Object(obj), key)) = parent(doc, &path) {
                obj.remove(&key);
            }
        }
        Mutation::Replace { at, with } => {
            let Some(path) = pick(at) else { return };
            if let Some((serde_json::Value::Object(obj), key)) = parent(doc, &path) {
                obj.insert(key, replacement(with));
            }
        }
        Mutation::Wrap { at } => {
            let Some(path) = pick(at) else { return };
            if let Some((serde_json::Value::Object(obj), key)) = parent(doc, &path) {
                if let Some(v) = obj.remove(&key) {
                    obj.insert(key, json!([v]));
                }
            }
        }
        Mutation::Unwrap { at } => {
            let Some(path) = pick(at) else { return };
            if let Some((serde_json::Value::Object(obj), key)) = parent(doc, &path) {
                if let Some(serde_json::Value::Array(mut items)) = obj.remove(&key) {
                    obj.insert(key, items.pop().unwrap_or(serde_json::Value::Null));
                }
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<bool>()).prop_map(|(at, upper)| Mutation::Recase { at, upper }),
        (any::<usize>(), any::<usize>()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        any::<usize>().prop_map(|at| Mutation::Wrap { at }),
        any::<usize>().prop_map(|at| Mutation::Unwrap { at }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        any::<usize>().prop_map(|with| Mutation::Insert { with }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
    ))]

    /// Users as a client would send them back (as rendered): read alike both ways, and
    /// accepted whenever the userName is usable and no string holds a control character.
    #[test]
    fn rendered_users_read_alike_from_text_and_value(
        user in crate::testing::arbitrary::user(),
    ) {
        let body = serde_json::to_vec(&user).unwrap();
        agree(&body)?;
        if !user.user_name.trim().is_empty() && !body.windows(2).any(|w| w == b"\\u") {
            prop_assert!(parse_user(&body, &Compatibility::default(), SchemaSet::core()).is_ok());
        }
    }

    /// Mutated bodies (letter cases, nulls, wrong types, string booleans, NULs, arrays
    /// for singular values and back, removed and added members, URN-prefixed names, a
    /// duplicated member): read alike from text and from the parsed value.
    #[test]
    fn mutated_bodies_read_alike_from_text_and_value(
        user in crate::testing::arbitrary::user(),
        mutations in proptest::collection::vec(mutation(), 0..6),
        duplicate in proptest::option::of(0usize..4),
    ) {
        let mut doc = user.to_value();
        for m in &mutations {
            mutate(&mut doc, m);
        }
        let mut body = serde_json::to_string(&doc).unwrap();
        if let Some(d) = duplicate {
            let member = ["\"userName\":\"dup\",", "\"title\":null,", "\"Title\":\"t\",", "\"x\":1,\"x\":2,"][d];
            body.insert_str(1, member);
        }
        agree(body.as_bytes())?;
    }
}

#[test]
fn each_problem_gets_its_error() {
    let compat = Compatibility::default();
    for (body, expected) in [
        (&br#"{"userName": "a", "userName": "b"}"#[..], Err("invalidSyntax")),
        (br#"{"userName": "a", "USERNAME": "b"}"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "USERNAME": null}"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "name": {"givenName": "x", "GIVENNAME": "y"}}"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "x": {"k": 1, "k": 2}}"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "schemas": [{"k": 1, "k": 2}]}"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "active": "yes"} x"#, Err("invalidSyntax")),
        (br#"{"active": "yes", "userName": "#, Err("invalidSyntax")),
        (br#"[{"userName": "a"}]"#, Err("invalidSyntax")),
        (br#"{"userName": "a", "active": "yes"}"#, Err("invalidValue")),
        (br#"{"userName": "a\u0000"}"#, Err("invalidValue")),
        (br#"{"userName": ["a"]}"#, Err("invalidValue")),
        (br#"{"userName": "  "}"#, Err("invalidValue")),
        (br#"{"displayName": "x"}"#, Err("invalidValue")),
        (br#"{"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "m\u0000"}}"#, Err("invalidValue")),
    ] {
        let read = parse_user(body, &compat, SchemaSet::core());
        assert_eq!(kind(&read).map(|_| ()), expected, "{}", String::from_utf8_lossy(body));
    }
    // Accepted: read-only and unknown members in any letter case, a URN-prefixed name,
    // many members (no limit on how many an object has).
    let mut wide = serde_json::Map::new();
    wide.insert("userName".into(), json!("a"));
    wide.insert("ID".into(), json!("x"));
    wide.insert("id".into(), json!("y"));
    wide.insert(format!("{ENTERPRISE_USER_SCHEMA}:department"), json!("d"));
    for i in 0..40 {
        wide.insert(format!("x{i}"), json!(i));
    }
    let body = serde_json::to_vec(&wide).unwrap();
    let user = parse_user(&body, &compat, SchemaSet::core()).unwrap();
    assert_eq!(user.enterprise.unwrap().department.as_deref(), Some("d"));
    assert!(
        parse_user(
            br#"{"userName": "a", "schemas": [], "SCHEMAS": null}"#,
            &compat,
            SchemaSet::core()
        )
        .is_ok()
    );
    let _ = USER_SCHEMA;
}
