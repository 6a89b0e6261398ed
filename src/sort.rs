//! Sorting (RFC 7644 §3.4.2.3): `sortBy` and `sortOrder`.
//!
//! A [`SortSpec`] names one attribute or sub-attribute (`userName`, `name.familyName`,
//! `meta.lastModified`, `urn:...:enterprise:2.0:User:department`). Strings compare as the
//! schema says (`caseExact: false` ones case-insensitively), dateTimes as instants,
//! numbers numerically. For a multi-valued attribute the primary value is used, else the
//! first (RFC 7644 §3.4.2.3). Users without a value sort last in either order; ties keep
//! the store's stable order.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset};
#[cfg(test)]
use serde_json::Value;

use crate::error::ScimError;
use crate::filter::{AttrPath, SortValue};
use crate::resource::User;
#[cfg(test)]
use crate::schema::USER_SCHEMA;
use crate::schema::{AttributeDef, AttributeType, Returned, SchemaSet};

/// What to sort by, and in which direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec {
    /// The attribute (with optional URN and sub-attribute).
    pub by: AttrPath,
    /// `sortOrder=descending`.
    pub descending: bool,
}

/// A value to sort by, extracted from a user.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// A string, already case-folded when the attribute is not caseExact.
    Str(String),
    /// A number.
    Num(f64),
    /// A boolean (`false` < `true`).
    Bool(bool),
    /// An instant.
    Time(DateTime<FixedOffset>),
}

impl SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Str(a), Self::Str(b)) => a.cmp(b),
            (Self::Num(a), Self::Num(b)) => a.total_cmp(b),
            (Self::Bool(a), Self::Bool(b)) => a.cmp(b),
            (Self::Time(a), Self::Time(b)) => a.cmp(b),
            // Mixed kinds (only possible for unknown attributes): a fixed kind order.
            _ => self.rank().cmp(&other.rank()),
        }
    }
    fn rank(&self) -> u8 {
        match self {
            Self::Bool(_) => 0,
            Self::Num(_) => 1,
            Self::Time(_) => 2,
            Self::Str(_) => 3,
        }
    }
}

impl SortSpec {
    /// Parses `sortBy` and `sortOrder` (`ascending`, the default, or `descending`, in any
    /// letter case). A malformed attribute path or order is a 400 `invalidValue`.
    pub fn parse(sort_by: &str, sort_order: Option<&str>) -> Result<Self, ScimError> {
        let descending = match sort_order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::InvalidValue(format!(
                    "sortOrder must be \"ascending\" or \"descending\", got {o:?}"
                )));
            }
        };
        let by = AttrPath::parse(sort_by).ok_or_else(|| {
            ScimError::InvalidValue(format!("sortBy {sort_by:?} is not an attribute path"))
        })?;
        Ok(Self { by, descending })
    }

    /// The attribute definition (and sub-attribute definition) sorted by, if known.
    fn definitions(
        &self,
        schemas: &SchemaSet,
    ) -> (Option<&'static AttributeDef>, Option<&'static AttributeDef>) {
        let attr = schemas.attribute(self.by.urn.as_deref(), &self.by.name);
        let sub = match (attr, self.by.sub_attr.as_deref()) {
            (Some(a), Some(s)) => a.sub_attribute(s),
            (Some(a), None) if a.multi_valued => a.sub_attribute("value"),
            _ => None,
        };
        (attr, sub)
    }

    /// The sort key of `user`, or `None` when it has no value. Read from the typed
    /// fields (no JSON is built), with the same answer as reading the user's JSON form.
    ///
    /// Extension attributes are those of the core set ([`SchemaSet::core`]); see
    /// [`key_in`](Self::key_in).
    pub fn key(&self, user: &User) -> Option<SortKey> {
        self.key_in(user, SchemaSet::core())
    }

    /// [`key`](Self::key) with the attribute definitions of `schemas` (a server's).
    pub fn key_in(&self, user: &User, schemas: &SchemaSet) -> Option<SortKey> {
        let (attr, sub) = self.definitions(schemas);
        self.key_with(user, attr, sub, schemas)
    }

    /// [`key`](Self::key) with the definitions already looked up.
    fn key_with(
        &self,
        user: &User,
        attr: Option<&'static AttributeDef>,
        sub: Option<&'static AttributeDef>,
        schemas: &SchemaSet,
    ) -> Option<SortKey> {
        if never_returned(attr, sub) {
            return None;
        }
        let multi_valued = attr.is_some_and(|a| a.multi_valued);
        let value = crate::filter::sort_value(user, &self.by, multi_valued, schemas)?;
        match value {
            SortValue::Str(s) => string_key(s, sub.or(attr)),
            // Outside years 0–9999 the JSON text is not RFC 3339: no key, as when read
            // from JSON (and in the SQL stores).
            SortValue::Instant(t) => (0..=9999)
                .contains(&t.year())
                .then(|| SortKey::Time(t.fixed_offset())),
            SortValue::Num(n) => n.as_f64().map(SortKey::Num),
            SortValue::Bool(b) => Some(SortKey::Bool(b)),
        }
    }

    /// The sort key read from the user's JSON form: the definition [`key`](Self::key)
    /// must agree with (tests compare the two).
    #[cfg(test)]
    fn key_from_json(&self, user: &User) -> Option<SortKey> {
        let schemas = SchemaSet::core();
        let (attr, sub) = self.definitions(schemas);
        if never_returned(attr, sub) {
            return None;
        }
        let doc = user.to_value();
        let container = match self.by.urn.as_deref() {
            Some(u) if !u.eq_ignore_ascii_case(USER_SCHEMA) => doc.get(schemas.extension(u)?.id)?,
            _ => &doc,
        };
        let mut value = get_ci(container, &self.by.name)?;
        if let Value::Array(items) = value {
            // RFC 7644 §3.4.2.3: the primary value, else the first.
            value = items
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first())?;
        }
        let sub_name = self.by.sub_attr.as_deref().or_else(|| {
            (value.is_object() && attr.is_some_and(|a| a.multi_valued)).then_some("value")
        });
        if let Some(s) = sub_name {
            value = get_ci(value, s)?;
        }
        match value {
            Value::String(s) => string_key(s, sub.or(attr)),
            Value::Number(n) => n.as_f64().map(SortKey::Num),
            Value::Bool(b) => Some(SortKey::Bool(*b)),
            _ => None,
        }
    }

    /// Sorts users (given in the store's stable order) by this spec: stable, absent
    /// values last in either direction.
    ///
    /// Extension attributes are those of the core set ([`SchemaSet::core`]); a store
    /// sorts with the schemas of the request ([`sort_in`](Self::sort_in)).
    pub fn sort(&self, users: Vec<Arc<User>>) -> Vec<Arc<User>> {
        self.sort_in(users, SchemaSet::core())
    }

    /// [`sort`](Self::sort) with the attribute definitions of `schemas` (a server's, as
    /// [`RequestContext::schemas`](crate::RequestContext::schemas) gives it to a store).
    pub fn sort_in(&self, users: Vec<Arc<User>>, schemas: &SchemaSet) -> Vec<Arc<User>> {
        let (attr, sub) = self.definitions(schemas);
        let mut keyed: Vec<(Option<SortKey>, Arc<User>)> = users
            .into_iter()
            .map(|u| (self.key_with(&u, attr, sub, schemas), u))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| match (a, b) {
            (Some(a), Some(b)) if self.descending => b.cmp(a),
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        });
        keyed.into_iter().map(|(_, u)| u).collect()
    }
}

/// What is never returned gives no order either (the order would reveal it).
fn never_returned(attr: Option<&AttributeDef>, sub: Option<&AttributeDef>) -> bool {
    attr.into_iter()
        .chain(sub)
        .any(|d| d.returned == Returned::Never)
}

/// The key of a string value of the attribute `def`: a time for a dateTime (none when it
/// is not RFC 3339), the string itself when case-exact, else in lower case.
fn string_key(s: &str, def: Option<&AttributeDef>) -> Option<SortKey> {
    match def {
        Some(d) if d.kind == AttributeType::DateTime => {
            DateTime::parse_from_rfc3339(s).ok().map(SortKey::Time)
        }
        Some(d) if d.case_exact => Some(SortKey::Str(s.to_owned())),
        _ => Some(SortKey::Str(s.to_lowercase())),
    }
}

#[cfg(test)]
fn get_ci<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    obj.get(name)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::Compatibility;
    use crate::resource::input::user_from_value;
    use serde_json::json;

    fn user(v: Value) -> Arc<User> {
        Arc::new(
            user_from_value(
                v,
                &Compatibility::default(),
                crate::schema::SchemaSet::core(),
            )
            .unwrap(),
        )
    }

    fn names(users: &[Arc<User>]) -> Vec<&str> {
        users.iter().map(|u| u.user_name.as_str()).collect()
    }

    #[test]
    fn sorts_case_insensitively_absent_last_stable_ties() {
        let users = vec![
            user(json!({"userName": "c", "name": {"familyName": "beta"}})),
            user(json!({"userName": "a", "name": {"familyName": "Alpha"}})),
            user(json!({"userName": "x"})),
            user(json!({"userName": "b", "name": {"familyName": "ALPHA"}})),
        ];
        let asc = SortSpec::parse("name.familyName", None)
            .unwrap()
            .sort(users.clone());
        assert_eq!(names(&asc), ["a", "b", "c", "x"]);
        let desc = SortSpec::parse("name.familyName", Some("Descending"))
            .unwrap()
            .sort(users);
        assert_eq!(names(&desc), ["c", "a", "b", "x"]);
    }

    #[test]
    fn multi_valued_uses_primary_then_first_and_extension_paths_work() {
        let users = vec![
            user(
                json!({"userName": "1", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}}),
            ),
            user(json!({"userName": "2", "emails": [{"value": "m@x"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng"}})),
        ];
        assert_eq!(
            names(&SortSpec::parse("emails", None).unwrap().sort(users.clone())),
            ["1", "2"]
        );
        assert_eq!(
            names(
                &SortSpec::parse("emails.value", None)
                    .unwrap()
                    .sort(users.clone())
            ),
            ["1", "2"]
        );
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
        assert_eq!(
            names(&SortSpec::parse(ent, None).unwrap().sort(users)),
            ["2", "1"]
        );
    }

    #[test]
    fn bad_sort_parameters_are_invalid_value() {
        for (by, order) in [
            ("", None),
            ("a b", None),
            ("emails[type eq \"work\"]", None),
            ("userName", Some("up")),
        ] {
            assert!(
                matches!(SortSpec::parse(by, order), Err(ScimError::InvalidValue(_))),
                "{by:?} {order:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The typed sort key is the one read from the user's JSON form, for every kind
        /// of path: core, sub-attributes, multi-valued (primary, else first), meta
        /// instants, the Enterprise extension, unknown names and URNs.
        #[test]
        fn typed_sort_key_agrees_with_the_json_form(
            user in crate::testing::arbitrary::user(),
            path in proptest::sample::select(&[
                "userName", "USERNAME", "displayName", "title", "externalId", "id", "active",
                "name", "name.givenName", "name.FAMILYNAME", "name.nosuch", "emails",
                "emails.value", "emails.type", "emails.primary", "emails.display",
                "phoneNumbers", "phoneNumbers.value", "addresses", "addresses.country",
                "addresses.primary", "groups", "groups.value", "roles", "meta", "meta.created",
                "meta.lastModified", "meta.version", "meta.resourceType", "schemas", "password",
                "nosuch", "userName.x",
                "urn:ietf:params:scim:schemas:core:2.0:User:title",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:MANAGER.value",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "urn:example:other:title",
            ][..]),
        ) {
            let spec = SortSpec::parse(path, None).unwrap();
            let typed = spec.key(&user);
            let json = spec.key_from_json(&user);
            proptest::prop_assert!(
                match (&typed, &json) {
                    (Some(a), Some(b)) => a.cmp(b) == Ordering::Equal,
                    (None, None) => true,
                    _ => false,
                },
                "{path}: typed {typed:?}, json {json:?}, user {}", user.to_value()
            );
        }
    }
}
