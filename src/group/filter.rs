//! The filters a group store serves: [`GroupFilter`], the part of the RFC 7644 filter
//! language identity providers use on `/Groups`, checked once by the server so that every
//! store (memory, SQL, a host's) serves the same set and none returns an unfiltered list.
//!
//! Served: `displayName eq "…"` (case-insensitive, as `displayName` is not `caseExact`),
//! `externalId eq "…"` and `id eq "…"` (exact), `members[value eq "…"]`,
//! `members.value eq "…"` and `members eq "…"` (the group has that member), and `and` /
//! `or` of these. Anything else is 400 `invalidFilter` naming what is served.

use super::GROUP_SCHEMA;
use crate::error::ScimError;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};

/// A filter on groups, in the form every group store serves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupFilter {
    /// `displayName eq "…"`, compared case-insensitively.
    DisplayName(String),
    /// `externalId eq "…"`, compared exactly.
    ExternalId(String),
    /// `id eq "…"`, compared exactly.
    Id(String),
    /// The group has the user with this id as a member.
    Member(String),
    /// Both.
    And(Box<GroupFilter>, Box<GroupFilter>),
    /// Either.
    Or(Box<GroupFilter>, Box<GroupFilter>),
}

const SERVED: &str = "filters on /Groups may use displayName eq, externalId eq, id eq, \
                      members[value eq \"id\"] and members eq \"id\", with and/or";

impl GroupFilter {
    /// The group filter of a parsed filter; 400 `invalidFilter` when it asks for more than
    /// group stores serve.
    pub fn from_filter(filter: &Filter) -> Result<Self, ScimError> {
        let unsupported = || ScimError::InvalidFilter(SERVED.into());
        match filter {
            Filter::And(l, r) => Ok(Self::And(
                Box::new(Self::from_filter(l)?),
                Box::new(Self::from_filter(r)?),
            )),
            Filter::Or(l, r) => Ok(Self::Or(
                Box::new(Self::from_filter(l)?),
                Box::new(Self::from_filter(r)?),
            )),
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } => {
                let name = group_attribute(path).ok_or_else(unsupported)?;
                match (name.to_ascii_lowercase().as_str(), path.sub_attr.as_deref()) {
                    ("displayname", None) => Ok(Self::DisplayName(s.clone())),
                    ("externalid", None) => Ok(Self::ExternalId(s.clone())),
                    ("id", None) => Ok(Self::Id(s.clone())),
                    ("members", None) => Ok(Self::Member(s.clone())),
                    ("members", Some(sub)) if sub.eq_ignore_ascii_case("value") => {
                        Ok(Self::Member(s.clone()))
                    }
                    _ => Err(unsupported()),
                }
            }
            Filter::ValuePath { path, filter } => {
                let name = group_attribute(path).ok_or_else(unsupported)?;
                if !name.eq_ignore_ascii_case("members") || path.sub_attr.is_some() {
                    return Err(unsupported());
                }
                member_value(filter).ok_or_else(unsupported)
            }
            _ => Err(unsupported()),
        }
    }

    /// Whether a group with these attributes and membership test matches.
    pub fn matches(
        &self,
        id: &str,
        display_name: &str,
        external_id: Option<&str>,
        has_member: &dyn Fn(&str) -> bool,
    ) -> bool {
        match self {
            Self::DisplayName(n) => {
                crate::store::fold_user_name(n) == crate::store::fold_user_name(display_name)
            }
            Self::ExternalId(e) => external_id == Some(e.as_str()),
            Self::Id(i) => i == id,
            Self::Member(m) => has_member(m),
            Self::And(l, r) => {
                l.matches(id, display_name, external_id, has_member)
                    && r.matches(id, display_name, external_id, has_member)
            }
            Self::Or(l, r) => {
                l.matches(id, display_name, external_id, has_member)
                    || r.matches(id, display_name, external_id, has_member)
            }
        }
    }
}

/// The attribute of a path without URN or with the Group URN.
fn group_attribute(path: &AttrPath) -> Option<&str> {
    match &path.urn {
        None => Some(&path.name),
        Some(urn) if urn.eq_ignore_ascii_case(GROUP_SCHEMA) => Some(&path.name),
        Some(_) => None,
    }
}

/// The ids a filter inside `members[...]` names: `value eq "id"`, or an `or` of those
/// (pushed to `ids` in order); `false` for any other filter. The one reading of a member
/// selector, for `/Groups` filters and for PATCH paths (`remove members[value eq "id"]`).
pub(super) fn member_ids(filter: &Filter, ids: &mut Vec<String>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(s),
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            ids.push(s.clone());
            true
        }
        Filter::Or(l, r) => member_ids(l, ids) && member_ids(r, ids),
        _ => false,
    }
}

/// `value eq "id"` inside `members[...]` (or an `or` of those) as a group filter.
fn member_value(filter: &Filter) -> Option<GroupFilter> {
    let mut ids = Vec::new();
    if !member_ids(filter, &mut ids) {
        return None;
    }
    ids.into_iter()
        .map(GroupFilter::Member)
        .reduce(|a, b| GroupFilter::Or(Box::new(a), Box::new(b)))
}
