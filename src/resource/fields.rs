//! The attribute table of the typed resource: every member of a [`User`] and of each of
//! its parts, declared once, in the order its JSON form writes them (`attributes!` below).
//!
//! From each declaration come
//!
//! * `MEMBERS`: the member's JSON name and a reader giving a borrowed [`Member`] (`None`
//!   where the JSON form omits it), which the filter view (`filter/user.rs`) and PATCH's
//!   view (`patch/doc.rs`) walk;
//! * `each_at`: the same members, the table unrolled, with their names quoted as JSON keys
//!   and their positions in `MEMBERS`: the response writer (`write.rs::write_user`, which
//!   looks up what a projection keeps of each member by its position) and every
//!   `Serialize` of the resource write them so;
//! * `member_mut`: every member a client may write, by canonical name, borrowed for
//!   writing by its kind: the request-body reader (`read.rs`) fills a user through it;
//! * `field`: the string and boolean members by canonical name (PATCH's typed writes in
//!   `patch/doc.rs`);
//! * `set_json`: any member set from its canonical JSON (PATCH reads its results back so);
//! * `set_scalar`: a string or boolean member, or one of a singular complex member
//!   (`name.familyName`), set from canonical JSON (PATCH writes the typed user so);
//! * `list_mut`: the multi-valued members by canonical name.
//!
//! Adding a core attribute is a field of the struct and one line here (plus its schema
//! definition in `schema.rs`, which says its type and characteristics to clients).
//! Callers check the schema's mutability first; these tables only map names to fields.

use chrono::{DateTime, Utc};

use super::{
    Address, CompactString, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, User,
};

/// A scalar member of a user or of one of its parts.
pub(crate) enum Field<'a> {
    Str(&'a mut Option<CompactString>),
    Bool(&'a mut Option<bool>),
}

impl Field<'_> {
    /// Whether the member takes a canonical JSON value of this type (`None`: absent).
    pub(crate) fn takes(&self, value: Option<&serde_json::Value>) -> bool {
        use serde_json::Value;
        matches!(
            (self, value),
            (_, None)
                | (Self::Str(_), Some(Value::String(_)))
                | (Self::Bool(_), Some(Value::Bool(_)))
        )
    }

    /// Stores a canonical JSON string or boolean (`None`: absent); `false` (nothing
    /// stored) when its type is not the member's.
    pub(crate) fn set_json(self, value: Option<&serde_json::Value>) -> bool {
        use serde_json::Value;
        match (self, value) {
            (Self::Str(slot), Some(Value::String(s))) => *slot = Some(s.as_str().into()),
            (Self::Bool(slot), Some(Value::Bool(b))) => *slot = Some(*b),
            (Self::Str(slot), None) => *slot = None,
            (Self::Bool(slot), None) => *slot = None,
            _ => return false,
        }
        true
    }
}

/// A multi-valued member, borrowed for writing.
pub(crate) enum List<'a> {
    Values(&'a mut Vec<MultiValue>),
    Addresses(&'a mut Vec<Address>),
}

/// A member a client may write, borrowed for writing, by kind (the reader fills it).
pub(crate) enum MemberMut<'a> {
    Str(&'a mut Option<CompactString>),
    /// A required string (`userName`).
    Text(&'a mut CompactString),
    Bool(&'a mut Option<bool>),
    Name(&'a mut Option<Name>),
    Manager(&'a mut Option<Manager>),
    Values(&'a mut Vec<MultiValue>),
    Addresses(&'a mut Vec<Address>),
}

/// A member of a user or of one of its parts, borrowed, standing for the JSON value it
/// is written as.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Member<'a> {
    Str(&'a str),
    Bool(bool),
    /// A timestamp, written as an RFC 3339 string.
    Instant(&'a DateTime<Utc>),
    Name(&'a Name),
    MultiValues(&'a [MultiValue]),
    Addresses(&'a [Address]),
    Groups(&'a [GroupMembership]),
    Enterprise(&'a EnterpriseUser),
    Manager(&'a Manager),
    Meta(&'a Meta),
}

/// Reads one member of a `T`; `None` where the JSON form omits it.
pub(crate) type Getter<T> = for<'a> fn(&'a T) -> Option<Member<'a>>;

/// The members of a `T`: JSON name and reader, in the order the JSON form writes them.
pub(crate) type Members<T> = &'static [(&'static str, Getter<T>)];

/// A type whose JSON form is an object of the members its attribute table declares.
pub(crate) trait Attributes: Sized + 'static {
    /// The members, in the order the JSON form writes them.
    const MEMBERS: Members<Self>;

    /// The string or boolean member with this canonical name.
    fn slot(&mut self, name: &str) -> Option<Field<'_>>;

    /// The member with this canonical name, borrowed for writing by its kind; `None` for
    /// the members no client writes (`meta`, `groups`, timestamps, the extension).
    fn writable(&mut self, name: &str) -> Option<MemberMut<'_>>;

    /// Calls `f` with each member the JSON form writes (as [`Attributes::MEMBERS`] reads
    /// them), in order, with its position in [`Attributes::MEMBERS`] and its name as a
    /// JSON key (`"name":`): the table unrolled, for the response writer.
    fn each_at<'a>(&'a self, f: impl FnMut(usize, &'static str, Member<'a>));

    /// [`Attributes::each_at`] without the positions.
    fn each<'a>(&'a self, f: impl FnMut(&'static str, Member<'a>));
}

/// Whether `value` holds no member its JSON form would write.
pub(crate) fn is_empty<T: Attributes>(value: &T) -> bool {
    T::MEMBERS.iter().all(|(_, get)| get(value).is_none())
}

/// Sets the scalar `sub` of the part `part` (`name`, `manager`) from canonical JSON
/// (`None`: absent), creating the part as needed and dropping it when it is left empty,
/// as its JSON object would be; `false` (nothing changed) when `sub` is not a string or
/// boolean member of the part of `value`'s type.
pub(crate) fn set_part<T: Attributes + Default>(
    part: &mut Option<T>,
    sub: &str,
    value: Option<&serde_json::Value>,
) -> bool {
    let Some(value) = value else {
        let Some(p) = part else {
            return T::default().slot(sub).is_some();
        };
        let done = p.slot(sub).is_some_and(|f| f.set_json(None));
        if done && is_empty(p) {
            *part = None;
        }
        return done;
    };
    let created = part.is_none();
    let done = part
        .get_or_insert_default()
        .slot(sub)
        .is_some_and(|f| f.set_json(Some(value)));
    if !done && created {
        *part = None;
    }
    done
}

/// Whether `key` is exactly the name of a member of `T`.
pub(crate) fn is_member<T: Attributes>(key: &str) -> bool {
    T::MEMBERS.iter().any(|(name, _)| *name == key)
}

/// The member `key` of `value`, its name compared ASCII case-insensitively.
pub(crate) fn member<'a, T: Attributes>(value: &'a T, key: &str) -> Option<Member<'a>> {
    T::MEMBERS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(key))
        .and_then(|(_, get)| get(value))
}

/// How a member of each kind is read (`get`), reached for writing (`slot`, `list`,
/// `part`) and set from its canonical JSON (`json`). The kinds: `Str` (optional string),
/// `Text` (required string), `Bool`, `Instant`, `Part(T)` (a singular complex member, a
/// `T`), `List(T)` (a multi-valued one, a `Member::T`), `Enterprise`, `Meta`.
macro_rules! kind {
    (get [Str] $e:expr) => {
        $e.as_deref().map(Member::Str)
    };
    (get [Text] $e:expr) => {
        Some(Member::Str(&$e))
    };
    (get [Bool] $e:expr) => {
        $e.map(Member::Bool)
    };
    (get [Instant] $e:expr) => {
        Some(Member::Instant(&$e))
    };
    (get [Part($t:ident)] $e:expr) => {
        $e.as_ref().map(Member::$t)
    };
    (get [Meta] $e:expr) => {
        $e.as_ref().map(Member::Meta)
    };
    // The Enterprise extension is omitted when it holds nothing.
    (get [Enterprise] $e:expr) => {
        $e.as_ref()
            .filter(|e| !e.is_empty())
            .map(Member::Enterprise)
    };
    (get [List($t:ident)] $e:expr) => {
        (!$e.is_empty()).then(|| Member::$t(&$e))
    };
    (slot [Str] $e:expr) => {
        Some(Field::Str(&mut $e))
    };
    (slot [Bool] $e:expr) => {
        Some(Field::Bool(&mut $e))
    };
    (slot [$($other:tt)*] $e:expr) => {
        None
    };
    (list [List(MultiValues)] $e:expr) => {
        Some(List::Values(&mut $e))
    };
    (list [List(Addresses)] $e:expr) => {
        Some(List::Addresses(&mut $e))
    };
    (list [$($other:tt)*] $e:expr) => {
        None
    };
    (mut [Str] $e:expr) => {
        Some(MemberMut::Str(&mut $e))
    };
    (mut [Text] $e:expr) => {
        Some(MemberMut::Text(&mut $e))
    };
    (mut [Bool] $e:expr) => {
        Some(MemberMut::Bool(&mut $e))
    };
    (mut [Part($t:ident)] $e:expr) => {
        Some(MemberMut::$t(&mut $e))
    };
    (mut [List(MultiValues)] $e:expr) => {
        Some(MemberMut::Values(&mut $e))
    };
    (mut [List(Addresses)] $e:expr) => {
        Some(MemberMut::Addresses(&mut $e))
    };
    (mut [$($other:tt)*] $e:expr) => {
        None
    };
    // A scalar of a singular complex member, from canonical JSON.
    (part [Part($t:ident)] $e:expr, $sub:ident, $v:ident) => {
        set_part(&mut $e, $sub, $v)
    };
    (part [$($other:tt)*] $e:expr, $sub:ident, $v:ident) => {
        false
    };
    // A member from its canonical JSON (`None`: absent, or empty where the member cannot be).
    (json [Text] $e:expr, $v:ident) => {
        $e = from_json($v)?.unwrap_or_default()
    };
    (json [Instant] $e:expr, $v:ident) => {
        $e = from_json($v)?.unwrap_or_default()
    };
    (json [List($t:ident)] $e:expr, $v:ident) => {
        $e = from_json($v)?.unwrap_or_default()
    };
    (json [$($other:tt)*] $e:expr, $v:ident) => {
        $e = from_json($v)?
    };
}

/// A member's value read from its canonical JSON.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    value: Option<serde_json::Value>,
) -> Result<Option<T>, serde_json::Error> {
    value.map(serde_json::from_value).transpose()
}

/// Declares the attribute table of a type: `"jsonName" => field: Kind`, in JSON order.
macro_rules! attributes {
    ($ty:ty { $($json:literal => $field:ident : $kind:ident $(($t:ident))?),* $(,)? }) => {
        impl Attributes for $ty {
            const MEMBERS: Members<Self> = &[$(($json, |v| kind!(get [$kind $(($t))?] v.$field))),*];

            fn slot(&mut self, name: &str) -> Option<Field<'_>> {
                self.field(name)
            }

            fn writable(&mut self, name: &str) -> Option<MemberMut<'_>> {
                match name {
                    $($json => kind!(mut [$kind $(($t))?] self.$field),)*
                    _ => None,
                }
            }

            #[inline]
            #[allow(unused_assignments)]
            fn each_at<'a>(&'a self, mut f: impl FnMut(usize, &'static str, Member<'a>)) {
                let v = self;
                let mut at = 0;
                $(if let Some(m) = kind!(get [$kind $(($t))?] v.$field) {
                    f(at, concat!("\"", $json, "\":"), m);
                }
                at += 1;)*
            }

            #[inline]
            fn each<'a>(&'a self, mut f: impl FnMut(&'static str, Member<'a>)) {
                let v = self;
                $(if let Some(m) = kind!(get [$kind $(($t))?] v.$field) {
                    f(concat!("\"", $json, "\":"), m);
                })*
            }
        }

        impl $ty {
            /// The string or boolean member with this canonical name.
            #[allow(dead_code)]
            pub(crate) fn field(&mut self, name: &str) -> Option<Field<'_>> {
                match name {
                    $($json => kind!(slot [$kind $(($t))?] self.$field),)*
                    _ => None,
                }
            }

            /// Sets the member with this canonical name from its canonical JSON (`None`:
            /// absent); `Ok(false)` when there is no such member.
            #[allow(dead_code)]
            pub(crate) fn set_json(
                &mut self,
                name: &str,
                value: Option<serde_json::Value>,
            ) -> Result<bool, serde_json::Error> {
                match name {
                    $($json => kind!(json [$kind $(($t))?] self.$field, value),)*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// Sets the string or boolean member with this canonical name (`sub: None`), or
            /// the scalar `sub` of the singular complex member with this name, from canonical
            /// JSON (`None`: absent), as [`set_part`] does; `false` (nothing changed) when
            /// there is no such typed scalar.
            #[allow(dead_code, unused_variables)]
            pub(crate) fn set_scalar(
                &mut self,
                name: &str,
                sub: Option<&str>,
                value: Option<&serde_json::Value>,
            ) -> bool {
                match sub {
                    None => self.field(name).is_some_and(|f| f.set_json(value)),
                    Some(sub) => match name {
                        $($json => kind!(part [$kind $(($t))?] self.$field, sub, value),)*
                        _ => false,
                    },
                }
            }

            /// The multi-valued member with this canonical name, typed.
            #[allow(dead_code)]
            pub(crate) fn list_mut(&mut self, name: &str) -> Option<List<'_>> {
                match name {
                    $($json => kind!(list [$kind $(($t))?] self.$field),)*
                    _ => None,
                }
            }
        }
    };
}

// The tables of other resources (`group/`) are declared with the same macros.
pub(crate) use {attributes, kind};

attributes!(User {
    "id" => id: Str,
    "externalId" => external_id: Str,
    "userName" => user_name: Text,
    "name" => name: Part(Name),
    "displayName" => display_name: Str,
    "nickName" => nick_name: Str,
    "profileUrl" => profile_url: Str,
    "title" => title: Str,
    "userType" => user_type: Str,
    "preferredLanguage" => preferred_language: Str,
    "locale" => locale: Str,
    "timezone" => timezone: Str,
    "active" => active: Bool,
    "emails" => emails: List(MultiValues),
    "phoneNumbers" => phone_numbers: List(MultiValues),
    "ims" => ims: List(MultiValues),
    "photos" => photos: List(MultiValues),
    "addresses" => addresses: List(Addresses),
    "groups" => groups: List(Groups),
    "entitlements" => entitlements: List(MultiValues),
    "roles" => roles: List(MultiValues),
    "x509Certificates" => x509_certificates: List(MultiValues),
    // `schema::ENTERPRISE_USER_SCHEMA` (a literal here, for the quoted key; a test checks).
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" => enterprise: Enterprise,
    "meta" => meta: Meta,
});

attributes!(Name {
    "formatted" => formatted: Str,
    "familyName" => family_name: Str,
    "givenName" => given_name: Str,
    "middleName" => middle_name: Str,
    "honorificPrefix" => honorific_prefix: Str,
    "honorificSuffix" => honorific_suffix: Str,
});

attributes!(MultiValue {
    "value" => value: Str,
    "display" => display: Str,
    "type" => kind: Str,
    "primary" => primary: Bool,
});

attributes!(Address {
    "formatted" => formatted: Str,
    "streetAddress" => street_address: Str,
    "locality" => locality: Str,
    "region" => region: Str,
    "postalCode" => postal_code: Str,
    "country" => country: Str,
    "type" => kind: Str,
    "primary" => primary: Bool,
});

attributes!(GroupMembership {
    "value" => value: Str,
    "$ref" => reference: Str,
    "display" => display: Str,
    "type" => kind: Str,
});

attributes!(EnterpriseUser {
    "employeeNumber" => employee_number: Str,
    "costCenter" => cost_center: Str,
    "organization" => organization: Str,
    "division" => division: Str,
    "department" => department: Str,
    "manager" => manager: Part(Manager),
});

attributes!(Manager {
    "value" => value: Str,
    "$ref" => reference: Str,
    "displayName" => display_name: Str,
});

attributes!(Meta {
    "resourceType" => resource_type: Text,
    "created" => created: Instant,
    "lastModified" => last_modified: Instant,
    "location" => location: Str,
    "version" => version: Str,
});
