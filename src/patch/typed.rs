//! The fast path of PATCH application: the operations identity providers send most (set a
//! simple attribute, a sub-attribute of `name` or of the manager, or a sub-attribute of
//! the elements a value path selects, such as `emails[type eq "work"].value`; Okta's
//! path-less `{"active": false}`) applied to a copy of the typed [`User`], without
//! rendering anything to JSON.
//!
//! Anything else, and anything that would be an error (a `null` or wrongly typed value, a
//! read-only target, a value path that selects nothing, a blank `userName`), is declined
//! (`None`) and applied by the general path in [`super::apply`], which the property test
//! there holds this one to.

use serde_json::Value;

use super::{PatchOpKind, PatchOperation, PatchPath};
use crate::compat::Compatibility;
use crate::filter::{self, Filter};
use crate::resource::{Address, CompactString, MultiValue, Secret, User};
use crate::schema::{self, AttributeDef, AttributeType, Mutability, user_attribute};

/// `ops` applied to a copy of `user`, or `None` when the general path must apply them.
pub(super) fn apply(user: &User, ops: &[PatchOperation], compat: &Compatibility) -> Option<User> {
    let mut out = user.clone();
    for op in ops {
        if op.op == PatchOpKind::Remove {
            return None;
        }
        let value = op.value.as_ref()?;
        match &op.path {
            Some(path) => set(&mut out, path, value, compat)?,
            None => {
                let Value::Object(members) = value else {
                    return None;
                };
                for (key, v) in members {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    let path = if compat.dotted_pathless_keys {
                        PatchPath::parse(key).ok()?
                    } else {
                        PatchPath {
                            urn: None,
                            attribute: Some(key.clone()),
                            filter: None,
                            sub_attribute: None,
                        }
                    };
                    set(&mut out, &path, v, compat)?;
                }
            }
        }
    }
    (!out.user_name.trim().is_empty()).then_some(out)
}

/// A value read by an attribute's type.
enum Scalar {
    Str(CompactString),
    Bool(bool),
}

impl Scalar {
    /// `value` as `def` reads it, or `None` (declined) when it is anything but a plain
    /// string or boolean of the right type.
    fn read(def: &AttributeDef, value: &Value, compat: &Compatibility) -> Option<Self> {
        match (def.kind, value) {
            (AttributeType::Boolean, Value::Bool(b)) => Some(Self::Bool(*b)),
            (AttributeType::Boolean, Value::String(s)) if compat.string_booleans => {
                let s = s.trim();
                if s.eq_ignore_ascii_case("true") {
                    Some(Self::Bool(true))
                } else if s.eq_ignore_ascii_case("false") {
                    Some(Self::Bool(false))
                } else {
                    None
                }
            }
            (
                AttributeType::String | AttributeType::Reference | AttributeType::Binary,
                Value::String(s),
            ) if !s.contains('\0') => Some(Self::Str(s.as_str().into())),
            _ => None,
        }
    }

    fn string(self, slot: &mut Option<CompactString>) -> Option<()> {
        match self {
            Self::Str(s) => {
                *slot = Some(s);
                Some(())
            }
            Self::Bool(_) => None,
        }
    }

    fn boolean(self, slot: &mut Option<bool>) -> Option<()> {
        match self {
            Self::Bool(b) => {
                *slot = Some(b);
                Some(())
            }
            Self::Str(_) => None,
        }
    }
}

/// Applies one add/replace of `value` at `path` to `user`.
fn set(user: &mut User, path: &PatchPath, value: &Value, compat: &Compatibility) -> Option<()> {
    let enterprise = match path.urn.as_deref() {
        None => false,
        Some(urn) => std::ptr::eq(schema::extension(urn)?, &schema::ENTERPRISE_USER),
    };
    if path.urn.is_some() && !enterprise {
        return None; // registered extensions: the general path
    }
    let name = path.attribute.as_deref()?;
    let def = if enterprise {
        schema::ENTERPRISE_USER.attribute(name)?
    } else {
        user_attribute(None, name)?
    };
    if def.mutability == Mutability::ReadOnly {
        return None;
    }
    let sub = match path.sub_attribute.as_deref() {
        None => None,
        Some(s) => Some(def.sub_attribute(s).filter(|s| {
            def.kind == AttributeType::Complex && s.mutability != Mutability::ReadOnly
        })?),
    };
    match (def.multi_valued, def.kind, path.filter.as_ref(), sub) {
        (false, AttributeType::Complex, None, Some(sub)) => {
            let v = Scalar::read(sub, value, compat)?;
            set_sub(user, enterprise, def.name, sub.name, v)
        }
        (false, kind, None, None) if kind != AttributeType::Complex => {
            let v = Scalar::read(def, value, compat)?;
            set_simple(user, enterprise, def.name, v)
        }
        (true, AttributeType::Complex, Some(filter), Some(sub)) => {
            let v = Scalar::read(sub, value, compat)?;
            set_selected(user, def, filter, sub.name, v)
        }
        _ => None,
    }
}

fn set_simple(user: &mut User, enterprise: bool, name: &str, v: Scalar) -> Option<()> {
    if enterprise {
        let e = user.enterprise.get_or_insert_default();
        let slot = match name {
            "employeeNumber" => &mut e.employee_number,
            "costCenter" => &mut e.cost_center,
            "organization" => &mut e.organization,
            "division" => &mut e.division,
            "department" => &mut e.department,
            _ => return None,
        };
        return v.string(slot);
    }
    let slot = match name {
        "userName" => {
            let Scalar::Str(s) = v else { return None };
            user.user_name = s;
            return Some(());
        }
        "active" => return v.boolean(&mut user.active),
        "password" => {
            let Scalar::Str(s) = v else { return None };
            user.password = Some(Secret::new(s.as_str()));
            return Some(());
        }
        "externalId" => &mut user.external_id,
        "displayName" => &mut user.display_name,
        "nickName" => &mut user.nick_name,
        "profileUrl" => &mut user.profile_url,
        "title" => &mut user.title,
        "userType" => &mut user.user_type,
        "preferredLanguage" => &mut user.preferred_language,
        "locale" => &mut user.locale,
        "timezone" => &mut user.timezone,
        _ => return None,
    };
    v.string(slot)
}

fn set_sub(user: &mut User, enterprise: bool, name: &str, sub: &str, v: Scalar) -> Option<()> {
    let slot = match (enterprise, name, sub) {
        (true, "manager", sub) => {
            let m = user
                .enterprise
                .get_or_insert_default()
                .manager
                .get_or_insert_default();
            match sub {
                "value" => &mut m.value,
                "$ref" => &mut m.reference,
                _ => return None,
            }
        }
        (false, "name", sub) => {
            let n = user.name.get_or_insert_default();
            match sub {
                "formatted" => &mut n.formatted,
                "familyName" => &mut n.family_name,
                "givenName" => &mut n.given_name,
                "middleName" => &mut n.middle_name,
                "honorificPrefix" => &mut n.honorific_prefix,
                "honorificSuffix" => &mut n.honorific_suffix,
                _ => return None,
            }
        }
        _ => return None,
    };
    v.string(slot)
}

/// An element of a multi-valued attribute, as value paths reach it.
trait Element {
    fn matches(&self, filter: &Filter, def: &'static AttributeDef) -> bool;
    fn set(&mut self, sub: &str, v: Scalar) -> Option<()>;
    fn primary(&mut self) -> &mut Option<bool>;
}

impl Element for MultiValue {
    fn matches(&self, filter: &Filter, def: &'static AttributeDef) -> bool {
        filter::multi_value_matches(filter, self, def)
    }
    fn set(&mut self, sub: &str, v: Scalar) -> Option<()> {
        match sub {
            "value" => v.string(&mut self.value),
            "display" => v.string(&mut self.display),
            "type" => v.string(&mut self.kind),
            "primary" => v.boolean(&mut self.primary),
            _ => None,
        }
    }
    fn primary(&mut self) -> &mut Option<bool> {
        &mut self.primary
    }
}

impl Element for Address {
    fn matches(&self, filter: &Filter, def: &'static AttributeDef) -> bool {
        filter::address_matches(filter, self, def)
    }
    fn set(&mut self, sub: &str, v: Scalar) -> Option<()> {
        let slot = match sub {
            "primary" => return v.boolean(&mut self.primary),
            "formatted" => &mut self.formatted,
            "streetAddress" => &mut self.street_address,
            "locality" => &mut self.locality,
            "region" => &mut self.region,
            "postalCode" => &mut self.postal_code,
            "country" => &mut self.country,
            "type" => &mut self.kind,
            _ => return None,
        };
        v.string(slot)
    }
    fn primary(&mut self) -> &mut Option<bool> {
        &mut self.primary
    }
}

fn set_selected(
    user: &mut User,
    def: &'static AttributeDef,
    filter: &Filter,
    sub: &str,
    v: Scalar,
) -> Option<()> {
    match def.name {
        "emails" => set_in(&mut user.emails, def, filter, sub, v),
        "phoneNumbers" => set_in(&mut user.phone_numbers, def, filter, sub, v),
        "ims" => set_in(&mut user.ims, def, filter, sub, v),
        "photos" => set_in(&mut user.photos, def, filter, sub, v),
        "entitlements" => set_in(&mut user.entitlements, def, filter, sub, v),
        "roles" => set_in(&mut user.roles, def, filter, sub, v),
        "x509Certificates" => set_in(&mut user.x509_certificates, def, filter, sub, v),
        "addresses" => set_in(&mut user.addresses, def, filter, sub, v),
        _ => None,
    }
}

/// Sets `sub` on every element `filter` selects (none selected: declined); then, if the
/// last selected element is primary, no other is (RFC 7643 §2.4).
fn set_in<E: Element>(
    items: &mut [E],
    def: &'static AttributeDef,
    filter: &Filter,
    sub: &str,
    v: Scalar,
) -> Option<()> {
    let mut last_primary = None;
    let mut any = false;
    let mut value = Some(v);
    for i in 0..items.len() {
        let element = items.get_mut(i)?;
        if !element.matches(filter, def) {
            continue;
        }
        any = true;
        let v = match value.take()? {
            Scalar::Str(s) => {
                value = Some(Scalar::Str(s.clone()));
                Scalar::Str(s)
            }
            Scalar::Bool(b) => {
                value = Some(Scalar::Bool(b));
                Scalar::Bool(b)
            }
        };
        element.set(sub, v)?;
        if *element.primary() == Some(true) {
            last_primary = Some(i);
        }
    }
    if !any {
        return None;
    }
    if let Some(keep) = last_primary {
        for (i, e) in items.iter_mut().enumerate() {
            if i != keep && *e.primary() == Some(true) {
                *e.primary() = Some(false);
            }
        }
    }
    Some(())
}
