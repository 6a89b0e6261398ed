//! RFC 9865 cursors: opaque, tamper-evident, scoped to one query, expiring.
//!
//! A cursor the client sees is `hex(claims).hex(mac)`: the claims are the position (an
//! offset, or a position the store issued), a fingerprint of the tenant, filter and sort
//! it was issued for, and the time it was issued; the MAC is HMAC-SHA-256 under the
//! server's cursor key (random per process unless the host configures one, which it must
//! do when several replicas serve the same clients). A cursor that was altered, issued by
//! another key, or reused with another filter, sort or tenant is 400 `invalidCursor`;
//! one older than the timeout is 400 `expiredCursor`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ScimError;
use crate::list::ListQuery;

type HmacSha256 = Hmac<Sha256>;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Position {
    /// Skip this many matches (stores without native cursors).
    Offset(usize),
    /// A position the store issued.
    Store(String),
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// `o<offset>` or `s<store position>`.
    p: String,
    /// Query fingerprint.
    f: String,
    /// Issued at, seconds since the epoch.
    t: i64,
}

/// Signs and checks cursors.
#[derive(Clone)]
pub(crate) struct CursorCodec {
    key: [u8; 32],
    timeout: Duration,
}

debug_fields!(CursorCodec { timeout });

/// The fingerprint of what a cursor is valid for: tenant, filter and sort.
fn fingerprint(tenant: &str, query: &ListQuery) -> String {
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0]);
    if let Some(f) = &query.filter {
        h.update(f.to_string().as_bytes());
    }
    h.update([0]);
    if let Some(s) = &query.sort {
        h.update(s.by.to_string().as_bytes());
        h.update([u8::from(s.descending)]);
    }
    hex::encode(&h.finalize()[..12])
}

impl CursorCodec {
    /// A codec with `key` (32 bytes) and cursor lifetime `timeout`.
    pub(crate) fn new(key: [u8; 32], timeout: Duration) -> Self {
        Self { key, timeout }
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail; an empty MAC would only
        // make every cursor invalid, never valid.
        match HmacSha256::new_from_slice(&self.key) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// The cursor a client sees for `position`.
    pub(crate) fn encode(
        &self,
        tenant: &str,
        query: &ListQuery,
        position: &Position,
        now: i64,
    ) -> String {
        let p = match position {
            Position::Offset(n) => format!("o{n}"),
            Position::Store(s) => format!("s{s}"),
        };
        let claims = Claims {
            p,
            f: fingerprint(tenant, query),
            t: now,
        };
        let body = serde_json::to_vec(&claims).unwrap_or_default();
        let mac = self.mac(&body);
        format!("{}.{}", hex::encode(&body), hex::encode(&mac))
    }

    /// Checks a client's cursor and returns its position.
    pub(crate) fn decode(
        &self,
        cursor: &str,
        tenant: &str,
        query: &ListQuery,
        now: i64,
    ) -> Result<Position, ScimError> {
        let invalid = || ScimError::InvalidCursor("the cursor is not valid for this query".into());
        let (body_hex, mac_hex) = cursor.trim().split_once('.').ok_or_else(invalid)?;
        let body = hex::decode(body_hex).map_err(|_| invalid())?;
        let mac = hex::decode(mac_hex).map_err(|_| invalid())?;
        let mut check = HmacSha256::new_from_slice(&self.key).map_err(|_| invalid())?;
        check.update(&body);
        check.verify_slice(&mac).map_err(|_| invalid())?;
        let claims: Claims = serde_json::from_slice(&body).map_err(|_| invalid())?;
        if claims.f != fingerprint(tenant, query) {
            return Err(invalid());
        }
        let age = now.saturating_sub(claims.t);
        if age < 0 || u64::try_from(age).map_or(true, |a| a > self.timeout.as_secs()) {
            return Err(ScimError::ExpiredCursor(
                "the cursor has expired; start again without one".into(),
            ));
        }
        let (kind, rest) = claims.p.split_at_checked(1).ok_or_else(invalid)?;
        match kind {
            "o" => rest.parse().map(Position::Offset).map_err(|_| invalid()),
            "s" => Ok(Position::Store(rest.to_owned())),
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new([7; 32], Duration::from_secs(60))
    }

    #[test]
    fn round_trips_and_rejects_tampering_other_queries_and_age() {
        let q = ListQuery::all(10);
        let c = codec().encode("t", &q, &Position::Offset(20), 1000);
        assert_eq!(
            codec().decode(&c, "t", &q, 1010).unwrap(),
            Position::Offset(20)
        );
        let s = codec().encode("t", &q, &Position::Store("42".into()), 1000);
        assert_eq!(
            codec().decode(&s, "t", &q, 1000).unwrap(),
            Position::Store("42".into())
        );

        // another tenant, another filter, another key, an altered body
        assert!(matches!(
            codec().decode(&c, "u", &q, 1010),
            Err(ScimError::InvalidCursor(_))
        ));
        let filtered = ListQuery::all(10).with_filter(crate::filter::parse("userName pr").unwrap());
        assert!(matches!(
            codec().decode(&c, "t", &filtered, 1010),
            Err(ScimError::InvalidCursor(_))
        ));
        let other = CursorCodec::new([8; 32], Duration::from_secs(60));
        assert!(matches!(
            other.decode(&c, "t", &q, 1010),
            Err(ScimError::InvalidCursor(_))
        ));
        let mut bytes = c.clone().into_bytes();
        bytes[3] = if bytes[3] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            codec().decode(&altered, "t", &q, 1010),
            Err(ScimError::InvalidCursor(_))
        ));
        for junk in ["", ".", "zz.zz", "abc", "00.00"] {
            assert!(
                matches!(
                    codec().decode(junk, "t", &q, 1010),
                    Err(ScimError::InvalidCursor(_))
                ),
                "{junk}"
            );
        }
        assert!(matches!(
            codec().decode(&c, "t", &q, 1061),
            Err(ScimError::ExpiredCursor(_))
        ));
    }
}
