//! Grammar, printing and round-trip tests.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::Number;

use super::*;

pub(super) const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(super) const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

pub(super) fn p(s: &str) -> Filter {
    match parse(s) {
        Ok(f) => f,
        Err(e) => panic!("{s:?} failed to parse: {e}"),
    }
}

pub(super) fn err(s: &str) -> FilterError {
    match parse(s) {
        Ok(f) => panic!("{s:?} parsed unexpectedly as {f:?}"),
        Err(e) => e,
    }
}

fn cmp(name: &str, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare {
        path: AttrPath::new(name),
        op,
        value,
    }
}

fn s(v: &str) -> CompValue {
    CompValue::String(v.to_string())
}

fn and(l: Filter, r: Filter) -> Filter {
    Filter::And(Box::new(l), Box::new(r))
}

fn or(l: Filter, r: Filter) -> Filter {
    Filter::Or(Box::new(l), Box::new(r))
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: urn.map(Into::into),
        name: name.into(),
        sub_attr: sub.map(Into::into),
    }
}

/// `path op "v"`.
fn c(path: AttrPath, op: CompareOp, v: &str) -> Filter {
    Filter::Compare {
        path,
        op,
        value: s(v),
    }
}

fn pr(name: &str) -> Filter {
    Filter::Present(AttrPath::new(name))
}

fn value_path(name: &str, filter: Filter) -> Filter {
    Filter::ValuePath {
        path: AttrPath::new(name),
        filter: Box::new(filter),
    }
}

#[test]
fn every_operator() {
    for (kw, op) in [
        ("eq", CompareOp::Eq),
        ("ne", CompareOp::Ne),
        ("co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        assert_eq!(p(&format!("title {kw} \"x\"")), cmp("title", op, s("x")));
        let upper = kw.to_uppercase();
        assert_eq!(p(&format!("title {upper} \"x\"")), cmp("title", op, s("x")));
    }
    assert_eq!(p("title pr"), pr("title"));
    assert_eq!(p("title PR"), pr("title"));
    assert_eq!(
        p("userName Eq \"x\""),
        cmp("userName", CompareOp::Eq, s("x"))
    );
}

#[test]
fn precedence_and_associativity() {
    let (a, b, c) = (|| pr("a"), || pr("b"), || pr("c"));
    let cases = [
        ("a pr or b pr and c pr", or(a(), and(b(), c()))),
        ("a pr and b pr or c pr", or(and(a(), b()), c())),
        ("a pr and b pr and c pr", and(and(a(), b()), c())),
        ("a pr or b pr or c pr", or(or(a(), b()), c())),
        ("(a pr or b pr) and c pr", and(or(a(), b()), c())),
        ("a pr AND not (b pr) Or c pr", or(and(a(), not(b())), c())),
        ("not(a pr)", not(a())),
        ("NOT   (a pr)", not(a())),
        ("((a pr))", a()),
        ("not (not (a pr))", not(not(a()))),
    ];
    for (text, expected) in cases {
        assert_eq!(p(text), expected, "{text}");
    }
}

#[test]
fn keywords_as_attribute_names() {
    // `not` is only the operator when followed by `(`.
    assert_eq!(p("not pr"), pr("not"));
    assert_eq!(
        p("and eq \"x\" and or pr"),
        and(cmp("and", CompareOp::Eq, s("x")), pr("or"))
    );
}

#[test]
fn whitespace_is_lenient() {
    assert_eq!(
        p("  userName\t eq   \"x\"  and\t\ttitle pr "),
        and(cmp("userName", CompareOp::Eq, s("x")), pr("title"))
    );
    assert_eq!(p("( title pr )"), pr("title"));
}

#[test]
fn attribute_paths_and_urns() {
    let eq = |path, v| c(path, CompareOp::Eq, v);
    assert_eq!(
        p("name.givenName eq \"B\""),
        eq(AttrPath::with_sub("name", "givenName"), "B")
    );
    assert_eq!(
        p(&format!("{CORE}:userName eq \"bjensen\"")),
        eq(path(Some(CORE), "userName", None), "bjensen")
    );
    assert_eq!(
        p(&format!("{ENT}:manager.value eq \"26118915\"")),
        eq(path(Some(ENT), "manager", Some("value")), "26118915")
    );
    assert_eq!(
        p("groups.$ref pr"),
        Filter::Present(AttrPath::with_sub("groups", "$ref"))
    );
    assert_eq!(p("x509-cert_1 pr"), pr("x509-cert_1"));
}

#[test]
fn value_paths() {
    let work_and_value = |op, v| {
        let work = cmp("type", CompareOp::Eq, s("work"));
        value_path("emails", and(work, cmp("value", op, s(v))))
    };
    let f = p("emails[type eq \"work\" and value co \"@example.com\"]");
    assert_eq!(f, work_and_value(CompareOp::Co, "@example.com"));
    assert_eq!(
        f.to_string(),
        "emails[type eq \"work\" and value co \"@example.com\"]"
    );
    // Entra form normalises to the bracket form.
    let entra = p("emails[type eq \"work\"].value eq \"x@example.com\"");
    assert_eq!(entra, work_and_value(CompareOp::Eq, "x@example.com"));
    assert_eq!(
        entra.to_string(),
        "emails[type eq \"work\" and value eq \"x@example.com\"]"
    );
    assert_eq!(
        p("emails[type eq \"a\" or type eq \"b\"].value pr").to_string(),
        "emails[(type eq \"a\" or type eq \"b\") and value pr]"
    );
    // Combined with other expressions and with a URN.
    let f = p(&format!(
        "userType eq \"Employee\" and {ENT}:manager[value eq \"1\"] or not (emails[not (primary eq true)])"
    ));
    assert_eq!(parse(&f.to_string()), Ok(f));
    assert_eq!(err("emails[type[value pr]]").position, 11);
    assert_eq!(err("name.givenName[x pr]").position, 14);
    assert_eq!(err("emails[emails.type pr]").position, 13);
    assert_eq!(err(&format!("emails[{CORE}:type pr]")).position, 7);
    assert_eq!(err("emails[type pr").position, 14);
}

#[test]
fn string_escapes() {
    let f = p(r#"title eq "a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00 é""#);
    assert_eq!(
        f,
        cmp(
            "title",
            CompareOp::Eq,
            s("a\"b\\c/d\u{8}\u{c}\n\r\t\u{e9}\u{1F600} é")
        )
    );
    assert_eq!(parse(&f.to_string()), Ok(f));
    assert_eq!(err(r#"title eq "abc"#).position, 9);
    assert_eq!(err(r#"title eq "a\qb""#).position, 11);
    assert_eq!(err(r#"title eq "\uD83D""#).position, 10);
    assert_eq!(err(r#"title eq "\uDE00""#).position, 10);
    assert_eq!(err(r#"title eq "\u12G4""#).position, 10);
    assert_eq!(err(r#"title eq "\u+123""#).position, 10);
    assert_eq!(err("title eq \"\\u00é\"").position, 10);
    assert_eq!(err("title eq \"\\").position, 9);
}

#[test]
fn numbers_and_literals() {
    let num = |v: &str| match p(&format!("n eq {v}")) {
        Filter::Compare {
            value: CompValue::Number(n),
            ..
        } => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(num("42"), Number::from(42u64));
    assert_eq!(num("-7"), Number::from(-7i64));
    assert_eq!(num("0"), Number::from(0u64));
    assert_eq!(num("3.25").as_f64(), Some(3.25));
    assert_eq!(num("-1.5e3").as_f64(), Some(-1500.0));
    assert_eq!(num("2E-2").as_f64(), Some(0.02));
    assert_eq!(num("1e+2").as_f64(), Some(100.0));
    assert_eq!(
        num("18446744073709551616").as_f64(),
        Some(18446744073709551616.0)
    );
    for bad in ["01", "1.", "-", "1e", "1.5x", "-.5", "1e400"] {
        let e = err(&format!("n eq {bad}"));
        assert!(e.position >= 5, "{bad}: {e}");
    }
    assert_eq!(
        p("active eq TRUE"),
        cmp("active", CompareOp::Eq, CompValue::Bool(true))
    );
    assert_eq!(
        p("active eq False"),
        cmp("active", CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(
        p("title eq NULL"),
        cmp("title", CompareOp::Eq, CompValue::Null)
    );
}

#[test]
fn errors_carry_positions() {
    for (input, position, says) in [
        ("", 0, "expected an attribute path"),
        ("userName", 8, "expected an operator"),
        ("userName equals \"x\"", 9, ""),
        ("userName eq bjensen", 12, "expected a value"),
        ("userName eq \"x\" nand title pr", 16, "'and', 'or'"),
        ("(userName pr", 12, "')'"),
    ] {
        let e = err(input);
        assert_eq!(e.position, position, "{input:?}");
        assert!(e.message.contains(says), "{input:?}: {e}");
    }
    assert_eq!(err("userName pr)").position, 11);
    assert_eq!(err("userName pr]").position, 11);
    assert_eq!(err("userName pr and").position, 15);
    assert_eq!(err("1abc pr").position, 0);
    assert_eq!(err("user%Name pr").position, 4);
    assert_eq!(err("name.given.x pr").position, 10);
    assert_eq!(err(":userName pr").position, 0);
    assert_eq!(err("urn:x: pr").position, 6);
    assert_eq!(err("\"x\" eq \"x\"").position, 0);
    assert_eq!(err("not (a pr").position, 9);
    assert_eq!(err("emails[type eq \"work\"].").position, 23);
    let e = err("userName eq \"x\" and");
    assert_eq!(e.to_string(), format!("{} at position 19", e.message));
}

#[test]
fn non_ascii_input_never_panics() {
    for input in [
        "é",
        "ü eq \"x\"",
        "userName eq é",
        "userName é \"x\"",
        "名前 pr",
        "a\u{a0}pr",
        "emails[é]",
        "\"\u{1F600}",
        "userName eq \"x\" \u{1F600}",
        "n eq 1é",
    ] {
        assert!(parse(input).is_err(), "{input:?}");
    }
}

#[test]
fn display_canonical_form() {
    let f = p("userName EQ \"x\" AND (title pr OR NOT(active eq TRUE))");
    assert_eq!(
        f.to_string(),
        "userName eq \"x\" and (title pr or not (active eq true))"
    );
    let right_and = and(pr("a"), and(pr("b"), pr("c")));
    assert_eq!(right_and.to_string(), "a pr and (b pr and c pr)");
    assert_eq!(parse(&right_and.to_string()), Ok(right_and));
    let f = cmp("n", CompareOp::Ge, CompValue::Number(Number::from(-3i64)));
    assert_eq!(f.to_string(), "n ge -3");
    let f = cmp("t", CompareOp::Eq, s("\u{1}\u{7f}\"\\"));
    // Escaped as the resource writer (and serde_json) escapes: DEL is not a control
    // character to JSON and stays as it is.
    assert_eq!(f.to_string(), "t eq \"\\u0001\u{7f}\\\"\\\\\"");
    assert_eq!(
        f.to_string().split_once(" eq ").map(|(_, v)| v.to_owned()),
        serde_json::to_string("\u{1}\u{7f}\"\\").ok()
    );
    assert_eq!(parse(&f.to_string()), Ok(f));
    assert_eq!("title pr".parse::<Filter>(), Ok(pr("title")));
}

#[test]
fn equality_on_finds_index_candidates() {
    assert_eq!(
        p("userName eq \"bjensen\"").equality_on("username"),
        Some("bjensen")
    );
    assert_eq!(
        p("USERNAME EQ \"bjensen\"").equality_on("userName"),
        Some("bjensen")
    );
    assert_eq!(
        p(&format!("{CORE}:userName eq \"b\"")).equality_on("userName"),
        Some("b")
    );
    assert_eq!(
        p("active eq true and externalId eq \"e1\" and title pr").equality_on("externalId"),
        Some("e1")
    );
    assert_eq!(
        p("userName eq \"a\" or title pr").equality_on("userName"),
        None
    );
    assert_eq!(p("userName ne \"a\"").equality_on("userName"), None);
    assert_eq!(p("userName eq 5").equality_on("userName"), None);
    assert_eq!(p("name.userName eq \"a\"").equality_on("userName"), None);
    assert_eq!(
        p(&format!("{ENT}:userName eq \"a\"")).equality_on("userName"),
        None
    );
    assert_eq!(p("not (userName eq \"a\")").equality_on("userName"), None);
    assert_eq!(p("emails[userName eq \"a\"]").equality_on("userName"), None);
}

// ---------------------------------------------------------------------------------------
// Round trip: parse(ast.to_string()) == ast
// ---------------------------------------------------------------------------------------

fn name_strategy() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        Just("$ref".to_string()),
        Just("not".to_string()),
        Just("and".to_string()),
        Just("pr".to_string()),
        Just("true".to_string()),
    ]
    .boxed()
}

fn value_strategy() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(Number::from(n))),
        any::<u64>().prop_map(|n| CompValue::Number(Number::from(n))),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
        "[\"\\\\a-z\u{e9}\u{1F600} \t\n/]{0,10}".prop_map(CompValue::String),
    ]
}

fn op_strategy() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(&CompareOp::ALL[..])
}

fn path_strategy() -> BoxedStrategy<AttrPath> {
    let urn = prop_oneof![
        Just(None),
        Just(Some(CORE.to_string())),
        Just(Some(ENT.to_string())),
        Just(Some("urn:example:ext:1.0:Thing".to_string())),
    ];
    (urn, name_strategy(), proptest::option::of(name_strategy()))
        .prop_map(|(urn, name, sub_attr)| AttrPath {
            urn,
            name,
            sub_attr,
        })
        .boxed()
}

fn leaf(path: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        path.clone().prop_map(Filter::Present),
        (path, op_strategy(), value_strategy()).prop_map(|(path, op, value)| Filter::Compare {
            path,
            op,
            value
        }),
    ]
    .boxed()
}

fn combine(leaf: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| and(l, r)),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| or(l, r)),
            inner.prop_map(not),
        ]
    })
}

fn filter_strategy() -> impl Strategy<Value = Filter> {
    let simple = name_strategy().prop_map(AttrPath::new).boxed();
    let value_path = (
        path_strategy().prop_map(|p| AttrPath {
            sub_attr: None,
            ..p
        }),
        combine(leaf(simple).boxed()).boxed(),
    )
        .prop_map(|(path, filter)| Filter::ValuePath {
            path,
            filter: Box::new(filter),
        });
    combine(prop_oneof![3 => leaf(path_strategy()), 1 => value_path].boxed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_round_trips(ast in filter_strategy()) {
        let text = ast.to_string();
        let limits = ParseLimits { max_len: 1 << 20, ..ParseLimits::default() };
        prop_assert_eq!(parse_with_limits(&text, &limits), Ok(ast), "{}", text);
    }

    #[test]
    fn parser_never_panics(input in "[a-zA-Z0-9 ()\\[\\]\"\\\\.:$é\u{1F600}-]{0,60}") {
        let _ = parse(&input);
    }

    #[test]
    fn evaluation_never_panics(ast in filter_strategy()) {
        let user = super::tests_eval::sample_user();
        let _ = ast.matches_value(&user);
        let _ = ast.validate();
    }
}

/// Every example filter of RFC 7644 §3.4.2.2 (Figure 2 and the text around it), with the
/// AST it must parse to.
#[test]
fn rfc_7644_examples_grammar() {
    let ts = "2011-05-13T04:42:34Z";
    let last_modified = || path(None, "meta", Some("lastModified"));
    let user_type = |op, v| c(AttrPath::new("userType"), op, v);
    let emails_either = || {
        or(
            c(AttrPath::new("emails"), CompareOp::Co, "example.com"),
            c(
                path(None, "emails", Some("value")),
                CompareOp::Co,
                "example.org",
            ),
        )
    };
    let typed_value_co = |name: &str, kind: &str, domain: &str| {
        value_path(
            name,
            and(
                c(AttrPath::new("type"), CompareOp::Eq, kind),
                c(AttrPath::new("value"), CompareOp::Co, domain),
            ),
        )
    };
    let cases: Vec<(&str, Filter)> = vec![
        // §3.4.2.2 text: attribute names and operators are case-insensitive.
        (
            "userName Eq \"john\"",
            c(AttrPath::new("userName"), CompareOp::Eq, "john"),
        ),
        (
            "Username eq \"john\"",
            c(AttrPath::new("Username"), CompareOp::Eq, "john"),
        ),
        // Figure 2.
        (
            "userName eq \"bjensen\"",
            c(AttrPath::new("userName"), CompareOp::Eq, "bjensen"),
        ),
        (
            "name.familyName co \"O'Malley\"",
            c(
                path(None, "name", Some("familyName")),
                CompareOp::Co,
                "O'Malley",
            ),
        ),
        (
            "userName sw \"J\"",
            c(AttrPath::new("userName"), CompareOp::Sw, "J"),
        ),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
            c(path(Some(CORE), "userName", None), CompareOp::Sw, "J"),
        ),
        ("title pr", pr("title")),
        (
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            c(last_modified(), CompareOp::Gt, ts),
        ),
        (
            "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
            c(last_modified(), CompareOp::Ge, ts),
        ),
        (
            "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
            c(last_modified(), CompareOp::Lt, ts),
        ),
        (
            "meta.lastModified le \"2011-05-13T04:42:34Z\"",
            c(last_modified(), CompareOp::Le, ts),
        ),
        (
            "title pr and userType eq \"Employee\"",
            and(pr("title"), user_type(CompareOp::Eq, "Employee")),
        ),
        (
            "title pr or userType eq \"Intern\"",
            or(pr("title"), user_type(CompareOp::Eq, "Intern")),
        ),
        (
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            c(AttrPath::new("schemas"), CompareOp::Eq, ENT),
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
            and(user_type(CompareOp::Eq, "Employee"), emails_either()),
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
            and(user_type(CompareOp::Ne, "Employee"), not(emails_either())),
        ),
        (
            "userType eq \"Employee\" and (emails.type eq \"work\")",
            and(
                user_type(CompareOp::Eq, "Employee"),
                c(path(None, "emails", Some("type")), CompareOp::Eq, "work"),
            ),
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
            and(
                user_type(CompareOp::Eq, "Employee"),
                typed_value_co("emails", "work", "@example.com"),
            ),
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(
                typed_value_co("emails", "work", "@example.com"),
                typed_value_co("ims", "xmpp", "@foo.com"),
            ),
        ),
    ];
    for (text, expected) in cases {
        let f = p(text);
        assert_eq!(f, expected, "{text}");
        assert_eq!(f.validate(), Ok(()), "{text}");
        assert_eq!(parse(&f.to_string()), Ok(f), "{text}");
    }
}

#[test]
fn entra_form_round_trips_at_the_depth_limit() {
    // `emails[a or b].value pr` prints as `emails[(a or b) and value pr]`: one level
    // deeper than written, so it counts as written that way.
    let limits = |max_depth| ParseLimits {
        max_depth,
        ..ParseLimits::default()
    };
    let input = "not (emails[type pr or value pr].value pr)";
    let e = parse_with_limits(input, &limits(2)).err();
    assert_eq!(e.map(|e| e.position), Some(input.find('.').unwrap_or(0)));
    let f = parse_with_limits(input, &limits(3));
    assert!(f.is_ok(), "{f:?}");
    let text = f.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(text, "not (emails[(type pr or value pr) and value pr])");
    assert_eq!(parse_with_limits(&text, &limits(3)), f);
    // Without `or` inside, nothing is added.
    assert!(parse_with_limits("not (emails[type pr and value pr].value pr)", &limits(2)).is_ok());
    assert!(parse_with_limits("emails[(type pr) or value pr].value pr", &limits(2)).is_ok());
    assert!(parse_with_limits("emails[((type pr)) or value pr].value pr", &limits(2)).is_err());
}

#[test]
fn bare_attribute_paths_parse_and_anything_else_does_not() {
    assert_eq!(
        AttrPath::parse(" userName "),
        Some(AttrPath::new("userName"))
    );
    assert_eq!(
        AttrPath::parse("name.familyName"),
        Some(AttrPath::with_sub("name", "familyName"))
    );
    let ent =
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            .unwrap();
    assert_eq!(ent.name, "department");
    assert!(ent.urn.is_some());
    for bad in [
        "",
        "a b",
        "userName pr",
        "emails[type eq \"work\"]",
        "(userName)",
        "9x",
    ] {
        assert_eq!(AttrPath::parse(bad), None, "{bad:?}");
    }
}
