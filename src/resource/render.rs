//! Rendering a [`User`] as strict RFC 7643 JSON.

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use super::{Meta, User};
use crate::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

/// A user as a response shows it: the resource with `meta.location` filled in, without
/// copying the user. `User`'s own `Serialize` is this view without a location.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    /// The user.
    pub user: &'a User,
    /// The resource's URL for `meta.location` (overrides a stored one).
    pub location: Option<&'a str>,
}

impl Serialize for User {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        UserView {
            user: self,
            location: None,
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
struct Schemas<'a>(&'a User);

impl Serialize for Schemas<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let user = self.0;
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(USER_SCHEMA)?;
        if user.enterprise.as_ref().is_some_and(|e| !e.is_empty()) {
            seq.serialize_element(ENTERPRISE_USER_SCHEMA)?;
        }
        for (urn, _) in user.extensions_shown() {
            seq.serialize_element(urn)?;
        }
        seq.end()
    }
}

impl Serialize for UserView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let user = self.user;
        fn opt<M: SerializeMap, T: Serialize>(
            m: &mut M,
            key: &str,
            v: &Option<T>,
        ) -> Result<(), M::Error> {
            match v {
                Some(v) => m.serialize_entry(key, v),
                None => Ok(()),
            }
        }
        fn many<M: SerializeMap, T: Serialize>(
            m: &mut M,
            key: &str,
            v: &[T],
        ) -> Result<(), M::Error> {
            if v.is_empty() {
                Ok(())
            } else {
                m.serialize_entry(key, v)
            }
        }
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("schemas", &Schemas(user))?;
        opt(&mut m, "id", &user.id)?;
        opt(&mut m, "externalId", &user.external_id)?;
        m.serialize_entry("userName", &user.user_name)?;
        opt(&mut m, "name", &user.name)?;
        opt(&mut m, "displayName", &user.display_name)?;
        opt(&mut m, "nickName", &user.nick_name)?;
        opt(&mut m, "profileUrl", &user.profile_url)?;
        opt(&mut m, "title", &user.title)?;
        opt(&mut m, "userType", &user.user_type)?;
        opt(&mut m, "preferredLanguage", &user.preferred_language)?;
        opt(&mut m, "locale", &user.locale)?;
        opt(&mut m, "timezone", &user.timezone)?;
        opt(&mut m, "active", &user.active)?;
        many(&mut m, "emails", &user.emails)?;
        many(&mut m, "phoneNumbers", &user.phone_numbers)?;
        many(&mut m, "ims", &user.ims)?;
        many(&mut m, "photos", &user.photos)?;
        many(&mut m, "addresses", &user.addresses)?;
        many(&mut m, "groups", &user.groups)?;
        many(&mut m, "entitlements", &user.entitlements)?;
        many(&mut m, "roles", &user.roles)?;
        many(&mut m, "x509Certificates", &user.x509_certificates)?;
        if let Some(e) = user.enterprise.as_ref().filter(|e| !e.is_empty()) {
            m.serialize_entry(ENTERPRISE_USER_SCHEMA, e)?;
        }
        for (urn, attrs) in user.extensions_shown() {
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
        fn as_str(&self) -> Option<&str> {
            std::str::from_utf8(self.bytes.get(..self.len)?).ok()
        }
    }

    /// Writes `dt` as chrono's `to_rfc3339_opts(AutoSi, true)` would, or `None` for the
    /// rare instants it leaves to chrono (years outside 0..=9999, leap seconds).
    fn write(dt: &DateTime<Utc>, buf: &mut Buf) -> Option<()> {
        let year = u32::try_from(dt.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = dt.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        buf.digits(year, 4);
        buf.push(b'-');
        buf.digits(dt.month(), 2);
        buf.push(b'-');
        buf.digits(dt.day(), 2);
        buf.push(b'T');
        buf.digits(dt.hour(), 2);
        buf.push(b':');
        buf.digits(dt.minute(), 2);
        buf.push(b':');
        buf.digits(dt.second(), 2);
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
