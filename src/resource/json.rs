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

/// A visitor used as a seed: reads any JSON value with it (`deserialize_any`), so that a
/// visitor needs no `DeserializeSeed` of its own.
pub(crate) struct Any<V>(pub(crate) V);

impl<'de, V: Visitor<'de>> de::DeserializeSeed<'de> for Any<V> {
    type Value = V::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0)
    }
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
/// and so is an object of more than 32 members. Names are kept as hashes of their ASCII
/// lower case, inline: no allocation, nothing to drop. Equal names in any letter case
/// have equal hashes, so every repeat is caught; two different names with one hash are
/// declined too, which only sends the body to the general path.
#[derive(Default)]
pub(crate) struct Seen {
    hashes: [u64; 32],
    len: usize,
    /// One bit per hash (its low six bits): a name whose bit is clear is new, unsearched.
    bits: u64,
}

impl Seen {
    pub(crate) fn first<E: de::Error>(&mut self, key: &Key<'_>) -> Result<(), E> {
        let hash = fold_hash(key.0.as_bytes());
        let bit = 1u64 << (hash & 63);
        if self.bits & bit != 0
            && self
                .hashes
                .get(..self.len)
                .unwrap_or_default()
                .contains(&hash)
        {
            return Err(decline());
        }
        self.bits |= bit;
        let slot = self.hashes.get_mut(self.len).ok_or_else(decline)?;
        *slot = hash;
        self.len += 1;
        Ok(())
    }
}

/// A hash of `name` that ignores ASCII letter case (FNV-1a over the bytes with their 0x20
/// bit set, which folds `A`-`Z` onto `a`-`z`, and a few other pairs onto each other: such
/// a pair is only a false repeat).
fn fold_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b | 0x20)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A member value a fast path ignores: read and checked as [`Strict`] reads it (the same
/// JSON grammar, strings decoded, numbers parsed), without building it. A repeated name
/// in a nested object, in any letter case, is declined ([`Seen`]), so that the general
/// path gives the error where [`Strict`] would.
pub(crate) struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skipped)
    }
}

impl<'de> Visitor<'de> for Skipped {
    type Value = Skipped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_unit<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_none<E>(self) -> Result<Skipped, E> {
        Ok(Skipped)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skipped, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Skipped)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skipped, A::Error> {
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            map.next_value::<Skipped>()?;
        }
        Ok(Skipped)
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

    fn skipped(text: &str) -> bool {
        serde_json::from_str::<Skipped>(text).is_ok()
    }
    fn strict(text: &str) -> bool {
        serde_json::from_str::<Strict>(text).is_ok()
    }

    #[test]
    fn a_repeated_name_in_any_letter_case_is_declined() {
        let key = |k: &'static str| Key(Cow::Borrowed(k));
        let mut seen = Seen::default();
        for name in ["userName", "emails", "name", "Operations"] {
            assert!(seen.first::<serde_json::Error>(&key(name)).is_ok());
        }
        for repeat in ["username", "EMAILS", "Name", "operations", "userName"] {
            assert!(
                seen.first::<serde_json::Error>(&key(repeat)).is_err(),
                "{repeat}"
            );
        }
        let mut full = Seen::default();
        let names: Vec<String> = (0..33).map(|i| format!("member{i}")).collect();
        let results: Vec<bool> = names
            .iter()
            .map(|n| {
                full.first::<serde_json::Error>(&Key(Cow::Borrowed(n)))
                    .is_ok()
            })
            .collect();
        assert!(results[..32].iter().all(|ok| *ok), "32 distinct names fit");
        assert!(!results[32], "the 33rd is declined");
    }

    #[test]
    fn a_skipped_value_is_read_as_strict_reads_it() {
        for text in [
            r#"{"a": [1, -2, 3.5, "x\u00e9", null, true, {"b": {}}]}"#,
            r#"[[], {}, "", 0, -0.0, 1e10]"#,
            r#""just a string""#,
        ] {
            assert!(skipped(text) && strict(text), "{text}");
        }
        for bad in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": [{"b": 1, "B": 2}]}"#,
            r#"{"n": 1e400}"#,
            r#"{"s": "\ud800"}"#,
            r#"{"a": "#,
            "[1,]",
        ] {
            assert!(!skipped(bad), "{bad}");
        }
    }

    fn json_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z\\n\"\\\\é]{0,4}".prop_map(Value::String),
        ];
        let value = leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (proptest::sample::select(vec!["a", "A", "b", "ü"]), inner),
                    0..4
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        });
        // Text edits the serializer never makes: a repeated member, a huge number, a
        // lone surrogate, a trailing comma.
        (value, 0..6usize, any::<proptest::sample::Index>()).prop_map(|(v, edit, at)| {
            let mut text = v.to_string();
            let spots: Vec<usize> = text.match_indices('{').map(|(i, _)| i + 1).collect();
            if spots.is_empty() {
                return text;
            }
            let spot = spots[at.index(spots.len())];
            let insert = match edit {
                0 => r#""b":1,"b":2,"#,
                1 => r#""n":1e400,"#,
                2 => r#""s":"\ud800","#,
                3 => r#""b":[1,],"#,
                _ => "",
            };
            text.insert_str(spot, insert);
            text
        })
    }

    proptest::proptest! {
        /// Skipping never accepts what the strict reader refuses, and accepts everything
        /// it reads whose objects repeat no name in any letter case.
        #[test]
        fn skipping_accepts_what_the_strict_reader_reads(text in json_text()) {
            if skipped(&text) {
                proptest::prop_assert!(strict(&text), "{}", text);
            } else if strict(&text) {
                // Only a name repeated in another letter case may be declined.
                proptest::prop_assert!(text.contains("\"A\"") && text.contains("\"a\""), "{}", text);
            }
        }
    }
}
