//! Limits on untrusted filters: length, nesting depth, logical terms, and hostile input
//! (deep nesting, megabyte filters) rejected without a stack overflow.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use super::tests::err;
use super::*;

/// The caller's limits all lifted: only the hard caps apply.
fn unlimited() -> ParseLimits {
    ParseLimits {
        max_len: usize::MAX,
        max_depth: usize::MAX,
        max_terms: usize::MAX,
    }
}

#[test]
fn length_limit() {
    let limits = ParseLimits {
        max_len: 20,
        ..ParseLimits::default()
    };
    let long = "userName eq \"abcdefghij\"";
    assert_eq!(
        parse_with_limits(long, &limits).map_err(|e| e.position),
        Err(20)
    );
    assert!(parse_with_limits("userName pr", &limits).is_ok());
    assert_eq!(ParseLimits::default().max_len, 4096);
    assert_eq!(ParseLimits::default().max_depth, 32);
    let big = format!("userName eq \"{}\"", "x".repeat(5000));
    assert_eq!(err(&big).position, 4096);
}

#[test]
fn depth_limit() {
    let nested =
        |n: usize, open: &str, close: &str| format!("{}a pr{}", open.repeat(n), close.repeat(n));
    assert!(parse(&nested(32, "(", ")")).is_ok());
    let e = err(&nested(33, "(", ")"));
    assert_eq!(e.position, 32);
    assert!(e.message.contains("nested deeper than 32"), "{e}");
    assert!(parse(&nested(32, "not (", ")")).is_ok());
    assert_eq!(err(&nested(33, "not (", ")")).position, 32 * 5);
    let limits = ParseLimits {
        max_len: 100,
        max_depth: 1,
        ..ParseLimits::default()
    };
    assert!(parse_with_limits("emails[type pr]", &limits).is_ok());
    assert_eq!(
        parse_with_limits("(emails[type pr])", &limits).map_err(|e| e.position),
        Err(7)
    );
    assert!(
        parse_with_limits(
            "a pr",
            &ParseLimits {
                max_len: 10,
                max_depth: 0,
                ..ParseLimits::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn ten_thousand_parens_is_an_error_not_a_stack_overflow() {
    let open = "(".repeat(10_000);
    let input = format!("{open}a pr{}", ")".repeat(10_000));
    let huge = unlimited();
    for limits in [ParseLimits::default(), huge] {
        let e = parse_with_limits(&input, &limits).err();
        assert!(e.is_some());
    }
    let e = parse_with_limits(&input, &huge).err().map(|e| e.position);
    assert_eq!(e, Some(HARD_MAX_DEPTH));
    let nots = format!("{}a pr{}", "not(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_with_limits(&nots, &huge).is_err());
    let brackets = "a[".repeat(10_000);
    assert!(parse_with_limits(&brackets, &huge).is_err());
}

#[test]
fn operator_count_is_capped() {
    let huge = unlimited();
    let chain = |n: usize| vec!["a pr"; n + 1].join(" or ");
    let f = parse_with_limits(&chain(MAX_LOGICAL_OPERATORS), &huge);
    assert!(f.is_ok());
    assert!(f.is_ok_and(|f| f.matches_value(&serde_json::json!({"a": 1}))));
    assert!(parse_with_limits(&chain(MAX_LOGICAL_OPERATORS + 1), &huge).is_err());
}

#[test]
fn max_terms_is_configurable_and_capped() {
    assert_eq!(ParseLimits::default().max_terms, MAX_LOGICAL_OPERATORS);
    let chain = |n: usize| vec!["a pr"; n + 1].join(" and ");
    let limits = |max_terms| ParseLimits {
        max_terms,
        ..ParseLimits::default()
    };
    assert!(parse_with_limits(&chain(3), &limits(3)).is_ok());
    let e = parse_with_limits(&chain(4), &limits(3)).err();
    // The fourth `and` is the one too many.
    assert_eq!(
        e.as_ref().map(|e| e.position),
        Some(3 * "a pr and ".len() + 5)
    );
    assert!(e.is_some_and(|e| e.message.contains("more than 3 'and'/'or' operators")));
    assert!(parse_with_limits("a pr", &limits(0)).is_ok());
    assert!(parse_with_limits("a pr or b pr", &limits(0)).is_err());
    // The Entra form implies an `and`.
    assert!(parse_with_limits("emails[type eq \"work\"].value pr", &limits(0)).is_err());
    assert!(parse_with_limits("emails[type eq \"work\"].value pr", &limits(1)).is_ok());
    // Above the hard cap, the hard cap applies.
    let huge = unlimited();
    assert!(parse_with_limits(&chain(MAX_LOGICAL_OPERATORS), &huge).is_ok());
    assert!(parse_with_limits(&chain(MAX_LOGICAL_OPERATORS + 1), &huge).is_err());
}

/// Runs `parse` and returns its result with the steps the lexer and the parser took.
fn counted<T>(parse: impl FnOnce() -> T) -> (T, u64) {
    super::parse::WORK.with(|w| w.set(0));
    let result = parse();
    (result, super::parse::WORK.with(|w| w.replace(0)))
}

/// Steps per byte of input that parsing stays within: each byte is scanned once and each
/// token looked at a few times (the inputs below take 1 to 1.5). Quadratic work on them
/// would be some 100,000 times more.
const STEPS_PER_BYTE: u64 = 4;

/// Parses with the default limits and with no caller limits at all, and checks both
/// reject `input`, in work linear in its length.
fn rejected_in_linear_work(input: &str) {
    for limits in [ParseLimits::default(), unlimited()] {
        let (result, steps) = counted(|| parse_with_limits(input, &limits));
        assert!(result.is_err(), "{} bytes parsed", input.len());
        let len = input.len() as u64;
        assert!(
            steps <= STEPS_PER_BYTE * len,
            "{len} bytes took {steps} steps"
        );
    }
    assert!(parse(input).is_err());
}

#[test]
fn hostile_input_is_rejected_in_linear_work_without_stack_overflow() {
    const DEEP: usize = 100_000;
    // 100,000-deep nesting of every kind.
    rejected_in_linear_work(&format!("{}a pr{}", "(".repeat(DEEP), ")".repeat(DEEP)));
    rejected_in_linear_work(&"(".repeat(DEEP));
    rejected_in_linear_work(&format!("{}a pr{}", "not (".repeat(DEEP), ")".repeat(DEEP)));
    rejected_in_linear_work(&"a[".repeat(DEEP));
    rejected_in_linear_work(&format!("{}b pr]", "a[".repeat(DEEP)));
    // 1 MB filters: a long `or` chain, a long `and` chain of value paths, nested `not`s,
    // and an unterminated string.
    const MB: usize = 1 << 20;
    let term = "userName eq \"bjensen@example.com\" or ";
    let or_chain = format!("{}title pr", term.repeat(MB / term.len()));
    assert!(or_chain.len() >= MB - term.len());
    rejected_in_linear_work(&or_chain);
    let vp = "emails[type eq \"work\" and value co \"@x\"] and ";
    rejected_in_linear_work(&format!("{}title pr", vp.repeat(MB / vp.len())));
    rejected_in_linear_work(&"not (".repeat(MB / 5));
    rejected_in_linear_work(&format!("title eq \"{}", "x".repeat(MB)));
    // 1 MB filters that are valid: rejected by the default length limit, accepted when
    // the caller lifts it.
    let lifted = ParseLimits {
        max_len: usize::MAX,
        ..ParseLimits::default()
    };
    for big in [
        format!("title eq \"{}\"", "x".repeat(MB)),
        format!("{} pr", "a".repeat(MB)),
    ] {
        assert_eq!(parse(&big).map_err(|e| e.position), Err(4096));
        let (parsed, steps) = counted(|| parse_with_limits(&big, &lifted));
        assert!(parsed.is_ok());
        assert!(steps <= STEPS_PER_BYTE * big.len() as u64, "{steps} steps");
    }
}
