//! The typed User resource (RFC 7643 §4.1) with the Enterprise User extension (§4.3).
//!
//! Output is strict RFC JSON: canonical attribute names, real booleans, `schemas` listing
//! the extension only when it is present, `password` never written. Input goes through
//! [`input::parse_user`], one reader of a body's text or of parsed JSON (`read.rs`),
//! lenient in the ways RFC 7643 §2.1 and real clients need (see [`input`]).

mod text;

pub use text::CompactString;

mod extension_values;
pub(crate) mod fields;
#[doc(hidden)]
pub mod input;
#[doc(hidden)]
pub mod json;
mod read;
mod render;
mod write;

pub(crate) use extension_values::{carry_over, check_immutable};

pub use render::UserView;
pub(crate) use render::{decimal, unquoted, write_str as write_json_str};
pub(crate) use write::{
    Selection, write_member as write_json_member, write_user as write_json_user,
};

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

/// A write-only secret such as a user's `password`: never serialized, redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret value. Handle with care: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The components of a user's name (RFC 7643 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    /// The full name, formatted for display.
    pub formatted: Option<CompactString>,
    /// Family name ("Jensen").
    pub family_name: Option<CompactString>,
    /// Given name ("Barbara").
    pub given_name: Option<CompactString>,
    /// Middle name(s).
    pub middle_name: Option<CompactString>,
    /// Honorific prefix(es) ("Ms.").
    pub honorific_prefix: Option<CompactString>,
    /// Honorific suffix(es) ("III").
    pub honorific_suffix: Option<CompactString>,
}

/// One value of a simple multi-valued attribute (RFC 7643 §2.4): emails, phone numbers,
/// instant messaging addresses, photos, entitlements, roles and X.509 certificates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct MultiValue {
    /// The value (an address, a number, a URL, base64 DER, ...).
    pub value: Option<CompactString>,
    /// A human-readable name.
    pub display: Option<CompactString>,
    /// A label such as `work` or `home`.
    #[serde(rename = "type")]
    pub kind: Option<CompactString>,
    /// Whether this is the preferred value; at most one value is primary.
    pub primary: Option<bool>,
}

impl MultiValue {
    /// A value with a type label, e.g. `MultiValue::typed("bjensen@example.com", "work")`.
    pub fn typed(value: impl Into<CompactString>, kind: impl Into<CompactString>) -> Self {
        Self {
            value: Some(value.into()),
            kind: Some(kind.into()),
            ..Self::default()
        }
    }
}

/// An email address (RFC 7643 §4.1.2).
pub type Email = MultiValue;
/// A phone number (RFC 7643 §4.1.2).
pub type PhoneNumber = MultiValue;
/// An instant messaging address (RFC 7643 §4.1.2).
pub type Im = MultiValue;
/// A photo URL (RFC 7643 §4.1.2).
pub type Photo = MultiValue;
/// An entitlement (RFC 7643 §4.1.2).
pub type Entitlement = MultiValue;
/// A role (RFC 7643 §4.1.2).
pub type Role = MultiValue;
/// A DER-encoded X.509 certificate, base64 (RFC 7643 §4.1.2).
pub type X509Certificate = MultiValue;

/// A physical mailing address (RFC 7643 §4.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// The full address, formatted for display.
    pub formatted: Option<CompactString>,
    /// Street address.
    pub street_address: Option<CompactString>,
    /// City or locality.
    pub locality: Option<CompactString>,
    /// State or region.
    pub region: Option<CompactString>,
    /// Zip or postal code.
    pub postal_code: Option<CompactString>,
    /// Country (ISO 3166-1 alpha-2).
    pub country: Option<CompactString>,
    /// A label: `work`, `home` or `other`.
    #[serde(rename = "type")]
    pub kind: Option<CompactString>,
    /// Whether this is the preferred address.
    pub primary: Option<bool>,
}

/// A group the user belongs to (RFC 7643 §4.1.2): read-only, never accepted from clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupMembership {
    /// The group's id.
    pub value: Option<CompactString>,
    /// The group's URI.
    #[serde(rename = "$ref")]
    pub reference: Option<CompactString>,
    /// The group's display name.
    pub display: Option<CompactString>,
    /// `direct` or `indirect`.
    #[serde(rename = "type")]
    pub kind: Option<CompactString>,
}

/// A reference to the user's manager (RFC 7643 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    /// The manager's `id`.
    pub value: Option<CompactString>,
    /// The manager's URI.
    #[serde(rename = "$ref")]
    pub reference: Option<CompactString>,
    /// The manager's display name (read-only).
    pub display_name: Option<CompactString>,
}

/// The Enterprise User extension (RFC 7643 §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseUser {
    /// Employee number.
    pub employee_number: Option<CompactString>,
    /// Cost center.
    pub cost_center: Option<CompactString>,
    /// Organization.
    pub organization: Option<CompactString>,
    /// Division.
    pub division: Option<CompactString>,
    /// Department.
    pub department: Option<CompactString>,
    /// Manager.
    pub manager: Option<Manager>,
}

impl EnterpriseUser {
    /// Whether no attribute is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Resource metadata (RFC 7643 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Always `"User"` for users.
    pub resource_type: CompactString,
    /// When the resource was created.
    pub created: DateTime<Utc>,
    /// When the resource was last changed.
    pub last_modified: DateTime<Utc>,
    /// The resource's URI; filled in by the server when rendering.
    pub location: Option<CompactString>,
    /// The version, used as the `ETag`; assigned by the store on every write.
    pub version: Option<CompactString>,
}

impl Meta {
    /// Metadata for a resource created at `now`, without location or version.
    pub fn new(resource_type: &str, now: DateTime<Utc>) -> Self {
        Self {
            resource_type: resource_type.into(),
            created: now,
            last_modified: now,
            location: None,
            version: None,
        }
    }
}

/// A SCIM User (RFC 7643 §4.1) with the Enterprise User extension.
///
/// ```
/// use scimkit::{User, MultiValue};
/// let mut user = User::new("bjensen@example.com");
/// user.active = Some(true);
/// user.emails.push(MultiValue::typed("bjensen@example.com", "work"));
/// let json = serde_json::to_value(&user).unwrap();
/// assert_eq!(json["userName"], "bjensen@example.com");
/// assert_eq!(json["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:User");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// Server-assigned identifier; `None` until created.
    pub id: Option<CompactString>,
    /// The provisioning client's identifier for the user (caseExact).
    pub external_id: Option<CompactString>,
    /// The unique, case-insensitive user name.
    pub user_name: CompactString,
    /// The components of the user's name.
    pub name: Option<Name>,
    /// Display name.
    pub display_name: Option<CompactString>,
    /// Nickname.
    pub nick_name: Option<CompactString>,
    /// Profile URL.
    pub profile_url: Option<CompactString>,
    /// Title.
    pub title: Option<CompactString>,
    /// User type.
    pub user_type: Option<CompactString>,
    /// Preferred language (e.g. `en-US`).
    pub preferred_language: Option<CompactString>,
    /// Locale (e.g. `en-US`).
    pub locale: Option<CompactString>,
    /// IANA time zone (e.g. `America/Los_Angeles`).
    pub timezone: Option<CompactString>,
    /// Administrative status; `Some(false)` is deactivated. Deactivated users stay visible.
    pub active: Option<bool>,
    /// Write-only password; never returned.
    pub password: Option<Secret>,
    /// Email addresses.
    pub emails: Vec<Email>,
    /// Phone numbers.
    pub phone_numbers: Vec<PhoneNumber>,
    /// Instant messaging addresses.
    pub ims: Vec<Im>,
    /// Photos.
    pub photos: Vec<Photo>,
    /// Mailing addresses.
    pub addresses: Vec<Address>,
    /// Group memberships (read-only).
    pub groups: Vec<GroupMembership>,
    /// Entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Roles.
    pub roles: Vec<Role>,
    /// X.509 certificates.
    pub x509_certificates: Vec<X509Certificate>,
    /// The Enterprise User extension.
    pub enterprise: Option<EnterpriseUser>,
    /// The attributes of the host's extension schemas
    /// ([`ScimServerBuilder::extension`](crate::ScimServerBuilder::extension)): schema URN
    /// (as given to the builder) → attribute object with canonical attribute names,
    /// validated against the schema on input. Rendered as a top-level member named by the
    /// URN, listed in `schemas`. An empty object is not rendered.
    ///
    /// A stored user may also carry objects of extensions the server does not have in its
    /// [`SchemaSet`](crate::schema::SchemaSet) (a replica not yet upgraded, another
    /// server of the process): the server keeps them verbatim through every write and
    /// stores them again, but never renders, filters on or validates them. Serializing a
    /// `User` on its own (without a server's schemas) writes every non-empty object.
    pub extensions: std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Metadata; `None` until created.
    pub meta: Option<Meta>,
}

/// Every field as `#[derive(Debug)]` shows it, except secrets, so that a logged user leaks
/// none: `password` is a [`Secret`], and so is every value of an extension object (a
/// `User` alone does not know which extension attributes are `writeOnly`: see
/// [`User::redacted`], which shows the others).
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.redacted_by(None).fmt(f)
    }
}

/// A [`User`] for `Debug` with the values of `writeOnly` extension attributes redacted
/// by a server's schemas ([`User::redacted`]), or every extension value without them.
#[derive(Clone, Copy)]
pub struct RedactedUser<'a> {
    user: &'a User,
    schemas: Option<&'a crate::schema::SchemaSet>,
}

impl fmt::Debug for RedactedUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured without `..`: a new field cannot be left out of the output.
        let User {
            id,
            external_id,
            user_name,
            name,
            display_name,
            nick_name,
            profile_url,
            title,
            user_type,
            preferred_language,
            locale,
            timezone,
            active,
            password,
            emails,
            phone_numbers,
            ims,
            photos,
            addresses,
            groups,
            entitlements,
            roles,
            x509_certificates,
            enterprise,
            extensions,
            meta,
        } = self.user;
        f.debug_struct("User")
            .field("id", id)
            .field("external_id", external_id)
            .field("user_name", user_name)
            .field("name", name)
            .field("display_name", display_name)
            .field("nick_name", nick_name)
            .field("profile_url", profile_url)
            .field("title", title)
            .field("user_type", user_type)
            .field("preferred_language", preferred_language)
            .field("locale", locale)
            .field("timezone", timezone)
            .field("active", active)
            .field("password", password)
            .field("emails", emails)
            .field("phone_numbers", phone_numbers)
            .field("ims", ims)
            .field("photos", photos)
            .field("addresses", addresses)
            .field("groups", groups)
            .field("entitlements", entitlements)
            .field("roles", roles)
            .field("x509_certificates", x509_certificates)
            .field("enterprise", enterprise)
            .field(
                "extensions",
                &RedactedExtensions {
                    extensions,
                    schemas: self.schemas,
                },
            )
            .field("meta", meta)
            .finish()
    }
}

/// [`User::extensions`] for `Debug`, with the values of `writeOnly` attributes redacted
/// (all values, without schemas).
struct RedactedExtensions<'a> {
    extensions: &'a std::collections::BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    schemas: Option<&'a crate::schema::SchemaSet>,
}

impl fmt::Debug for RedactedExtensions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (urn, attrs) in self.extensions {
            let defs = self
                .schemas
                .map(|s| s.extension(urn).map_or(&[][..], |s| s.attributes));
            map.entry(urn, &Redacted { defs, attrs });
        }
        map.finish()
    }
}

/// An attribute object for `Debug`: members that `defs` marks `writeOnly` are redacted,
/// and so are those sub-attributes of complex members; without `defs`, every member.
struct Redacted<'a> {
    defs: Option<&'static [crate::schema::AttributeDef]>,
    attrs: &'a serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.attrs {
            let Some(defs) = self.defs else {
                map.entry(name, &Secret::new(""));
                continue;
            };
            let def = crate::schema::find_attribute(defs, name);
            match def {
                Some(d) if d.mutability == crate::schema::Mutability::WriteOnly => {
                    map.entry(name, &Secret::new(""));
                }
                Some(d) if !d.sub_attributes.is_empty() => {
                    map.entry(
                        name,
                        &RedactedValue {
                            defs: d.sub_attributes,
                            value,
                        },
                    );
                }
                _ => {
                    map.entry(name, value);
                }
            };
        }
        map.finish()
    }
}

/// A complex value (or an array of them) whose `writeOnly` sub-attributes are redacted.
struct RedactedValue<'a> {
    defs: &'static [crate::schema::AttributeDef],
    value: &'a serde_json::Value,
}

impl fmt::Debug for RedactedValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            serde_json::Value::Object(attrs) => Redacted {
                defs: Some(self.defs),
                attrs,
            }
            .fmt(f),
            serde_json::Value::Array(items) => f
                .debug_list()
                .entries(items.iter().map(|value| RedactedValue {
                    defs: self.defs,
                    value,
                }))
                .finish(),
            other => other.fmt(f),
        }
    }
}

/// Reads a user the way a request body is read (the reader of [`input::parse_user`],
/// with the default [`Compatibility`](crate::Compatibility) and
/// [`SchemaSet::core`](crate::schema::SchemaSet::core)): attribute names in any letter
/// case, read-only attributes (`id`, `meta`, `groups`) ignored, and the Enterprise
/// extension read; other extensions are a server's to read (`parse_user` with its
/// schemas).
impl<'de> Deserialize<'de> for User {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let compat = crate::Compatibility::default();
        let ctx = read::Ctx::new(&compat, crate::schema::SchemaSet::core(), true);
        let mut user = User::default();
        let read = read::read_user(&ctx, deserializer, &mut user);
        ctx.finish(read).map_err(D::Error::custom)?;
        Ok(user)
    }
}

impl User {
    /// A user with only a `userName`.
    pub fn new(user_name: impl Into<CompactString>) -> Self {
        Self {
            user_name: user_name.into(),
            ..Self::default()
        }
    }

    /// The `meta.version`, if any.
    pub fn version(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.version.as_deref())
    }

    /// The `schemas` a server with `schemas` lists in this user's JSON: the core schema,
    /// then each extension the user has a value of.
    pub fn schemas<'a>(&'a self, schemas: &'a crate::schema::SchemaSet) -> Vec<&'a str> {
        let mut out = vec![USER_SCHEMA];
        if self.enterprise.as_ref().is_some_and(|e| !e.is_empty()) {
            out.push(ENTERPRISE_USER_SCHEMA);
        }
        out.extend(self.extensions_shown(Some(schemas)).map(|(urn, _)| urn));
        out
    }

    /// The extension objects the JSON form shows, by URN: the non-empty ones, of the
    /// extension schemas in `schemas` when given (objects of others are kept, not shown:
    /// see [`User::extensions`]).
    pub fn extensions_shown<'a>(
        &'a self,
        schemas: Option<&'a crate::schema::SchemaSet>,
    ) -> impl Iterator<Item = (&'a str, &'a serde_json::Map<String, serde_json::Value>)> + 'a {
        self.extensions
            .iter()
            .filter(move |(urn, attrs)| {
                !attrs.is_empty() && schemas.is_none_or(|s| s.extension(urn).is_some())
            })
            .map(|(urn, attrs)| (urn.as_str(), attrs))
    }

    /// The user for `Debug` with the values of `writeOnly` extension attributes of
    /// `schemas` redacted (plain `Debug` redacts every extension value).
    pub fn redacted<'a>(&'a self, schemas: &'a crate::schema::SchemaSet) -> RedactedUser<'a> {
        self.redacted_by(Some(schemas))
    }

    fn redacted_by<'a>(
        &'a self,
        schemas: Option<&'a crate::schema::SchemaSet>,
    ) -> RedactedUser<'a> {
        RedactedUser {
            user: self,
            schemas,
        }
    }

    /// Reads a user from its canonical JSON object (as rendered, as stored, or as input
    /// canonicalisation leaves it), with its extension objects under the URNs they have
    /// there (canonical ones: the server wrote them; see [`User::extensions`]).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn from_canonical(
        doc: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, serde_json::Error> {
        let mut user = User::default();
        for (key, value) in doc {
            if value.is_null() {
                continue;
            }
            if key == "password" {
                user.password = Some(serde_json::from_value(value)?);
            } else if fields::is_member::<User>(&key) {
                user.set_json(&key, Some(value))?;
            } else if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
                if let serde_json::Value::Object(attrs) = value {
                    user.extensions.insert(key, attrs);
                }
            }
        }
        Ok(user)
    }

    /// The user as a JSON value, as it is rendered (without `password`).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

pub use input::parse_user;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_never_serialized_nor_debug_printed() {
        let mut u = User::new("bjensen");
        u.password = Some(Secret::new("t1meMa$heen"));
        let json = serde_json::to_string(&u).unwrap();
        assert!(!json.contains("t1meMa"), "{json}");
        assert!(!json.contains("password"));
        assert!(!format!("{u:?}").contains("t1meMa"));
    }

    #[test]
    fn enterprise_schema_listed_only_when_present() {
        let mut u = User::new("bjensen");
        let core = crate::schema::SchemaSet::core();
        assert_eq!(u.schemas(core), [USER_SCHEMA]);
        u.enterprise = Some(EnterpriseUser::default());
        assert_eq!(u.schemas(core), [USER_SCHEMA]);
        u.enterprise = Some(EnterpriseUser {
            department: Some("Tour Operations".into()),
            manager: Some(Manager {
                value: Some("26118915-6090-4610-87e4-49d8ca9f808d".into()),
                ..Manager::default()
            }),
            ..EnterpriseUser::default()
        });
        let v = u.to_value();
        assert_eq!(v["schemas"][1], ENTERPRISE_USER_SCHEMA);
        assert_eq!(
            v[ENTERPRISE_USER_SCHEMA]["manager"]["value"],
            "26118915-6090-4610-87e4-49d8ca9f808d"
        );
    }

    #[test]
    fn output_uses_real_booleans_and_omits_empty_lists() {
        let mut u = User::new("bjensen");
        u.active = Some(false);
        let v = u.to_value();
        assert_eq!(v["active"], serde_json::Value::Bool(false));
        assert!(v.get("emails").is_none());
        assert!(v.get("groups").is_none());
    }
}
