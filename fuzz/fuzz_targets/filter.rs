//! Fuzzes the filter parser, printer, validator and evaluator.
//!
//! For any input (read as lossy UTF-8): parsing never panics; a filter that parses prints
//! to text that parses back to the same filter; `validate` and `matches` never panic, and
//! typed evaluation agrees with evaluation of the user's JSON form.
//!
//! Run from `fuzz/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run filter corpus/filter seeds/filter`
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use scimkit::filter::{ParseLimits, parse, parse_with_limits};
use scimkit::{EnterpriseUser, Manager, Meta, MultiValue, Name, Secret, User};

/// A user with a value in most attributes, including the write-only password.
fn sample_user() -> User {
    let mut u = User::new("BJensen@Example.com");
    u.id = Some("2819c223-7f76-453a-919d-413861904646".into());
    u.external_id = Some("Ext-701984".into());
    u.name = Some(Name {
        formatted: Some("Ms. Barbara J Jensen, III".into()),
        family_name: Some("Jensen".into()),
        given_name: Some("Barbara".into()),
        middle_name: Some(String::new().into()),
        ..Name::default()
    });
    u.display_name = Some("Babs \u{212A}ensen ΟΔΟΣ".into());
    u.title = Some(String::new().into());
    u.user_type = Some("Employee".into());
    u.active = Some(false);
    u.password = Some(Secret::new("t1meMa$heen"));
    u.emails = vec![
        MultiValue {
            primary: Some(true),
            ..MultiValue::typed("bjensen@example.com", "work")
        },
        MultiValue::typed("babs@jensen.org", "home"),
    ];
    u.ims = vec![MultiValue {
        kind: Some("xmpp".into()),
        ..MultiValue::default()
    }];
    u.enterprise = Some(EnterpriseUser {
        employee_number: Some("701984".into()),
        department: Some("Tour Operations".into()),
        manager: Some(Manager {
            value: Some("26118915".into()),
            ..Manager::default()
        }),
        ..EnterpriseUser::default()
    });
    let created = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap();
    let mut meta = Meta::new("User", created);
    meta.version = Some("W/\"3\"".into());
    u.meta = Some(meta);
    u
}

static USER: LazyLock<(User, serde_json::Value)> = LazyLock::new(|| {
    let u = sample_user();
    let json = u.to_value();
    (u, json)
});

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let Ok(f) = parse(&input) else {
        return;
    };
    // The canonical form may be longer than the input (added parentheses and escapes),
    // so it is read back without the length limit.
    let text = f.to_string();
    let limits = ParseLimits {
        max_len: usize::MAX,
        ..ParseLimits::default()
    };
    assert_eq!(
        parse_with_limits(&text, &limits).as_ref(),
        Ok(&f),
        "round trip of {input:?} via {text:?}"
    );
    let _ = f.validate();
    let (user, json) = &*USER;
    assert_eq!(
        f.matches(user),
        f.matches_value(json),
        "typed and JSON evaluation of {text:?} differ"
    );
});
