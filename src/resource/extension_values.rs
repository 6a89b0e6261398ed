//! What a write keeps of a user's extension values that the client cannot see or set, and
//! the `immutable` rule (RFC 7643 §7, RFC 7644 §3.5.1–3.5.2).

use serde_json::{Map, Value};

use super::User;
use crate::error::ScimError;
use crate::schema::{Mutability, Returned, SchemaSet};

/// Carries over into `next` (the user a write produces from `current`) the extension
/// values the client had no say in:
///
/// * `readOnly` attributes: always the stored value (a client's value was ignored on
///   input, and removing the whole extension does not remove them);
/// * objects of extension schemas not in the server's `schemas`: verbatim (a replica
///   that does not know an extension must not erase it);
/// * with `hidden` (a PUT, which replaces everything the client sends): `writeOnly`,
///   `returned: never` and `returned: request` attributes the client did not send, since
///   a client that read the user first (as Okta does before a PUT) never saw them.
pub(crate) fn carry_over(current: &User, next: &mut User, hidden: bool, schemas: &SchemaSet) {
    for (urn, attrs) in &current.extensions {
        let Some(ext) = schemas.extension(urn) else {
            next.extensions.insert(urn.clone(), attrs.clone());
            continue;
        };
        for (name, value) in attrs {
            let Some(def) = ext.attribute(name) else {
                continue;
            };
            let keep = match def.mutability {
                Mutability::ReadOnly => true,
                _ if hidden => {
                    let unseen = def.mutability == Mutability::WriteOnly
                        || matches!(def.returned, Returned::Never | Returned::Request);
                    unseen && !has(next, urn, name)
                }
                _ => false,
            };
            if keep {
                next.extensions
                    .entry(urn.clone())
                    .or_default()
                    .insert(name.clone(), value.clone());
            }
        }
    }
    // A server-set value may have been the only one left after a removal.
    next.extensions.retain(|_, attrs| !attrs.is_empty());
}

fn has(user: &User, urn: &str, name: &str) -> bool {
    user.extensions
        .get(urn)
        .is_some_and(|attrs| attrs.contains_key(name))
}

/// Refuses a write that changes or removes the value of an `immutable` extension attribute
/// once it has one (400 `mutability`); setting it the first time is allowed.
pub(crate) fn check_immutable(
    current: &User,
    next: &User,
    schemas: &SchemaSet,
) -> Result<(), ScimError> {
    for (urn, attrs) in &current.extensions {
        let Some(ext) = schemas.extension(urn) else {
            continue;
        };
        let after: Option<&Map<String, Value>> = next.extensions.get(urn);
        for (name, value) in attrs {
            let immutable = ext
                .attribute(name)
                .is_some_and(|d| d.mutability == Mutability::Immutable);
            if immutable && after.and_then(|a| a.get(name)) != Some(value) {
                return Err(ScimError::Mutability(format!(
                    "{urn}:{name} is immutable: it cannot be changed or removed once set"
                )));
            }
        }
    }
    Ok(())
}
