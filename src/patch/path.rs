//! PATCH paths (RFC 7644 §3.5.2, the `PATH` rule of Figure 1):
//! `attrPath / valuePath [subAttr]`, optionally URN-prefixed.

use std::fmt;

use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::filter::{self, Filter, ParseLimits};
use crate::schema::{SchemaSet, USER_SCHEMA};

/// A parsed PATCH path such as `name.givenName`, `emails[type eq "work"].value` or
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The extension schema URN; `None` for the core schema. The Enterprise User URN is
    /// stored in its canonical spelling.
    pub urn: Option<String>,
    /// The attribute; `None` when the path is a bare extension URN (the whole extension).
    pub attribute: Option<String>,
    /// The value-selection filter of a value path (`emails[type eq "work"]`).
    pub filter: Option<Filter>,
    /// The sub-attribute (`givenName` in `name.givenName`, `value` in `emails[...].value`).
    pub sub_attribute: Option<String>,
}

fn invalid(raw: &str, why: &str) -> ScimError {
    ScimError::InvalidPath(format!("invalid PATCH path {raw:?}: {why}"))
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'$')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'$')
}

/// Finds the `]` that closes the `[` at `open`, skipping over quoted strings. (Bytes:
/// `"`, `\` and `]` are ASCII, and no byte of a multi-byte UTF-8 character is ASCII.)
fn closing_bracket(s: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    let rest = s.as_bytes().get(open + 1..)?;
    for (i, &b) in rest.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b']' if !in_string => return Some(open + 1 + i),
            _ => {}
        }
    }
    None
}

/// `s.trim()`, without walking characters when `s` starts and ends with visible ASCII
/// (the usual path), which no trimming changes.
pub(crate) fn trimmed(s: &str) -> &str {
    let visible = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
    let bytes = s.as_bytes();
    if visible(bytes.first()) && visible(bytes.last()) {
        s
    } else {
        s.trim()
    }
}

/// The byte index of the first `b` in `s`.
fn position(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

impl PatchPath {
    /// Parses a path under the default [`ParseLimits`], with the extensions of
    /// [`SchemaSet::core`]. Errors are 400 `invalidPath`.
    pub fn parse(raw: &str) -> Result<Self, ScimError> {
        Self::parse_with_limits(raw, &ParseLimits::default(), SchemaSet::core())
    }

    /// Parses a path bounded as filters are: a path longer than `limits.max_len` bytes is
    /// 400 `invalidPath` before anything is read from it, and its value filter is parsed
    /// under `limits` (length, nesting, terms). Extension URNs are those of `schemas`.
    pub fn parse_with_limits(
        raw: &str,
        limits: &ParseLimits,
        schemas: &SchemaSet,
    ) -> Result<Self, ScimError> {
        if raw.len() > limits.max_len {
            return Err(ScimError::InvalidPath(format!(
                "a PATCH path may be at most {} bytes long; this one is {}",
                limits.max_len,
                raw.len()
            )));
        }
        let s = trimmed(raw);
        if s.is_empty() {
            return Err(invalid(raw, "empty"));
        }
        if let Some(ext) = schemas.extension(s) {
            return Ok(Self {
                urn: Some(ext.id.into()),
                attribute: None,
                filter: None,
                sub_attribute: None,
            });
        }
        let (head, filter, tail) = match position(s, b'[') {
            Some(open) => {
                let close = closing_bracket(s, open).ok_or_else(|| invalid(raw, "unclosed '['"))?;
                let text = s.get(open + 1..close).unwrap_or_default();
                let f = filter::parse_with_limits(text, limits)
                    .map_err(|e| invalid(raw, &format!("bad value filter: {e}")))?;
                let tail = s.get(close + 1..).unwrap_or_default();
                (s.get(..open).unwrap_or_default(), Some(f), tail)
            }
            None => (s, None, ""),
        };
        // A URN prefix: everything up to the last ':' (attribute names contain none).
        let (urn, attr_part) = if starts_with_ci(head, "urn:") {
            let (u, name) = head
                .rsplit_once(':')
                .ok_or_else(|| invalid(raw, "URN without attribute"))?;
            let urn = if let Some(ext) = schemas.extension(u) {
                Some(ext.id.to_owned())
            } else if u.eq_ignore_ascii_case(USER_SCHEMA) {
                None
            } else {
                Some(u.to_owned())
            };
            (urn, name)
        } else {
            (None, head)
        };
        let (attribute, mut sub) = match position(attr_part, b'.') {
            Some(dot) => (
                attr_part.get(..dot).unwrap_or_default(),
                attr_part.get(dot + 1..),
            ),
            None => (attr_part, None),
        };
        if !tail.is_empty() {
            let t = tail
                .strip_prefix('.')
                .ok_or_else(|| invalid(raw, "unexpected text after ']'"))?;
            if sub.is_some() {
                return Err(invalid(raw, "a value path cannot follow a sub-attribute"));
            }
            sub = Some(t);
        } else if filter.is_some() && sub.is_some() {
            return Err(invalid(raw, "a value path cannot follow a sub-attribute"));
        }
        if !valid_name(attribute) {
            return Err(invalid(raw, "not an attribute name"));
        }
        if let Some(sub) = sub {
            if !valid_name(sub) {
                return Err(invalid(raw, "not a sub-attribute name"));
            }
        }
        // A value filter may not test what a client cannot read (400 invalidFilter).
        if let Some(f) = &filter {
            if let Some(def) = schemas.attribute(urn.as_deref(), attribute) {
                filter::check_readable_in(f, def)?;
            }
        }
        Ok(Self {
            urn,
            attribute: Some(attribute.to_owned()),
            filter,
            sub_attribute: sub.map(str::to_owned),
        })
    }
}

impl PatchPath {
    /// The path a member of a path-less operation's value object targets (RFC 7644
    /// §3.5.2.1/3: each member is an attribute): an attribute name; an extension's URN
    /// (the whole extension); or, as [`Compatibility::dotted_pathless_keys`] allows, any
    /// path (`name.givenName`, `urn:...:User:employeeNumber`). The one reading of such
    /// keys, for the general and the typed PATCH paths.
    pub(super) fn for_pathless_key(
        key: &str,
        compat: &Compatibility,
        schemas: &SchemaSet,
    ) -> Result<Self, ScimError> {
        let parse = |raw: &str| Self::parse_with_limits(raw, &ParseLimits::default(), schemas);
        if compat.dotted_pathless_keys {
            parse(key)
        } else if let Some(ext) = schemas.extension(key) {
            parse(ext.id)
        } else {
            Ok(Self {
                urn: None,
                attribute: Some(key.to_owned()),
                filter: None,
                sub_attribute: None,
            })
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.urn, &self.attribute) {
            (Some(u), Some(a)) => write!(f, "{u}:{a}")?,
            (Some(u), None) => write!(f, "{u}")?,
            (None, Some(a)) => write!(f, "{a}")?,
            (None, None) => {}
        }
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_USER_SCHEMA;

    fn p(s: &str) -> PatchPath {
        PatchPath::parse(s).unwrap()
    }

    #[test]
    fn parses_every_path_shape() {
        let a = p("userName");
        assert_eq!(
            (a.urn, a.attribute.as_deref(), a.sub_attribute),
            (None, Some("userName"), None)
        );
        let b = p("name.givenName");
        assert_eq!(b.sub_attribute.as_deref(), Some("givenName"));
        let c = p(r#"emails[type eq "work"].value"#);
        assert_eq!(c.attribute.as_deref(), Some("emails"));
        assert!(c.filter.is_some());
        assert_eq!(c.sub_attribute.as_deref(), Some("value"));
        let d = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager");
        assert_eq!(d.urn.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(d.attribute.as_deref(), Some("manager"));
        let e = p("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:manager.value");
        assert_eq!(e.urn.as_deref(), Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(e.sub_attribute.as_deref(), Some("value"));
        let f = p("urn:ietf:params:scim:schemas:core:2.0:User:userName");
        assert_eq!((f.urn, f.attribute.as_deref()), (None, Some("userName")));
        let g = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
        assert_eq!(g.attribute, None);
        let h = p(r#"addresses[type eq "work" and value co "]"].streetAddress"#);
        assert_eq!(h.sub_attribute.as_deref(), Some("streetAddress"));
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "",
            "emails[type eq \"work\"",
            "emails[type zz \"work\"]",
            "emails[type eq \"work\"]value",
            "name.givenName[x eq 1]",
            "9lives",
            "a b",
            "emails[type eq \"work\"].",
        ] {
            assert!(
                matches!(PatchPath::parse(bad), Err(ScimError::InvalidPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_path_longer_than_the_limit_is_invalid_path() {
        let long = "a".repeat(65_536);
        let e = PatchPath::parse(&long).unwrap_err();
        assert!(
            matches!(&e, ScimError::InvalidPath(m) if m.len() < 200),
            "{e:?}"
        );
        let parse = |path: &str, limits: ParseLimits| {
            PatchPath::parse_with_limits(path, &limits, crate::schema::SchemaSet::core())
        };
        let short = ParseLimits {
            max_len: 16,
            ..ParseLimits::default()
        };
        assert!(parse("name.givenName", short).is_ok());
        assert!(matches!(
            parse("name.honorificPrefix", short),
            Err(ScimError::InvalidPath(_))
        ));
        let shallow = ParseLimits {
            max_depth: 2,
            ..ParseLimits::default()
        };
        assert!(matches!(
            parse("emails[not (not (not (type pr)))].value", shallow),
            Err(ScimError::InvalidPath(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "userName",
            "name.givenName",
            "emails[type eq \"work\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ] {
            assert_eq!(p(&p(s).to_string()), p(s), "{s}");
        }
    }

    proptest::proptest! {
        /// The quick trim is `str::trim`, whatever the ends are (ASCII or Unicode spaces,
        /// controls, letters).
        #[test]
        fn trimming_quickly_is_trimming(s in "[ \t\n\u{0b}\u{0c}\r\u{85}\u{a0}\u{2003}\u{3000}\u{1c}\u{7f}a-z\\[\\]\"é]{0,8}") {
            proptest::prop_assert_eq!(trimmed(&s), s.trim());
        }
    }
}
