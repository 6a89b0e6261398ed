//! Writing a group: its attribute table (`attributes!`, as every User part is declared),
//! the members a projection selects, `meta.location` filled in.

use std::collections::BTreeSet;

use serde::Serializer;
use serde::ser::SerializeMap;

use super::{GROUP_SCHEMA, Group};
use crate::resource::fields::{
    Attributes, Field, List, Member, MemberMut, Members, attributes, from_json, kind,
};
use crate::resource::unquoted;

attributes!(Group {
    "id" => id: Str,
    "externalId" => external_id: Str,
    "displayName" => display_name: Text,
    "members" => members: List(Groups),
    "meta" => meta: Meta,
});

/// Which top-level attributes of a group a response shows (`attributes` /
/// `excludedAttributes`, RFC 7644 §3.9): names ASCII-lower-cased, with or without the
/// Group URN; a sub-attribute path (`members.value`) selects its attribute. `id` and
/// `schemas` are always shown (`returned: always`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GroupProjection {
    /// `attributes`: only these (and `id`); `None` when not given.
    only: Option<BTreeSet<String>>,
    /// `excludedAttributes`: not these.
    excluded: BTreeSet<String>,
}

impl GroupProjection {
    /// The projection of the query parameters (either may be absent; `attributes` wins
    /// when both are given, as for users).
    pub(crate) fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let names = |list: &str| -> BTreeSet<String> {
            list.split(',')
                .filter_map(|raw| {
                    let raw = raw.trim();
                    let path = super::without_urn(raw);
                    let top = path.split('.').next().unwrap_or_default().trim();
                    (!top.is_empty()).then(|| top.to_ascii_lowercase())
                })
                .collect()
        };
        let only = attributes.map(names).filter(|s| !s.is_empty());
        let excluded = match &only {
            Some(_) => BTreeSet::new(),
            None => excluded.map(names).unwrap_or_default(),
        };
        Self { only, excluded }
    }

    /// Whether the response shows the member `name` (canonical spelling).
    pub(crate) fn shows(&self, name: &str) -> bool {
        if name == "id" {
            return true;
        }
        let lower = name.to_ascii_lowercase();
        match &self.only {
            Some(only) => only.contains(&lower),
            None => !self.excluded.contains(&lower),
        }
    }

    /// Whether the response shows `members` (so the store must read them).
    pub(crate) fn shows_members(&self) -> bool {
        self.shows("members")
    }

    /// A projection showing everything but `members` (PATCH's 200 answer).
    pub(crate) fn without_members() -> Self {
        Self::new(None, Some("members"))
    }
}

/// Appends the JSON of `group` as a response shows it: `schemas`, the members the
/// projection selects in the table's order, `meta.location` and each member's `$ref`
/// under `base` (the absolute URL of the SCIM API).
pub(crate) fn write_group(
    group: &Group,
    base: &str,
    projection: &GroupProjection,
    out: &mut Vec<u8>,
) {
    let mut meta = group.meta.clone();
    if let Some(m) = meta.as_mut() {
        m.location = Some(location(base, group).into());
    }
    let view = View {
        group,
        meta: meta.as_ref(),
        base: Some(base),
        projection: Some(projection),
    };
    // Writing to a Vec cannot fail, and every member serializes.
    let written = serde_json::to_writer(out, &view);
    debug_assert!(written.is_ok(), "a group always serializes");
}

/// The URL of a group: `{base}/Groups/{id}`.
pub(crate) fn location(base: &str, group: &Group) -> String {
    format!("{base}/Groups/{}", group.id.as_deref().unwrap_or_default())
}

/// A group as written: its table's members (those the projection selects, if any) with
/// `meta` as given and, under `base`, each member's `$ref`.
struct View<'a> {
    group: &'a Group,
    meta: Option<&'a crate::resource::Meta>,
    base: Option<&'a str>,
    projection: Option<&'a GroupProjection>,
}

impl serde::Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("schemas", &[GROUP_SCHEMA])?;
        let mut result = Ok(());
        self.group.each(|key, member| {
            let name = unquoted(key);
            if result.is_err() || self.projection.is_some_and(|p| !p.shows(name)) {
                return;
            }
            result = match (member, self.base) {
                (Member::Meta(_), _) => match self.meta {
                    Some(meta) => m.serialize_entry(name, meta),
                    None => Ok(()),
                },
                (Member::Groups(members), Some(base)) => {
                    m.serialize_entry(name, &Referenced { members, base })
                }
                (other, _) => m.serialize_entry(name, &other),
            };
        });
        result?;
        m.end()
    }
}

/// Members as responses show them (RFC 7643 §4.2, §8.7.1): `value`, `$ref`
/// (`{base}/Users/{value}` where the store left it empty) and `type`. A `display` a store
/// returns is not shown: it is no attribute of the Group schema's members, and clients
/// that compare a member with what they sent (scim2-tester) would see a difference.
struct Referenced<'a> {
    members: &'a [super::GroupMember],
    base: &'a str,
}

impl serde::Serialize for Referenced<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.members.len()))?;
        for member in self.members {
            let reference = match (&member.reference, &member.value) {
                (None, Some(id)) => Some(format!("{}/Users/{id}", self.base).as_str().into()),
                (given, _) => given.clone(),
            };
            seq.serialize_element(&super::GroupMember {
                value: member.value.clone(),
                reference,
                display: None,
                kind: member.kind.clone(),
            })?;
        }
        seq.end()
    }
}

impl serde::Serialize for Group {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        View {
            group: self,
            meta: self.meta.as_ref(),
            base: None,
            projection: None,
        }
        .serialize(serializer)
    }
}
