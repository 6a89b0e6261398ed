//! The `PatchOp` reader: one reading of the message, over any serde [`Deserializer`].
//!
//! [`PatchRequest::parse`] runs it straight over the body's bytes, without building a JSON
//! tree of the message first (only each operation's `value` is one); [`from_value`] runs it
//! over a parsed [`Value`]. What the message means, and which error a bad one gets, is
//! decided here once for both. The errors are those of the members in the order a parsed
//! `Value` holds them (a member's own error, such as a bad `schemas` or a repeated
//! `Operations`, at once; the errors of the operations after every member is read), so a
//! body read from its bytes is only taken as it is when it reads without any problem
//! (`exact`: a repeated member name in any letter case, malformed JSON, an invalid
//! operation); otherwise [`PatchRequest::parse`] parses the body (`parse_body`, which
//! refuses what JSON does not allow) and reads that, which gives the error.
//!
//! [`from_value`]: PatchRequest::from_value

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{PatchOpKind, PatchOperation, PatchPath, PatchRequest, parse_op};
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::filter::ParseLimits;
use crate::resource::json::{Any, Key, Seen, Skipped, Strict};
use crate::schema::SchemaSet;

/// What a message is read with.
#[derive(Clone, Copy)]
pub(super) struct Reader<'a> {
    compat: &'a Compatibility,
    limits: &'a ParseLimits,
    schemas: &'a SchemaSet,
    /// Reading bytes: any repeated member name (in any letter case) is a problem, which
    /// sends the body to `parse_body` (a parsed `Value` holds no exact repeats).
    exact: bool,
}

/// A member's outcome: read (`Ok`), or the error it makes the message (`Err`).
type Outcome<T> = Result<T, ScimError>;

impl<'a> Reader<'a> {
    /// Reads with the client dialects `compat` allows, every `path` bounded by `limits`
    /// and resolved against `schemas`.
    pub(super) fn new(
        compat: &'a Compatibility,
        limits: &'a ParseLimits,
        schemas: &'a SchemaSet,
    ) -> Self {
        Self {
            compat,
            limits,
            schemas,
            exact: false,
        }
    }

    /// The operations of the message `d` holds; `Err` when `d` is not JSON as serde reads it
    /// (or, when `exact`, has a repeated member name).
    pub(super) fn read<'de, D: Deserializer<'de>>(
        self,
        d: D,
    ) -> Result<Outcome<PatchRequest>, D::Error> {
        d.deserialize_any(Message(self))
            .map(|r| r.map(|operations| PatchRequest { operations }))
    }

    /// Reads `body` as bytes: the request, or `None` when the body has any problem at all
    /// (see the module documentation).
    pub(super) fn read_bytes(self, body: &[u8]) -> Option<PatchRequest> {
        // UTF-8 checked once for the whole body, not string by string.
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let request = Reader {
            exact: true,
            ..self
        }
        .read(&mut de)
        .ok()?
        .ok()?;
        de.end().ok()?;
        Some(request)
    }

    /// Reads a member's value nobody asks for.
    fn skip<'de, A: MapAccess<'de>>(self, map: &mut A) -> Result<(), A::Error> {
        if self.exact {
            map.next_value::<Skipped>()?;
        } else {
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    /// Reads the rest of an object whose outcome is decided.
    fn drain<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            self.skip(&mut map)?;
        }
        Ok(())
    }

    /// Reads a member name, refused when `exact` and repeated.
    fn key<'de, A: MapAccess<'de>>(
        self,
        map: &mut A,
        seen: &mut Seen,
    ) -> Result<Option<Key<'de>>, A::Error> {
        let key = map.next_key::<Key<'de>>()?;
        if let (true, Some(k)) = (self.exact, &key) {
            seen.first(k)?;
        }
        Ok(key)
    }
}

/// The visits of numbers and booleans, which no reader takes: each is `$other`
/// (`$s`: the visitor, `self`).
macro_rules! scalars {
    ($s:ident, $value:ty, $other:expr) => {
        fn visit_bool<E>($s, _: bool) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_i64<E>($s, _: i64) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_u64<E>($s, _: u64) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_f64<E>($s, _: f64) -> Result<$value, E> {
            Ok($other)
        }
    };
}

/// The visits of `null`, strings and arrays, for a reader of objects: each is `$other`.
macro_rules! not_objects {
    ($s:ident, $value:ty, $other:expr) => {
        scalars!($s, $value, $other);
        fn visit_unit<E>($s) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_str<E>($s, _: &str) -> Result<$value, E> {
            Ok($other)
        }
        fn visit_seq<A: SeqAccess<'de>>($s, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

/// The message object: `schemas` checked, `Operations` read.
struct Message<'a>(Reader<'a>);

impl<'de> Visitor<'de> for Message<'_> {
    type Value = Outcome<Vec<PatchOperation>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PatchOp message")
    }
    not_objects!(self, Self::Value, Err(not_an_object()));
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let reader = self.0;
        let mut seen = Seen::default();
        let mut operations = None;
        while let Some(key) = reader.key(&mut map, &mut seen)? {
            let failed = if key.0.eq_ignore_ascii_case("schemas") {
                let Strict(value) = map.next_value()?;
                check_patch_schemas(&value).err()
            } else if key.0.eq_ignore_ascii_case("Operations") {
                if operations.is_some() {
                    map.next_value::<IgnoredAny>()?;
                    Some(ScimError::InvalidSyntax(
                        "\"Operations\" is given more than once".into(),
                    ))
                } else {
                    operations = Some(map.next_value_seed(Any(Operations(reader)))?);
                    None
                }
            } else {
                reader.skip(&mut map)?;
                None
            };
            if let Some(e) = failed {
                reader.drain(map)?;
                return Ok(Err(e));
            }
        }
        Ok(match operations {
            Some(Some(Ok(ops))) if ops.is_empty() => Err(ScimError::InvalidSyntax(
                "\"Operations\" must hold at least one operation".into(),
            )),
            Some(Some(ops)) => ops,
            _ => Err(ScimError::InvalidSyntax(
                "a PatchOp request needs an \"Operations\" array".into(),
            )),
        })
    }
}

fn not_an_object() -> ScimError {
    ScimError::InvalidSyntax("a PatchOp request must be a JSON object".into())
}

/// The `Operations` member: `None` when it is not an array.
struct Operations<'a>(Reader<'a>);

impl<'de> Visitor<'de> for Operations<'_> {
    type Value = Option<Outcome<Vec<PatchOperation>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of operations")
    }
    scalars!(self, Self::Value, None);
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.drain(map)?;
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        let mut failed = None;
        while failed.is_none() {
            // Each operation is pushed by its own visitor: moved once, not returned
            // through serde's layers (an operation is a few hundred bytes).
            let index = out.len();
            let op = Operation {
                reader: self.0,
                index,
                out: &mut out,
            };
            match seq.next_element_seed(Any(op))? {
                None => return Ok(Some(Ok(out))),
                Some(result) => failed = result.err(),
            }
        }
        // The first failing operation decides; the others are only read.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(failed.map(Err))
    }
}

/// One operation object, pushed onto `out` when it is valid.
struct Operation<'a, 'o> {
    reader: Reader<'a>,
    index: usize,
    out: &'o mut Vec<PatchOperation>,
}

impl<'de> Visitor<'de> for Operation<'_, '_> {
    type Value = Outcome<()>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operation")
    }
    not_objects!(self, Self::Value, Err(self.not_an_object()));
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (reader, index) = (self.reader, self.index);
        let mut seen = Seen::default();
        let mut op = None;
        let mut path = None;
        let mut value = None;
        while let Some(key) = reader.key(&mut map, &mut seen)? {
            let name = &key.0;
            let repeated = if name.eq_ignore_ascii_case("op") {
                op.replace(map.next_value::<Raw<'de>>()?).is_some()
            } else if name.eq_ignore_ascii_case("path") {
                path.replace(map.next_value::<Raw<'de>>()?).is_some()
            } else if name.eq_ignore_ascii_case("value") {
                value.replace(map.next_value::<Strict>()?.0).is_some()
            } else {
                reader.skip(&mut map)?;
                false
            };
            if repeated {
                reader.drain(map)?;
                return Ok(Err(ScimError::InvalidSyntax(format!(
                    "operation {index}: {name:?} is given more than once"
                ))));
            }
        }
        Ok(operation(reader, index, op, path, value).map(|op| self.out.push(op)))
    }
}

impl Operation<'_, '_> {
    fn not_an_object(&self) -> ScimError {
        ScimError::InvalidSyntax(format!("operation {} must be a JSON object", self.index))
    }
}

/// The operation the members `op`, `path` and `value` of operation `index` make.
fn operation(
    reader: Reader<'_>,
    index: usize,
    op: Option<Raw<'_>>,
    path: Option<Raw<'_>>,
    value: Option<Value>,
) -> Outcome<PatchOperation> {
    let op = match op {
        Some(Raw::Str(s)) => parse_op(&s, reader.compat).ok_or_else(|| {
            ScimError::InvalidSyntax(format!(
                "operation {index}: unknown op {s:?}; expected add, remove or replace"
            ))
        })?,
        _ => {
            return Err(ScimError::InvalidSyntax(format!(
                "operation {index} needs an \"op\" string"
            )));
        }
    };
    let path = match path {
        None | Some(Raw::Null) => None,
        Some(Raw::Str(s)) if super::path::trimmed(&s).is_empty() => None,
        Some(Raw::Str(s)) => Some(PatchPath::parse_with_limits(
            &s,
            reader.limits,
            reader.schemas,
        )?),
        Some(Raw::Other) => {
            return Err(ScimError::InvalidPath(format!(
                "operation {index}: \"path\" must be a string"
            )));
        }
    };
    if path.is_none() && op == PatchOpKind::Remove {
        return Err(ScimError::NoTarget(format!(
            "operation {index}: remove needs a \"path\""
        )));
    }
    if op != PatchOpKind::Remove && value.is_none() {
        return Err(ScimError::InvalidValue(format!(
            "operation {index}: {} needs a \"value\"",
            op.as_str()
        )));
    }
    Ok(PatchOperation { op, path, value })
}

/// An `op` or `path` member: a string (borrowed from the body when it has no escapes),
/// `null`, or anything else.
enum Raw<'de> {
    Str(Cow<'de, str>),
    Null,
    Other,
}

impl<'de> serde::Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    scalars!(self, Raw<'de>, Raw::Other);
    fn visit_unit<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Other)
    }
}

/// The `schemas` member of a PatchOp message: absent (`null`, `[]`) or a list of strings
/// that includes the PatchOp URN (in any letter case); anything else is 400
/// `invalidSyntax`.
fn check_patch_schemas(value: &Value) -> Result<(), ScimError> {
    let not_a_list = || ScimError::InvalidSyntax("schemas must be a list of URN strings".into());
    let urns: Vec<&str> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(not_a_list))
            .collect::<Result<_, _>>()?,
        _ => return Err(not_a_list()),
    };
    if urns.is_empty()
        || urns
            .iter()
            .any(|u| u.eq_ignore_ascii_case(crate::schema::PATCH_OP_SCHEMA))
    {
        Ok(())
    } else {
        Err(ScimError::InvalidSyntax(format!(
            "schemas of a PATCH request must include {:?}",
            crate::schema::PATCH_OP_SCHEMA
        )))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::Reader;
    use crate::filter::ParseLimits;
    use crate::schema::SchemaSet;

    /// The bytes reader alone: the request, or `None` when the body has a problem.
    fn read_request(body: &[u8], compat: &Compatibility) -> Option<PatchRequest> {
        Reader::new(compat, &ParseLimits::default(), SchemaSet::core()).read_bytes(body)
    }
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

        /// Whenever the reader takes a message from its bytes, it reads the same from the
        /// parsed body; and reading the bytes gives what reading the parsed body gives,
        /// the same request or the same error.
        #[test]
        fn the_fast_patch_reader_never_disagrees_with_the_general_one(text in message()) {
            for compat in [Compatibility::default(), Compatibility::strict()] {
                let general = parse_body(text.as_bytes())
                    .and_then(|v| PatchRequest::from_value(v, &compat))
                    .map_err(|e| format!("{e:?}"));
                if let Some(fast) = read_request(text.as_bytes(), &compat) {
                    prop_assert_eq!(Ok(fast), general.clone(), "{}", text);
                }
                let parsed = PatchRequest::parse(text.as_bytes(), &compat);
                prop_assert_eq!(parsed.map_err(|e| format!("{e:?}")), general, "{}", text);
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
