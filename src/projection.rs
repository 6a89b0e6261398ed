//! Attribute projection: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9), applied to a rendered resource.
//!
//! `id` and `schemas` are always returned (`returned: always`); `password` is never
//! rendered in the first place. Paths are case-insensitive and may carry a schema URN
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`) or be a
//! whole extension URN; `name.givenName` and `emails.value` select sub-attributes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::schema::{self, Returned, SchemaSet, USER_SCHEMA};

/// One attribute path of a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    /// `None` for the core schema, else the extension URN (canonical spelling).
    extension: Option<&'static str>,
    /// The attribute; `None` selects the whole extension.
    attribute: Option<String>,
    /// The sub-attribute, if any.
    sub: Option<String>,
}

impl Path {
    fn parse(raw: &str, schemas: &SchemaSet) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let (extension, rest) = match schemas.split_extension_path(raw) {
            Some((ext, "")) => {
                return Some(Self {
                    extension: Some(ext.id),
                    attribute: None,
                    sub: None,
                });
            }
            Some((ext, rest)) => (Some(ext.id), rest),
            None => (None, after_urn(raw, USER_SCHEMA).unwrap_or(raw)),
        };
        let (attribute, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s.to_owned())),
            None => (rest, None),
        };
        Some(Self {
            extension,
            attribute: Some(attribute.to_owned()),
            sub,
        })
    }
}

/// What an attribute's paths name: the attribute whole, and which of its sub-attributes
/// (ASCII lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Named {
    whole: bool,
    subs: BTreeSet<String>,
}

/// A list of paths, indexed: each attribute and sub-attribute is looked up once, in
/// logarithmic time, however many paths a request names (a SearchRequest body may name
/// tens of thousands), rather than by scanning the list for every member of every user.
/// Ordered maps, so that a parsed request reads the same every time (its `Debug` form is
/// what the `parse_operation` fuzz target compares).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Paths {
    /// Whole extensions named, by canonical URN.
    extensions: BTreeSet<&'static str>,
    /// Attributes named, by extension and ASCII-lower-cased name.
    attributes: BTreeMap<(Option<&'static str>, String), Named>,
}

impl Paths {
    fn is_empty(&self) -> bool {
        self.extensions.is_empty() && self.attributes.is_empty()
    }

    fn insert(&mut self, path: Path) {
        let Some(attribute) = path.attribute else {
            if let Some(ext) = path.extension {
                self.extensions.insert(ext);
            }
            return;
        };
        let named = self
            .attributes
            .entry((path.extension, attribute.to_ascii_lowercase()))
            .or_default();
        match path.sub {
            Some(sub) => {
                named.subs.insert(sub.to_ascii_lowercase());
            }
            None => named.whole = true,
        }
    }

    /// What is named of attribute `key` of `extension` (`None`: the core schema), not
    /// counting whole-extension paths.
    fn attribute(&self, extension: Option<&'static str>, key: &str) -> Option<&Named> {
        tick();
        if self.attributes.is_empty() {
            return None;
        }
        self.attributes.get(&(extension, lower(key).into_owned()))
    }

    /// Whether the whole extension is named.
    fn whole_extension(&self, extension: &str) -> bool {
        self.extensions.contains(extension)
    }
}

#[cfg(test)]
thread_local! {
    /// Lookups counted by the tests that check projection work is linear.
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one lookup (in tests; nothing otherwise).
#[inline(always)]
fn tick() {
    #[cfg(test)]
    WORK.with(|w| w.set(w.get() + 1));
}

/// `s` in ASCII lower case, copied only when it has an upper-case letter.
fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    tick();
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `s` after a leading `urn` and `:` (the URN in any letter case), if it starts so.
fn after_urn<'a>(s: &'a str, urn: &str) -> Option<&'a str> {
    let rest = s.get(urn.len()..)?.strip_prefix(':')?;
    s.get(..urn.len())?
        .eq_ignore_ascii_case(urn)
        .then_some(rest)
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    include: Option<Paths>,
    exclude: Paths,
}

fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>, schemas: &SchemaSet) -> Paths {
    let mut paths = Paths::default();
    for path in items
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter_map(|raw| Path::parse(raw, schemas))
    {
        paths.insert(path);
    }
    paths
}

impl Projection {
    /// From the comma-separated parameter values (either may be absent). When both are
    /// given, `attributes` wins, as RFC 7644 §3.4.2.5 allows only one. Extension URNs are
    /// those of `schemas`.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>, schemas: &SchemaSet) -> Self {
        Self::from_lists(
            attributes.map(|a| vec![a]),
            excluded.map(|e| vec![e]),
            schemas,
        )
    }

    /// From lists of paths, as a SearchRequest body carries them.
    pub fn from_lists<'a>(
        attributes: Option<Vec<&'a str>>,
        excluded: Option<Vec<&'a str>>,
        schemas: &SchemaSet,
    ) -> Self {
        let include = attributes
            .map(|a| parse_list(a, schemas))
            .filter(|v| !v.is_empty());
        let exclude = if include.is_some() {
            Paths::default()
        } else {
            excluded.map(|e| parse_list(e, schemas)).unwrap_or_default()
        };
        Self { include, exclude }
    }

    /// Whether the projection changes nothing.
    pub fn is_identity(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Applies the projection to a rendered User; `schemas` gives the `returned`
    /// characteristic of extension attributes (the server's, as for [`Projection::new`]).
    pub fn apply(&self, resource: &mut Value, schemas: &SchemaSet) {
        let Value::Object(obj) = resource else { return };
        // Registered extensions may have `returned: never/request/always` attributes,
        // which apply even without `attributes`/`excludedAttributes`.
        let custom = || {
            obj.keys().any(|k| {
                k.starts_with("urn:") && !k.eq_ignore_ascii_case(schema::ENTERPRISE_USER_SCHEMA)
            })
        };
        if self.is_identity() && !custom() {
            return;
        }
        let taken = std::mem::take(obj);
        for (key, value) in taken {
            if key == "id" || key == "schemas" {
                obj.insert(key, value);
                continue;
            }
            let extension = key
                .starts_with("urn:")
                .then(|| schemas.extension(&key).map(|s| s.id))
                .flatten();
            let kept = match (extension, value) {
                (Some(ext), Value::Object(inner)) => {
                    let mut out = Map::new();
                    let def = schemas.extension(ext);
                    for (k, v) in inner {
                        let attr = def.and_then(|d| d.attribute(&k));
                        let returned = attr.map_or(Returned::Default, |a| a.returned);
                        // Sub-attributes follow their own `returned`.
                        let v = match attr.filter(|a| !a.sub_attributes.is_empty()) {
                            Some(a) => {
                                let keep_sub =
                                    |sub: &str| match a.sub_attribute(sub).map(|d| d.returned) {
                                        Some(Returned::Never) => false,
                                        Some(Returned::Request) => self.names_sub(ext, &k, sub),
                                        _ => true,
                                    };
                                match retain_subs(v, keep_sub) {
                                    Some(v) => v,
                                    None => continue,
                                }
                            }
                            None => v,
                        };
                        let kept = match returned {
                            Returned::Never => None,
                            Returned::Always => Some(v),
                            Returned::Request if !self.names(ext, &k) => None,
                            Returned::Request | Returned::Default => self.project(Some(ext), &k, v),
                        };
                        if let Some(v) = kept {
                            out.insert(k, v);
                        }
                    }
                    // A whole-extension path also selects (or excludes) it.
                    match &self.include {
                        Some(inc) if inc.whole_extension(ext) && !out.is_empty() => {
                            Some(Value::Object(out))
                        }
                        _ if self.exclude.whole_extension(ext) => {
                            // `returned: always` attributes survive any exclusion.
                            out.retain(|k, _| {
                                def.and_then(|d| d.attribute(k))
                                    .is_some_and(|a| a.returned == Returned::Always)
                            });
                            (!out.is_empty()).then_some(Value::Object(out))
                        }
                        _ => (!out.is_empty()).then_some(Value::Object(out)),
                    }
                }
                (_, value) => self.project(None, &key, value),
            };
            if let Some(v) = kept {
                obj.insert(key, v);
            }
        }
        // An extension projected away is no longer listed in `schemas`.
        let listed: Vec<String> = obj
            .keys()
            .filter(|k| k.starts_with("urn:"))
            .cloned()
            .collect();
        if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
            schemas.retain(|s| {
                s.as_str()
                    .is_some_and(|s| s == USER_SCHEMA || listed.iter().any(|k| k == s))
            });
        }
    }

    /// Whether `attributes` names attribute `key` of `extension` itself (or one of its
    /// sub-attributes): what a `returned: request` attribute needs to be returned.
    fn names(&self, extension: &'static str, key: &str) -> bool {
        self.include
            .as_ref()
            .is_some_and(|inc| inc.attribute(Some(extension), key).is_some())
    }

    /// Whether `attributes` names sub-attribute `sub` of attribute `key` of `extension`.
    fn names_sub(&self, extension: &'static str, key: &str, sub: &str) -> bool {
        self.include.as_ref().is_some_and(|inc| {
            inc.attribute(Some(extension), key)
                .is_some_and(|n| n.subs.contains(lower(sub).as_ref()))
        })
    }

    /// The projected value of attribute `key` (in `extension`), or `None` to drop it.
    fn project(&self, extension: Option<&'static str>, key: &str, value: Value) -> Option<Value> {
        match &self.include {
            Some(include) => {
                if extension.is_some_and(|e| include.whole_extension(e)) {
                    return Some(value);
                }
                let named = include.attribute(extension, key)?;
                if named.whole {
                    return Some(value);
                }
                retain_subs(value, |k| named.subs.contains(lower(k).as_ref()))
            }
            None => match self.exclude.attribute(extension, key) {
                None => Some(value),
                Some(named) if named.whole => None,
                Some(named) => retain_subs(value, |k| !named.subs.contains(lower(k).as_ref())),
            },
        }
    }
}

/// Keeps the sub-attributes for which `keep` holds, in an object or in each object of an
/// array; drops what becomes empty.
fn retain_subs(value: Value, keep: impl Fn(&str) -> bool + Copy) -> Option<Value> {
    match value {
        Value::Object(mut m) => {
            m.retain(|k, _| keep(k));
            (!m.is_empty()).then_some(Value::Object(m))
        }
        Value::Array(items) => {
            let items: Vec<Value> = items
                .into_iter()
                .filter_map(|v| retain_subs(v, keep))
                .collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA;
    use serde_json::json;

    /// `user()` after `attributes=include` / `excludedAttributes=exclude`.
    fn projected(include: Option<&str>, exclude: Option<&str>) -> Value {
        let mut u = user();
        Projection::new(include, exclude, SchemaSet::core()).apply(&mut u, SchemaSet::core());
        u
    }

    /// `user()` projected on `userName,name.givenName,emails.value`.
    fn name_and_email_values() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "a@x"}, {"value": "b@x"}]
        })
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
            "id": "1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            "meta": {"resourceType": "User"},
            ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "department": "Ops"}
        })
    }

    #[test]
    fn attributes_keep_only_requested_plus_always_returned() {
        let u = projected(Some("userName,name.givenName,emails.value"), None);
        assert_eq!(u, name_and_email_values());
    }

    #[test]
    fn extension_paths_select_inside_the_extension() {
        let u = projected(
            Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")),
            None,
        );
        assert_eq!(u[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert!(u.get("userName").is_none());
        let u = projected(Some(ENTERPRISE_USER_SCHEMA), None);
        assert_eq!(u[ENTERPRISE_USER_SCHEMA]["department"], "Ops");
    }

    /// The work of one projection, counted: `n` paths (half naming sub-attributes of
    /// `emails`, half unknown attributes) over a user of `n` emails.
    fn projection_work(n: usize) -> u64 {
        let mut paths: Vec<String> = (0..n / 2).map(|i| format!("emails.s{i}")).collect();
        paths.extend((0..n / 2).map(|i| format!("unknown{i}")));
        paths.push("emails.VALUE".into());
        let mut u = user();
        u["emails"] = Value::Array(
            (0..n)
                .map(|i| json!({"value": format!("u{i}@x"), "type": "work", "display": "D"}))
                .collect(),
        );
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        for (include, exclude) in [(Some(refs.clone()), None), (None, Some(refs.clone()))] {
            Projection::from_lists(include, exclude, SchemaSet::core())
                .apply(&mut u.clone(), SchemaSet::core());
        }
        WORK.with(|w| w.replace(0))
    }

    #[test]
    fn projection_of_many_paths_over_many_elements_does_linear_work() {
        crate::test_checks::assert_n_log_n("projection lookups", 200, projection_work);
    }

    #[test]
    fn many_paths_project_as_few_do() {
        let mut u = user();
        let mut paths = vec!["EMAILS.value", "name.GIVENNAME", "userName"];
        paths.extend(std::iter::repeat_n("emails.value", 1000));
        Projection::from_lists(Some(paths), None, SchemaSet::core())
            .apply(&mut u, SchemaSet::core());
        assert_eq!(u, name_and_email_values());
    }

    #[test]
    fn excluded_attributes_remove_but_never_id() {
        let u = projected(None, Some("NAME, emails.type,id,meta"));
        assert!(u.get("name").is_none());
        assert!(u.get("meta").is_none());
        assert_eq!(u["id"], "1");
        assert_eq!(u["emails"][0], json!({"value": "a@x"}));
        let u = projected(None, Some(ENTERPRISE_USER_SCHEMA));
        assert!(u.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
    }
}
