//! Attribute projection: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9), applied to a rendered resource.
//!
//! `id` and `schemas` are always returned (`returned: always`); `password` is never
//! rendered in the first place. Paths are case-insensitive and may carry a schema URN
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`) or be a
//! whole extension URN; `name.givenName` and `emails.value` select sub-attributes.

use serde_json::{Map, Value};

use crate::schema::{self, Returned, USER_SCHEMA};

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
    fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let (extension, rest) = match schema::split_extension_path(raw) {
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

    fn selects_key(&self, extension: Option<&str>, key: &str) -> bool {
        self.extension == extension
            && self
                .attribute
                .as_deref()
                .is_none_or(|a| a.eq_ignore_ascii_case(key))
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
    include: Option<Vec<Path>>,
    exclude: Vec<Path>,
}

fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<Path> {
    items
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter_map(Path::parse)
        .collect()
}

impl Projection {
    /// From the comma-separated parameter values (either may be absent). When both are
    /// given, `attributes` wins, as RFC 7644 §3.4.2.5 allows only one.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        Self::from_lists(attributes.map(|a| vec![a]), excluded.map(|e| vec![e]))
    }

    /// From lists of paths, as a SearchRequest body carries them.
    pub fn from_lists<'a>(
        attributes: Option<Vec<&'a str>>,
        excluded: Option<Vec<&'a str>>,
    ) -> Self {
        let include = attributes.map(parse_list).filter(|v| !v.is_empty());
        let exclude = if include.is_some() {
            Vec::new()
        } else {
            excluded.map(parse_list).unwrap_or_default()
        };
        Self { include, exclude }
    }

    /// Whether the projection changes nothing.
    pub fn is_identity(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Applies the projection to a rendered User.
    pub fn apply(&self, resource: &mut Value) {
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
                .then(|| schema::extension(&key).map(|s| s.id))
                .flatten();
            let kept = match (extension, value) {
                (Some(ext), Value::Object(inner)) => {
                    let mut out = Map::new();
                    let def = schema::extension(ext);
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
                    let whole = |paths: &[Path]| {
                        paths
                            .iter()
                            .any(|p| p.extension == Some(ext) && p.attribute.is_none())
                    };
                    match &self.include {
                        Some(inc) if whole(inc) && !out.is_empty() => Some(Value::Object(out)),
                        _ if whole(&self.exclude) => {
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
    fn names(&self, extension: &str, key: &str) -> bool {
        self.include.as_ref().is_some_and(|inc| {
            inc.iter()
                .any(|p| p.attribute.is_some() && p.selects_key(Some(extension), key))
        })
    }

    /// Whether `attributes` names sub-attribute `sub` of attribute `key` of `extension`.
    fn names_sub(&self, extension: &str, key: &str, sub: &str) -> bool {
        self.include.as_ref().is_some_and(|inc| {
            inc.iter().any(|p| {
                p.selects_key(Some(extension), key)
                    && p.attribute.is_some()
                    && p.sub
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(sub))
            })
        })
    }

    /// The projected value of attribute `key` (in `extension`), or `None` to drop it.
    fn project(&self, extension: Option<&str>, key: &str, value: Value) -> Option<Value> {
        match &self.include {
            Some(include) => {
                let paths: Vec<&Path> = include
                    .iter()
                    .filter(|p| p.selects_key(extension, key))
                    .collect();
                if paths.is_empty() {
                    return None;
                }
                if paths.iter().any(|p| p.sub.is_none()) {
                    return Some(value);
                }
                let subs: Vec<&str> = paths.iter().filter_map(|p| p.sub.as_deref()).collect();
                retain_subs(value, |k| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            }
            None => {
                let paths: Vec<&Path> = self
                    .exclude
                    .iter()
                    .filter(|p| p.attribute.is_some() && p.selects_key(extension, key))
                    .collect();
                if paths.iter().any(|p| p.sub.is_none()) {
                    return None;
                }
                if paths.is_empty() {
                    return Some(value);
                }
                let subs: Vec<&str> = paths.iter().filter_map(|p| p.sub.as_deref()).collect();
                retain_subs(value, |k| !subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
            }
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
        let mut u = user();
        Projection::new(Some("userName,name.givenName,emails.value"), None).apply(&mut u);
        assert_eq!(
            u,
            json!({
                "schemas": [USER_SCHEMA],
                "id": "1",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "a@x"}, {"value": "b@x"}]
            })
        );
    }

    #[test]
    fn extension_paths_select_inside_the_extension() {
        let mut u = user();
        Projection::new(
            Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")),
            None,
        )
        .apply(&mut u);
        assert_eq!(u[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert!(u.get("userName").is_none());
        let mut u = user();
        Projection::new(Some(ENTERPRISE_USER_SCHEMA), None).apply(&mut u);
        assert_eq!(u[ENTERPRISE_USER_SCHEMA]["department"], "Ops");
    }

    #[test]
    fn excluded_attributes_remove_but_never_id() {
        let mut u = user();
        Projection::new(None, Some("NAME, emails.type,id,meta")).apply(&mut u);
        assert!(u.get("name").is_none());
        assert!(u.get("meta").is_none());
        assert_eq!(u["id"], "1");
        assert_eq!(u["emails"][0], json!({"value": "a@x"}));
        let mut u = user();
        Projection::new(None, Some(ENTERPRISE_USER_SCHEMA)).apply(&mut u);
        assert!(u.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
    }
}
