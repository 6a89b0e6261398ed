//! [`Target`]: the User attribute a column holds, read from and written to a user's JSON.

use std::fmt;

use serde_json::{Map, Value};

use super::CsvError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::patch::PatchPath;
use crate::schema::{
    AttributeType, ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA, Mutability, Returned, SchemaSet,
    user_attribute,
};

/// Where the cells of one column go: one value of one User attribute.
///
/// Written as a SCIM attribute path ([`Target::parse`]):
///
/// | path | the cell is |
/// |---|---|
/// | `nickName`, `externalId`, `active` | a singular attribute |
/// | `name.middleName`, `manager.value` (or just `manager`) | a sub-attribute of a singular complex attribute |
/// | `department`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter` | an Enterprise User attribute (the URN may be left out) |
/// | `phoneNumbers[type eq "mobile"].value` (or without `.value`), `addresses[type eq "work"].locality` | one sub-attribute of the element of that `type` of a multi-valued attribute |
///
/// ```
/// use scimkit::csv::Target;
/// let t = Target::parse(r#"PHONENUMBERS[type eq "mobile"]"#).unwrap();
/// assert_eq!(t.to_string(), r#"phoneNumbers[type eq "mobile"].value"#);
/// assert!(Target::parse("id").is_err()); // read-only
/// assert!(Target::parse("shoeSize").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The extension the attribute is in (its canonical URN); `None` for the core schema.
    extension: Option<&'static str>,
    /// Canonical attribute name.
    attribute: &'static str,
    /// For a multi-valued attribute: the `type` of the element.
    element: Option<String>,
    /// Canonical sub-attribute name (always set for complex attributes).
    sub: Option<&'static str>,
    /// The type of the cell's value.
    kind: AttributeType,
    /// Whether the attribute (or sub-attribute) is never returned.
    never_returned: bool,
}

impl Target {
    /// A singular core attribute.
    pub(crate) const fn core(attribute: &'static str, kind: AttributeType) -> Self {
        Self {
            extension: None,
            attribute,
            element: None,
            sub: None,
            kind,
            never_returned: false,
        }
    }

    /// A string sub-attribute of a singular complex core attribute.
    pub(crate) const fn sub_attribute(attribute: &'static str, sub: &'static str) -> Self {
        Self {
            extension: None,
            attribute,
            element: None,
            sub: Some(sub),
            kind: AttributeType::String,
            never_returned: false,
        }
    }

    /// A string attribute (or sub-attribute) of the Enterprise User extension.
    pub(crate) const fn enterprise(attribute: &'static str, sub: Option<&'static str>) -> Self {
        Self {
            extension: Some(ENTERPRISE_USER_SCHEMA),
            attribute,
            element: None,
            sub,
            kind: AttributeType::String,
            never_returned: false,
        }
    }

    /// The `userName` column.
    pub(crate) const USER_NAME: Self = Self::core("userName", AttributeType::String);

    /// The target of the default `email` column: `emails[type eq "work"].value`.
    pub(crate) fn work_email() -> Self {
        Self {
            element: Some("work".into()),
            sub: Some("value"),
            ..Self::core("emails", AttributeType::String)
        }
    }

    /// Parses and resolves an attribute path against the User schema, case-insensitively.
    /// Read-only attributes (`id`, `meta`, `groups`, `manager.displayName`), unknown ones,
    /// and multi-valued attributes without a `[type eq "..."]` selector are refused.
    /// Extension attributes are those of [`SchemaSet::core`] ([`Target::parse_in`] for a
    /// server's).
    pub fn parse(path: &str) -> Result<Self, CsvError> {
        Self::parse_in(path, SchemaSet::core())
    }

    /// [`Target::parse`] with the extension schemas of `schemas` (a server's).
    pub fn parse_in(path: &str, schemas: &SchemaSet) -> Result<Self, CsvError> {
        let bad = |why: &str| CsvError::Mapping(format!("{path:?}: {why}"));
        let p = PatchPath::parse_with_limits(path, &crate::filter::ParseLimits::default(), schemas)
            .map_err(|e| bad(&e.to_string()))?;
        let Some(name) = p.attribute.as_deref() else {
            return Err(bad("a column holds one attribute, not a whole extension"));
        };
        let (extension, def) = match p.urn.as_deref() {
            Some(urn) => match schemas.extension(urn) {
                Some(ext) => (Some(ext.id), ext.attribute(name)),
                None => return Err(bad("unknown schema extension")),
            },
            None => match user_attribute(None, name) {
                Some(def) => (None, Some(def)),
                None => (
                    Some(ENTERPRISE_USER_SCHEMA),
                    ENTERPRISE_USER.attribute(name),
                ),
            },
        };
        let def = def.ok_or_else(|| bad("not a User attribute"))?;
        if def.mutability == Mutability::ReadOnly {
            return Err(bad("read-only attribute"));
        }
        let element = match (&p.filter, def.multi_valued) {
            (None, false) => None,
            (Some(_), false) => return Err(bad("only multi-valued attributes take a [...]")),
            (Some(f), true) => Some(
                type_selector(f)
                    .filter(|_| def.sub_attribute("type").is_some())
                    .ok_or_else(|| bad("the selector must be [type eq \"...\"]"))?,
            ),
            (None, true) => {
                return Err(bad(
                    "a multi-valued attribute needs a [type eq \"...\"] selector",
                ));
            }
        };
        let sub = match (p.sub_attribute.as_deref(), def.kind) {
            (Some(_), k) if k != AttributeType::Complex => {
                return Err(bad("not a complex attribute"));
            }
            (Some(s), _) => Some(
                def.sub_attribute(s)
                    .ok_or_else(|| bad("unknown sub-attribute"))?,
            ),
            (None, AttributeType::Complex) => Some(
                def.sub_attribute("value")
                    .ok_or_else(|| bad("name a sub-attribute, e.g. name.givenName"))?,
            ),
            (None, _) => None,
        };
        if let Some(s) = sub {
            if s.mutability == Mutability::ReadOnly {
                return Err(bad("read-only sub-attribute"));
            }
            if element.is_some() && s.name == "type" {
                return Err(bad("the type is the selector, not a column"));
            }
        }
        Ok(Self {
            extension,
            attribute: def.name,
            element,
            sub: sub.map(|s| s.name),
            kind: sub.map_or(def.kind, |s| s.kind),
            never_returned: std::iter::once(def)
                .chain(sub)
                .any(|d| d.returned == Returned::Never),
        })
    }

    /// The value of a (trimmed, non-empty) cell: booleans are `true`/`false`/`yes`/`no`/
    /// `1`/`0` in any letter case; numbers for numeric attributes; text otherwise.
    pub(crate) fn cell_value(&self, cell: &str) -> Result<Value, String> {
        match self.kind {
            AttributeType::Boolean => parse_bool(cell)
                .map(Value::Bool)
                .ok_or_else(|| format!("{cell:?} is not true/false/yes/no/1/0")),
            AttributeType::Integer => cell
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{cell:?} is not an integer")),
            AttributeType::Decimal => cell
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("{cell:?} is not a number")),
            _ => Ok(Value::String(cell.to_owned())),
        }
    }

    fn is_element(&self, e: &Value) -> bool {
        let kind = self.element.as_deref().unwrap_or_default();
        e.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    }

    /// Whether the column's attribute (or sub-attribute) is never returned, such as a
    /// write-only value of a host's extension: an export shows it as an empty cell.
    pub(crate) fn never_returned(&self) -> bool {
        self.never_returned
    }

    /// The value this column shows for a user rendered as JSON ([`crate::User::to_value`]);
    /// `None` for an attribute that is never returned.
    pub(crate) fn get<'d>(&self, doc: &'d Value) -> Option<&'d Value> {
        if self.never_returned() {
            return None;
        }
        let container = match self.extension {
            Some(urn) => doc.get(urn)?,
            None => doc,
        };
        let attr = container.get(self.attribute)?;
        let holder = match &self.element {
            Some(_) => attr.as_array()?.iter().find(|e| self.is_element(e))?,
            None => attr,
        };
        match self.sub {
            Some(sub) => holder.get(sub),
            None => Some(holder),
        }
    }

    /// Sets (`Some`) or clears (`None`) this column's value in a user's JSON object.
    /// A new element of a multi-valued attribute gets the selector's `type`, and is
    /// `primary` when no other element is. A cleared element left with nothing but its
    /// `type` and `primary` is removed, as is an emptied complex attribute.
    pub(crate) fn set(&self, doc: &mut Map<String, Value>, value: Option<Value>) {
        let container = if let Some(urn) = self.extension {
            let ext = doc.entry(urn).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            match ext.as_object_mut() {
                Some(m) => m,
                None => return,
            }
        } else {
            doc
        };
        let (Some(value), attr) = (value, self.attribute) else {
            self.clear(container);
            return;
        };
        match (&self.element, self.sub) {
            (None, None) => {
                container.insert(attr.into(), value);
            }
            (None, Some(sub)) => {
                if let Some(obj) = object_at(container, attr) {
                    obj.insert(sub.into(), value);
                }
            }
            (Some(kind), sub) => {
                let sub = sub.unwrap_or("value");
                let slot = container
                    .entry(attr)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let Some(items) = slot.as_array_mut() else {
                    return;
                };
                if let Some(e) = items
                    .iter_mut()
                    .find(|e| self.is_element(e))
                    .and_then(Value::as_object_mut)
                {
                    e.insert(sub.into(), value);
                    return;
                }
                let has_primary = items
                    .iter()
                    .any(|e| e.get("primary") == Some(&Value::Bool(true)));
                let mut e = Map::new();
                e.insert(sub.into(), value);
                e.insert("type".into(), Value::String(kind.clone()));
                if !has_primary {
                    e.insert("primary".into(), Value::Bool(true));
                }
                items.push(Value::Object(e));
            }
        }
    }

    fn clear(&self, container: &mut Map<String, Value>) {
        let attr = self.attribute;
        let emptied = match (&self.element, self.sub, container.get_mut(attr)) {
            (None, None, _) => true,
            (None, Some(sub), Some(Value::Object(obj))) => {
                obj.remove(sub);
                obj.is_empty()
            }
            (Some(_), sub, Some(Value::Array(items))) => {
                if let Some(i) = items.iter().position(|e| self.is_element(e)) {
                    let left = items.get_mut(i).and_then(Value::as_object_mut).map(|e| {
                        e.remove(sub.unwrap_or("value"));
                        e.keys().all(|k| k == "type" || k == "primary")
                    });
                    if left.unwrap_or(true) {
                        items.remove(i);
                    }
                }
                items.is_empty()
            }
            _ => false,
        };
        if emptied {
            container.remove(attr);
        }
    }
}

fn object_at<'m>(
    container: &'m mut Map<String, Value>,
    attr: &str,
) -> Option<&'m mut Map<String, Value>> {
    let slot = container
        .entry(attr)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// `type eq "..."`, the only selector a column may use.
fn type_selector(f: &Filter) -> Option<String> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(kind),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.name.eq_ignore_ascii_case("type") =>
        {
            Some(kind.clone())
        }
        _ => None,
    }
}

/// `true`/`false`/`yes`/`no`/`1`/`0`, in any letter case.
pub(crate) fn parse_bool(cell: &str) -> Option<bool> {
    const TRUE: [&str; 3] = ["true", "yes", "1"];
    const FALSE: [&str; 3] = ["false", "no", "0"];
    if TRUE.iter().any(|t| cell.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|f| cell.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = self.extension {
            write!(f, "{urn}:")?;
        }
        f.write_str(self.attribute)?;
        if let Some(kind) = &self.element {
            let quoted = serde_json::to_string(kind).map_err(|_| fmt::Error)?;
            write!(f, "[type eq {quoted}]")?;
        }
        if let Some(sub) = self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_paths_and_refuses_what_a_column_cannot_hold() {
        for (path, shown) in [
            ("NAME.middlename", "name.middleName"),
            (
                "manager",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            ),
            (
                "costCenter",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
            ),
            (
                r#"addresses[TYPE eq "work"].Locality"#,
                r#"addresses[type eq "work"].locality"#,
            ),
            ("urn:ietf:params:scim:schemas:core:2.0:User:title", "title"),
        ] {
            assert_eq!(Target::parse(path).unwrap().to_string(), shown);
        }
        for bad in [
            "id",
            "meta.created",
            "groups",
            "emails",
            "emails.value",
            r#"emails[value eq "x"].value"#,
            r#"emails[type eq "work"].type"#,
            r#"name[type eq "x"].givenName"#,
            "name",
            "title.x",
            "manager.displayName",
            "urn:example:ext:1.0:User:badge",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_get_and_clear_round_trip_on_json() {
        let mobile = Target::parse(r#"phoneNumbers[type eq "mobile"]"#).unwrap();
        let dept = Target::parse("department").unwrap();
        let mut doc = Map::new();
        mobile.set(&mut doc, Some(json!("+1 555")));
        dept.set(&mut doc, Some(json!("R&D")));
        let v = Value::Object(doc.clone());
        assert_eq!(mobile.get(&v), Some(&json!("+1 555")));
        assert_eq!(v["phoneNumbers"][0]["primary"], true);
        assert_eq!(dept.get(&v), Some(&json!("R&D")));
        mobile.set(&mut doc, None);
        assert!(doc.get("phoneNumbers").is_none());
    }

    #[test]
    fn booleans_are_read_leniently() {
        for (cell, b) in [
            ("TRUE", true),
            ("yes", true),
            ("1", true),
            ("No", false),
            ("0", false),
        ] {
            assert_eq!(parse_bool(cell), Some(b));
        }
        assert_eq!(parse_bool("maybe"), None);
    }
}
