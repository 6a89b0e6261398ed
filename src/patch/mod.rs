//! PATCH (RFC 7644 §3.5.2): the `PatchOp` message, its paths, and their application to a
//! [`User`].
//!
//! The library applies PATCH, never the store: the server reads the user, calls
//! [`PatchRequest::apply`] on a copy, and writes the result back with a compare-and-swap
//! on `meta.version`. Application is all-or-nothing: either every operation applies and a
//! new [`User`] is returned, or the first failing operation's error is returned and
//! nothing has changed.
//!
//! Tolerated client dialects (capitalised ops, dotted and URN-prefixed keys in path-less
//! values, value paths that match nothing, `remove` with a `value`) are governed by
//! [`Compatibility`].

mod apply;
mod doc;
mod elements;
mod path;
mod read;

use serde_json::Value;

pub use path::PatchPath;

use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::filter::ParseLimits;
use crate::resource::User;
use crate::schema::SchemaSet;

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`
    Add,
    /// `remove`
    Remove,
    /// `replace`
    Replace,
}

impl PatchOpKind {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
        }
    }
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// add, remove or replace.
    pub op: PatchOpKind,
    /// The target; `None` targets the resource itself (add/replace only).
    pub path: Option<PatchPath>,
    /// The value, required for add and replace.
    pub value: Option<Value>,
}

/// A PATCH request: the operations in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order.
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parses a `PatchOp` message body. A message is read straight from the bytes when it
    /// reads without a problem; otherwise the body is parsed to JSON and read by
    /// [`PatchRequest::from_value`], which gives the error. One reader does both, so both
    /// give the same result.
    /// Paths are bounded by the default [`ParseLimits`] and name the extensions of
    /// [`SchemaSet::core`].
    pub fn parse(body: &[u8], compat: &Compatibility) -> Result<Self, ScimError> {
        Self::parse_with_limits(body, compat, &ParseLimits::default(), SchemaSet::core())
    }

    /// [`PatchRequest::parse`] with every `path` bounded by `limits`, as the server's
    /// filters are ([`PatchPath::parse_with_limits`]), on the fast and the general
    /// reader alike, and resolved against the extension schemas of `schemas`.
    pub fn parse_with_limits(
        body: &[u8],
        compat: &Compatibility,
        limits: &ParseLimits,
        schemas: &SchemaSet,
    ) -> Result<Self, ScimError> {
        if let Some(request) = read::Reader::new(compat, limits, schemas).read_bytes(body) {
            return Ok(request);
        }
        Self::from_value_with_limits(
            crate::resource::json::parse_body(body)?,
            compat,
            limits,
            schemas,
        )
    }

    /// Reads a `PatchOp` message from parsed JSON (paths bounded by the default
    /// [`ParseLimits`], extensions of [`SchemaSet::core`]).
    pub fn from_value(value: Value, compat: &Compatibility) -> Result<Self, ScimError> {
        Self::from_value_with_limits(value, compat, &ParseLimits::default(), SchemaSet::core())
    }

    /// [`PatchRequest::from_value`] with every `path` bounded by `limits` and resolved
    /// against `schemas`.
    pub fn from_value_with_limits(
        value: Value,
        compat: &Compatibility,
        limits: &ParseLimits,
        schemas: &SchemaSet,
    ) -> Result<Self, ScimError> {
        read::Reader::new(compat, limits, schemas)
            .read(value)
            .unwrap_or_else(|e| Err(ScimError::InvalidSyntax(e.to_string())))
    }

    /// Applies every operation to a copy of `user` and returns the result; `user` itself
    /// is never modified. The result keeps `user`'s `id`, `meta` and `groups`.
    /// Extension attributes are those of [`SchemaSet::core`].
    pub fn apply(&self, user: &User, compat: &Compatibility) -> Result<User, ScimError> {
        self.apply_bounded(user, compat, usize::MAX, SchemaSet::core())
    }

    /// [`PatchRequest::apply`], refusing (400 `invalidValue` naming the attribute) as soon
    /// as an operation leaves a multi-valued attribute with more than `max_elements`
    /// elements: every operation then works on a list of at most that length, so a
    /// request of many operations costs at most operations × `max_elements`, never the
    /// square of what it adds. The server applies PATCH so, with
    /// [`max_multi_valued_elements`](crate::ScimServerBuilder::max_multi_valued_elements).
    /// Extension attributes are those of `schemas` (the server's).
    pub fn apply_bounded(
        &self,
        user: &User,
        compat: &Compatibility,
        max_elements: usize,
        schemas: &SchemaSet,
    ) -> Result<User, ScimError> {
        apply::apply(
            doc::Doc::new(user, schemas),
            &self.operations,
            compat,
            max_elements,
        )
    }

    /// [`PatchRequest::apply`] with the whole user rendered to JSON first rather than
    /// member by member as operations reach it, for the fuzzer to check that both agree.
    /// Fuzz builds only.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn apply_by_general_path(
        &self,
        user: &User,
        compat: &Compatibility,
        schemas: &SchemaSet,
    ) -> Result<User, ScimError> {
        let whole = doc::Doc::whole(user, schemas);
        apply::apply(whole, &self.operations, compat, usize::MAX)
    }
}

fn parse_op(s: &str, compat: &Compatibility) -> Option<PatchOpKind> {
    let matches = |name: &str| {
        if compat.case_insensitive_ops {
            path::trimmed(s).eq_ignore_ascii_case(name)
        } else {
            s == name
        }
    };
    [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
        .into_iter()
        .find(|k| matches(k.as_str()))
}

#[cfg(test)]
mod tests;
