//! Fuzzes User resource bodies (POST and PUT): `parse_user`, then rendering.
//!
//! For any input, with the default and the strict compatibility policy:
//!
//! - `parse_user` never panics, and whatever the strict policy accepts the default policy
//!   accepts too, as the same user;
//! - `parse_user` (the one reader, over the body's text) reads what the same reader reads
//!   from the body parsed first (`parse_body` + `user_from_value`): the same user, or an
//!   error of the same kind (of two problems, text order and key order may name another
//!   first); text that does not parse is `invalidSyntax`;
//! - a user that parses renders to JSON with no `password` member at any depth, and that
//!   JSON parses again (strict policy) to the same user, less the write-only `password`;
//! - the direct writer that responses use (`UserView::written`, fuzz builds only) writes
//!   exactly `serde_json`'s bytes for the user, with and without a `meta.location`.
//!
//! An extension schema with an attribute of every type is registered
//! (`urn:example:fuzz:2.0:User`), so extension objects and `urn:...:attr` keys are
//! parsed, validated and round-tripped too.
//!
//! Run from `fuzz/`:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run resource_body corpus/resource_body seeds/resource_body`
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "extension_schema.rs"]
mod extension_schema;

use libfuzzer_sys::fuzz_target;
use scimkit::resource::UserView;
use scimkit::resource::input::{parse_user, user_from_value};
use scimkit::resource::json::parse_body;
use scimkit::{Compatibility, Meta, ScimError, User};
use serde_json::Value;

/// Whether `v` has an object member named `password` (in any letter case) at any depth.
fn has_password_member(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("password") || has_password_member(v)),
        Value::Array(items) => items.iter().any(has_password_member),
        _ => false,
    }
}

fn check(data: &[u8], user: &User, label: &str) {
    let body = serde_json::to_vec(user).expect("a User serializes");
    // As stored: with an id and meta, here carrying the fuzzed userName's characters.
    let mut stored = user.clone();
    stored.id = Some(user.user_name.clone());
    let mut meta = Meta::new("User", chrono::DateTime::UNIX_EPOCH);
    meta.version = Some(user.user_name.clone());
    stored.meta = Some(meta);
    for (user, location) in [
        (user, None),
        (&stored, None),
        (
            &stored,
            Some("https://example.com/scim/v2/Users/\"\u{e9}\u{1}"),
        ),
    ] {
        let view = UserView {
            user,
            location,
            schemas: Some(extension_schema::schemas()),
        };
        assert_eq!(
            String::from_utf8_lossy(&view.written()),
            String::from_utf8_lossy(&serde_json::to_vec(&view).expect("a view serializes")),
            "{label}: the direct writer disagrees with serde_json on {:?}",
            String::from_utf8_lossy(data)
        );
    }
    let json: Value = serde_json::from_slice(&body).expect("a rendered User is JSON");
    assert!(
        !has_password_member(&json),
        "{label}: rendered JSON has a password: {:?}",
        String::from_utf8_lossy(&body)
    );
    let again = match parse_user(&body, &Compatibility::strict(), extension_schema::schemas()) {
        Ok(u) => u,
        Err(e) => panic!(
            "{label}: {:?} parsed, but its rendering {:?} does not: {e}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&body)
        ),
    };
    let mut expected = user.clone();
    expected.password = None;
    assert_eq!(
        again,
        expected,
        "{label}: {:?} does not round-trip via {:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&body)
    );
}

fuzz_target!(|data: &[u8]| {
    for compat in [Compatibility::default(), Compatibility::strict()] {
        let parsed = parse_body(data);
        let malformed = parsed.is_err();
        let value = parsed.and_then(|v| user_from_value(v, &compat, extension_schema::schemas()));
        let text = parse_user(data, &compat, extension_schema::schemas());
        let kind = |r: &Result<User, ScimError>| match r {
            Ok(u) => Ok(u.clone()),
            Err(e) => Err(std::mem::discriminant(e)),
        };
        if malformed {
            assert!(
                matches!(text, Err(ScimError::InvalidSyntax(_))),
                "malformed text read as {text:?}: {:?}",
                String::from_utf8_lossy(data)
            );
        } else {
            assert_eq!(
                kind(&text),
                kind(&value),
                "text and parsed value read otherwise: {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
    let lenient = parse_user(data, &Compatibility::default(), extension_schema::schemas());
    if let Ok(user) = parse_user(data, &Compatibility::strict(), extension_schema::schemas()) {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(&user),
            "the strict policy accepts what the default one does not, or reads it otherwise"
        );
        check(data, &user, "strict");
    }
    if let Ok(user) = &lenient {
        check(data, user, "default");
    }
});
