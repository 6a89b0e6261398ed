//! The structured input of the `handle` target: an HTTP request described by choices
//! (method, route, headers) and fuzzed bytes (ids, segments, query, header values, body),
//! decoded by `arbitrary`. Shared with `examples/handle_seeds.rs`, which writes seeds.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use arbitrary::{Arbitrary, Unstructured};
use http::{HeaderValue, header};

/// Fuzzed bytes, shown as a byte string literal in `Debug` (so `cargo fuzz fmt` and crash
/// reports are readable); decoded exactly as `&[u8]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Arbitrary<'a> for Bytes<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        <&'a [u8]>::arbitrary(u).map(Bytes)
    }
    fn arbitrary_take_rest(u: Unstructured<'a>) -> arbitrary::Result<Self> {
        <&'a [u8]>::arbitrary_take_rest(u).map(Bytes)
    }
    fn size_hint(depth: usize) -> (usize, Option<usize>) {
        <&'a [u8]>::size_hint(depth)
    }
}

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for b in self.0 {
            write!(f, "{}", std::ascii::escape_default(*b))?;
        }
        f.write_str("\"")
    }
}

/// The request method.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Method<'a> {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    /// Any token the `http` crate accepts as a method (`TRACE`, `get`, `FOO`, ...).
    Token(Bytes<'a>),
}

/// A path segment: an id, a schema URN, a resource type name.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// The id of one of the users the harness keeps in the store (index modulo their number).
    Known(u8),
    /// The same id, every byte percent-encoded.
    KnownEscaped(u8),
    /// Bytes as they are (the `http` crate refuses some).
    Raw(Bytes<'a>),
    /// Bytes with every byte percent-encoded: `/`, NUL, invalid UTF-8 reach the decoder.
    Escaped(Bytes<'a>),
}

/// The path: one of the known routes below the base path `/scim/v2`, or anything.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Path<'a> {
    Users,
    User(Segment<'a>),
    UsersSearch,
    RootSearch,
    Groups,
    Group(Segment<'a>),
    ServiceProviderConfig,
    ResourceTypes,
    ResourceType(Segment<'a>),
    Schemas,
    Schema(Segment<'a>),
    Me,
    Bulk,
    /// `/scim/v2` followed by these bytes.
    BelowBase(Bytes<'a>),
    /// The whole path.
    Other(Bytes<'a>),
}

/// The `Authorization` header.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Auth<'a> {
    /// `Bearer` and the key of tenant A (whose users `Segment::Known` names).
    TenantA,
    /// `Bearer` and the key of tenant B, which must never see tenant A's users.
    TenantB,
    /// `bearer` in lower case with tenant A's key (the scheme is case-insensitive).
    TenantALowerScheme,
    /// `Bearer` and a key nobody has.
    WrongKey,
    /// `Basic` credentials.
    Basic,
    /// No `Authorization` header.
    Missing,
    /// Any bytes.
    Raw(Bytes<'a>),
}

/// The `Content-Type` header.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum ContentType<'a> {
    ScimJson,
    ScimJsonCharset,
    Json,
    TextPlain,
    FormUrlEncoded,
    Missing,
    Raw(Bytes<'a>),
}

/// An `If-Match` / `If-None-Match` value.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Tag<'a> {
    Any,
    Empty,
    /// The last `ETag` the server sent (in any earlier iteration).
    LastSeen,
    /// `W/"n"`, the memory store's version format.
    Weak(u16),
    /// `"n"`.
    Strong(u16),
    Raw(Bytes<'a>),
}

/// The `Host` header.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Host<'a> {
    Example,
    Missing,
    Raw(Bytes<'a>),
}

/// One request.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Input<'a> {
    pub method: Method<'a>,
    pub path: Path<'a>,
    /// The query string (without `?`); `None` sends no `?`.
    pub query: Option<Bytes<'a>>,
    pub auth: Auth<'a>,
    pub content_type: ContentType<'a>,
    pub host: Host<'a>,
    pub if_match: Option<Tag<'a>>,
    pub if_none_match: Option<Tag<'a>>,
    pub request_id: Option<Bytes<'a>>,
    pub body: Bytes<'a>,
}

/// The base path of the server under test.
pub const BASE: &str = "/scim/v2";
/// Tenant A's key.
pub const KEY_A: &str = "fuzz-key-tenant-a";
/// Tenant B's key.
pub const KEY_B: &str = "fuzz-key-tenant-b";

fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.extend_from_slice(format!("%{b:02X}").as_bytes());
    }
}

impl Segment<'_> {
    /// Appends `/` and the segment; `known` are the ids of the users the harness keeps.
    fn push(&self, out: &mut Vec<u8>, known: &[String]) {
        out.push(b'/');
        let known_id = |i: u8| {
            known
                .get(usize::from(i) % known.len().max(1))
                .map_or(&b"missing"[..], |s| s.as_bytes())
        };
        match self {
            Self::Known(i) => out.extend_from_slice(known_id(*i)),
            Self::KnownEscaped(i) => push_escaped(out, known_id(*i)),
            Self::Raw(b) => out.extend_from_slice(b.0),
            Self::Escaped(b) => push_escaped(out, b.0),
        }
    }
}

impl Path<'_> {
    /// The path bytes (before the query string).
    pub fn to_bytes(&self, known: &[String]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(BASE.as_bytes());
        let fixed = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
        match self {
            Self::Users => fixed(&mut out, "/Users"),
            Self::User(s) => {
                fixed(&mut out, "/Users");
                s.push(&mut out, known);
            }
            Self::UsersSearch => fixed(&mut out, "/Users/.search"),
            Self::RootSearch => fixed(&mut out, "/.search"),
            Self::Groups => fixed(&mut out, "/Groups"),
            Self::Group(s) => {
                fixed(&mut out, "/Groups");
                s.push(&mut out, known);
            }
            Self::ServiceProviderConfig => fixed(&mut out, "/ServiceProviderConfig"),
            Self::ResourceTypes => fixed(&mut out, "/ResourceTypes"),
            Self::ResourceType(s) => {
                fixed(&mut out, "/ResourceTypes");
                s.push(&mut out, known);
            }
            Self::Schemas => fixed(&mut out, "/Schemas"),
            Self::Schema(s) => {
                fixed(&mut out, "/Schemas");
                s.push(&mut out, known);
            }
            Self::Me => fixed(&mut out, "/Me"),
            Self::Bulk => fixed(&mut out, "/Bulk"),
            Self::BelowBase(b) => out.extend_from_slice(b.0),
            Self::Other(b) => {
                out.clear();
                out.extend_from_slice(b.0);
            }
        }
        out
    }

    /// The id of a harness-kept user this path names, if it names one with `Known`.
    pub fn known_index(&self) -> Option<u8> {
        match self {
            Self::User(Segment::Known(i) | Segment::KnownEscaped(i)) => Some(*i),
            _ => None,
        }
    }
}

impl Tag<'_> {
    /// The header value.
    pub fn to_bytes(&self, last_seen: &str) -> Vec<u8> {
        match self {
            Self::Any => b"*".to_vec(),
            Self::Empty => Vec::new(),
            Self::LastSeen => last_seen.as_bytes().to_vec(),
            Self::Weak(n) => format!("W/\"{n}\"").into_bytes(),
            Self::Strong(n) => format!("\"{n}\"").into_bytes(),
            Self::Raw(b) => b.0.to_vec(),
        }
    }
}

/// Drives a future that `MemoryUserStore` makes ready at once (see `benches/handle.rs`).
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::hint::spin_loop();
    }
}

impl Input<'_> {
    /// The request: `known` are the ids `Segment::Known` names, `last_etag` the tag
    /// `Tag::LastSeen` sends, `authorization` the `Authorization` value (none when
    /// `None`). `None` when the `http` crate refuses a part of it.
    pub fn to_request(
        &self,
        known: &[String],
        last_etag: &str,
        authorization: Option<&[u8]>,
    ) -> Option<http::Request<Vec<u8>>> {
        let method = match &self.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Patch => http::Method::PATCH,
            Method::Delete => http::Method::DELETE,
            Method::Head => http::Method::HEAD,
            Method::Options => http::Method::OPTIONS,
            Method::Token(t) => http::Method::from_bytes(t.0).ok()?,
        };
        let mut uri = self.path.to_bytes(known);
        if let Some(q) = self.query {
            uri.push(b'?');
            uri.extend_from_slice(q.0);
        }
        let uri = http::Uri::try_from(uri).ok()?;
        let mut req = http::Request::builder().method(method).uri(uri);
        let mut add = |name: header::HeaderName, value: &[u8]| -> Option<()> {
            let v = HeaderValue::from_bytes(value).ok()?;
            req = std::mem::take(&mut req).header(name, v);
            Some(())
        };
        match &self.host {
            Host::Example => add(header::HOST, b"scim.example.com")?,
            Host::Missing => {}
            Host::Raw(b) => add(header::HOST, b.0)?,
        }
        if let Some(a) = authorization {
            add(header::AUTHORIZATION, a)?;
        }
        let content_type: Option<&[u8]> = match &self.content_type {
            ContentType::ScimJson => Some(b"application/scim+json"),
            ContentType::ScimJsonCharset => Some(b"application/scim+json; charset=utf-8"),
            ContentType::Json => Some(b"application/json"),
            ContentType::TextPlain => Some(b"text/plain"),
            ContentType::FormUrlEncoded => Some(b"application/x-www-form-urlencoded"),
            ContentType::Missing => None,
            ContentType::Raw(b) => Some(b.0),
        };
        if let Some(ct) = content_type {
            add(header::CONTENT_TYPE, ct)?;
        }
        if let Some(t) = &self.if_match {
            add(header::IF_MATCH, &t.to_bytes(last_etag))?;
        }
        if let Some(t) = &self.if_none_match {
            add(header::IF_NONE_MATCH, &t.to_bytes(last_etag))?;
        }
        if let Some(id) = self.request_id {
            add(header::HeaderName::from_static("x-request-id"), id.0)?;
        }
        req.body(self.body.0.to_vec()).ok()
    }
}
