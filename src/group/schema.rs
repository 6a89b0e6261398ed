//! The Group schema (RFC 7643 §4.2, §8.7.1) as `/Schemas` advertises it.

use super::GROUP_SCHEMA;
use crate::schema::{AttributeDef, AttributeType, Mutability, SchemaDef};

const MEMBER_SUBS: &[AttributeDef] = &[
    AttributeDef::string("value", "Identifier of the member of this Group.")
        .mutability(Mutability::Immutable),
    AttributeDef::new(
        "$ref",
        AttributeType::Reference,
        "The URI corresponding to a SCIM resource that is a member of this Group.",
    )
    .mutability(Mutability::Immutable)
    .refs(&["User"]),
    AttributeDef::string("type", "The type of the member: User.")
        .canonical(&["User"])
        .mutability(Mutability::Immutable),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string("displayName", "A human-readable name for the Group.")
        .required()
        .unique(),
    AttributeDef::complex("members", "A list of members of the Group.", MEMBER_SUBS).multi(),
];

/// The Group schema.
pub static GROUP_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};
