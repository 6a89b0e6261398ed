//! Schema-aware evaluation of filters against the JSON form of a User resource, and the
//! schema check behind [`Filter::validate`].
//!
//! Semantics (RFC 7644 §3.4.2.2, with the choices the RFC leaves open):
//!
//! * Attribute names and extension URNs match resource keys case-insensitively; a URN other
//!   than the core User URN selects the extension object stored under that key.
//! * Strings compare case-insensitively (Unicode lower case) unless the schema says
//!   `caseExact: true`; attributes not in the schema are not case-exact.
//! * `dateTime` attributes compare as instants (RFC 3339); if either side does not parse,
//!   the comparison is false (so `ne` is true).
//! * Numbers compare numerically, booleans with `eq`/`ne` only.
//! * Multi-valued attributes match if any element matches. Without a sub-attribute, the
//!   elements of a multi-valued complex attribute are compared through their `value`.
//! * `ne` is `not eq`: true when no value equals, including when the attribute is absent.
//! * `pr` is true iff the attribute holds something non-empty: not null, not `""`, not
//!   `[]`/`{}`, and for arrays and objects at least one non-empty member.
//!   `eq null` is `not pr`; `ne null` is `pr`; other operators against `null` are false.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use super::{AttrPath, CompValue, CompareOp, Filter, FilterError};
use crate::schema::{AttributeDef, AttributeType, USER_SCHEMA, user_attribute};

/// Where attribute paths are resolved.
#[derive(Clone, Copy)]
enum Scope<'v> {
    /// The resource itself: paths are top-level attributes (or extension attributes).
    Resource(&'v Value),
    /// One element of a value filter: paths are sub-attributes of `parent`.
    Element(&'v Value, Option<&'static AttributeDef>),
}

/// Looks up `key` in a JSON object: exact match first, then ASCII case-insensitively.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn is_core_urn(urn: Option<&str>) -> bool {
    urn.is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA))
}

/// The value of the attribute `path.name` (sub-attribute not applied) and its definition.
fn lookup<'v>(
    scope: Scope<'v>,
    path: &AttrPath,
) -> (Option<&'v Value>, Option<&'static AttributeDef>) {
    match scope {
        Scope::Resource(resource) => {
            let urn = path.urn.as_deref();
            let container = if is_core_urn(urn) {
                Some(resource)
            } else {
                urn.and_then(|u| get_ci(resource, u))
            };
            (
                container.and_then(|c| get_ci(c, &path.name)),
                user_attribute(urn, &path.name),
            )
        }
        Scope::Element(element, parent) => (
            get_ci(element, &path.name),
            parent.and_then(|p| p.sub_attribute(&path.name)),
        ),
    }
}

/// The elements of an array, or the value itself.
fn elements(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// The scalar values a comparison on `path` looks at, and the definition that governs them.
fn comparands<'v>(
    scope: Scope<'v>,
    path: &AttrPath,
) -> (Vec<&'v Value>, Option<&'static AttributeDef>) {
    let (attr, def) = lookup(scope, path);
    let Some(attr) = attr else {
        return (Vec::new(), leaf_def(def, path.sub_attr.as_deref()));
    };
    let sub = path.sub_attr.as_deref();
    let mut out = Vec::new();
    for element in elements(attr) {
        let scalar = match (sub, element) {
            (Some(s), Value::Object(_)) => get_ci(element, s),
            (Some(_), _) => None,
            // Multi-valued complex without sub-attribute: compare through `value`.
            (None, Value::Object(_)) => get_ci(element, "value"),
            (None, other) => Some(other),
        };
        if let Some(v) = scalar {
            out.extend(elements(v).into_iter().filter(|v| !v.is_null()));
        }
    }
    (out, leaf_def(def, sub))
}

/// The definition of the values compared: the sub-attribute's, the `value` sub-attribute's
/// for a complex attribute addressed without sub-attribute, or the attribute's own.
fn leaf_def(
    def: Option<&'static AttributeDef>,
    sub: Option<&str>,
) -> Option<&'static AttributeDef> {
    let def = def?;
    match sub {
        Some(s) => def.sub_attribute(s),
        None if def.kind == AttributeType::Complex => def.sub_attribute("value"),
        None => Some(def),
    }
}

/// Whether a JSON value is "present" in the sense of `pr`: non-null, non-empty.
fn non_empty(value: &Value) -> bool {
    // Iterative so that deeply nested JSON cannot overflow the stack.
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(map) => stack.extend(map.values()),
            _ => return true,
        }
    }
    false
}

fn present(scope: Scope<'_>, path: &AttrPath) -> bool {
    if path.sub_attr.is_some() {
        comparands(scope, path).0.into_iter().any(non_empty)
    } else {
        lookup(scope, path).0.is_some_and(non_empty)
    }
}

pub(super) fn matches(filter: &Filter, resource: &Value) -> bool {
    eval(filter, Scope::Resource(resource))
}

fn eval(filter: &Filter, scope: Scope<'_>) -> bool {
    match filter {
        Filter::And(l, r) => eval(l, scope) && eval(r, scope),
        Filter::Or(l, r) => eval(l, scope) || eval(r, scope),
        Filter::Not(inner) => !eval(inner, scope),
        Filter::Present(path) => present(scope, path),
        Filter::Compare {
            path,
            op,
            value: CompValue::Null,
        } => match op {
            CompareOp::Eq => !present(scope, path),
            CompareOp::Ne => present(scope, path),
            _ => false,
        },
        Filter::Compare { path, op, value } => {
            let (values, def) = comparands(scope, path);
            match op {
                CompareOp::Ne => !values
                    .into_iter()
                    .any(|v| compare(v, CompareOp::Eq, value, def)),
                _ => values.into_iter().any(|v| compare(v, *op, value, def)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let (attr, def) = lookup(scope, path);
            let (attr, def) = match &path.sub_attr {
                // Not produced by the parser; resolve the sub-attribute for completeness.
                Some(sub) => (
                    attr.and_then(|a| get_ci(a, sub)),
                    def.and_then(|d| d.sub_attribute(sub)),
                ),
                None => (attr, def),
            };
            attr.is_some_and(|a| {
                elements(a)
                    .into_iter()
                    .filter(|e| e.is_object())
                    .any(|e| eval(filter, Scope::Element(e, def)))
            })
        }
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn parse_instant(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s.trim()).ok()
}

/// Compares one resource value (`actual`, never null) with a non-null literal.
fn compare(
    actual: &Value,
    op: CompareOp,
    literal: &CompValue,
    def: Option<&'static AttributeDef>,
) -> bool {
    match (actual, literal) {
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (Value::Number(a), CompValue::Number(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        (Value::String(a), CompValue::String(b)) => {
            let kind = def.map(|d| d.kind);
            if kind == Some(AttributeType::DateTime)
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            {
                return match (parse_instant(a), parse_instant(b)) {
                    (Some(x), Some(y)) => ordering_matches(op, x.cmp(&y)),
                    _ => false,
                };
            }
            if def.is_some_and(|d| d.case_exact) {
                compare_strings(a, b, op)
            } else {
                compare_strings(&a.to_lowercase(), &b.to_lowercase(), op)
            }
        }
        _ => false,
    }
}

fn compare_strings(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_matches(op, a.cmp(b)),
    }
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn invalid(message: String) -> FilterError {
    FilterError::new(0, message)
}

/// Where a path is validated: at the top level, or inside `[...]` of a (maybe unknown)
/// parent attribute.
#[derive(Clone, Copy)]
enum Context {
    TopLevel,
    Inside(Option<&'static AttributeDef>),
}

/// The definition of `path` in a validation context.
fn definition(context: Context, path: &AttrPath) -> Option<&'static AttributeDef> {
    match context {
        Context::TopLevel => user_attribute(path.urn.as_deref(), &path.name),
        Context::Inside(parent) => parent.and_then(|p| p.sub_attribute(&path.name)),
    }
}

pub(super) fn validate(filter: &Filter) -> Result<(), FilterError> {
    validate_in(filter, Context::TopLevel)
}

fn validate_in(filter: &Filter, parent: Context) -> Result<(), FilterError> {
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            validate_in(l, parent)?;
            validate_in(r, parent)
        }
        Filter::Not(inner) => validate_in(inner, parent),
        Filter::Present(_) => Ok(()),
        Filter::ValuePath { path, filter } => {
            let def = definition(parent, path);
            let def = match &path.sub_attr {
                Some(sub) => def.and_then(|d| d.sub_attribute(sub)),
                None => def,
            };
            if def.is_some_and(|d| d.kind != AttributeType::Complex) {
                return Err(invalid(format!(
                    "'{path}' is not a complex attribute, so it cannot take a value filter ('[...]')"
                )));
            }
            validate_in(filter, Context::Inside(def))
        }
        Filter::Compare { path, op, value } => validate_compare(parent, path, *op, value),
    }
}

fn validate_compare(
    parent: Context,
    path: &AttrPath,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    match value {
        CompValue::Null if op != CompareOp::Eq && op != CompareOp::Ne => {
            return Err(invalid(format!(
                "operator '{op}' cannot compare with null (use 'pr', 'eq null' or 'ne null')"
            )));
        }
        CompValue::Null => return Ok(()),
        CompValue::Bool(_) if op.is_ordering() => {
            return Err(invalid(format!(
                "operator '{op}' cannot compare with a boolean (use 'eq' or 'ne')"
            )));
        }
        _ => {}
    }
    let Some(def) = definition(parent, path) else {
        return Ok(());
    };
    let leaf = match &path.sub_attr {
        Some(sub) => match def.sub_attribute(sub) {
            Some(d) => d,
            None => return Ok(()),
        },
        None if def.kind == AttributeType::Complex && op.is_ordering() => {
            return Err(invalid(format!(
                "operator '{op}' is not supported on the complex attribute '{path}'; \
                 compare one of its sub-attributes"
            )));
        }
        None if def.kind == AttributeType::Complex => {
            match def.sub_attribute("value").filter(|_| def.multi_valued) {
                Some(d) => d,
                None => {
                    return Err(invalid(format!(
                        "'{path}' is a complex attribute and cannot be compared as a whole; \
                         compare one of its sub-attributes (e.g. '{path}.{}')",
                        def.sub_attributes.first().map_or("value", |s| s.name)
                    )));
                }
            }
        }
        None => def,
    };
    if op.is_ordering()
        && matches!(
            leaf.kind,
            AttributeType::Boolean | AttributeType::Binary | AttributeType::Complex
        )
    {
        return Err(invalid(format!(
            "operator '{op}' is not supported on the {} attribute '{path}'",
            leaf.kind.as_str()
        )));
    }
    Ok(())
}
