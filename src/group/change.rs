//! What a write asks of a group: [`GroupChange`], from a PUT ([`GroupChange::replace`])
//! or from any PATCH form the identity providers send ([`GroupChange::from_patch`]).
//!
//! Membership changes stay *edits* ([`MemberEdit`]) all the way to the store, which
//! applies them to its relations in one transaction: a PATCH adding 1,000 members to a
//! group of 100,000 costs 1,000 inserts, never a read and rewrite of 101,000.
//!
//! The PATCH forms, each pinned by a test in `tests.rs` and a fixture under
//! `tests/fixtures/<client>/`:
//!
//! | form | edit |
//! |---|---|
//! | `add`, `path: "members"`, a list (or one object) | add those |
//! | `remove`, `path: "members[value eq \"id\"]"` (Okta; Entra with `aadOptscim062020`) | remove that one (an `or` of `value eq` removes each) |
//! | `remove`, `path: "members"`, a list (Entra's default, JumpCloud) | remove those only |
//! | `remove`, `path: "members"`, no value | remove all |
//! | `replace`, `path: "members"`, a list (`[]` too) | remove all, then add the list |
//! | path-less `replace`/`add` with `{"members": [...]}` | as `replace`/`add` with that path |
//! | path-less `replace` with `{"id": …, "displayName": …}` (Okta's rename) | rename; the read-only `id` is ignored when it is the group's own |
//! | `replace`/`add` `displayName` or `externalId`; `remove externalId` | set / clear |
//!
//! Adding a member already there and removing one that is not are no-ops. Operation
//! names are case-insensitive as the server's [`Compatibility`](crate::Compatibility)
//! allows (the PatchOp reader decides).

use serde_json::Value;

use super::{GROUP_SCHEMA, input};
use crate::error::ScimError;
use crate::patch::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use crate::resource::CompactString;

/// One change to a group's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEdit {
    /// Add these users (ids); ids already members, and ids naming no user of the
    /// tenant, change nothing.
    Add(Vec<CompactString>),
    /// Remove these users (ids); ids not members change nothing.
    Remove(Vec<CompactString>),
    /// Remove every member.
    RemoveAll,
}

/// The changes one write makes to a group, applied by the store atomically and in this
/// order: attributes first, then each membership edit in turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupChange {
    /// The new `displayName`, when it changes.
    pub display_name: Option<CompactString>,
    /// The new `externalId` (`Some(None)`: cleared), when it changes.
    pub external_id: Option<Option<CompactString>>,
    /// The membership edits, in order.
    pub members: Vec<MemberEdit>,
}

impl GroupChange {
    /// A change making these membership edits only.
    pub fn edit(members: Vec<MemberEdit>) -> Self {
        Self {
            members,
            ..Self::default()
        }
    }

    /// A change renaming the group only.
    pub fn rename(display_name: impl Into<CompactString>) -> Self {
        Self {
            display_name: Some(display_name.into()),
            ..Self::default()
        }
    }

    /// This change also renaming the group.
    #[must_use]
    pub fn with_display_name(mut self, display_name: impl Into<CompactString>) -> Self {
        self.display_name = Some(display_name.into());
        self
    }

    /// This change also setting `externalId` (`None`: clearing it).
    #[must_use]
    pub fn with_external_id(mut self, external_id: Option<CompactString>) -> Self {
        self.external_id = Some(external_id);
        self
    }

    /// The change a PUT makes: every attribute as given, the member list replaced.
    pub fn replace(group: &super::Group) -> Self {
        let mut change = Self {
            display_name: Some(group.display_name.clone()),
            external_id: Some(group.external_id.clone()),
            members: Vec::new(),
        };
        change.push(MemberEdit::RemoveAll);
        change.push(MemberEdit::Add(member_ids(&group.members)));
        change
    }

    /// Whether the change edits the membership at all.
    pub fn touches_members(&self) -> bool {
        !self.members.is_empty()
    }

    /// How many member ids the edits name (the server bounds it per request).
    pub fn member_ids_named(&self) -> usize {
        self.members
            .iter()
            .map(|e| match e {
                MemberEdit::Add(ids) | MemberEdit::Remove(ids) => ids.len(),
                MemberEdit::RemoveAll => 0,
            })
            .sum()
    }

    /// The change a PATCH request makes to the group `id`: every form in the module
    /// documentation; anything else is a 400 with the RFC's `scimType` (`invalidPath`,
    /// `noTarget`, `invalidValue`, `invalidFilter`, `mutability`).
    pub fn from_patch(patch: &PatchRequest, id: &str) -> Result<Self, ScimError> {
        let mut change = Self::default();
        for op in &patch.operations {
            change.operation(op, id)?;
        }
        Ok(change)
    }

    /// Appends a membership edit, folding it into the last where that keeps the meaning
    /// (`RemoveAll` makes every earlier membership edit moot).
    fn push(&mut self, edit: MemberEdit) {
        match (self.members.last_mut(), edit) {
            (_, MemberEdit::RemoveAll) => {
                self.members.clear();
                self.members.push(MemberEdit::RemoveAll);
            }
            (_, MemberEdit::Add(ids) | MemberEdit::Remove(ids)) if ids.is_empty() => {}
            (Some(MemberEdit::Add(last)), MemberEdit::Add(ids)) => last.extend(ids),
            (Some(MemberEdit::Remove(last)), MemberEdit::Remove(ids)) => last.extend(ids),
            (_, edit) => self.members.push(edit),
        }
    }

    fn operation(&mut self, op: &PatchOperation, id: &str) -> Result<(), ScimError> {
        let Some(path) = &op.path else {
            return self.pathless(op.op, op.value.as_ref(), id);
        };
        let attribute = target(path)?;
        if attribute.eq_ignore_ascii_case("members") {
            return self.members_op(op.op, path, op.value.as_ref());
        }
        if path.filter.is_some() || path.sub_attribute.is_some() {
            return Err(ScimError::InvalidPath(format!(
                "{attribute} has no sub-attributes"
            )));
        }
        match op.op {
            PatchOpKind::Remove => self.remove_attribute(attribute),
            PatchOpKind::Add | PatchOpKind::Replace => {
                let value = op.value.as_ref().ok_or_else(|| {
                    ScimError::InvalidValue(format!("{} needs a value", op.op.as_str()))
                })?;
                self.set_attribute(attribute, value, id)
            }
        }
    }

    /// `add` or `replace` without a path: each member of the value object is an
    /// attribute.
    fn pathless(
        &mut self,
        kind: PatchOpKind,
        value: Option<&Value>,
        id: &str,
    ) -> Result<(), ScimError> {
        if kind == PatchOpKind::Remove {
            return Err(ScimError::NoTarget("remove needs a path".into()));
        }
        let Some(Value::Object(object)) = value else {
            return Err(ScimError::InvalidValue(format!(
                "{} without a path needs an object value",
                kind.as_str()
            )));
        };
        for (key, value) in object {
            let name = super::without_urn(key);
            if name.eq_ignore_ascii_case("members") {
                let members = input::members(value.clone())?;
                if kind == PatchOpKind::Replace {
                    self.push(MemberEdit::RemoveAll);
                }
                self.push(MemberEdit::Add(member_ids(&members)));
            } else if name.eq_ignore_ascii_case("schemas") || name.eq_ignore_ascii_case("meta") {
                // Not attributes a client sets (some clients echo them).
            } else {
                self.set_attribute(name, value, id)?;
            }
        }
        Ok(())
    }

    fn members_op(
        &mut self,
        kind: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if path.sub_attribute.is_some() {
            return Err(ScimError::InvalidPath(
                "a member's sub-attributes cannot be changed; add or remove the member".into(),
            ));
        }
        if let Some(filter) = &path.filter {
            if kind != PatchOpKind::Remove {
                return Err(ScimError::InvalidPath(
                    "members[...] can only be removed; add members with path \"members\"".into(),
                ));
            }
            let mut ids = Vec::new();
            if !super::filter::member_ids(filter, &mut ids) {
                return Err(ScimError::InvalidFilter(
                    "members can be selected by value only: members[value eq \"id\"]".into(),
                ));
            }
            let ids = ids.iter().map(|id| id.as_str().into()).collect();
            self.push(MemberEdit::Remove(ids));
            return Ok(());
        }
        let listed = || -> Result<Vec<CompactString>, ScimError> {
            let value = value.ok_or_else(|| {
                ScimError::InvalidValue(format!("{} members needs a value", kind.as_str()))
            })?;
            Ok(member_ids(&input::members(value.clone())?))
        };
        match kind {
            PatchOpKind::Add => {
                let ids = listed()?;
                self.push(MemberEdit::Add(ids));
            }
            // Entra's default and JumpCloud: the listed members only. Without a value
            // (or `null`), every member (RFC 7644 §3.5.2.2).
            PatchOpKind::Remove => match value {
                None | Some(Value::Null) => self.push(MemberEdit::RemoveAll),
                Some(_) => {
                    let ids = listed()?;
                    self.push(MemberEdit::Remove(ids));
                }
            },
            PatchOpKind::Replace => {
                let ids = match value {
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => listed()?,
                };
                self.push(MemberEdit::RemoveAll);
                self.push(MemberEdit::Add(ids));
            }
        }
        Ok(())
    }

    fn set_attribute(&mut self, name: &str, value: &Value, id: &str) -> Result<(), ScimError> {
        match name.to_ascii_lowercase().as_str() {
            "displayname" => match value {
                Value::String(s) if !s.trim().is_empty() && !s.contains('\0') => {
                    self.display_name = Some(s.as_str().into());
                }
                _ => {
                    return Err(ScimError::InvalidValue(
                        "displayName must be a non-empty string".into(),
                    ));
                }
            },
            "externalid" => match value {
                Value::Null => self.external_id = Some(None),
                Value::String(s) if !s.contains('\0') => {
                    self.external_id = Some(Some(s.as_str().into()));
                }
                _ => {
                    return Err(ScimError::InvalidValue(
                        "externalId must be a string".into(),
                    ));
                }
            },
            // Okta's rename carries the group's own id: read-only, ignored when it is the
            // group's; a different one is a client's attempt to change it.
            "id" => {
                if value.as_str() != Some(id) {
                    return Err(ScimError::Mutability("id is read-only".into()));
                }
            }
            _ => {
                return Err(ScimError::InvalidPath(format!(
                    "{name:?} is not an attribute of the Group resource"
                )));
            }
        }
        Ok(())
    }

    fn remove_attribute(&mut self, name: &str) -> Result<(), ScimError> {
        match name.to_ascii_lowercase().as_str() {
            "externalid" => {
                self.external_id = Some(None);
                Ok(())
            }
            "displayname" => Err(ScimError::InvalidValue(
                "displayName is required and cannot be removed".into(),
            )),
            "id" => Err(ScimError::Mutability("id is read-only".into())),
            _ => Err(ScimError::InvalidPath(format!(
                "{name:?} is not an attribute of the Group resource"
            ))),
        }
    }
}

/// The attribute a path names (without its URN, which must be the Group's if given).
fn target(path: &PatchPath) -> Result<&str, ScimError> {
    if let Some(urn) = &path.urn {
        if !urn.eq_ignore_ascii_case(GROUP_SCHEMA) {
            return Err(ScimError::InvalidPath(format!(
                "{urn:?} is not a schema of the Group resource"
            )));
        }
    }
    path.attribute
        .as_deref()
        .ok_or_else(|| ScimError::InvalidPath("a Group path must name an attribute".into()))
}

/// The ids of members as given.
fn member_ids(members: &[super::GroupMember]) -> Vec<CompactString> {
    members.iter().filter_map(|m| m.value.clone()).collect()
}
