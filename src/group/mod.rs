//! The Group resource (RFC 7643 §4.2), opt-in: a host that maps identity-provider groups
//! to roles turns it on with
//! [`ScimServerBuilder::groups`](crate::ScimServerBuilder::groups) and a [`GroupStore`].
//! Without one, `/Groups` answers an empty list (for the IdPs' connection tests) and 501 on
//! writes, and discovery advertises the User resource only.
//!
//! A group is its attributes — `displayName` (unique per tenant, case-insensitively),
//! `externalId` — and a set of **memberships**, which a store keeps as relations (one row
//! per member), never as a list inside the group: a PATCH that adds or removes members
//! reaches the store as the [`MemberEdit`]s it names ([`GroupChange`]), so its cost grows
//! with the change, not with the group. Members are users of the same tenant; an id that
//! names no user of the tenant is **skipped** (not an error), so that an IdP whose view
//! lags a deletion does not see every later push of that group fail; the group as stored
//! (and the membership events) show who actually joined.
//!
//! The parts, in pipeline order: [`parse_group`] reads a request body, [`GroupChange`]
//! turns a PUT or any PATCH form the IdPs send into edits ([`GroupChange::from_patch`]),
//! [`GroupFilter`] is the part of the filter language a group store serves, and the
//! response writer (crate-private) writes a group from its attribute table.

mod change;
mod filter;
mod input;
mod memory;
mod output;
mod schema;
mod store;

pub use change::{GroupChange, MemberEdit};
pub use filter::GroupFilter;
pub use input::parse_group;
pub use memory::MemoryGroupStore;
pub(crate) use output::{GroupProjection, location, write_group};
pub use schema::GROUP_SCHEMA_DEF;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use store::direct_membership;
pub use store::{GroupQuery, GroupStore};

use crate::resource::{CompactString, GroupMembership, Meta};

/// The core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute name or path without the Group URN prefix (`urn:…:Group:displayName` →
/// `displayName`), as bodies, PATCH values and projections may spell it.
fn without_urn(name: &str) -> &str {
    crate::projection::after_urn(name, GROUP_SCHEMA).unwrap_or(name)
}

/// A member of a group as responses show it (RFC 7643 §4.2): `value` is the user's id,
/// `type` `"User"`, `$ref` its URL (the server fills it in). On input only `value`
/// counts; `display` is neither stored nor shown.
pub type GroupMember = GroupMembership;

/// A SCIM Group (RFC 7643 §4.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Group {
    /// Server-assigned identifier; `None` until created.
    pub id: Option<CompactString>,
    /// The provisioning client's identifier for the group (caseExact).
    pub external_id: Option<CompactString>,
    /// The group's name, unique per tenant (case-insensitively).
    pub display_name: CompactString,
    /// The members, as read when asked for (a store leaves it empty when the caller did
    /// not ask for members).
    pub members: Vec<GroupMember>,
    /// Metadata; `None` until created.
    pub meta: Option<Meta>,
}

impl Group {
    /// A group with this display name and no members.
    pub fn new(display_name: impl Into<CompactString>) -> Self {
        Self {
            display_name: display_name.into(),
            ..Self::default()
        }
    }

    /// The stored version (`meta.version`), if any.
    pub fn version(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.version.as_deref())
    }

    /// A member naming the user `id`.
    pub fn member(id: impl Into<CompactString>) -> GroupMember {
        GroupMember {
            value: Some(id.into()),
            ..GroupMember::default()
        }
    }
}

#[cfg(test)]
mod tests;
