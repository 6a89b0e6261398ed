//! Limits: an optional per-key rate limiter (a token bucket for each API key, tenant +
//! key id; over the limit, a request gets 429 with an integer `Retry-After`), and the
//! bounds on what one write may store ([`check_user`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Config;
use crate::context::Principal;
use crate::error::ScimError;
use crate::patch::PatchRequest;
use crate::resource::{User, UserView, write_json_user};

/// The default of [`Config::max_multi_valued_elements`].
pub(super) const DEFAULT_MAX_MULTI_VALUED_ELEMENTS: usize = 1000;

/// The default of [`Config::max_user_bytes`]: 100 KiB.
pub(super) const DEFAULT_MAX_USER_BYTES: usize = 100 * 1024;

/// The default of [`Config::max_group_member_changes`].
pub(super) const DEFAULT_MAX_GROUP_MEMBER_CHANGES: usize = 10_000;

/// The default of [`Config::max_patch_operations`].
pub(super) const DEFAULT_MAX_PATCH_OPERATIONS: usize = 1000;

/// The default of [`Config::max_list_bytes`]: 16 MiB.
pub(super) const DEFAULT_MAX_LIST_BYTES: usize = 16 * 1024 * 1024;

/// 400 `invalidValue` when a PATCH request holds more operations than the server accepts
/// (`max_patch_operations`), before anything is read: for users and groups alike.
pub(super) fn check_patch_operations(
    config: &Config,
    patch: &PatchRequest,
) -> Result<(), ScimError> {
    let max = config.max_patch_operations;
    if patch.operations.len() > max {
        return Err(ScimError::InvalidValue(format!(
            "a PATCH request holds {} operations; this server accepts at most {max}",
            patch.operations.len()
        )));
    }
    Ok(())
}

/// Checks a user a write is about to store against the configured bounds: no
/// multi-valued attribute (core or extension, at any depth of an extension) holds more
/// than `max_multi_valued_elements` elements, and its compact JSON is at most
/// `max_user_bytes` long. Either failure is 400 `invalidValue` naming the bound; the
/// check runs before the store is called, in work linear in the user.
pub(super) fn check_user(config: &Config, user: &User) -> Result<(), ScimError> {
    let max = config.max_multi_valued_elements;
    let too_many = |name: &dyn std::fmt::Display, n: usize| {
        ScimError::InvalidValue(format!(
            "{name} holds {n} values; this server accepts at most {max}"
        ))
    };
    let core = [
        ("emails", user.emails.len()),
        ("phoneNumbers", user.phone_numbers.len()),
        ("ims", user.ims.len()),
        ("photos", user.photos.len()),
        ("addresses", user.addresses.len()),
        ("entitlements", user.entitlements.len()),
        ("roles", user.roles.len()),
        ("x509Certificates", user.x509_certificates.len()),
    ];
    for (name, n) in core {
        if n > max {
            return Err(too_many(&name, n));
        }
    }
    for (urn, attrs) in &user.extensions {
        for (name, value) in attrs {
            if let Some(n) = longest_array(value, max) {
                return Err(too_many(&format_args!("{urn}:{name}"), n));
            }
        }
    }
    let limit = config.max_user_bytes;
    // The user's compact JSON, written by the response writer: the bytes `serde_json`
    // writes for it (`written_users_are_serde_jsons_bytes`), for about a third less work.
    let mut json = Vec::with_capacity(1024);
    let view = UserView {
        user,
        location: None,
        schemas: None,
    };
    write_json_user(&view, None, &mut json);
    // The password is stored beside the user but never rendered: counted as a member.
    let password = user
        .password
        .as_ref()
        .map_or(0, |p| p.expose().len() + r#","password":"""#.len());
    let size = json.len().saturating_add(password);
    if size > limit {
        return Err(ScimError::InvalidValue(format!(
            "the user would be {size} bytes of JSON; this server stores users of at most {limit} bytes"
        )));
    }
    Ok(())
}

/// The length of the first array in `value` (itself or nested, depth-first) longer than
/// `max`, if any.
fn longest_array(value: &Value, max: usize) -> Option<usize> {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(items) if items.len() > max => return Some(items.len()),
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
    None
}

/// How many requests one API key may make: `per_second` on average, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// The most requests at once (the bucket size).
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained, bursts of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A bucket's key: tenant and key id.
type KeyId = (Arc<str>, Arc<str>);

/// Token buckets keyed by principal.
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<KeyId, Bucket>>,
}

debug_fields!(Limiter { limit });

/// Buckets idle this long are full again; they are dropped to bound memory.
const IDLE: Duration = Duration::from_secs(600);

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `who` at `now`, or says how long to wait.
    pub(crate) fn check(&self, who: &Principal, now: Instant) -> Result<(), ScimError> {
        let rate = self.limit.per_second.max(f64::MIN_POSITIVE);
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
        }
        let bucket = buckets
            .entry((who.tenant.clone(), who.key_id.clone()))
            .or_insert(Bucket {
                tokens: burst,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err(ScimError::TooManyRequests {
                retry_after_secs: if wait.is_finite() {
                    (wait as u64).max(1)
                } else {
                    1
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(elements: usize, bytes: usize) -> Config {
        Config {
            max_multi_valued_elements: elements,
            max_user_bytes: bytes,
            ..Config::default()
        }
    }

    #[test]
    fn a_user_over_the_element_limit_is_invalid_value_naming_the_attribute() {
        let mut user = User::new("bjensen");
        user.roles = (0..4)
            .map(|i| crate::MultiValue::typed(format!("r{i}"), "x"))
            .collect();
        assert!(check_user(&config(4, 1 << 20), &user).is_ok());
        match check_user(&config(3, 1 << 20), &user) {
            Err(ScimError::InvalidValue(m)) => assert!(m.contains("roles"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut user = User::new("bjensen");
        let mut attrs = serde_json::Map::new();
        attrs.insert("badges".into(), serde_json::json!({"list": [1, 2, 3, 4]}));
        user.extensions
            .insert("urn:example:ext:2.0:User".into(), attrs);
        match check_user(&config(3, 1 << 20), &user) {
            Err(ScimError::InvalidValue(m)) => {
                assert!(m.contains("urn:example:ext:2.0:User:badges"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_user_over_the_byte_limit_is_invalid_value() {
        let mut user = User::new("bjensen");
        user.display_name = Some("x".repeat(1000).into());
        let size = serde_json::to_vec(&user).unwrap().len();
        assert!(check_user(&config(10, size), &user).is_ok());
        assert!(matches!(
            check_user(&config(10, size - 1), &user),
            Err(ScimError::InvalidValue(m)) if m.contains(&size.to_string())
        ));
        // A password is stored too, though never rendered.
        user.password = Some(crate::resource::Secret::new("p".repeat(100).as_str()));
        assert!(check_user(&config(10, size + 100), &user).is_err());
        assert!(check_user(&config(10, size + 200), &user).is_ok());
    }

    #[test]
    fn bursts_then_refills_at_the_rate_per_key() {
        let l = Limiter::new(RateLimit::new(2.0, 3));
        let a = Principal::new("t", "a");
        let b = Principal::new("t", "b");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(&a, t0).is_ok());
        }
        let e = l.check(&a, t0).unwrap_err();
        assert_eq!(
            e,
            ScimError::TooManyRequests {
                retry_after_secs: 1
            }
        );
        assert!(l.check(&b, t0).is_ok(), "another key has its own bucket");
        assert!(
            l.check(&a, t0 + Duration::from_millis(500)).is_ok(),
            "refilled one token"
        );
        assert!(l.check(&a, t0 + Duration::from_millis(500)).is_err());
    }
}
