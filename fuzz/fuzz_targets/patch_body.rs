//! Fuzzes PATCH bodies: parsing a `PatchOp` message and applying it to a user.
//!
//! For any input, with the default and the strict compatibility policy:
//!
//! - `PatchRequest::parse` never panics, and whatever the strict policy accepts the
//!   default policy accepts too, with the same meaning;
//! - `PatchRequest::parse` (which reads a message straight from its bytes when it reads
//!   without a problem) gives exactly what reading the parsed body gives (`parse_body` +
//!   `PatchRequest::from_value`, the same reader over a `Value`), and `apply` (whose view
//!   renders only the members operations reach, and stores the values the attribute table
//!   has a typed place for in the typed user) gives exactly what the same engine gives
//!   over the whole user rendered to JSON: the same result or the same error;
//! - `apply` never panics and is all-or-nothing: the input user is unchanged whether it
//!   succeeds or fails;
//! - a successful result keeps the user's `id`, `meta` and `groups`, and is a valid User
//!   body: it serializes, parses again through `parse_user` with the strict policy, and
//!   reads back as the same user (less what is never rendered or never accepted from a
//!   client: `password`, `id`, `meta`, `groups`, `manager.displayName`).
//!
//! Run from `fuzz/`:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run patch_body corpus/patch_body seeds/patch_body`
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

#[path = "extension_schema.rs"]
mod extension_schema;

use libfuzzer_sys::fuzz_target;
use scimkit::filter::ParseLimits;
use scimkit::patch::PatchRequest;
use scimkit::resource::input::parse_user;
use scimkit::resource::json::parse_body;
use scimkit::{
    Address, Compatibility, EnterpriseUser, GroupMembership, Manager, Meta, MultiValue, Name,
    Secret, User,
};

/// A provisioned user as an IdP would have created it: most attributes set, two emails,
/// an enterprise extension with a manager, a registered extension with an attribute of
/// every type (and a read-only one), a password, server-side `id`, `meta` and `groups`.
fn sample_user() -> User {
    let mut u = User::new("bjensen@example.com");
    u.id = Some("2819c223-7f76-453a-919d-413861904646".into());
    u.external_id = Some("00ujl29u0le5T6Aj10h7".into());
    u.name = Some(Name {
        formatted: Some("Ms. Barbara J Jensen, III".into()),
        family_name: Some("Jensen".into()),
        given_name: Some("Barbara".into()),
        middle_name: Some("Jane".into()),
        honorific_prefix: Some("Ms.".into()),
        honorific_suffix: Some("III".into()),
    });
    u.display_name = Some("Babs Jensen".into());
    u.nick_name = Some("Babs".into());
    u.title = Some("Tour Guide".into());
    u.user_type = Some("Employee".into());
    u.preferred_language = Some("en-US".into());
    u.locale = Some("en-US".into());
    u.timezone = Some("America/Los_Angeles".into());
    u.active = Some(true);
    u.password = Some(Secret::new("t1meMa$heen"));
    u.emails = vec![
        MultiValue {
            primary: Some(true),
            ..MultiValue::typed("bjensen@example.com", "work")
        },
        MultiValue::typed("babs@jensen.org", "home"),
    ];
    u.phone_numbers = vec![
        MultiValue::typed("555-555-5555", "work"),
        MultiValue::typed("555-555-4444", "mobile"),
    ];
    u.addresses = vec![Address {
        street_address: Some("100 Universal City Plaza".into()),
        locality: Some("Hollywood".into()),
        region: Some("CA".into()),
        postal_code: Some("91608".into()),
        country: Some("US".into()),
        kind: Some("work".into()),
        primary: Some(true),
        ..Address::default()
    }];
    u.roles = vec![MultiValue {
        value: Some("tour-guide".into()),
        display: Some("Tour Guide".into()),
        ..MultiValue::default()
    }];
    u.groups = vec![GroupMembership {
        value: Some("e9e30dba-f08f-4109-8486-d5c6a331660a".into()),
        display: Some("Tour Guides".into()),
        ..GroupMembership::default()
    }];
    u.enterprise = Some(EnterpriseUser {
        employee_number: Some("701984".into()),
        cost_center: Some("4130".into()),
        organization: Some("Universal Studios".into()),
        division: Some("Theme Park".into()),
        department: Some("Tour Operations".into()),
        manager: Some(Manager {
            value: Some("26118915-6090-4610-87e4-49d8ca9f808d".into()),
            reference: Some("../Users/26118915-6090-4610-87e4-49d8ca9f808d".into()),
            display_name: Some("John Smith".into()),
        }),
    });
    let ext = serde_json::json!({
        "code": "Ab", "count": 3, "ratio": 0.5, "flag": true,
        "when": "2024-01-01T00:00:00Z", "tags": ["x", "y"],
        "pair": [{"value": "v", "on": false}, {"value": "w"}], "server": "s"
    });
    if let serde_json::Value::Object(attrs) = ext {
        u.extensions.insert(extension_schema::URN.to_owned(), attrs);
    }
    let created = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap();
    let mut meta = Meta::new("User", created);
    meta.version = Some("W/\"3\"".into());
    u.meta = Some(meta);
    u
}

static USER: LazyLock<User> = LazyLock::new(sample_user);

/// `user` less what a User body never carries back: `password` is never rendered;
/// `id`, `meta`, `groups` and `manager.displayName` are read-only and ignored on input.
fn as_read_back(user: &User) -> User {
    let mut u = user.clone();
    u.password = None;
    u.id = None;
    u.meta = None;
    u.groups.clear();
    if let Some(m) = u.enterprise.as_mut().and_then(|e| e.manager.as_mut()) {
        m.display_name = None;
    }
    if u.enterprise.as_ref().is_some_and(EnterpriseUser::is_empty) {
        u.enterprise = None;
    }
    // Read-only extension values are the server's: ignored on input.
    if let Some(attrs) = u.extensions.get_mut(extension_schema::URN) {
        attrs.remove("server");
    }
    u.extensions.retain(|_, attrs| !attrs.is_empty());
    u
}

fn check(data: &[u8], request: &PatchRequest, compat: &Compatibility, label: &str) {
    let user: &User = &USER;
    let before = user.clone();
    let result = request.apply_bounded(user, compat, usize::MAX, extension_schema::schemas());
    assert_eq!(
        format!("{result:?}"),
        format!(
            "{:?}",
            request.apply_by_general_path(user, compat, extension_schema::schemas())
        ),
        "{label}: apply over the user's members on demand disagrees with apply over the whole user on {:?}",
        String::from_utf8_lossy(data)
    );
    assert_eq!(user, &before, "{label}: apply changed its input user");
    let Ok(out) = result else {
        return;
    };
    assert_eq!(out.id, user.id, "{label}: apply changed id");
    assert_eq!(out.meta, user.meta, "{label}: apply changed meta");
    assert_eq!(out.groups, user.groups, "{label}: apply changed groups");
    let body = serde_json::to_vec(&out).expect("a User serializes");
    let again = match parse_user(&body, &Compatibility::strict(), extension_schema::schemas()) {
        Ok(u) => u,
        Err(e) => panic!(
            "{label}: PATCH {:?} gave a user whose JSON {:?} does not parse: {e}",
            String::from_utf8_lossy(data),
            String::from_utf8_lossy(&body),
        ),
    };
    assert_eq!(
        again,
        as_read_back(&out),
        "{label}: PATCH {:?} gave a user that does not read back the same from {:?}",
        String::from_utf8_lossy(data),
        String::from_utf8_lossy(&body),
    );
}

fuzz_target!(|data: &[u8]| {
    let default = Compatibility::default();
    let strict = Compatibility::strict();
    for compat in [&default, &strict] {
        let general = parse_body(data).and_then(|v| {
            PatchRequest::from_value_with_limits(
                v,
                compat,
                &ParseLimits::default(),
                extension_schema::schemas(),
            )
        });
        assert_eq!(
            format!(
                "{:?}",
                PatchRequest::parse_with_limits(
                    data,
                    compat,
                    &ParseLimits::default(),
                    extension_schema::schemas()
                )
            ),
            format!("{general:?}"),
            "the PatchOp reader over the bytes disagrees with the reader over the parsed body on {:?}",
            String::from_utf8_lossy(data)
        );
    }
    let lenient = PatchRequest::parse_with_limits(
        data,
        &default,
        &ParseLimits::default(),
        extension_schema::schemas(),
    );
    if let Ok(request) = PatchRequest::parse_with_limits(
        data,
        &strict,
        &ParseLimits::default(),
        extension_schema::schemas(),
    ) {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(&request),
            "the strict policy accepts what the default one does not, or reads it otherwise"
        );
        check(data, &request, &strict, "strict");
    }
    if let Ok(request) = &lenient {
        check(data, request, &default, "default");
    }
});
