//! The scalar members of a user and its parts, and its multi-valued attributes, reached by
//! their canonical attribute names: one table per type, shared by the code that fills them
//! (the body reader in `direct.rs`, the PATCH paths in `patch/typed.rs` and
//! `patch/apply.rs`). Callers check the schema's
//! mutability first; these tables only map names to fields.

use super::{Address, CompactString, EnterpriseUser, Manager, MultiValue, Name, User};

/// A value for a scalar member (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scalar {
    Str(Option<CompactString>),
    Bool(Option<bool>),
}

/// A scalar member of a user or of one of its parts.
pub(crate) enum Field<'a> {
    Str(&'a mut Option<CompactString>),
    Bool(&'a mut Option<bool>),
}

impl Field<'_> {
    /// Stores `value`; `false` (nothing stored) when its type is not the member's.
    pub(crate) fn set(self, value: Scalar) -> bool {
        match (self, value) {
            (Self::Str(slot), Scalar::Str(v)) => *slot = v,
            (Self::Bool(slot), Scalar::Bool(v)) => *slot = v,
            _ => return false,
        }
        true
    }
}

impl User {
    /// The optional string and boolean attributes of the core schema (not `userName`,
    /// `password` or `id`).
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "active" => return Some(Field::Bool(&mut self.active)),
            "externalId" => &mut self.external_id,
            "displayName" => &mut self.display_name,
            "nickName" => &mut self.nick_name,
            "profileUrl" => &mut self.profile_url,
            "title" => &mut self.title,
            "userType" => &mut self.user_type,
            "preferredLanguage" => &mut self.preferred_language,
            "locale" => &mut self.locale,
            "timezone" => &mut self.timezone,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}

impl User {
    /// The multi-valued attributes whose elements are [`MultiValue`]s (all but
    /// `addresses` and the read-only `groups`), by canonical name.
    pub(crate) fn multi_values_mut(&mut self, name: &str) -> Option<&mut Vec<MultiValue>> {
        Some(match name {
            "emails" => &mut self.emails,
            "phoneNumbers" => &mut self.phone_numbers,
            "ims" => &mut self.ims,
            "photos" => &mut self.photos,
            "entitlements" => &mut self.entitlements,
            "roles" => &mut self.roles,
            "x509Certificates" => &mut self.x509_certificates,
            _ => return None,
        })
    }
}

impl Name {
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "formatted" => &mut self.formatted,
            "familyName" => &mut self.family_name,
            "givenName" => &mut self.given_name,
            "middleName" => &mut self.middle_name,
            "honorificPrefix" => &mut self.honorific_prefix,
            "honorificSuffix" => &mut self.honorific_suffix,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}

impl MultiValue {
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "primary" => return Some(Field::Bool(&mut self.primary)),
            "value" => &mut self.value,
            "display" => &mut self.display,
            "type" => &mut self.kind,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}

impl Address {
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "primary" => return Some(Field::Bool(&mut self.primary)),
            "formatted" => &mut self.formatted,
            "streetAddress" => &mut self.street_address,
            "locality" => &mut self.locality,
            "region" => &mut self.region,
            "postalCode" => &mut self.postal_code,
            "country" => &mut self.country,
            "type" => &mut self.kind,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}

impl Manager {
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "value" => &mut self.value,
            "$ref" => &mut self.reference,
            "displayName" => &mut self.display_name,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}

impl EnterpriseUser {
    /// The string attributes (`manager` is complex).
    pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
        let slot = match name {
            "employeeNumber" => &mut self.employee_number,
            "costCenter" => &mut self.cost_center,
            "organization" => &mut self.organization,
            "division" => &mut self.division,
            "department" => &mut self.department,
            _ => return None,
        };
        Some(Field::Str(slot))
    }
}
