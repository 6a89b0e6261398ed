//! The SCIM filter language (RFC 7644 §3.4.2.2): parsing, printing, schema validation
//! and evaluation against a User resource (typed or as JSON).
//!
//! ```text
//! userName eq "bjensen" and (emails[type eq "work" and value co "@example.com"] or not (active eq false))
//! ```
//!
//! * [`parse`] / [`parse_with_limits`] / [`str::parse`] turn text into a [`Filter`]. The
//!   query string must already be percent- and `+`-decoded by the HTTP layer.
//! * `Display` prints a filter in a canonical form that parses back to an equal AST.
//! * [`Filter::validate`] rejects filters that are well-formed but meaningless for the User
//!   schema (ordering operators on booleans, comparing a complex attribute as a whole, ...).
//! * [`Filter::matches`] evaluates a filter against a typed [`User`](crate::User), and
//!   [`Filter::matches_value`] against a User resource as JSON, with the same answers.
//! * [`Filter::equality_on`] lets a store answer `userName eq "x"` from an index.
//!
//! # Normalisations
//!
//! The form some clients (Microsoft Entra ID among them) send,
//! `emails[type eq "work"].value eq "x"`, is parsed as
//! `emails[type eq "work" and value eq "x"]`, and is printed in that bracket form.
//!
//! # Limits
//!
//! [`ParseLimits`] bounds the length, the nesting depth and the number of logical terms of
//! untrusted filters. Whatever limits the caller asks for, nesting is capped at
//! [`HARD_MAX_DEPTH`] levels and a filter may hold at most [`MAX_LOGICAL_OPERATORS`]
//! `and`/`or` operators, so parsing never recurses without bound and evaluating, printing
//! and dropping a parsed filter is also safe.

mod display;
mod eval;
mod parse;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_user;
mod user;

pub(crate) use eval::{check_readable_in, matches_element};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use user::present_each;
pub(crate) use user::{SortValue, list_element_matches, sort_value};

use std::fmt;
use std::str::FromStr;

use crate::schema::SchemaSet;

/// A parsed SCIM filter expression (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`, for example `userName eq "bjensen"`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The comparison operator.
        op: CompareOp,
        /// The literal compared against.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: `path` has no `sub_attr`; `filter` is evaluated against
    /// each element (or against the one object of a singular complex attribute).
    ///
    /// Attribute paths inside `filter` name sub-attributes of `path` (they carry no URN and no
    /// sub-attribute of their own). The form `emails[type eq "work"].value eq "x"` is
    /// normalised to `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        /// The (multi-valued or complex) attribute whose elements are filtered.
        path: AttrPath,
        /// The filter applied to each element.
        filter: Box<Filter>,
    },
}

/// An attribute path: `[urn ":"] name ["." sub_attr]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, without the final `:`.
    pub urn: Option<String>,
    /// The attribute name, as written (matching is case-insensitive).
    pub name: String,
    /// The sub-attribute name after `.`, as written.
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A path without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// A path `name.sub_attr` without URN.
    pub fn with_sub(name: impl Into<String>, sub_attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub_attr: Some(sub_attr.into()),
        }
    }

    /// Parses a bare attribute path (`userName`, `name.familyName`,
    /// `urn:...:enterprise:2.0:User:department`) by the filter grammar's rules, as
    /// `sortBy` and the host's required-attribute settings give them. Surrounding
    /// whitespace is ignored; anything but exactly one path is `None`.
    pub fn parse(input: &str) -> Option<Self> {
        let path = input.trim();
        if path.is_empty() || path.contains(|c: char| c.is_whitespace() || "[]()\"".contains(c)) {
            return None;
        }
        match parse(&format!("{path} pr")) {
            Ok(Filter::Present(p)) => Some(p),
            _ => None,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The operator keyword in lower case, e.g. `"eq"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Every operator, in the order of RFC 7644's table.
    pub(crate) const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// Parses an operator keyword, case-insensitively (`pr` is not a `CompareOp`).
    #[must_use]
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether this is an ordering operator (`gt`, `ge`, `lt`, `le`).
    #[must_use]
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

/// A comparison literal (`compValue` in the RFC grammar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string (already unescaped).
    String(String),
}

/// A filter syntax or validation error.
///
/// `position` is the byte offset in the filter text of the offending token (the input
/// length for an unexpected end). Errors from [`Filter::validate`] have no text to point
/// into and use position 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct FilterError {
    /// Byte offset of the offending token.
    pub position: usize,
    /// What went wrong and what was expected.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

impl From<FilterError> for crate::error::ScimError {
    fn from(e: FilterError) -> Self {
        Self::InvalidFilter(format!("invalid filter: {e}"))
    }
}

/// Limits applied while parsing untrusted filter text.
///
/// Input longer than `max_len` is rejected before it is read; nesting and terms are counted
/// as the parser goes, so hostile input fails fast and never recurses deeply. Build limits
/// from the defaults:
///
/// ```
/// use scimkit::filter::{ParseLimits, parse_with_limits};
/// let limits = ParseLimits { max_terms: 8, ..ParseLimits::default() };
/// assert!(parse_with_limits("a pr or b pr", &limits).is_ok());
/// let ten_terms = vec!["a pr"; 10].join(" or ");
/// assert!(parse_with_limits(&ten_terms, &limits).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Maximum input length in bytes (default 4096).
    pub max_len: usize,
    /// Maximum nesting of parentheses, `not` and `[...]` (default 32). Values above
    /// [`HARD_MAX_DEPTH`] are treated as [`HARD_MAX_DEPTH`].
    pub max_depth: usize,
    /// Maximum number of logical terms, counted as `and`/`or` operators (including the
    /// `and` implied by the `emails[type eq "work"].value eq "x"` form), at any depth
    /// (default 1024). Values above [`MAX_LOGICAL_OPERATORS`] are treated as
    /// [`MAX_LOGICAL_OPERATORS`].
    pub max_terms: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 32,
            max_terms: MAX_LOGICAL_OPERATORS,
        }
    }
}

/// Nesting cap applied whatever [`ParseLimits::max_depth`] says.
pub const HARD_MAX_DEPTH: usize = 256;

/// Cap on the number of `and`/`or` operators in one filter, applied whatever
/// [`ParseLimits::max_terms`] says.
pub const MAX_LOGICAL_OPERATORS: usize = 1024;

/// Parses a filter with the default [`ParseLimits`].
///
/// # Errors
///
/// A [`FilterError`] with the byte position of the offending token and what was expected.
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    parse_with_limits(input, &ParseLimits::default())
}

/// Parses a filter with the given limits.
///
/// # Errors
///
/// A [`FilterError`] for a syntax error, for input longer than `max_len` (at position
/// `max_len`), for nesting deeper than `max_depth` (at the token that goes too deep), or
/// for more than `max_terms` `and`/`or` operators (at the first one too many).
pub fn parse_with_limits(input: &str, limits: &ParseLimits) -> Result<Filter, FilterError> {
    parse::parse(input, limits, false)
}

/// Parses a filter with the given limits, reading a comparison value written without
/// quotes (`userName eq bjensen`) as a string when `unquoted_values` is on: the
/// `unquoted_filter_values` tolerance of [`crate::Compatibility`]. The result prints with
/// the quotes ([`Filter`]'s `Display` is strict RFC 7644).
pub(crate) fn parse_tolerant(
    input: &str,
    limits: &ParseLimits,
    unquoted_values: bool,
) -> Result<Filter, FilterError> {
    parse::parse(input, limits, unquoted_values)
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::write_filter(self, f)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::write_path(self, f)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::write_value(self, f)
    }
}

impl Filter {
    /// Schema check against the User schema: unknown attribute/sub-attribute names are
    /// accepted (they simply match nothing) EXCEPT these are errors: ordering ops
    /// (`gt ge lt le`) on boolean, binary or complex attributes; a non-null comparison
    /// against a complex attribute without `sub_attr` (e.g. `name eq "x"`; multi-valued
    /// attributes with a `value` sub-attribute such as `emails eq "x"` are fine); a value
    /// filter (`[...]`) on a known non-complex attribute; ordering ops against `null` or a
    /// boolean literal; `co`/`sw`/`ew` against `null`; any use of an attribute that is
    /// never returned (`password`), which would let clients probe its value.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] at position 0 (the AST keeps no positions) naming the problem.
    ///
    /// Extension attributes are those of the core set ([`SchemaSet::core`]); a server
    /// validates with its own schemas through [`Filter::validate_in`].
    pub fn validate(&self) -> Result<(), FilterError> {
        eval::validate(self, SchemaSet::core())
    }

    /// [`Filter::validate`] against the schemas of a server: its extensions' attributes
    /// are checked as the core ones are.
    ///
    /// # Errors
    ///
    /// As [`Filter::validate`].
    pub fn validate_in(&self, schemas: &SchemaSet) -> Result<(), FilterError> {
        eval::validate(self, schemas)
    }

    /// Evaluates the filter against the JSON form of a User resource (canonical attribute
    /// names, e.g. `{"userName": "...", "emails": [{"value": "..", "type": "work"}],
    /// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {..}}`).
    ///
    /// Attribute names match case-insensitively; string comparisons honour `caseExact`
    /// from the schema (unknown attributes compare case-insensitively); `dateTime`
    /// attributes compare as instants; multi-valued attributes match if any element
    /// does; `ne` is `not eq`, so it is true for an absent attribute; `eq null` is
    /// `not pr` and `ne null` is `pr`.
    ///
    /// Extension attributes are those of the core set ([`SchemaSet::core`]): see
    /// [`Filter::matches_value_in`] for a server's own extensions.
    #[must_use]
    pub fn matches_value(&self, resource: &serde_json::Value) -> bool {
        eval::matches(self, resource, SchemaSet::core())
    }

    /// [`Filter::matches_value`] with the attribute definitions of `schemas`: attributes
    /// of the extensions in it are compared by their definitions, those of other
    /// extensions match nothing.
    #[must_use]
    pub fn matches_value_in(&self, resource: &serde_json::Value, schemas: &SchemaSet) -> bool {
        eval::matches(self, resource, schemas)
    }

    /// If this filter (or one side of a top-level `and`, at any depth of an `and` chain)
    /// is `attr eq "string"` on the given attribute name (case-insensitive, no `sub_attr`,
    /// optional core User URN), returns the string. Lets stores use an index; note the
    /// string is as written, so for a `caseExact: false` attribute such as `userName` the
    /// index lookup must be case-insensitive.
    #[must_use]
    pub fn equality_on(&self, attribute: &str) -> Option<&str> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } if path.sub_attr.is_none()
                && path.name.eq_ignore_ascii_case(attribute)
                && path
                    .urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(crate::schema::USER_SCHEMA)) =>
            {
                Some(s)
            }
            Filter::And(l, r) => l
                .equality_on(attribute)
                .or_else(|| r.equality_on(attribute)),
            _ => None,
        }
    }
}
