//! The fast path of [`PatchRequest::parse`]: a `PatchOp` body read straight into
//! operations, without building a JSON tree of the message first (only each operation's
//! `value` is one).
//!
//! Like the User reader ([`crate::resource::input::parse_user`]), it declines (`None`)
//! whatever it does not read exactly as [`PatchRequest::from_value`] does (a repeated
//! member name in any letter case, a missing or malformed `op`, `path` or `value`, an
//! empty `Operations`, malformed JSON), and the caller then reads the body the general
//! way, which produces the request or the precise error.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{PatchOpKind, PatchOperation, PatchPath, PatchRequest, parse_op};
use crate::compat::Compatibility;
use crate::filter::ParseLimits;
use crate::resource::json::{Key, Seen, Skipped, Strict, decline};
use crate::schema::SchemaSet;

/// [`read_request_with_limits`] under the default limits (for tests).
#[cfg(test)]
pub(super) fn read_request(body: &[u8], compat: &Compatibility) -> Option<PatchRequest> {
    read_request_with_limits(body, compat, &ParseLimits::default(), SchemaSet::core())
}

/// Reads `body` with every `path` bounded by `limits`, or `None` when the general path
/// must decide (a path past the limits included: the general path refuses it).
pub(super) fn read_request_with_limits(
    body: &[u8],
    compat: &Compatibility,
    limits: &ParseLimits,
    schemas: &SchemaSet,
) -> Option<PatchRequest> {
    // UTF-8 checked once for the whole body, not string by string (a body that is not
    // UTF-8 is the general path's to refuse).
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let operations = Message {
        compat,
        limits,
        schemas,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(PatchRequest { operations })
}

/// The message object: `Operations` is read and `schemas` checked.
struct Message<'a> {
    compat: &'a Compatibility,
    limits: &'a ParseLimits,
    schemas: &'a SchemaSet,
}

impl<'de> DeserializeSeed<'de> for Message<'_> {
    type Value = Vec<PatchOperation>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Message<'_> {
    type Value = Vec<PatchOperation>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PatchOp message")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Seen::default();
        let mut operations = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            if key.0.eq_ignore_ascii_case("Operations") {
                operations = Some(map.next_value_seed(Operations {
                    compat: self.compat,
                    limits: self.limits,
                    schemas: self.schemas,
                })?);
            } else if key.0.eq_ignore_ascii_case("schemas") {
                let Strict(value) = map.next_value()?;
                crate::resource::input::check_patch_schemas(&value)
                    .map_err(|_| decline::<A::Error>())?;
            } else {
                map.next_value::<Skipped>()?;
            }
        }
        match operations {
            Some(ops) if !ops.is_empty() => Ok(ops),
            _ => Err(decline()),
        }
    }
}

/// The `Operations` array.
struct Operations<'a> {
    compat: &'a Compatibility,
    limits: &'a ParseLimits,
    schemas: &'a SchemaSet,
}

impl<'de> DeserializeSeed<'de> for Operations<'_> {
    type Value = Vec<PatchOperation>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Operations<'_> {
    type Value = Vec<PatchOperation>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of operations")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        // Each operation is pushed by its own visitor: moved once, not returned through
        // serde's layers (an operation is a few hundred bytes).
        while seq
            .next_element_seed(Operation {
                compat: self.compat,
                limits: self.limits,
                schemas: self.schemas,
                out: &mut out,
            })?
            .is_some()
        {}
        Ok(out)
    }
}

/// One operation object, pushed onto `out`.
struct Operation<'a> {
    compat: &'a Compatibility,
    limits: &'a ParseLimits,
    schemas: &'a SchemaSet,
    out: &'a mut Vec<PatchOperation>,
}

impl<'de> DeserializeSeed<'de> for Operation<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Operation<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operation")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut seen = Seen::default();
        let mut op = None;
        let mut path = None;
        let mut value = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            seen.first(&key)?;
            let name = &key.0;
            if name.eq_ignore_ascii_case("op") {
                let text = map.next_value::<Key<'de>>()?;
                op = Some(parse_op(&text.0, self.compat).ok_or_else(decline)?);
            } else if name.eq_ignore_ascii_case("path") {
                map.next_value_seed(Path(&mut path, self.limits, self.schemas))?;
            } else if name.eq_ignore_ascii_case("value") {
                value = Some(map.next_value::<Strict>()?.0);
            } else {
                map.next_value::<Skipped>()?;
            }
        }
        let op = op.ok_or_else(decline)?;
        let needs_path = op == PatchOpKind::Remove;
        if (needs_path && path.is_none()) || (!needs_path && value.is_none()) {
            return Err(decline());
        }
        self.out.push(PatchOperation { op, path, value });
        Ok(())
    }
}

/// A `path` member, written into its slot: `null` and blank strings are no path; other
/// strings are parsed.
struct Path<'a>(&'a mut Option<PatchPath>, &'a ParseLimits, &'a SchemaSet);

impl<'de> DeserializeSeed<'de> for Path<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for Path<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a path")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        *self.0 = None;
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        *self.0 = if super::path::trimmed(v).is_empty() {
            None
        } else {
            Some(PatchPath::parse_with_limits(v, self.1, self.2).map_err(|_| decline())?)
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::read_request;
    use crate::compat::Compatibility;
    use crate::patch::PatchRequest;
    use crate::resource::json::parse_body;

    fn member(i: usize) -> (&'static str, Value) {
        match i % 20 {
            0 => ("op", json!("add")),
            1 => ("op", json!("Replace")),
            2 => ("op", json!("remove")),
            3 => ("Op", json!("REPLACE")),
            4 => ("op", json!("bogus")),
            5 => ("op", json!(3)),
            6 => ("path", json!("name.familyName")),
            7 => ("path", json!("emails[type eq \"work\"].value")),
            8 => ("PATH", json!("  ")),
            9 => ("path", json!(null)),
            10 => ("path", json!(5)),
            11 => ("path", json!("emails[type eq")),
            12 => (
                "path",
                json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            ),
            13 => ("value", json!("x")),
            14 => ("value", json!(null)),
            15 => ("Value", json!({"active": false, "x": {"a": 1}})),
            16 => (
                "value",
                json!([{"value": "a@example.com", "primary": true}]),
            ),
            17 => ("extra", json!([1, {"b": 2}])),
            18 => ("OP", json!("add")),
            _ => ("value", json!("True")),
        }
    }

    fn message() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(proptest::collection::vec(any::<usize>(), 0..5), 0..4),
            0..8usize,
            proptest::option::of(0..4usize),
        )
            .prop_map(|(ops, shape, duplicate)| {
                let ops: Vec<Value> = ops
                    .into_iter()
                    .map(|members| {
                        let mut o = serde_json::Map::new();
                        for m in members {
                            let (k, v) = member(m);
                            o.insert(k.to_owned(), v);
                        }
                        Value::Object(o)
                    })
                    .collect();
                let doc = match shape {
                    0 => json!({"Operations": ops}),
                    1 => json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "operations": ops}),
                    2 => json!({"Operations": ops, "OPERATIONS": []}),
                    3 => json!({"Operations": {"op": "add"}}),
                    4 => json!(ops),
                    5 => json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": ops}),
                    6 => json!({"schemas": "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations": ops}),
                    _ => json!({"schemas": [], "Operations": ops}),
                };
                let mut text = doc.to_string();
                if let (Some(d), Some(at)) = (duplicate, text.find("{\"op")) {
                    let dup = ["\"op\":\"add\",", "\"path\":null,", "\"x\":1,\"x\":2,", "\"value\":1,"][d];
                    text.insert_str(at + 1, dup);
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
        ))]

        /// Whenever the fast reader reads a message, the general reader reads the same.
        #[test]
        fn the_fast_patch_reader_never_disagrees_with_the_general_one(text in message()) {
            for compat in [Compatibility::default(), Compatibility::strict()] {
                if let Some(fast) = read_request(text.as_bytes(), &compat) {
                    let general = parse_body(text.as_bytes())
                        .and_then(|v| PatchRequest::from_value(v, &compat));
                    prop_assert_eq!(Ok(fast), general.map_err(|e| format!("{e:?}")), "{}", text);
                }
            }
        }
    }

    #[test]
    fn messages_of_identity_providers_take_the_fast_path() {
        let compat = Compatibility::default();
        for body in [
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "value": {"active": false}}]}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a@example.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Jensen"},
                {"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": [{"value": "m-1"}]}
            ]}),
        ] {
            let bytes = serde_json::to_vec(&body).unwrap();
            let fast = read_request(&bytes, &compat).expect("the fast path reads it");
            assert_eq!(fast, PatchRequest::from_value(body, &compat).unwrap());
        }
        for declined in [
            &br#"{"Operations": []}"#[..],
            br#"{"Operations": [{"op": "remove"}]}"#,
            br#"{"Operations": [{"op": "add", "path": "x"}]}"#,
            br#"{"Operations": [{"op": "add", "OP": "add", "value": 1}]}"#,
            br#"{"Operations": [{"op": "add", "path": "a[", "value": 1}]}"#,
        ] {
            assert!(read_request(declined, &compat).is_none());
        }
    }

    #[test]
    fn schemas_without_the_patch_op_urn_are_invalid_syntax_on_both_readers() {
        let ops = json!([{"op": "replace", "path": "active", "value": false}]);
        for schemas in [
            json!(["urn:ietf:params:scim:schemas:core:2.0:User"]),
            json!("urn:ietf:params:scim:api:messages:2.0:PatchOp"),
            json!([1]),
        ] {
            let body = json!({"schemas": schemas, "Operations": ops});
            let bytes = serde_json::to_vec(&body).unwrap();
            assert!(read_request(&bytes, &Compatibility::default()).is_none());
            assert!(matches!(
                PatchRequest::parse(&bytes, &Compatibility::default()),
                Err(crate::ScimError::InvalidSyntax(_))
            ));
        }
        // Absent (Databricks' SDK, Gluu), empty, or the PatchOp URN in any letter case.
        for body in [
            json!({"Operations": ops}),
            json!({"schemas": [], "Operations": ops}),
            json!({"schemas": ["URN:ietf:params:scim:api:messages:2.0:patchop"], "Operations": ops}),
        ] {
            let bytes = serde_json::to_vec(&body).unwrap();
            assert!(
                read_request(&bytes, &Compatibility::strict()).is_some(),
                "{body}"
            );
        }
    }
}
