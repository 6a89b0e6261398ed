//! Printing filters in a canonical form that [`super::parse`] reads back to an equal AST.
//!
//! Keywords are lower case, tokens are separated by one space, strings are JSON strings,
//! and parentheses are added exactly where precedence (`not` > `and` > `or`, both
//! left-associative) requires them.

use std::fmt::{self, Write as _};

use super::{AttrPath, CompValue, Filter};

pub(super) fn write_filter(filter: &Filter, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match filter {
        Filter::Compare { path, op, value } => {
            write_path(path, f)?;
            write!(f, " {} ", op.as_str())?;
            write_value(value, f)
        }
        Filter::Present(path) => {
            write_path(path, f)?;
            f.write_str(" pr")
        }
        Filter::And(l, r) => {
            // `or` binds looser than `and`: wrap it on either side. An `and` on the right
            // must be wrapped too, or it would re-associate to the left.
            write_operand(l, matches!(**l, Filter::Or(..)), f)?;
            f.write_str(" and ")?;
            write_operand(r, matches!(**r, Filter::Or(..) | Filter::And(..)), f)
        }
        Filter::Or(l, r) => {
            write_operand(l, false, f)?;
            f.write_str(" or ")?;
            write_operand(r, matches!(**r, Filter::Or(..)), f)
        }
        Filter::Not(inner) => {
            f.write_str("not (")?;
            write_filter(inner, f)?;
            f.write_char(')')
        }
        Filter::ValuePath { path, filter } => {
            write_path(path, f)?;
            f.write_char('[')?;
            write_filter(filter, f)?;
            f.write_char(']')
        }
    }
}

/// How deeply the printed form of `filter` nests parentheses, `not (` and `[`.
pub(super) fn nesting(filter: &Filter) -> usize {
    match filter {
        Filter::Compare { .. } | Filter::Present(_) => 0,
        Filter::Not(inner) => 1 + nesting(inner),
        Filter::ValuePath { filter, .. } => 1 + nesting(filter),
        Filter::And(l, r) => (nesting(l) + usize::from(matches!(**l, Filter::Or(..))))
            .max(nesting(r) + usize::from(matches!(**r, Filter::Or(..) | Filter::And(..)))),
        Filter::Or(l, r) => nesting(l).max(nesting(r) + usize::from(matches!(**r, Filter::Or(..)))),
    }
}

fn write_operand(filter: &Filter, parens: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if parens {
        f.write_char('(')?;
        write_filter(filter, f)?;
        f.write_char(')')
    } else {
        write_filter(filter, f)
    }
}

pub(super) fn write_path(path: &AttrPath, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if let Some(urn) = &path.urn {
        f.write_str(urn)?;
        f.write_char(':')?;
    }
    f.write_str(&path.name)?;
    if let Some(sub) = &path.sub_attr {
        f.write_char('.')?;
        f.write_str(sub)?;
    }
    Ok(())
}

pub(super) fn write_value(value: &CompValue, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value {
        CompValue::Null => f.write_str("null"),
        CompValue::Bool(true) => f.write_str("true"),
        CompValue::Bool(false) => f.write_str("false"),
        CompValue::Number(n) => write!(f, "{n}"),
        CompValue::String(s) => write_json_string(s, f),
    }
}

/// Writes `s` as a JSON string literal, escaped exactly as the resource writer escapes
/// it (and as `serde_json` does).
fn write_json_string(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut out = Vec::with_capacity(s.len() + 2);
    crate::resource::write_json_str(&mut out, s);
    f.write_str(&String::from_utf8_lossy(&out))
}
