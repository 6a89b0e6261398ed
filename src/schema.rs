//! The attribute definitions of the core User schema (RFC 7643 §4.1, §8.7.1) and the
//! Enterprise User extension (§4.3, §8.7.2), written once.
//!
//! The same definitions drive input canonicalisation (attribute names are
//! case-insensitive, §2.1), filter evaluation (`caseExact`, types) and the `/Schemas`
//! discovery document, so what the server advertises is what it does.

use serde_json::{Map, Value, json};

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the Enterprise User extension schema.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the ListResponse message.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// URN of the Error message.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// URN of the PatchOp message.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// URN of the ServiceProviderConfig schema.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// URN of the ResourceType schema.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN of the Schema schema.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttributeType {
    /// A JSON string.
    String,
    /// A JSON boolean.
    Boolean,
    /// A JSON number with a fractional part allowed.
    Decimal,
    /// A JSON number without a fractional part.
    Integer,
    /// An xsd:dateTime string, compared as an instant.
    DateTime,
    /// Base64-encoded binary data.
    Binary,
    /// A URI reference.
    Reference,
    /// An object with sub-attributes.
    Complex,
}

impl AttributeType {
    /// The name used in the `/Schemas` document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// When and how an attribute may be changed (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only; ignored on input.
    ReadOnly,
    /// Updatable by the client.
    ReadWrite,
    /// Set once, never changed.
    Immutable,
    /// Accepted on input, never returned.
    WriteOnly,
}

impl Mutability {
    /// The name used in the `/Schemas` document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned in a response (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always returned.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when requested.
    Request,
}

impl Returned {
    /// The name used in the `/Schemas` document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// The uniqueness scope of an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider (here: within one tenant).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The name used in the `/Schemas` document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug, Clone, Copy)]
pub struct AttributeDef {
    /// The attribute name, in its canonical letter case.
    pub name: &'static str,
    /// The data type.
    pub kind: AttributeType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
    /// Human-readable description.
    pub description: &'static str,
    /// Whether a client must supply it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Mutability.
    pub mutability: Mutability,
    /// Returned characteristic.
    pub returned: Returned,
    /// Uniqueness.
    pub uniqueness: Uniqueness,
    /// Suggested values, if any.
    pub canonical_values: &'static [&'static str],
    /// For references: the kinds of resource referred to.
    pub reference_types: &'static [&'static str],
    /// For complex attributes: the sub-attributes.
    pub sub_attributes: &'static [AttributeDef],
}

/// The attribute of `defs` named `name`, compared case-insensitively (attribute names
/// are, RFC 7643 §2.1): the lookup of [`SchemaDef::attribute`] and
/// [`AttributeDef::sub_attribute`].
pub(crate) fn find_attribute(
    defs: &'static [AttributeDef],
    name: &str,
) -> Option<&'static AttributeDef> {
    defs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

impl AttributeDef {
    /// A singular, optional, case-insensitive, read-write attribute returned by default:
    /// the defaults of RFC 7643 §2.2. Chain the other `const fn`s to change them, so
    /// extension schemas can be written as `static`s:
    ///
    /// ```
    /// use scimkit::schema::{AttributeDef, AttributeType, SchemaDef};
    ///
    /// static ACME_USER: SchemaDef = SchemaDef {
    ///     id: "urn:example:params:scim:schemas:extension:acme:2.0:User",
    ///     name: "AcmeUser",
    ///     description: "Acme's own user attributes",
    ///     attributes: &[
    ///         AttributeDef::string("costCenter", "Cost center code.").case_exact(),
    ///         AttributeDef::new("seats", AttributeType::Integer, "Licensed seats."),
    ///     ],
    /// };
    /// ```
    pub const fn new(name: &'static str, kind: AttributeType, description: &'static str) -> Self {
        Self {
            name,
            kind,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }
    /// A string attribute with the §2.2 defaults.
    pub const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttributeType::String, description)
    }
    /// A complex attribute with these sub-attributes (which must not be complex).
    pub const fn complex(
        name: &'static str,
        description: &'static str,
        subs: &'static [AttributeDef],
    ) -> Self {
        let mut a = Self::new(name, AttributeType::Complex, description);
        a.sub_attributes = subs;
        a
    }
    /// Makes the attribute multi-valued.
    pub const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Makes the attribute required: every write must give it.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Makes string comparisons (filters, sorting) case-sensitive.
    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Makes the attribute read-only: values from clients are ignored.
    pub const fn read_only(self) -> Self {
        self.mutability(Mutability::ReadOnly)
    }
    /// Makes the attribute write-only and never returned.
    pub const fn write_only(self) -> Self {
        self.mutability(Mutability::WriteOnly)
    }
    /// Returns the attribute always, whatever `attributes`/`excludedAttributes` say.
    pub const fn always(self) -> Self {
        self.returned(Returned::Always)
    }
    /// Advertises server uniqueness (enforced by the store only for `userName`).
    pub const fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    /// Sets when the attribute is returned (RFC 7643 §7).
    pub const fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }
    /// Sets the attribute's mutability (RFC 7643 §7). `WriteOnly` also makes it
    /// `returned: never`.
    pub const fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        if let Mutability::WriteOnly = mutability {
            self.returned = Returned::Never;
        }
        self
    }
    /// The advertised canonical values.
    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    /// The advertised reference types of a reference attribute.
    pub const fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }

    /// Looks up a sub-attribute by name, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.sub_attributes, name)
    }

    /// The attribute as a JSON object of the `/Schemas` document.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if !self.sub_attributes.is_empty() {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(Self::to_json).collect()),
            );
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if matches!(
            self.kind,
            AttributeType::String | AttributeType::Reference | AttributeType::Binary
        ) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.kind != AttributeType::Complex && self.kind != AttributeType::Boolean {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        Value::Object(m)
    }
}

/// A schema: a URN and its attributes.
#[derive(Debug, Clone, Copy)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// Human-readable description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// Looks up a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.attributes, name)
    }

    /// The schema as a resource of the `/Schemas` endpoint; `location` is its URL.
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": location },
        })
    }
}

use AttributeType as T;

const TYPE_WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

macro_rules! multi_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            AttributeDef::string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            AttributeDef::string("type", "A label indicating the attribute's function.")
                .canonical($types),
            AttributeDef::new(
                "primary",
                T::Boolean,
                "A Boolean value indicating the 'primary' or preferred attribute value.",
            ),
        ]
    };
}

const NAME_SUBS: &[AttributeDef] = &[
    AttributeDef::string("formatted", "The full name, formatted for display."),
    AttributeDef::string("familyName", "The family name of the User."),
    AttributeDef::string("givenName", "The given name of the User."),
    AttributeDef::string("middleName", "The middle name(s) of the User."),
    AttributeDef::string("honorificPrefix", "The honorific prefix(es) of the User."),
    AttributeDef::string("honorificSuffix", "The honorific suffix(es) of the User."),
];

const ADDRESS_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    AttributeDef::string("streetAddress", "The full street address component."),
    AttributeDef::string("locality", "The city or locality component."),
    AttributeDef::string("region", "The state or region component."),
    AttributeDef::string("postalCode", "The zip code or postal code component."),
    AttributeDef::string(
        "country",
        "The country name component (ISO 3166-1 alpha-2).",
    ),
    AttributeDef::string("type", "A label indicating the attribute's function.")
        .canonical(TYPE_WORK_HOME_OTHER),
    AttributeDef::new(
        "primary",
        T::Boolean,
        "A Boolean value indicating the 'primary' or preferred address.",
    ),
];

const GROUP_SUBS: &[AttributeDef] = &[
    AttributeDef::string("value", "The identifier of the User's group.").read_only(),
    AttributeDef::new("$ref", T::Reference, "The URI of the Group resource.")
        .read_only()
        .refs(&["User", "Group"]),
    AttributeDef::string("display", "A human-readable name.").read_only(),
    AttributeDef::string("type", "How the membership was derived.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

const USER_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string(
        "userName",
        "Unique identifier for the User, used to authenticate.",
    )
    .required()
    .unique(),
    AttributeDef::complex("name", "The components of the user's real name.", NAME_SUBS),
    AttributeDef::string("displayName", "The name of the User, suitable for display."),
    AttributeDef::string("nickName", "The casual way to address the user."),
    AttributeDef::new(
        "profileUrl",
        T::Reference,
        "A URI to the User's online profile.",
    )
    .refs(&["external"]),
    AttributeDef::string("title", "The user's title, such as \"Vice President\"."),
    AttributeDef::string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    AttributeDef::string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    AttributeDef::string("locale", "The User's default location for localisation."),
    AttributeDef::string(
        "timezone",
        "The User's time zone in the IANA Time Zone database format.",
    ),
    AttributeDef::new("active", T::Boolean, "The User's administrative status."),
    AttributeDef::string("password", "The User's cleartext password; never returned.").write_only(),
    AttributeDef::complex(
        "emails",
        "Email addresses for the user.",
        multi_subs!(
            AttributeDef::string("value", "Email address for the user."),
            TYPE_WORK_HOME_OTHER
        ),
    )
    .multi(),
    AttributeDef::complex(
        "phoneNumbers",
        "Phone numbers for the User.",
        multi_subs!(
            AttributeDef::string("value", "Phone number of the User."),
            &["work", "home", "mobile", "fax", "pager", "other"]
        ),
    )
    .multi(),
    AttributeDef::complex(
        "ims",
        "Instant messaging addresses for the User.",
        multi_subs!(
            AttributeDef::string("value", "Instant messaging address for the User."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
        ),
    )
    .multi(),
    AttributeDef::complex(
        "photos",
        "URLs of photos of the User.",
        multi_subs!(
            AttributeDef::new("value", T::Reference, "URL of a photo of the User.")
                .refs(&["external"]),
            &["photo", "thumbnail"]
        ),
    )
    .multi(),
    AttributeDef::complex(
        "addresses",
        "A physical mailing address for this User.",
        ADDRESS_SUBS,
    )
    .multi(),
    AttributeDef::complex(
        "groups",
        "A list of groups to which the user belongs.",
        GROUP_SUBS,
    )
    .multi()
    .read_only(),
    AttributeDef::complex(
        "entitlements",
        "A list of entitlements for the User.",
        multi_subs!(
            AttributeDef::string("value", "The value of an entitlement."),
            &[]
        ),
    )
    .multi(),
    AttributeDef::complex(
        "roles",
        "A list of roles for the User.",
        multi_subs!(AttributeDef::string("value", "The value of a role."), &[]),
    )
    .multi(),
    AttributeDef::complex(
        "x509Certificates",
        "A list of certificates issued to the User.",
        multi_subs!(
            AttributeDef::new("value", T::Binary, "The value of an X.509 certificate."),
            &[]
        ),
    )
    .multi(),
];

const MANAGER_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    AttributeDef::new(
        "$ref",
        T::Reference,
        "The URI of the SCIM resource representing the User's manager.",
    )
    .refs(&["User"]),
    AttributeDef::string("displayName", "The displayName of the User's manager.").read_only(),
];

const ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    AttributeDef::string("costCenter", "Identifies the name of a cost center."),
    AttributeDef::string("organization", "Identifies the name of an organization."),
    AttributeDef::string("division", "Identifies the name of a division."),
    AttributeDef::string("department", "Identifies the name of a department."),
    AttributeDef::complex("manager", "The User's manager.", MANAGER_SUBS),
];

const META_SUBS: &[AttributeDef] = &[
    AttributeDef::string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .read_only(),
    AttributeDef::new(
        "created",
        T::DateTime,
        "When the resource was added to the service provider.",
    )
    .read_only(),
    AttributeDef::new(
        "lastModified",
        T::DateTime,
        "When the resource was last modified.",
    )
    .read_only(),
    AttributeDef::new("location", T::Reference, "The URI of the resource.")
        .case_exact()
        .read_only()
        .refs(&["uri"]),
    AttributeDef::string("version", "The version (ETag) of the resource.")
        .case_exact()
        .read_only(),
];

/// The attributes common to every resource (RFC 7643 §3.1): `id`, `externalId`, `meta`.
pub const COMMON_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::string(
        "id",
        "Unique identifier for the resource, assigned by the service provider.",
    )
    .case_exact()
    .read_only()
    .always()
    .unique(),
    AttributeDef::string(
        "externalId",
        "Identifier for the resource as defined by the provisioning client.",
    )
    .case_exact(),
    AttributeDef::complex("meta", "Resource metadata.", META_SUBS).read_only(),
];

/// The core User schema.
pub static USER: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

/// The Enterprise User extension schema.
pub static ENTERPRISE_USER: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};

// ---------------------------------------------------------------------------------------
// The schema set of a server
// ---------------------------------------------------------------------------------------

/// Why an extension schema cannot be added to a [`SchemaSet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("extension schema {urn}: {reason}")]
pub struct ExtensionError {
    /// The schema URN.
    pub urn: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The schemas of one server's User resource type: the core User schema, the Enterprise
/// User extension, and the extension schemas of the host's own that the
/// [`ScimServerBuilder`](crate::ScimServerBuilder) was given, in that order.
///
/// Built by the builder and held by the server ([`ScimServer::schemas`](crate::ScimServer::schemas));
/// parsing, PATCH, filters, sorting, projection, discovery and the stores read extension
/// attributes through it (stores find it in [`RequestContext::schemas`](crate::RequestContext::schemas)).
/// There is no process-wide registry: two servers in one process with different
/// extensions each accept, require, return and advertise only their own.
#[derive(Debug, Clone, Default)]
pub struct SchemaSet {
    /// The host's extension schemas, in the order they were added.
    extensions: Vec<&'static SchemaDef>,
}

/// Sets are equal when they hold the same extension schemas (the same `static`s), in
/// the same order.
impl PartialEq for SchemaSet {
    fn eq(&self, other: &Self) -> bool {
        self.extensions.len() == other.extensions.len()
            && self
                .extensions
                .iter()
                .zip(&other.extensions)
                .all(|(a, b)| std::ptr::eq(*a, *b))
    }
}

impl Eq for SchemaSet {}

/// The set without extensions of the host's own.
static CORE: SchemaSet = SchemaSet {
    extensions: Vec::new(),
};

impl SchemaSet {
    /// The core User schema and the Enterprise User extension, nothing else (what
    /// [`SchemaSet::default`] builds), borrowed for `'static`.
    pub fn core() -> &'static SchemaSet {
        &CORE
    }

    /// [`SchemaSet::core`], shared: every context made without a server's schemas holds
    /// this one `Arc` (no allocation per request).
    pub(crate) fn core_shared() -> std::sync::Arc<SchemaSet> {
        static SHARED: std::sync::LazyLock<std::sync::Arc<SchemaSet>> =
            std::sync::LazyLock::new(std::sync::Arc::default);
        std::sync::Arc::clone(&SHARED)
    }

    /// This set with `schema` added as an extension of the User resource type. Adding the
    /// same definition again is a no-op.
    ///
    /// # Errors
    ///
    /// What [`validate_extension`] refuses; and a URN already in the set with another
    /// definition, or one that is a prefix of another's (`urn:a:User` and
    /// `urn:a:User:Ext` would make `urn:a:User:Ext:x` ambiguous).
    pub fn with_extension(mut self, schema: &'static SchemaDef) -> Result<Self, ExtensionError> {
        validate_extension(schema)?;
        let fail = |reason: String| {
            Err(ExtensionError {
                urn: schema.id.to_owned(),
                reason,
            })
        };
        let id = schema.id;
        if let Some(existing) = self
            .extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
        {
            if std::ptr::eq(*existing, schema) || existing.to_json("") == schema.to_json("") {
                return Ok(self);
            }
            return fail("already added with a different definition".into());
        }
        let prefixed = |a: &str, b: &str| {
            a.len() > b.len()
                && a.as_bytes().get(b.len()) == Some(&b':')
                && a.get(..b.len()).is_some_and(|h| h.eq_ignore_ascii_case(b))
        };
        let others = self
            .extensions
            .iter()
            .map(|s| s.id)
            .chain([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
        for other in others {
            if prefixed(id, other) || prefixed(other, id) {
                return fail(format!(
                    "one of it and {other} starts with the other: attribute paths would be ambiguous"
                ));
            }
        }
        self.extensions.push(schema);
        Ok(self)
    }

    /// The host's extension schemas (not the Enterprise one), in the order they were added.
    pub fn extensions(&self) -> &[&'static SchemaDef] {
        &self.extensions
    }

    /// Every schema of the User resource type: core, Enterprise, then the host's.
    pub fn all(&self) -> impl Iterator<Item = &'static SchemaDef> + '_ {
        [&USER, &ENTERPRISE_USER]
            .into_iter()
            .chain(self.extensions.iter().copied())
    }

    /// The extension schema with this URN (case-insensitively): the Enterprise User
    /// extension or one of the host's.
    pub fn extension(&self, urn: &str) -> Option<&'static SchemaDef> {
        if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            return Some(&ENTERPRISE_USER);
        }
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .copied()
    }

    /// Finds the definition of a User attribute by optional schema URN and name, both
    /// case-insensitively. Without a URN, the common attributes and the core schema are
    /// searched (RFC 7644 §3.10: a name without a URN refers to the core schema).
    pub fn attribute(&self, urn: Option<&str>, name: &str) -> Option<&'static AttributeDef> {
        match urn {
            Some(u) if !u.eq_ignore_ascii_case(USER_SCHEMA) => {
                self.extension(u).and_then(|s| s.attribute(name))
            }
            _ => find_attribute(COMMON_ATTRIBUTES, name).or_else(|| USER.attribute(name)),
        }
    }

    /// Splits `path` into the extension schema whose URN it starts with (the Enterprise
    /// one or one of the host's, in any letter case) and the rest after the `:`; `None`
    /// when it starts with no extension URN. A path that is exactly an extension URN gives
    /// an empty rest.
    pub fn split_extension_path<'p>(&self, path: &'p str) -> Option<(&'static SchemaDef, &'p str)> {
        if !path
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            return None;
        }
        std::iter::once(&ENTERPRISE_USER)
            .chain(self.extensions.iter().copied())
            .find_map(|schema| {
                let head = path.get(..schema.id.len())?;
                if !head.eq_ignore_ascii_case(schema.id) {
                    return None;
                }
                match path.get(schema.id.len()..)? {
                    "" => Some((schema, "")),
                    rest => rest.strip_prefix(':').map(|r| (schema, r)),
                }
            })
    }
}

/// Finds the definition of a core or Enterprise User attribute
/// ([`SchemaSet::attribute`] of [`SchemaSet::core`]); a server's own extensions are
/// found through its [`SchemaSet`].
pub fn user_attribute(urn: Option<&str>, name: &str) -> Option<&'static AttributeDef> {
    CORE.attribute(urn, name)
}

/// Checks an extension schema on its own (what [`SchemaSet::with_extension`] checks
/// before it looks at the other schemas of the set).
///
/// # Errors
///
/// The URN is not a `urn:` URI, or is the core or Enterprise schema; an attribute name is
/// not a SCIM `ATTRNAME` or appears twice; a complex attribute has complex
/// sub-attributes or none; an attribute is required and read-only, or claims uniqueness.
pub fn validate_extension(schema: &SchemaDef) -> Result<(), ExtensionError> {
    let fail = |reason: String| {
        Err(ExtensionError {
            urn: schema.id.to_owned(),
            reason,
        })
    };
    let id = schema.id;
    // The scheme in lower case: rendered documents and SQL columns key extensions by
    // their id, and `urn:` is how a member is recognised as one.
    if !id.starts_with("urn:")
        || id.len() < 6
        || id.ends_with(':')
        || id.contains(|c: char| c.is_whitespace() || "\"[]()".contains(c))
    {
        return fail(
            "the id must be a URN starting with \"urn:\", such as \
             urn:example:params:scim:schemas:extension:acme:2.0:User"
                .into(),
        );
    }
    if id.eq_ignore_ascii_case(USER_SCHEMA) || id.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
        return fail("the core and Enterprise User schemas are built in".into());
    }
    if schema.attributes.is_empty() {
        return fail("an extension needs at least one attribute".into());
    }
    if let Err(reason) = check_attributes(schema.attributes, true) {
        return fail(reason);
    }
    Ok(())
}

fn check_attributes(attributes: &[AttributeDef], top: bool) -> Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for a in attributes {
        let valid_name = a.name == "$ref"
            || a.name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && a.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name || (a.name == "$ref" && top) {
            return Err(format!("{:?} is not a valid attribute name", a.name));
        }
        if seen.iter().any(|n| n.eq_ignore_ascii_case(a.name)) {
            return Err(format!("attribute {} is defined twice", a.name));
        }
        seen.push(a.name);
        if a.required && a.mutability == Mutability::ReadOnly {
            return Err(format!(
                "{} is required and read-only: no client could ever create a user",
                a.name
            ));
        }
        if a.uniqueness != Uniqueness::None {
            return Err(format!(
                "{}: uniqueness is enforced for userName only; an extension attribute \
                 would advertise what the server does not do",
                a.name
            ));
        }
        if !top && a.required {
            return Err(format!(
                "sub-attribute {} is marked required: mark its attribute required, or \
                 require the path with ScimServerBuilder::required_attributes",
                a.name
            ));
        }
        if !top && a.multi_valued {
            return Err(format!("sub-attribute {} must not be multi-valued", a.name));
        }
        match (a.kind, top) {
            (AttributeType::Complex, false) => {
                return Err(format!("sub-attribute {} must not be complex", a.name));
            }
            (AttributeType::Complex, true) if a.sub_attributes.is_empty() => {
                return Err(format!(
                    "complex attribute {} has no sub-attributes",
                    a.name
                ));
            }
            (AttributeType::Complex, true) => check_attributes(a.sub_attributes, false)?,
            (_, _) if !a.sub_attributes.is_empty() => {
                return Err(format!(
                    "only complex attributes have sub-attributes ({})",
                    a.name
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive() {
        assert_eq!(
            user_attribute(None, "USERNAME").map(|a| a.name),
            Some("userName")
        );
        assert_eq!(
            user_attribute(Some(ENTERPRISE_USER_SCHEMA), "employeenumber").map(|a| a.name),
            Some("employeeNumber")
        );
        assert_eq!(
            user_attribute(Some(&USER_SCHEMA.to_uppercase()), "emails").map(|a| a.name),
            Some("emails")
        );
        assert!(user_attribute(Some("urn:example:other"), "userName").is_none());
        let emails = user_attribute(None, "emails").unwrap();
        assert_eq!(emails.sub_attribute("VALUE").map(|a| a.name), Some("value"));
    }

    #[test]
    fn user_name_is_required_unique_and_case_insensitive() {
        let a = user_attribute(None, "userName").unwrap();
        assert!(a.required && !a.case_exact && a.uniqueness == Uniqueness::Server);
        let id = user_attribute(None, "id").unwrap();
        assert!(id.case_exact && id.mutability == Mutability::ReadOnly);
        let pw = user_attribute(None, "password").unwrap();
        assert_eq!(pw.returned, Returned::Never);
    }
}
