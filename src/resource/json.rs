//! Strict JSON reading for request bodies: like `serde_json::from_slice` into a
//! [`Value`], but a duplicate member name in any object is an error. With duplicates the
//! meaning of a body is ambiguous (`{"userName": "a", "userName": "b"}`), and parsers
//! disagree on which one wins, so scimkit refuses them (400 `invalidSyntax`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ScimError;

/// Parses a request body; malformed JSON and duplicate member names are 400
/// `invalidSyntax`.
pub fn parse_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice::<Strict>(body)
        .map(|s| s.0)
        .map_err(|e| ScimError::InvalidSyntax(format!("request body is not valid JSON: {e}")))
}

/// A JSON value read with duplicate member names refused.
pub(crate) struct Strict(pub(crate) Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate member {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// The error of a fast path that declines a body: "let the general path decide" (the
/// fast readers of users and PATCH requests return `None` on it).
pub(crate) fn decline<E: de::Error>() -> E {
    E::custom("declined by the fast path")
}

/// A map key, borrowed from the body when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The names met in one object, for fast paths: a repeated name, in any letter case, is
/// declined (the general path refuses exact repeats and merges or refuses case variants),
/// and so is an object of more than 32 members. Kept inline: no allocation.
#[derive(Default)]
pub(crate) struct Seen<'de> {
    names: [Option<Cow<'de, str>>; 32],
    len: usize,
}

impl<'de> Seen<'de> {
    pub(crate) fn first<E: de::Error>(&mut self, key: &Key<'de>) -> Result<(), E> {
        let met = self.names.get(..self.len).unwrap_or_default();
        if met.iter().flatten().any(|n| n.eq_ignore_ascii_case(&key.0)) {
            return Err(decline());
        }
        let slot = self.names.get_mut(self.len).ok_or_else(decline)?;
        *slot = Some(key.0.clone());
        self.len += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_but_refuses_duplicate_members() {
        let v = parse_body(br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}]}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": [1, -2, 3.5, "x", null, true, {"b": {}}]})
        );
        for bad in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"x": {"a": 1, "a": 1}}"#,
            br#"[{"op": "add", "op": "remove"}]"#,
            br#"{"a": "#,
            br#"{"n": 1e400}"#,
        ] {
            assert!(matches!(parse_body(bad), Err(ScimError::InvalidSyntax(_))));
        }
        let deep = "[".repeat(10_000);
        assert!(matches!(
            parse_body(deep.as_bytes()),
            Err(ScimError::InvalidSyntax(_))
        ));
    }
}
