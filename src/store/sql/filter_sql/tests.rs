#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::filter::{ParseLimits, parse_with_limits};

fn sql(filter: &str, dialect: Dialect) -> (Translated, Vec<Param>) {
    let mut params = vec![Param::Text("tenant".into())];
    let limits = ParseLimits {
        max_len: 1 << 20,
        ..ParseLimits::default()
    };
    let t = translate(
        &parse_with_limits(filter, &limits).unwrap(),
        dialect,
        &mut params,
        crate::schema::SchemaSet::core(),
    );
    (t, params)
}

#[cfg(feature = "sqlite")]
#[test]
fn values_are_bound_never_written() {
    let (t, params) = sql(
        r#"userName eq "x' OR 1=1 --" and emails[value co "50%_off"]"#,
        Dialect::Sqlite,
    );
    let cond = t.condition.unwrap();
    assert!(t.exact);
    assert!(!cond.contains("OR 1=1"), "{cond}");
    assert_eq!(params[1], Param::Text("x' or 1=1 --".into()));
    assert_eq!(params[2], Param::Text("%50\\%\\_off%".into()));
}

#[cfg(feature = "sqlite")]
#[test]
fn unknown_attributes_fold_to_constants() {
    let (t, _) = sql(r#"nosuch eq "x""#, Dialect::Sqlite);
    assert!(t.never);
    let (t, _) = sql(r#"nosuch ne "x""#, Dialect::Sqlite);
    assert_eq!(t.condition, None);
    let (t, _) = sql(r#"userName.x eq "x" or title pr"#, Dialect::Sqlite);
    assert_eq!(t.condition.as_deref(), Some("(instr(u.present, ?2) > 0)"));
}

#[cfg(feature = "sqlite")]
#[test]
fn long_chains_are_balanced() {
    let chain = vec![r#"title eq "x""#; 1000].join(" or ");
    let (t, params) = sql(&chain, Dialect::Sqlite);
    let cond = t.condition.unwrap();
    let max_depth = cond
        .chars()
        .scan(0i32, |d, c| {
            *d += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            Some(*d)
        })
        .max()
        .unwrap();
    assert!(max_depth < 40, "depth {max_depth}");
    assert_eq!(params.len(), 1001);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_uses_numbered_parameters_and_jsonb() {
    let (t, params) = sql(
        r#"emails[type eq "work" and value sw "A"] and name.givenName gt "b""#,
        Dialect::Postgres,
    );
    let cond = t.condition.unwrap();
    assert!(cond.contains("jsonb_array_elements"), "{cond}");
    assert!(cond.contains("$2") && cond.contains("$4"), "{cond}");
    assert!(cond.contains("COLLATE \"C\""), "{cond}");
    assert_eq!(params.len(), 4);
}
