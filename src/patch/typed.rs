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
use crate::resource::fields::{Field, Scalar};
use crate::resource::{Address, MultiValue, Secret, User};
use crate::schema::{
    self, AttributeDef, AttributeType, ENTERPRISE_USER_SCHEMA, Mutability, SchemaSet,
    user_attribute,
};

/// `ops` applied to a copy of `user`, or `None` when the general path must apply them.
pub(super) fn apply(
    user: &User,
    ops: &[PatchOperation],
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Option<User> {
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
                    let path = PatchPath::for_pathless_key(key, compat, schemas).ok()?;
                    set(&mut out, &path, v, compat)?;
                }
            }
        }
    }
    (!out.user_name.trim().is_empty()).then_some(out)
}

/// `value` as `def` reads it, or `None` (declined) when it is anything but a plain string
/// or boolean of the right type.
fn read(def: &AttributeDef, value: &Value, compat: &Compatibility) -> Option<Scalar> {
    match (def.kind, value) {
        (AttributeType::Boolean, Value::Bool(b)) => Some(Scalar::Bool(Some(*b))),
        (AttributeType::Boolean, Value::String(s)) if compat.string_booleans => {
            crate::compat::string_boolean(s).map(|b| Scalar::Bool(Some(b)))
        }
        (
            AttributeType::String | AttributeType::Reference | AttributeType::Binary,
            Value::String(s),
        ) if !s.contains('\0') => Some(Scalar::Str(Some(s.as_str().into()))),
        _ => None,
    }
}

/// Stores `v` in `field`; `None` (declined) when there is no such field or the types differ.
fn store(field: Option<Field<'_>>, v: Scalar) -> Option<()> {
    field?.set(v).then_some(())
}

/// Applies one add/replace of `value` at `path` to `user`.
fn set(user: &mut User, path: &PatchPath, value: &Value, compat: &Compatibility) -> Option<()> {
    let enterprise = match path.urn.as_deref() {
        None => false,
        Some(urn) => urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA),
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
            let v = read(sub, value, compat)?;
            set_sub(user, enterprise, def.name, sub.name, v)
        }
        (false, kind, None, None) if kind != AttributeType::Complex => {
            let v = read(def, value, compat)?;
            set_simple(user, enterprise, def.name, v)
        }
        (true, AttributeType::Complex, Some(filter), Some(sub)) => {
            let v = read(sub, value, compat)?;
            set_selected(user, def, filter, sub.name, v)
        }
        _ => None,
    }
}

fn set_simple(user: &mut User, enterprise: bool, name: &str, v: Scalar) -> Option<()> {
    if enterprise {
        return store(user.enterprise.get_or_insert_default().field(name), v);
    }
    match (name, v) {
        ("userName", Scalar::Str(Some(s))) => user.user_name = s,
        ("password", Scalar::Str(Some(s))) => user.password = Some(Secret::new(s.as_str())),
        (_, v) => return store(user.field(name), v),
    }
    Some(())
}

fn set_sub(user: &mut User, enterprise: bool, name: &str, sub: &str, v: Scalar) -> Option<()> {
    let field = match (enterprise, name) {
        (true, "manager") => user
            .enterprise
            .get_or_insert_default()
            .manager
            .get_or_insert_default()
            .field(sub),
        (false, "name") => user.name.get_or_insert_default().field(sub),
        _ => return None,
    };
    store(field, v)
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
        store(self.field(sub), v)
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
        store(self.field(sub), v)
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
    if def.name == "addresses" {
        set_in(&mut user.addresses, def, filter, sub, v)
    } else {
        set_in(user.multi_values_mut(def.name)?, def, filter, sub, v)
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
    for (i, element) in items.iter_mut().enumerate() {
        if !element.matches(filter, def) {
            continue;
        }
        any = true;
        element.set(sub, v.clone())?;
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
