//! The fast path of [`super::parse_user`]: a request body read straight into a
//! [`User`], without building a JSON tree first.
//!
//! It handles the bodies identity providers send (any letter case of attribute names,
//! `null` for absent, booleans as strings as the
//! [`Compatibility`] policy allows, read-only and unknown attributes ignored, extension
//! objects) and *declines* everything else by returning `None`: duplicate or
//! case-duplicate names, a value of an unexpected type, a NUL character, a missing
//! `userName`, attribute names carrying a schema URN, a one-element array for a singular
//! attribute, malformed JSON. The caller then reads the body the general way
//! ([`super::input::user_from_value`]), which produces the user or the precise error.
//!
//! So the fast path never decides an error and never accepts what the general path
//! refuses: whenever it returns a user, that user is the one the general path returns.
//! A property test below holds it to that on generated and mutated bodies.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::fields::{self, Attributes, Scalar};
use super::json::{Any, Key, Seen, Skipped, Strict, decline};
use super::{CompactString, EnterpriseUser, Secret, User};
use crate::compat::Compatibility;
use crate::schema::{
    self, AttributeDef, AttributeType, Mutability, SchemaDef, SchemaSet, user_attribute,
};

/// Reads `body` into a user, or `None` when the general path must decide (see the module
/// documentation).
pub(super) fn read_user(body: &[u8], compat: &Compatibility, schemas: &SchemaSet) -> Option<User> {
    // UTF-8 checked once for the whole body, not string by string (a body that is not
    // UTF-8 is the general path's to refuse).
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let user = UserSeed { compat, schemas }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(user)
}

/// A string value: `null` is absent; anything but a string without NUL is declined.
struct Str;

impl Visitor<'_> for Str {
    type Value = Option<CompactString>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.contains('\0') {
            return Err(decline());
        }
        Ok(Some(CompactString::from(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A boolean value: `null` is absent; `"True"`/`"false"` as the policy allows.
struct Bool {
    string_booleans: bool,
}

impl Visitor<'_> for Bool {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match crate::compat::string_boolean(v) {
            Some(b) if self.string_booleans => Ok(Some(b)),
            _ => Err(decline()),
        }
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The typed form of a complex attribute's value: its members reached through its
/// attribute table.
trait Complex: Attributes + Default {}

impl<T: Attributes + Default> Complex for T {}

/// Reads the next value of `map` by the type of `def`: a boolean or a string (`null`:
/// absent); other types are declined.
fn read_scalar<'de, A: MapAccess<'de>>(
    def: &AttributeDef,
    map: &mut A,
    compat: &Compatibility,
) -> Result<Scalar, A::Error> {
    match def.kind {
        AttributeType::Boolean => Ok(Scalar::Bool(map.next_value_seed(Any(Bool {
            string_booleans: compat.string_booleans,
        }))?)),
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            Ok(Scalar::Str(map.next_value_seed(Any(Str))?))
        }
        _ => Err(decline()),
    }
}

/// One object of complex attribute `def`: `None` for `null` or when nothing in it is set.
struct Object<'a, T> {
    def: &'static AttributeDef,
    compat: &'a Compatibility,
    /// Compatibility: a manager sent as a plain string is its `value`.
    string_is_value: bool,
    typed: std::marker::PhantomData<T>,
}

impl<'a, T> Object<'a, T> {
    fn new(def: &'static AttributeDef, compat: &'a Compatibility) -> Self {
        Self {
            def,
            compat,
            string_is_value: false,
            typed: std::marker::PhantomData,
        }
    }
}

impl<'de, T: Complex> Visitor<'de> for Object<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if !self.string_is_value || v.contains('\0') {
            return Err(decline());
        }
        if v.is_empty() {
            return Ok(None);
        }
        let mut out = T::default();
        let value = Scalar::Str(Some(CompactString::from(v)));
        if !out.slot("value").is_some_and(|f| f.set(value)) {
            return Err(decline());
        }
        Ok(Some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = T::default();
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            let Key(key) = key;
            let sub = match self.def.sub_attribute(&key) {
                Some(sub) if sub.mutability != Mutability::ReadOnly => sub,
                _ => {
                    map.next_value::<Skipped>()?; // ignored, but checked for repeats
                    continue;
                }
            };
            let value = read_scalar(sub, &mut map, self.compat)?;
            if !out.slot(sub.name).is_some_and(|f| f.set(value)) {
                return Err(decline());
            }
        }
        Ok(if fields::is_empty(&out) {
            None
        } else {
            Some(out)
        })
    }
}

/// The values of a multi-valued complex attribute: an array (`null` items and empty
/// objects dropped) or `null`; a single object is declined (the general path refuses it).
struct List<'a, T>(Object<'a, T>);

impl<'de, T: Complex> Visitor<'de> for List<'_, T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
        while let Some(item) =
            seq.next_element_seed(Any(Object::<T>::new(self.0.def, self.0.compat)))?
        {
            if let Some(item) = item {
                out.push(item);
            }
        }
        Ok(out)
    }
}

/// The Enterprise User extension object.
struct Enterprise<'a> {
    compat: &'a Compatibility,
}

impl<'de> Visitor<'de> for Enterprise<'_> {
    type Value = Option<EnterpriseUser>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = EnterpriseUser::default();
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            let Key(key) = key;
            let def = match schema::ENTERPRISE_USER.attribute(&key) {
                Some(def) if def.mutability != Mutability::ReadOnly => def,
                _ => {
                    map.next_value::<Skipped>()?;
                    continue;
                }
            };
            if def.name == "manager" {
                let mut seed = Object::new(def, self.compat);
                seed.string_is_value = self.compat.manager_as_string;
                out.manager = map.next_value_seed(Any(seed))?;
                continue;
            }
            let value = read_scalar(def, &mut map, self.compat)?;
            if !out.field(def.name).is_some_and(|f| f.set(value)) {
                return Err(decline());
            }
        }
        Ok(if out.is_empty() { None } else { Some(out) })
    }
}

/// The whole body.
struct UserSeed<'a> {
    compat: &'a Compatibility,
    schemas: &'a SchemaSet,
}

impl<'de> DeserializeSeed<'de> for UserSeed<'_> {
    type Value = User;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<User, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UserSeed<'_> {
    type Value = User;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a User object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<User, A::Error> {
        let compat = self.compat;
        let mut user = User::default();
        let mut seen = Seen::default();
        let mut extensions: Vec<(&'static SchemaDef, Map<String, Value>)> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            let Key(key) = key;
            if key.eq_ignore_ascii_case("schemas") {
                let Strict(value) = map.next_value()?;
                super::input::check_user_schemas(&value).map_err(|_| decline::<A::Error>())?;
                continue;
            }
            if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
                match self.schemas.extension(&key) {
                    Some(ext) if std::ptr::eq(ext, &schema::ENTERPRISE_USER) => {
                        user.enterprise = map.next_value_seed(Any(Enterprise { compat }))?;
                    }
                    Some(ext) => {
                        let Strict(value) = map.next_value()?;
                        match value {
                            Value::Null => {}
                            Value::Object(members) => {
                                let mut attrs = Map::new();
                                for (k, v) in members {
                                    super::input::put(
                                        ext.attribute(&k),
                                        v,
                                        &mut attrs,
                                        ext.id,
                                        compat,
                                        k,
                                    )
                                    .map_err(|_| decline::<A::Error>())?;
                                }
                                extensions.push((ext, attrs));
                            }
                            _ => return Err(decline()),
                        }
                    }
                    // The core schema's URN as an object, attribute names carrying a URN,
                    // unknown extensions: the general path sorts them out.
                    None => return Err(decline()),
                }
                continue;
            }
            let def = match user_attribute(None, &key) {
                Some(def) if def.mutability != Mutability::ReadOnly => def,
                _ => {
                    map.next_value::<Skipped>()?;
                    continue;
                }
            };
            if def.name == "userName" {
                user.user_name = map.next_value_seed(Any(Str))?.unwrap_or_default();
            } else if let Some(field) = user.field(def.name) {
                if !field.set(read_scalar(def, &mut map, compat)?) {
                    return Err(decline());
                }
            } else {
                read_structured(&mut user, def.name, def, &mut map, compat)?;
            }
        }
        if user.user_name.trim().is_empty() {
            return Err(decline()); // the general path says why
        }
        for (ext, attrs) in extensions {
            if !attrs.is_empty() {
                user.extensions.insert(ext.id.to_owned(), attrs);
            }
        }
        Ok(user)
    }
}

/// Reads the value of a core attribute that is not a plain string or boolean into `user`.
fn read_structured<'de, A: MapAccess<'de>>(
    user: &mut User,
    name: &str,
    def: &'static AttributeDef,
    map: &mut A,
    compat: &Compatibility,
) -> Result<(), A::Error> {
    if let Some(fields::List::Values(list)) = user.list_mut(name) {
        *list = map.next_value_seed(Any(List(Object::new(def, compat))))?;
        return Ok(());
    }
    match name {
        "password" => {
            user.password = map
                .next_value_seed(Any(Str))?
                .map(|s| Secret::new(s.as_str()));
        }
        "name" => user.name = map.next_value_seed(Any(Object::new(def, compat)))?,
        "addresses" => user.addresses = map.next_value_seed(Any(List(Object::new(def, compat))))?,
        _ => return Err(decline()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::read_user;
    use crate::compat::Compatibility;
    use crate::resource::input::user_from_value;
    use crate::resource::json::parse_body;
    use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    /// What the general path makes of `body`.
    fn general(body: &[u8], compat: &Compatibility) -> Result<crate::User, String> {
        parse_body(body)
            .and_then(|v| user_from_value(v, compat, crate::schema::SchemaSet::core()))
            .map_err(|e| format!("{e:?}"))
    }

    /// The property: whenever the fast path reads a user, the general path reads the same.
    fn agree(body: &[u8]) -> Result<(), TestCaseError> {
        for compat in [Compatibility::default(), Compatibility::strict()] {
            if let Some(fast) = read_user(body, &compat, crate::schema::SchemaSet::core()) {
                prop_assert_eq!(
                    Ok(fast),
                    general(body, &compat),
                    "body {}",
                    String::from_utf8_lossy(body)
                );
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

        /// Users as a client would send them back (as rendered), untouched: the fast path
        /// reads every one with a usable userName, and reads it as the general path does.
        #[test]
        fn the_fast_path_reads_rendered_users_as_the_general_path_does(
            user in crate::testing::arbitrary::user(),
        ) {
            let body = serde_json::to_vec(&user).unwrap();
            agree(&body)?;
            if !user.user_name.trim().is_empty() && !body.windows(2).any(|w| w == b"\\u") {
                prop_assert!(read_user(&body, &Compatibility::default(), crate::schema::SchemaSet::core()).is_some());
            }
        }

        /// Mutated bodies (letter cases, nulls, wrong types, string booleans, NULs, arrays
        /// for singular values and back, removed and added members, URN-prefixed names,
        /// a duplicated member): whenever the fast path reads a user, it is the general
        /// path's.
        #[test]
        fn the_fast_path_never_disagrees_with_the_general_path(
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
    fn fixtures_of_identity_providers_take_the_fast_path() {
        let okta = json!({
            "schemas": [USER_SCHEMA],
            "userName": "isaac.brock@example.com",
            "name": {"givenName": "Isaac", "familyName": "Brock"},
            "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        });
        let entra = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@testuser.com",
            "active": "True",
            "displayName": "Test User",
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [],
            ENTERPRISE_USER_SCHEMA: {"department": "Dept", "manager": "m-123"}
        });
        for body in [okta, entra] {
            let bytes = serde_json::to_vec(&body).unwrap();
            let compat = Compatibility::default();
            let fast = read_user(&bytes, &compat, crate::schema::SchemaSet::core())
                .expect("the fast path reads it");
            assert_eq!(Ok(fast), general(&bytes, &compat));
        }
    }

    #[test]
    fn the_fast_path_declines_what_the_general_path_refuses_or_rewrites() {
        let compat = Compatibility::default();
        for body in [
            &br#"{"userName": "a", "userName": "b"}"#[..],
            br#"{"userName": "a", "USERNAME": "b"}"#,
            br#"{"userName": "a", "active": "yes"}"#,
            br#"{"userName": "a\u0000"}"#,
            br#"{"userName": ["a"]}"#,
            br#"{"userName": "  "}"#,
            br#"{"displayName": "x"}"#,
            br#"{"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "d"}"#,
            br#"{"userName": "a", "name": {"givenName": "x", "GIVENNAME": "y"}}"#,
            br#"{"userName": "a", "schemas": [{"k": 1, "k": 2}]}"#,
            br#"{"userName": "a"} x"#,
            br#"[{"userName": "a"}]"#,
        ] {
            assert!(read_user(body, &compat, crate::schema::SchemaSet::core()).is_none(), "{}", String::from_utf8_lossy(body));
        }
        // More members than the fast path keeps track of: the general path reads it.
        let mut wide = serde_json::Map::new();
        wide.insert("userName".into(), json!("a"));
        for i in 0..40 {
            wide.insert(format!("x{i}"), json!(i));
        }
        let body = serde_json::to_vec(&wide).unwrap();
        assert!(read_user(&body, &compat, crate::schema::SchemaSet::core()).is_none());
        assert!(general(&body, &compat).is_ok());
    }
}
