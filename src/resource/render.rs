//! A [`User`] as strict RFC 7643 JSON through `serde` (what `write.rs` writes directly
//! for responses, byte for byte), and the JSON string and timestamp writing both share.

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::fields::{Attributes, Member};
use super::{Address, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name, User};
use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

/// A user as a response shows it: the resource with `meta.location` filled in, without
/// copying the user. `User`'s own `Serialize` is this view without a location.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    /// The user.
    pub user: &'a User,
    /// The resource's URL for `meta.location` (overrides a stored one).
    pub location: Option<&'a str>,
    /// The server's schemas: only the objects of its extensions are shown (see
    /// [`User::extensions`]); `None` shows every non-empty extension object.
    pub schemas: Option<&'a crate::schema::SchemaSet>,
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        UserView {
            user: self,
            location: None,
            schemas: None,
        }
        .serialize(serializer)
    }
}

/// `meta` with the location of the response.
struct MetaView<'a> {
    meta: &'a Meta,
    location: Option<&'a str>,
}

impl Serialize for MetaView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Instant<'a>(&'a chrono::DateTime<chrono::Utc>);
        impl Serialize for Instant<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                rfc3339::serialize(self.0, s)
            }
        }
        let m = self.meta;
        let mut st = serializer.serialize_struct("Meta", 5)?;
        st.serialize_field("resourceType", &m.resource_type)?;
        st.serialize_field("created", &Instant(&m.created))?;
        st.serialize_field("lastModified", &Instant(&m.last_modified))?;
        if let Some(location) = self.location {
            st.serialize_field("location", location)?;
        } else {
            st.skip_field("location")?;
        }
        if let Some(version) = &m.version {
            st.serialize_field("version", version)?;
        } else {
            st.skip_field("version")?;
        }
        st.end()
    }
}

/// The `schemas` array of a user, written without collecting it first.
struct Schemas<'a>(&'a UserView<'a>);

impl Serialize for Schemas<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let user = self.0.user;
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(USER_SCHEMA)?;
        if user.enterprise.as_ref().is_some_and(|e| !e.is_empty()) {
            seq.serialize_element(ENTERPRISE_USER_SCHEMA)?;
        }
        for (urn, _) in user.extensions_shown(self.0.schemas) {
            seq.serialize_element(urn)?;
        }
        seq.end()
    }
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let user = self.user;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("schemas", &Schemas(self))?;
        let mut written = Ok(());
        user.each(|key, member| {
            if written.is_ok() && !matches!(member, Member::Meta(_)) {
                written = m.serialize_entry(unquoted(key), &member);
            }
        });
        written?;
        for (urn, attrs) in user.extensions_shown(self.schemas) {
            m.serialize_entry(urn, attrs)?;
        }
        if let Some(meta) = &user.meta {
            let view = MetaView {
                meta,
                location: self.location.or(meta.location.as_deref()),
            };
            m.serialize_entry("meta", &view)?;
        }
        m.end()
    }
}

/// A member as its type serializes it (`meta` is [`MetaView`]'s).
impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Member::Str(v) => s.serialize_str(v),
            Member::Bool(v) => s.serialize_bool(v),
            Member::Instant(v) => rfc3339::serialize(v, s),
            Member::Name(v) => v.serialize(s),
            Member::MultiValues(v) => v.serialize(s),
            Member::Addresses(v) => v.serialize(s),
            Member::Groups(v) => v.serialize(s),
            Member::Enterprise(v) => v.serialize(s),
            Member::Manager(v) => v.serialize(s),
            Member::Meta(v) => v.serialize(s),
        }
    }
}

/// Serializes each type as the object of the members its attribute table declares.
macro_rules! serialize_by_table {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(None)?;
                let mut written = Ok(());
                self.each(|key, member| {
                    if written.is_ok() {
                        written = m.serialize_entry(unquoted(key), &member);
                    }
                });
                written?;
                m.end()
            }
        }
    )*};
}

serialize_by_table!(
    Name,
    MultiValue,
    Address,
    GroupMembership,
    EnterpriseUser,
    Manager,
    Meta
);

/// The name in a key of an attribute table (`"name":`).
pub(crate) fn unquoted(key: &str) -> &str {
    key.get(1..key.len().saturating_sub(2)).unwrap_or_default()
}

/// For each byte, how JSON escapes it: 0 not at all, `u` as `\u00XX`, else `\` and the
/// byte given.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Whether any of the eight bytes of `w` is below 0x20, `"` or `\` (the classic
/// "has a byte less than n" and "has a zero byte" tests, exact for these values).
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = w ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGH;
    (control | quote | backslash) != 0
}

/// The decimal digits of `n`, written into `buf` from its end: what `n.to_string()`
/// gives, without `fmt` machinery or an allocation.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    std::str::from_utf8(buf.get(at..).unwrap_or_default()).unwrap_or_default()
}

/// Writes `s` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the short
/// escapes `\b \t \n \f \r`, other control characters as `\u00XX`; everything else as is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Eight bytes at a time up to the first one JSON escapes (most strings have none).
    let mut clean = 0;
    while let Some(chunk) = bytes.get(clean..clean + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if needs_escape(u64::from_le_bytes(word)) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let escape = ESCAPE[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Fast RFC 3339 output for `meta` timestamps: `2024-05-01T12:00:00.123Z`, the same text
/// chrono writes, without going through `fmt` machinery (it was a third of the cost of
/// serializing a user).
pub(super) mod rfc3339 {
    use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
    use serde::Serializer;

    /// A fixed buffer long enough for `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
    struct Buf {
        bytes: [u8; 32],
        len: usize,
    }

    impl Buf {
        fn push(&mut self, b: u8) {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        fn digits(&mut self, n: u32, width: u32) {
            let mut div = 10u32.pow(width.saturating_sub(1));
            while div > 0 {
                self.push(b'0' + (n / div % 10) as u8);
                div /= 10;
            }
        }
        /// Two digits (`n` < 100), without the general loop's divisions.
        fn two(&mut self, n: u32) {
            self.push(b'0' + (n / 10 % 10) as u8);
            self.push(b'0' + (n % 10) as u8);
        }
        fn as_str(&self) -> Option<&str> {
            std::str::from_utf8(self.bytes.get(..self.len)?).ok()
        }
    }

    /// Writes `dt` as chrono's `to_rfc3339_opts(AutoSi, true)` would, or `None` for the
    /// rare instants it leaves to chrono (years outside 0..=9999, leap seconds).
    fn write(dt: &DateTime<Utc>, buf: &mut Buf) -> Option<()> {
        // The fields of the UTC date and time, read once (each accessor of a `DateTime`
        // would first add its zero offset again).
        let dt = dt.naive_utc();
        let year = u32::try_from(dt.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = dt.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        buf.digits(year, 4);
        buf.push(b'-');
        buf.two(dt.month());
        buf.push(b'-');
        buf.two(dt.day());
        buf.push(b'T');
        buf.two(dt.hour());
        buf.push(b':');
        buf.two(dt.minute());
        buf.push(b':');
        buf.two(dt.second());
        if nanos != 0 {
            buf.push(b'.');
            if nanos % 1_000_000 == 0 {
                buf.digits(nanos / 1_000_000, 3);
            } else if nanos % 1_000 == 0 {
                buf.digits(nanos / 1_000, 6);
            } else {
                buf.digits(nanos, 9);
            }
        }
        buf.push(b'Z');
        Some(())
    }

    #[cfg(test)]
    pub(crate) fn format(dt: &DateTime<Utc>) -> String {
        let mut buf = Buf {
            bytes: [0; 32],
            len: 0,
        };
        match write(dt, &mut buf).and_then(|()| buf.as_str()) {
            Some(s) => s.to_owned(),
            None => dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        }
    }

    /// Writes `dt` as a JSON string, as [`serialize`] does through `serde_json`.
    pub(crate) fn write_json(dt: &DateTime<Utc>, out: &mut Vec<u8>) {
        let mut buf = Buf {
            bytes: [0; 32],
            len: 0,
        };
        match write(dt, &mut buf).and_then(|()| buf.as_str()) {
            Some(text) => super::write_str(out, text),
            None => super::write_str(out, &dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }

    pub(crate) fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Buf {
            bytes: [0; 32],
            len: 0,
        };
        match write(dt, &mut buf).and_then(|()| buf.as_str()) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::{SecondsFormat, TimeZone, Utc};

        #[test]
        fn matches_chrono_rfc3339_output() {
            let base = Utc.with_ymd_and_hms(2024, 2, 29, 7, 5, 9).unwrap();
            for nanos in [0u32, 123_000_000, 120_000_000, 123_456_000, 123_456_789, 1] {
                let dt = base + chrono::Duration::nanoseconds(i64::from(nanos));
                assert_eq!(
                    super::format(&dt),
                    dt.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    "{nanos}"
                );
            }
            let early = Utc.with_ymd_and_hms(33, 1, 1, 0, 0, 0).unwrap();
            assert_eq!(super::format(&early), "0033-01-01T00:00:00Z");
        }
    }
}

#[cfg(test)]
mod write_tests {
    use proptest::prelude::*;

    use super::super::write::write_user;
    use super::{UserView, decimal, write_str};

    fn nasty() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\u{0}'),
                Just('\u{8}'),
                Just('\u{c}'),
                Just('\n'),
                Just('\r'),
                Just('\t'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('é'),
                Just('\u{2028}'),
                Just('😀'),
                Just('a'),
                Just('/'),
            ],
            0..40,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    /// Member names are written as the attribute tables quote them: no name needs
    /// escaping, and the Enterprise extension's is its URN.
    #[test]
    fn attribute_table_names_need_no_escaping() {
        use crate::resource::fields::Attributes;
        use crate::resource::*;
        fn names<T: Attributes>() -> impl Iterator<Item = &'static str> {
            T::MEMBERS.iter().map(|(name, _)| *name)
        }
        let all = names::<User>()
            .chain(names::<Name>())
            .chain(names::<MultiValue>())
            .chain(names::<Address>())
            .chain(names::<GroupMembership>())
            .chain(names::<EnterpriseUser>())
            .chain(names::<Manager>())
            .chain(names::<Meta>());
        for name in all {
            let mut out = Vec::new();
            write_str(&mut out, name);
            assert_eq!(out, format!("\"{name}\"").into_bytes());
        }
        let mut keys = Vec::new();
        User::new("u").each(|key, _| keys.push(key));
        assert_eq!(keys, ["\"userName\":"]);
        let enterprise = EnterpriseUser {
            department: Some("d".into()),
            ..EnterpriseUser::default()
        };
        let user = User {
            enterprise: Some(enterprise),
            ..User::new("u")
        };
        let mut keys = Vec::new();
        user.each(|key, _| keys.push(super::unquoted(key)));
        assert_eq!(keys, ["userName", crate::schema::ENTERPRISE_USER_SCHEMA]);
    }

    #[test]
    fn decimal_digits_are_to_string() {
        for n in [0, 1, 9, 10, 99, 100, 12_345, 10_000_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string());
        }
    }

    #[test]
    fn the_word_test_finds_exactly_the_bytes_json_escapes() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                assert_eq!(
                    super::needs_escape(u64::from_le_bytes(word)),
                    super::ESCAPE[usize::from(b)] != 0,
                    "byte {b:#x} at {at}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
        ))]

        /// The response writer writes exactly what `serde_json` writes for the same view.
        #[test]
        fn written_users_are_serde_jsons_bytes(
            mut user in crate::testing::arbitrary::user(),
            text in nasty(),
            location in proptest::option::of(nasty()),
            every_attribute in any::<bool>(),
        ) {
            if every_attribute {
                // The attributes the arbitrary user leaves out: every member the writer
                // knows is written in some cases.
                user.nick_name = Some(text.as_str().into());
                user.profile_url = Some(text.as_str().into());
                user.preferred_language = Some(text.as_str().into());
                user.timezone = Some(text.as_str().into());
                user.ims = user.emails.clone();
                user.photos = user.phone_numbers.clone();
                user.entitlements = user.roles.clone();
                user.x509_certificates = user.emails.clone();
            }
            user.display_name = Some(text.as_str().into());
            if let Some(e) = user.emails.first_mut() {
                e.kind = Some(text.as_str().into());
            }
            let view = UserView { user: &user, location: location.as_deref(), schemas: None };
            let mut out = Vec::new();
            write_user(&view, None, &mut out);
            prop_assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&view).unwrap()
            );
            let mut s = Vec::new();
            write_str(&mut s, &text);
            prop_assert_eq!(String::from_utf8(s).unwrap(), serde_json::to_string(&text).unwrap());
        }
    }
}
