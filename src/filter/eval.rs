//! Schema-aware evaluation of filters, and the schema check behind [`Filter::validate`].
//!
//! Evaluation is written once, over the [`Node`] view of a resource: a borrowed tree that
//! looks like the resource's JSON form (objects with case-insensitive member lookup, arrays,
//! scalars). It is implemented for `serde_json::Value` here ([`Filter::matches_value`]) and
//! for the typed [`User`](crate::User) in `user.rs` ([`Filter::matches`]), so both give the
//! same answers by construction.
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

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use serde_json::{Number, Value};

use super::{AttrPath, CompValue, CompareOp, Filter, FilterError};
use crate::schema::{AttributeDef, AttributeType, Returned, SchemaSet, USER_SCHEMA};

// ---------------------------------------------------------------------------------------
// The resource view
// ---------------------------------------------------------------------------------------

/// A scalar value of a resource, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar<'a> {
    /// A JSON boolean.
    Bool(bool),
    /// A JSON number.
    Number(&'a Number),
    /// A JSON string.
    Str(&'a str),
    /// A typed timestamp, standing for the JSON string it serializes to.
    Instant(&'a DateTime<Utc>),
}

/// A borrowed view of (part of) a resource, shaped like its JSON form.
pub(super) trait Node<'a>: Copy {
    /// The member `key` of an object, matched case-insensitively (an exact match wins);
    /// `None` when absent or when `self` is not an object.
    fn member(self, key: &str) -> Option<Self>;

    /// Whether this is an object.
    fn is_object(self) -> bool;

    /// Whether this is JSON `null`.
    fn is_null(self) -> bool;

    /// Calls `f` on each element of an array, or on `self` if it is not an array; returns
    /// `true` as soon as `f` does.
    fn any_element(self, f: impl FnMut(Self) -> bool) -> bool;

    /// The scalar this node holds, or `None` for null, arrays and objects.
    fn scalar(self) -> Option<Scalar<'a>>;

    /// Whether the value is "present" in the sense of `pr`: non-null, non-empty.
    fn non_empty(self) -> bool;
}

/// Looks up `key` in a JSON object: exact match first, then ASCII case-insensitively.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    get_ci_map(value.as_object()?, key)
}

/// Looks up `key` in a JSON map: exact match first, then ASCII case-insensitively.
pub(super) fn get_ci_map<'v>(
    obj: &'v serde_json::Map<String, Value>,
    key: &str,
) -> Option<&'v Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl<'a> Node<'a> for &'a Value {
    fn member(self, key: &str) -> Option<Self> {
        get_ci(self, key)
    }

    fn is_object(self) -> bool {
        Value::is_object(self)
    }

    fn is_null(self) -> bool {
        Value::is_null(self)
    }

    fn any_element(self, mut f: impl FnMut(Self) -> bool) -> bool {
        match self {
            Value::Array(items) => items.iter().any(f),
            other => f(other),
        }
    }

    fn scalar(self) -> Option<Scalar<'a>> {
        match self {
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Number(n) => Some(Scalar::Number(n)),
            Value::String(s) => Some(Scalar::Str(s)),
            _ => None,
        }
    }

    fn non_empty(self) -> bool {
        // Iterative so that deeply nested JSON cannot overflow the stack.
        let mut stack = vec![self];
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
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

/// Where attribute paths are resolved.
#[derive(Clone, Copy)]
enum Scope<'s, N> {
    /// The resource itself: paths are top-level attributes (or extension attributes of
    /// the schemas).
    Resource(N, &'s SchemaSet),
    /// One element of a value filter: paths are sub-attributes of `parent`.
    Element(N, Option<&'static AttributeDef>),
}

fn is_core_urn(urn: Option<&str>) -> bool {
    urn.is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA))
}

/// The value of the attribute `path.name` (sub-attribute not applied) and its definition.
fn lookup<'a, N: Node<'a>>(
    scope: Scope<'_, N>,
    path: &AttrPath,
) -> (Option<N>, Option<&'static AttributeDef>) {
    lookup_parts(scope, path.urn.as_deref(), &path.name)
}

/// [`lookup`] of the attribute `name` (in the schema `urn`, if any).
fn lookup_parts<'a, N: Node<'a>>(
    scope: Scope<'_, N>,
    urn: Option<&str>,
    name: &str,
) -> (Option<N>, Option<&'static AttributeDef>) {
    match scope {
        Scope::Resource(resource, schemas) => {
            let def = schemas.attribute(urn, name);
            (resource_member(resource, urn, name, def.is_some()), def)
        }
        Scope::Element(element, parent) => (
            element.member(name),
            parent.and_then(|p| p.sub_attribute(name)),
        ),
    }
}

/// The attribute `urn:name` of `resource`; `defined` says whether the schemas define it.
/// A URN prefix must name a schema of the resource: `meta:created` or
/// `urn:example:other:userName` name nothing, even though the JSON has a `meta` member
/// (the SQL stores resolve paths the same way).
fn resource_member<'a, N: Node<'a>>(
    resource: N,
    urn: Option<&str>,
    name: &str,
    defined: bool,
) -> Option<N> {
    let container = if is_core_urn(urn) {
        Some(resource)
    } else {
        urn.filter(|_| defined).and_then(|u| resource.member(u))
    };
    container.and_then(|c| c.member(name))
}

/// Calls `f` on each scalar value a comparison on `attr` (with `sub`) looks at; `true` as
/// soon as `f` is. Multi-valued complex attributes without a sub-attribute are compared
/// through their `value`; nulls are skipped.
fn any_comparand<'a, N: Node<'a>>(
    attr: Option<N>,
    sub: Option<&str>,
    mut f: impl FnMut(N) -> bool,
) -> bool {
    let Some(attr) = attr else {
        return false;
    };
    attr.any_element(|element| {
        let value = match sub {
            Some(s) if element.is_object() => element.member(s),
            Some(_) => None,
            None if element.is_object() => element.member("value"),
            None => Some(element),
        };
        value.is_some_and(|v| v.any_element(|v| !v.is_null() && f(v)))
    })
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

fn present<'a, N: Node<'a>>(scope: Scope<'_, N>, path: &AttrPath) -> bool {
    present_parts(
        scope,
        path.urn.as_deref(),
        &path.name,
        path.sub_attr.as_deref(),
    )
}

/// [`present`] of the path `urn:name.sub`, given in borrowed parts.
fn present_parts<'a, N: Node<'a>>(
    scope: Scope<'_, N>,
    urn: Option<&str>,
    name: &str,
    sub: Option<&str>,
) -> bool {
    let (attr, _) = lookup_parts(scope, urn, name);
    present_below(attr, sub)
}

/// Whether `attr` (an attribute's value, if any) has a non-empty value, or `sub` one.
fn present_below<'a, N: Node<'a>>(attr: Option<N>, sub: Option<&str>) -> bool {
    match sub {
        Some(sub) => any_comparand(attr, Some(sub), N::non_empty),
        None => attr.is_some_and(N::non_empty),
    }
}

/// Calls `f(None)` if `resource` matches `urn:name pr`, then `f(Some(sub))` for each
/// sub-attribute of `subs` for which it matches `urn:name.sub pr`: what [`present`]
/// answers for each of these paths, with the attribute looked up once.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn present_each<'a, 's, N: Node<'a>>(
    resource: N,
    schemas: &SchemaSet,
    urn: Option<&str>,
    name: &str,
    subs: impl IntoIterator<Item = &'s str>,
    mut f: impl FnMut(Option<&'s str>),
) {
    // Only the value: the definition matters only for whether an extension's URN names
    // a schema of the resource.
    let defined = !is_core_urn(urn) && schemas.attribute(urn, name).is_some();
    let attr = resource_member(resource, urn, name, defined);
    if present_below(attr, None) {
        f(None);
    }
    if attr.is_none() {
        // No sub-attribute of an absent attribute has a value.
        return;
    }
    for sub in subs {
        if present_below(attr, Some(sub)) {
            f(Some(sub));
        }
    }
}

/// Evaluates `filter` against a resource of the schemas `schemas`.
pub(super) fn matches<'a, N: Node<'a>>(filter: &Filter, resource: N, schemas: &SchemaSet) -> bool {
    eval(filter, Scope::Resource(resource, schemas))
}

/// Evaluates the filter of a value path on the multi-valued complex attribute `def`
/// (`type eq "work"` of `emails[type eq "work"]`) against one of its elements, as the
/// value path does for each element.
pub(crate) fn matches_element(
    filter: &Filter,
    element: &Value,
    def: &'static AttributeDef,
) -> bool {
    matches_element_node(filter, element, def)
}

/// [`matches_element`] over any node (the typed elements of `user.rs`).
pub(super) fn matches_element_node<'a, N: Node<'a>>(
    filter: &Filter,
    element: N,
    def: &'static AttributeDef,
) -> bool {
    element.is_object() && eval(filter, Scope::Element(element, Some(def)))
}

fn eval<'a, N: Node<'a>>(filter: &Filter, scope: Scope<'_, N>) -> bool {
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
            let (attr, def) = lookup(scope, path);
            let sub = path.sub_attr.as_deref();
            let def = leaf_def(def, sub);
            match op {
                CompareOp::Ne => !any_comparand(attr, sub, |v| {
                    compare(v.scalar(), CompareOp::Eq, value, def)
                }),
                _ => any_comparand(attr, sub, |v| compare(v.scalar(), *op, value, def)),
            }
        }
        Filter::ValuePath { path, filter } => {
            let (attr, def) = lookup(scope, path);
            let (attr, def) = match &path.sub_attr {
                // Not produced by the parser; resolve the sub-attribute for completeness.
                Some(sub) => (
                    attr.and_then(|a| a.member(sub)),
                    def.and_then(|d| d.sub_attribute(sub)),
                ),
                None => (attr, def),
            };
            attr.is_some_and(|a| {
                a.any_element(|e| e.is_object() && eval(filter, Scope::Element(e, def)))
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------

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

fn is_substring_op(op: CompareOp) -> bool {
    matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
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

/// Compares one resource value (`actual`, never null; `None` for arrays and objects) with a
/// non-null literal.
fn compare(
    actual: Option<Scalar<'_>>,
    op: CompareOp,
    literal: &CompValue,
    def: Option<&'static AttributeDef>,
) -> bool {
    let is_datetime = def.is_some_and(|d| d.kind == AttributeType::DateTime);
    match (actual, literal) {
        (Some(Scalar::Bool(a)), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == *b,
            CompareOp::Ne => a != *b,
            _ => false,
        },
        (Some(Scalar::Number(a)), CompValue::Number(b)) => {
            compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord))
        }
        (Some(Scalar::Str(a)), CompValue::String(b)) => {
            if is_datetime && !is_substring_op(op) {
                return match (parse_instant(a), parse_instant(b)) {
                    (Some(x), Some(y)) => ordering_matches(op, x.cmp(&y)),
                    _ => false,
                };
            }
            compare_strings(a, b, op, def.is_some_and(|d| d.case_exact))
        }
        (Some(Scalar::Instant(a)), CompValue::String(b)) => {
            // Instants whose JSON form is plain RFC 3339 (years 0-9999, no leap second)
            // compare directly; anything else goes through the exact JSON string.
            let rfc3339 = (0..=9999).contains(&a.year()) && a.nanosecond() < 1_000_000_000;
            if is_datetime && !is_substring_op(op) && rfc3339 {
                return parse_instant(b)
                    .is_some_and(|y| ordering_matches(op, a.cmp(&y.with_timezone(&Utc))));
            }
            match serde_json::to_value(a) {
                Ok(Value::String(s)) => compare(Some(Scalar::Str(&s)), op, literal, def),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Compares two strings; unless `case_exact`, as if both were lower-cased with
/// [`str::to_lowercase`] (without allocating when both are ASCII).
fn compare_strings(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    if case_exact {
        compare_exact(a, b, op)
    } else if a.is_ascii() && b.is_ascii() {
        compare_ascii_ci(a.as_bytes(), b.as_bytes(), op)
    } else {
        compare_exact(&a.to_lowercase(), &b.to_lowercase(), op)
    }
}

fn compare_exact(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_matches(op, a.cmp(b)),
    }
}

/// [`compare_exact`] on the ASCII lower case of `a` and `b`.
fn compare_ascii_ci(a: &[u8], b: &[u8], op: CompareOp) -> bool {
    match op {
        CompareOp::Co => contains_ascii_ci(a, b),
        CompareOp::Sw => a.get(..b.len()).is_some_and(|p| p.eq_ignore_ascii_case(b)),
        CompareOp::Ew => a
            .len()
            .checked_sub(b.len())
            .and_then(|start| a.get(start..))
            .is_some_and(|s| s.eq_ignore_ascii_case(b)),
        CompareOp::Eq => a.eq_ignore_ascii_case(b),
        CompareOp::Ne => !a.eq_ignore_ascii_case(b),
        _ => ordering_matches(
            op,
            a.iter()
                .map(u8::to_ascii_lowercase)
                .cmp(b.iter().map(u8::to_ascii_lowercase)),
        ),
    }
}

/// Whether `haystack` contains `needle`, ignoring ASCII case.
fn contains_ascii_ci(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(first) = needle.first().map(u8::to_ascii_lowercase) else {
        return true;
    };
    haystack.windows(needle.len()).any(|w| {
        w.first().map(u8::to_ascii_lowercase) == Some(first) && w.eq_ignore_ascii_case(needle)
    })
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
enum Context<'s> {
    TopLevel(&'s SchemaSet),
    Inside(Option<&'static AttributeDef>),
}

/// The definition of `path` in a validation context.
fn definition(context: Context<'_>, path: &AttrPath) -> Option<&'static AttributeDef> {
    match context {
        Context::TopLevel(schemas) => schemas.attribute(path.urn.as_deref(), &path.name),
        Context::Inside(parent) => parent.and_then(|p| p.sub_attribute(&path.name)),
    }
}

/// Rejects paths naming an attribute that is never returned (`password`): a filter on it
/// would let clients probe its value.
fn check_returned(context: Context<'_>, path: &AttrPath) -> Result<(), FilterError> {
    let def = definition(context, path);
    let sub = def.and_then(|d| path.sub_attr.as_deref().and_then(|s| d.sub_attribute(s)));
    match def
        .into_iter()
        .chain(sub)
        .find(|d| d.returned == Returned::Never)
    {
        Some(d) => Err(invalid(format!(
            "'{path}' cannot be used in a filter: the attribute '{}' is never returned",
            d.name
        ))),
        None => Ok(()),
    }
}

/// Refuses a value filter over the elements (or the value) of the complex attribute
/// `def`, such as a PATCH path's `creds[pin eq "1234"]`, that tests a sub-attribute that
/// is never returned (a write-only secret): whether it matched would show in the answer,
/// and a client could guess the secret one request at a time. The same refusal as a
/// `GET ?filter=` naming it ([`Filter::validate`]).
pub(crate) fn check_readable_in(
    filter: &Filter,
    def: &'static AttributeDef,
) -> Result<(), FilterError> {
    let inside = Context::Inside(Some(def));
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check_readable_in(l, def)?;
            check_readable_in(r, def)
        }
        Filter::Not(inner) => check_readable_in(inner, def),
        Filter::Present(path) | Filter::Compare { path, .. } => check_returned(inside, path),
        Filter::ValuePath { path, filter } => {
            check_returned(inside, path)?;
            match definition(inside, path) {
                Some(sub) => check_readable_in(filter, sub),
                None => Ok(()),
            }
        }
    }
}

pub(super) fn validate(filter: &Filter, schemas: &SchemaSet) -> Result<(), FilterError> {
    validate_in(filter, Context::TopLevel(schemas))
}

fn validate_in(filter: &Filter, parent: Context<'_>) -> Result<(), FilterError> {
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            validate_in(l, parent)?;
            validate_in(r, parent)
        }
        Filter::Not(inner) => validate_in(inner, parent),
        Filter::Present(path) => check_returned(parent, path),
        Filter::ValuePath { path, filter } => {
            check_returned(parent, path)?;
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
        Filter::Compare { path, op, value } => {
            check_returned(parent, path)?;
            validate_compare(parent, path, *op, value)
        }
    }
}

fn validate_compare(
    parent: Context<'_>,
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
