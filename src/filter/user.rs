//! Evaluation against the typed [`User`](crate::User), without going through JSON.
//!
//! [`TypedNode`] presents a `User` as the tree its JSON form (`User::to_value`) would be:
//! the same member names, absent members where the JSON omits them (`None`, empty lists,
//! an empty Enterprise extension), never `password`. The shared evaluator in `eval.rs`
//! walks it exactly as it walks a `serde_json::Value`, so
//! `f.matches(&u) == f.matches_value(&u.to_value())` for every filter and user.
//!
//! Members are found through the attribute table of `resource/fields.rs`, the one the
//! writer and PATCH use.

use chrono::{DateTime, Utc};

use super::Filter;
use super::eval::{self, Node, Scalar};
use crate::resource::fields::{self, Attributes, Member};
use crate::resource::{
    Address, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, User,
};
use crate::schema::{ENTERPRISE_USER_SCHEMA, SchemaSet, USER_SCHEMA};

impl Filter {
    /// Whether `user` matches this filter (RFC 7644 §3.4.2.2), evaluated with the
    /// attribute characteristics of the User schema (e.g. `userName` case-insensitively).
    ///
    /// Gives the same answer as [`Filter::matches_value`] on `user.to_value()` (see there
    /// for the semantics), but reads the typed fields directly: no JSON is built, and
    /// comparisons allocate nothing except for case-insensitive comparisons involving
    /// non-ASCII text and for `meta.created`/`meta.lastModified` compared as strings
    /// (`co`, `sw`, `ew`). `password` is never visible to a filter.
    ///
    /// Extension attributes are those of the core set ([`SchemaSet::core`]); a store
    /// evaluates with the schemas of the request ([`Filter::matches_in`]).
    #[must_use]
    pub fn matches(&self, user: &User) -> bool {
        self.matches_in(user, SchemaSet::core())
    }

    /// [`Filter::matches`] with the attribute definitions of `schemas` (a server's, as
    /// [`RequestContext::schemas`](crate::RequestContext::schemas) gives it to a store):
    /// attributes of the extensions in it are compared by their definitions; extension
    /// objects of schemas not in it are not visible.
    #[must_use]
    pub fn matches_in(&self, user: &User, schemas: &SchemaSet) -> bool {
        eval::matches(self, TypedNode::User(user, schemas), schemas)
    }
}

/// Calls `f(None)` if `user` matches `urn:name pr` with the definitions of `schemas`,
/// then `f(Some(sub))` for each of `subs` for which it matches `urn:name.sub pr`: what
/// [`Filter::matches_in`] answers for each of these filters, without building them and
/// with the attribute looked up once.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn present_each<'s>(
    user: &User,
    schemas: &SchemaSet,
    urn: Option<&str>,
    name: &str,
    subs: impl IntoIterator<Item = &'s str>,
    f: impl FnMut(Option<&'s str>),
) {
    eval::present_each(TypedNode::User(user, schemas), schemas, urn, name, subs, f);
}

/// Whether an element of the multi-valued attribute `def` matches the filter of a value
/// path on it, read from the typed element (as [`super::matches_element`] reads its JSON).
pub(crate) fn list_element_matches(
    filter: &Filter,
    list: &fields::List<'_>,
    i: usize,
    def: &'static crate::schema::AttributeDef,
) -> bool {
    match list {
        fields::List::Values(v) => v
            .get(i)
            .is_some_and(|e| eval::matches_element_node(filter, TypedNode::MultiValue(e), def)),
        fields::List::Addresses(v) => v
            .get(i)
            .is_some_and(|e| eval::matches_element_node(filter, TypedNode::Address(e), def)),
    }
}

/// A scalar a `sortBy` path reads on a user, borrowed (see [`sort_value`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum SortValue<'a> {
    Str(&'a str),
    Num(&'a serde_json::Number),
    Bool(bool),
    Instant(&'a DateTime<Utc>),
}

/// The value `sortBy` reads on `user` (RFC 7644 §3.4.2.3), read from the typed fields as
/// the user's JSON form would give it: the attribute (in its extension when `by` has a
/// URN), the primary element of a multi-valued attribute, else the first, then the
/// sub-attribute (`value` for a multi-valued complex attribute when none is named).
/// `multi_valued` says whether the attribute is multi-valued. `None` when absent or not a
/// scalar.
pub(crate) fn sort_value<'a>(
    user: &'a User,
    by: &super::AttrPath,
    multi_valued: bool,
    schemas: &'a SchemaSet,
) -> Option<SortValue<'a>> {
    let root = TypedNode::User(user, schemas);
    let container = match by.urn.as_deref() {
        Some(u) if !u.eq_ignore_ascii_case(USER_SCHEMA) => root.member(schemas.extension(u)?.id)?,
        _ => root,
    };
    let attr = container.member(&by.name).filter(|v| !v.is_null())?;
    let mut first = None;
    let mut primary = None;
    attr.any_element(|e| {
        if first.is_none() {
            first = Some(e);
        }
        let is_primary = e
            .member("primary")
            .and_then(Node::scalar)
            .is_some_and(|p| matches!(p, Scalar::Bool(true)));
        if is_primary {
            primary = Some(e);
        }
        is_primary
    });
    let mut value = primary.or(first)?;
    let sub = by
        .sub_attr
        .as_deref()
        .or_else(|| (value.is_object() && multi_valued).then_some("value"));
    if let Some(sub) = sub {
        value = value.member(sub).filter(|v| !v.is_null())?;
    }
    match value.scalar()? {
        Scalar::Str(s) => Some(SortValue::Str(s)),
        Scalar::Number(n) => Some(SortValue::Num(n)),
        Scalar::Bool(b) => Some(SortValue::Bool(b)),
        Scalar::Instant(t) => Some(SortValue::Instant(t)),
    }
}

/// A borrowed part of a [`User`], standing for the JSON value it serializes to.
#[derive(Debug, Clone, Copy)]
enum TypedNode<'a> {
    /// The user, with the schemas whose extension objects are visible.
    User(&'a User, &'a SchemaSet),
    /// The `schemas` array of this user: the core URN, then the extensions shown.
    Schemas(&'a User, &'a SchemaSet),
    /// A registered extension's attribute object (`User::extensions`).
    Object(&'a serde_json::Map<String, serde_json::Value>),
    /// A value inside an extension object.
    Json(&'a serde_json::Value),
    Str(&'a str),
    Bool(bool),
    Instant(&'a DateTime<Utc>),
    Name(&'a Name),
    MultiValue(&'a MultiValue),
    MultiValues(&'a [MultiValue]),
    Address(&'a Address),
    Addresses(&'a [Address]),
    Group(&'a GroupMembership),
    Groups(&'a [GroupMembership]),
    Enterprise(&'a EnterpriseUser),
    Manager(&'a Manager),
    Meta(&'a Meta),
}

impl<'a> From<Member<'a>> for TypedNode<'a> {
    fn from(m: Member<'a>) -> Self {
        match m {
            Member::Str(s) => Self::Str(s),
            Member::Bool(b) => Self::Bool(b),
            Member::Instant(t) => Self::Instant(t),
            Member::Name(n) => Self::Name(n),
            Member::MultiValues(v) => Self::MultiValues(v),
            Member::Addresses(v) => Self::Addresses(v),
            Member::Groups(v) => Self::Groups(v),
            Member::Enterprise(e) => Self::Enterprise(e),
            Member::Manager(m) => Self::Manager(m),
            Member::Meta(m) => Self::Meta(m),
        }
    }
}

/// The Enterprise extension, if the JSON form shows it (it is omitted when empty).
fn enterprise(user: &User) -> Option<&EnterpriseUser> {
    user.enterprise.as_ref().filter(|e| !e.is_empty())
}

/// The member `key` (ASCII case-insensitive) of `value`, by its attribute table.
fn member<'a, T: Attributes>(value: &'a T, key: &str) -> Option<TypedNode<'a>> {
    fields::member(value, key).map(TypedNode::from)
}

/// Whether any member of `value` is non-empty.
fn any_member_non_empty<T: Attributes>(value: &T) -> bool {
    T::MEMBERS
        .iter()
        .any(|(_, get)| get(value).is_some_and(|m| TypedNode::from(m).non_empty()))
}

impl<'a> Node<'a> for TypedNode<'a> {
    fn member(self, key: &str) -> Option<Self> {
        match self {
            Self::User(u, schemas) if key.eq_ignore_ascii_case("schemas") => {
                Some(Self::Schemas(u, schemas))
            }
            Self::User(u, schemas) => member(u, key).or_else(|| {
                u.extensions_shown(Some(schemas))
                    .find(|(urn, _)| urn.eq_ignore_ascii_case(key))
                    .map(|(_, attrs)| Self::Object(attrs))
            }),
            Self::Object(o) => eval::get_ci_map(o, key).map(Self::Json),
            Self::Json(v) => v.member(key).map(Self::Json),
            Self::Name(n) => member(n, key),
            Self::MultiValue(m) => member(m, key),
            Self::Address(a) => member(a, key),
            Self::Group(g) => member(g, key),
            Self::Enterprise(e) => member(e, key),
            Self::Manager(m) => member(m, key),
            Self::Meta(m) => member(m, key),
            Self::Schemas(..)
            | Self::Str(_)
            | Self::Bool(_)
            | Self::Instant(_)
            | Self::MultiValues(_)
            | Self::Addresses(_)
            | Self::Groups(_) => None,
        }
    }

    fn is_object(self) -> bool {
        matches!(
            self,
            Self::User(..)
                | Self::Name(_)
                | Self::MultiValue(_)
                | Self::Address(_)
                | Self::Group(_)
                | Self::Enterprise(_)
                | Self::Manager(_)
                | Self::Meta(_)
                | Self::Object(_)
        ) || matches!(self, Self::Json(v) if v.is_object())
    }

    fn is_null(self) -> bool {
        matches!(self, Self::Json(v) if v.is_null())
    }

    fn any_element(self, mut f: impl FnMut(Self) -> bool) -> bool {
        match self {
            Self::MultiValues(items) => items.iter().map(Self::MultiValue).any(f),
            Self::Addresses(items) => items.iter().map(Self::Address).any(f),
            Self::Groups(items) => items.iter().map(Self::Group).any(f),
            Self::Schemas(u, schemas) => {
                f(Self::Str(USER_SCHEMA))
                    || (enterprise(u).is_some() && f(Self::Str(ENTERPRISE_USER_SCHEMA)))
                    || u.extensions_shown(Some(schemas))
                        .any(|(urn, _)| f(Self::Str(urn)))
            }
            Self::Json(v) => v.any_element(|e| f(Self::Json(e))),
            other => f(other),
        }
    }

    fn scalar(self) -> Option<Scalar<'a>> {
        match self {
            Self::Str(s) => Some(Scalar::Str(s)),
            Self::Bool(b) => Some(Scalar::Bool(b)),
            Self::Instant(t) => Some(Scalar::Instant(t)),
            Self::Json(v) => v.scalar(),
            _ => None,
        }
    }

    fn non_empty(self) -> bool {
        match self {
            Self::Str(s) => !s.is_empty(),
            // `schemas` always lists the core URN; timestamps are never empty strings;
            // a User always has `schemas`.
            Self::Bool(_) | Self::Instant(_) | Self::Schemas(..) | Self::User(..) => true,
            Self::Object(o) => o.values().any(Node::non_empty),
            Self::Json(v) => v.non_empty(),
            Self::Name(n) => any_member_non_empty(n),
            Self::MultiValue(m) => any_member_non_empty(m),
            Self::Address(a) => any_member_non_empty(a),
            Self::Group(g) => any_member_non_empty(g),
            Self::Enterprise(e) => any_member_non_empty(e),
            Self::Manager(m) => any_member_non_empty(m),
            Self::Meta(m) => any_member_non_empty(m),
            Self::MultiValues(_) | Self::Addresses(_) | Self::Groups(_) => {
                self.any_element(Self::non_empty)
            }
        }
    }
}
