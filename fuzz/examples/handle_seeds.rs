//! Writes the seeds of the `handle` fuzz target to `seeds/handle/`.
//!
//! The target's input is decoded by `arbitrary` from raw bytes, so a seed has to be the
//! bytes that decode to the request wanted. This program encodes each request the way
//! `arbitrary` 1.x decodes it (enum tags as little-endian `u32`, `Option` as a bool byte,
//! byte-string lengths taken from the *end* of the data, the last field taking the rest),
//! then decodes the bytes again and checks that they give the same request, so a change
//! in `arbitrary`'s format fails here rather than producing useless seeds.
//!
//! Run from `fuzz/`: `cargo run --example handle_seeds` (an ordinary build, no sanitizer).
//! Inspect a seed with `RUSTC_BOOTSTRAP=1 cargo fuzz fmt handle seeds/handle/<file>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../fuzz_targets/handle_input.rs"]
mod handle_input;

use arbitrary::{Arbitrary, Unstructured};
use handle_input::{Auth, Bytes, ContentType, Host, Input, Method, Path, Segment, Tag};

/// The front of the data (read in order) and the byte-string lengths (read from the back).
#[derive(Default)]
struct Encoder {
    front: Vec<u8>,
    /// (bytes of the front consumed when the length is read, the length)
    lengths: Vec<(usize, usize)>,
}

impl Encoder {
    /// An enum tag: the derive maps a `u32` `x` to variant `(x * count) >> 32`.
    fn tag(&mut self, index: u32, count: u32) {
        let x = (u64::from(index) << 32).div_ceil(u64::from(count));
        let x = u32::try_from(x).expect("index < count");
        self.front.extend_from_slice(&x.to_le_bytes());
    }
    fn bool(&mut self, b: bool) {
        self.front.push(u8::from(b));
    }
    fn u8(&mut self, v: u8) {
        self.front.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.front.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: Bytes<'_>) {
        self.lengths.push((self.front.len(), b.0.len()));
        self.front.extend_from_slice(b.0);
    }
    fn option<T>(&mut self, v: Option<T>, f: impl FnOnce(&mut Self, T)) {
        self.bool(v.is_some());
        if let Some(v) = v {
            f(self, v);
        }
    }

    /// The data: the front, the last field, then the lengths, last read first.
    fn finish(self, rest: Bytes<'_>) -> Vec<u8> {
        let body_len = self.front.len() + rest.0.len();
        // How many bytes each length takes depends on how much data remains when it is
        // read, which depends on the sizes of the lengths read after it: iterate.
        let mut sizes = vec![1_usize; self.lengths.len()];
        loop {
            let total = body_len + sizes.iter().sum::<usize>();
            let mut from_back = 0;
            let next: Vec<usize> = self
                .lengths
                .iter()
                .map(|&(front_pos, _)| {
                    let remaining = total - front_pos - from_back;
                    let n = if remaining <= 256 {
                        1
                    } else if remaining <= 65_537 {
                        2
                    } else {
                        4
                    };
                    from_back += n;
                    n
                })
                .collect();
            if next == sizes {
                break;
            }
            sizes = next;
        }
        let total = body_len + sizes.iter().sum::<usize>();
        let mut chunks = Vec::new();
        let mut from_back = 0;
        for (&(front_pos, len), &n) in self.lengths.iter().zip(&sizes) {
            let remaining = total - front_pos - from_back;
            from_back += n;
            let max = remaining - n;
            assert!(len <= max, "a length that does not fit");
            // The value is read big-endian from as many leading bytes as `max` needs.
            let needed = (usize::BITS - max.leading_zeros()).div_ceil(8) as usize;
            let mut chunk = vec![0_u8; n];
            let be = len.to_be_bytes();
            chunk[..needed].copy_from_slice(&be[be.len() - needed..]);
            chunks.push(chunk);
        }
        let mut out = self.front;
        out.extend_from_slice(rest.0);
        for chunk in chunks.iter().rev() {
            out.extend_from_slice(chunk);
        }
        out
    }
}

fn segment(e: &mut Encoder, s: &Segment<'_>) {
    match s {
        Segment::Known(i) => {
            e.tag(0, 4);
            e.u8(*i);
        }
        Segment::KnownEscaped(i) => {
            e.tag(1, 4);
            e.u8(*i);
        }
        Segment::Raw(b) => {
            e.tag(2, 4);
            e.bytes(*b);
        }
        Segment::Escaped(b) => {
            e.tag(3, 4);
            e.bytes(*b);
        }
    }
}

fn tag(e: &mut Encoder, t: &Tag<'_>) {
    match t {
        Tag::Any => e.tag(0, 6),
        Tag::Empty => e.tag(1, 6),
        Tag::LastSeen => e.tag(2, 6),
        Tag::Weak(n) => {
            e.tag(3, 6);
            e.u16(*n);
        }
        Tag::Strong(n) => {
            e.tag(4, 6);
            e.u16(*n);
        }
        Tag::Raw(b) => {
            e.tag(5, 6);
            e.bytes(*b);
        }
    }
}

fn encode(input: &Input<'_>) -> Vec<u8> {
    let mut e = Encoder::default();
    match &input.method {
        Method::Get => e.tag(0, 8),
        Method::Post => e.tag(1, 8),
        Method::Put => e.tag(2, 8),
        Method::Patch => e.tag(3, 8),
        Method::Delete => e.tag(4, 8),
        Method::Head => e.tag(5, 8),
        Method::Options => e.tag(6, 8),
        Method::Token(b) => {
            e.tag(7, 8);
            e.bytes(*b);
        }
    }
    const PATHS: u32 = 15;
    match &input.path {
        Path::Users => e.tag(0, PATHS),
        Path::User(s) => {
            e.tag(1, PATHS);
            segment(&mut e, s);
        }
        Path::UsersSearch => e.tag(2, PATHS),
        Path::RootSearch => e.tag(3, PATHS),
        Path::Groups => e.tag(4, PATHS),
        Path::Group(s) => {
            e.tag(5, PATHS);
            segment(&mut e, s);
        }
        Path::ServiceProviderConfig => e.tag(6, PATHS),
        Path::ResourceTypes => e.tag(7, PATHS),
        Path::ResourceType(s) => {
            e.tag(8, PATHS);
            segment(&mut e, s);
        }
        Path::Schemas => e.tag(9, PATHS),
        Path::Schema(s) => {
            e.tag(10, PATHS);
            segment(&mut e, s);
        }
        Path::Me => e.tag(11, PATHS),
        Path::Bulk => e.tag(12, PATHS),
        Path::BelowBase(b) => {
            e.tag(13, PATHS);
            e.bytes(*b);
        }
        Path::Other(b) => {
            e.tag(14, PATHS);
            e.bytes(*b);
        }
    }
    e.option(input.query, Encoder::bytes);
    match &input.auth {
        Auth::TenantA => e.tag(0, 7),
        Auth::TenantB => e.tag(1, 7),
        Auth::TenantALowerScheme => e.tag(2, 7),
        Auth::WrongKey => e.tag(3, 7),
        Auth::Basic => e.tag(4, 7),
        Auth::Missing => e.tag(5, 7),
        Auth::Raw(b) => {
            e.tag(6, 7);
            e.bytes(*b);
        }
    }
    match &input.content_type {
        ContentType::ScimJson => e.tag(0, 7),
        ContentType::ScimJsonCharset => e.tag(1, 7),
        ContentType::Json => e.tag(2, 7),
        ContentType::TextPlain => e.tag(3, 7),
        ContentType::FormUrlEncoded => e.tag(4, 7),
        ContentType::Missing => e.tag(5, 7),
        ContentType::Raw(b) => {
            e.tag(6, 7);
            e.bytes(*b);
        }
    }
    match &input.host {
        Host::Example => e.tag(0, 3),
        Host::Missing => e.tag(1, 3),
        Host::Raw(b) => {
            e.tag(2, 3);
            e.bytes(*b);
        }
    }
    e.option(input.if_match.as_ref(), tag);
    e.option(input.if_none_match.as_ref(), tag);
    e.option(input.request_id, Encoder::bytes);
    e.finish(input.body)
}

/// A request with the common choices: tenant A, SCIM Content-Type, a Host, no
/// preconditions, no request id, no body.
fn req<'a>(method: Method<'a>, path: Path<'a>, query: Option<&'a [u8]>) -> Input<'a> {
    Input {
        method,
        path,
        query: query.map(Bytes),
        auth: Auth::TenantA,
        content_type: ContentType::ScimJson,
        host: Host::Example,
        if_match: None,
        if_none_match: None,
        request_id: None,
        body: Bytes(b""),
    }
}

fn main() {
    let okta_create: &[u8] = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"isabell.provisioning@example.com","name":{"givenName":"Isabell","familyName":"Provisioning"},"emails":[{"primary":true,"value":"isabell.provisioning@example.com","type":"work"}],"displayName":"Isabell Provisioning","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}"#;
    let okta_put: &[u8] = br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"isabell.provisioning@example.com","name":{"givenName":"Isabella","middleName":"Jane","familyName":"Provisioning"},"emails":[{"primary":true,"value":"isabell.provisioning@example.com","type":"work"}],"active":false,"meta":{"resourceType":"User"}}"#;
    let entra_patch: &[u8] = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"26118915-6090-4610-87e4-49d8ca9f808d"}]}"#;
    let okta_deactivate: &[u8] = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}"#;
    let search: &[u8] = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["userName","emails"],"filter":"emails[type eq \"work\" and value ew \"@example.com\"]","sortBy":"userName","startIndex":1,"count":10}"#;

    let mut seeds: Vec<(&str, Input<'_>)> = vec![
        (
            "okta-create-user",
            Input {
                body: Bytes(okta_create),
                ..req(Method::Post, Path::Users, None)
            },
        ),
        (
            "okta-import-page",
            req(Method::Get, Path::Users, Some(b"startIndex=1&count=100")),
        ),
        (
            "entra-match-user-with-flag",
            req(
                Method::Get,
                Path::Users,
                Some(b"aadOptscim062020&filter=userName+eq+%22Test_User_a81c2f%40contoso.com%22"),
            ),
        ),
        (
            "get-known-user-attributes",
            req(
                Method::Get,
                Path::User(Segment::Known(0)),
                Some(b"attributes=userName,name.givenName&excludedAttributes=emails"),
            ),
        ),
        (
            "entra-patch-known-user",
            Input {
                body: Bytes(entra_patch),
                request_id: Some(Bytes(b"entra-7f3a9c")),
                ..req(Method::Patch, Path::User(Segment::Known(1)), None)
            },
        ),
        (
            "okta-deactivate-escaped-id-if-match",
            Input {
                body: Bytes(okta_deactivate),
                content_type: ContentType::Json,
                if_match: Some(Tag::LastSeen),
                ..req(Method::Patch, Path::User(Segment::KnownEscaped(1)), None)
            },
        ),
        (
            "okta-put-stale-if-match",
            Input {
                body: Bytes(okta_put),
                content_type: ContentType::ScimJsonCharset,
                if_match: Some(Tag::Weak(3)),
                ..req(Method::Put, Path::User(Segment::Known(2)), None)
            },
        ),
        (
            "delete-known-user",
            req(Method::Delete, Path::User(Segment::Known(3)), None),
        ),
        (
            "get-if-none-match",
            Input {
                if_none_match: Some(Tag::LastSeen),
                ..req(Method::Get, Path::User(Segment::Known(0)), None)
            },
        ),
        (
            "tenant-b-reads-tenant-a-user",
            Input {
                auth: Auth::TenantB,
                ..req(Method::Get, Path::User(Segment::Known(0)), None)
            },
        ),
        (
            "no-credentials",
            Input {
                auth: Auth::Missing,
                body: Bytes(okta_create),
                ..req(Method::Post, Path::Users, None)
            },
        ),
        (
            "search-post",
            Input {
                body: Bytes(search),
                ..req(Method::Post, Path::UsersSearch, None)
            },
        ),
        (
            "service-provider-config",
            Input {
                auth: Auth::TenantALowerScheme,
                host: Host::Missing,
                ..req(Method::Get, Path::ServiceProviderConfig, None)
            },
        ),
        (
            "schema-escaped-urn",
            req(
                Method::Get,
                Path::Schema(Segment::Escaped(Bytes(
                    b"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                ))),
                None,
            ),
        ),
        (
            "resource-type-user",
            Input {
                host: Host::Raw(Bytes(b"[::1]:8443")),
                ..req(
                    Method::Get,
                    Path::ResourceType(Segment::Raw(Bytes(b"User"))),
                    None,
                )
            },
        ),
        (
            "groups-list-filter",
            req(
                Method::Get,
                Path::Groups,
                Some(b"filter=displayName%20eq%20%22Admins%22&excludedAttributes=members"),
            ),
        ),
        (
            "trace-method",
            req(
                Method::Token(Bytes(b"TRACE")),
                Path::User(Segment::Known(0)),
                None,
            ),
        ),
        (
            "bulk-post-text-plain",
            Input {
                content_type: ContentType::TextPlain,
                body: Bytes(br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[]}"#),
                ..req(Method::Post, Path::Bulk, None)
            },
        ),
        (
            "absolute-uri-cursor",
            req(
                Method::Get,
                Path::Other(Bytes(b"https://scim.example.com/scim/v2/Users")),
                Some(b"cursor&count=2"),
            ),
        ),
    ];
    seeds.sort_by_key(|(name, _)| *name);

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/handle");
    std::fs::create_dir_all(&dir).expect("create seeds/handle");
    for (name, input) in &seeds {
        let bytes = encode(input);
        let decoded = Input::arbitrary_take_rest(Unstructured::new(&bytes))
            .unwrap_or_else(|e| panic!("{name}: does not decode: {e}"));
        assert_eq!(&decoded, input, "{name}: decodes to another input");
        std::fs::write(dir.join(name), &bytes).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
