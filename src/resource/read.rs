//! The one reader of User request bodies: serde visitors driven by the schema definitions
//! (`schema.rs`, the server's [`SchemaSet`]) that fill the typed [`User`] through its
//! attribute table (`fields.rs`), or, for extension attributes and PATCH values, build
//! the canonical JSON of one attribute. The same visitors read a body's text as it
//! streams (no JSON tree is built) and an already-parsed [`serde_json::Value`]; the
//! rules they apply are listed in [`super::input`].
//!
//! Errors are decided here, precisely, without stopping: a visitor that meets a problem
//! records it in the [`Ctx`] and reads on, so that malformed JSON anywhere in the body
//! is still found (and wins: it is 400 `invalidSyntax` whatever else is wrong). Of the
//! problems met, the first `invalidSyntax` one (a name given twice, a bad `schemas`)
//! wins over values of the wrong type, and otherwise the first met.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::CompactString;
use super::fields::{Attributes, MemberMut};
use super::json::Key;
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::schema::{AttributeDef, AttributeType, Mutability, SchemaSet};

/// What a read is done with: the policy, the schemas, and the first problem met.
pub(crate) struct Ctx<'a> {
    compat: &'a Compatibility,
    schemas: &'a SchemaSet,
    /// Whether a member name can be repeated exactly in an object (JSON text can, a
    /// parsed `Value` cannot): the repeats are then looked for.
    text: bool,
    problem: RefCell<Option<ScimError>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(compat: &'a Compatibility, schemas: &'a SchemaSet, text: bool) -> Self {
        Self {
            compat,
            schemas,
            text,
            problem: RefCell::new(None),
        }
    }

    /// Records a problem: the first `invalidSyntax` one, or else the first one, is kept.
    fn fail(&self, e: ScimError) {
        let mut problem = self.problem.borrow_mut();
        let keep = match &*problem {
            None => true,
            Some(ScimError::InvalidSyntax(_)) => false,
            Some(_) => matches!(e, ScimError::InvalidSyntax(_)),
        };
        if keep {
            *problem = Some(e);
        }
    }

    fn wrong(&self, path: &dyn fmt::Display, expected: &str) {
        self.fail(ScimError::InvalidValue(format!(
            "attribute {path} must be {expected}"
        )));
    }

    fn twice(&self, path: &dyn fmt::Display) {
        self.fail(ScimError::InvalidSyntax(format!(
            "attribute {path} is given more than once (attribute names are case-insensitive)"
        )));
    }

    /// The outcome of a read: malformed JSON (the deserializer's error) first, then the
    /// problem recorded, then the value.
    pub(crate) fn finish<T, E: fmt::Display>(self, read: Result<T, E>) -> Result<T, ScimError> {
        let value = read.map_err(|e| {
            ScimError::InvalidSyntax(format!("request body is not valid JSON: {e}"))
        })?;
        match self.problem.into_inner() {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }

    /// Whether a complex attribute named so takes a plain string or a one-element array
    /// for its object (the Enterprise manager: Entra ID, OneLogin).
    fn manager(&self, def: &AttributeDef) -> bool {
        self.compat.manager_as_string && def.name == "manager"
    }
}

/// A JSON value as met: scalars as they are, arrays and objects by kind only.
pub(crate) enum Met<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(&'a str),
    Array,
    Object,
}

impl<'a> Met<'a> {
    pub(crate) fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::Str(s),
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Null | Self::Array | Self::Object => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String((*s).to_owned()),
        }
    }
}

/// How a value of a simple attribute (neither complex nor multi-valued) reads.
pub(crate) enum Simple {
    /// As it is.
    AsIs,
    /// As this boolean (`"True"` for a boolean attribute, as the policy allows).
    Bool(bool),
    /// As absent (`null`).
    Absent,
}

/// Reads `met` as a value of the simple attribute `def`: the one table of which JSON
/// values each type takes; `Err` says what the value must be.
pub(crate) fn simple(
    def: &AttributeDef,
    met: &Met<'_>,
    compat: &Compatibility,
) -> Result<Simple, &'static str> {
    match (def.kind, met) {
        (_, Met::Null) => Ok(Simple::Absent),
        (AttributeType::Complex, _) => Err("a JSON object"),
        (AttributeType::Boolean, Met::Bool(_)) => Ok(Simple::AsIs),
        // Compatibility: `"active": "True"` (Entra, OneLogin, JumpCloud).
        (AttributeType::Boolean, Met::Str(s)) if compat.string_booleans => {
            crate::compat::string_boolean(s)
                .map(Simple::Bool)
                .ok_or("a boolean")
        }
        (AttributeType::Boolean, _) => Err("a boolean"),
        (AttributeType::Integer, Met::Number(n)) if n.is_i64() || n.is_u64() => Ok(Simple::AsIs),
        (AttributeType::Integer, _) => Err("an integer"),
        (AttributeType::Decimal, Met::Number(_)) => Ok(Simple::AsIs),
        (AttributeType::Decimal, _) => Err("a number"),
        (AttributeType::DateTime, Met::Str(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|_| Simple::AsIs)
            .map_err(|_| "an RFC 3339 dateTime"),
        (AttributeType::DateTime, _) => Err("an RFC 3339 dateTime string"),
        (_, Met::Str(s)) if s.contains('\0') => Err("a string without NUL characters"),
        (_, Met::Str(_)) => Ok(Simple::AsIs),
        (_, _) => Err("a string"),
    }
}

/// A reader of one JSON value: scalars come as [`Met`]; an array or an object is, unless
/// the reader takes it, read through (checked, ignored) and then met by kind.
trait Read<'de>: Sized {
    type Out;
    fn ctx(&self) -> &Ctx<'_>;
    fn met(self, met: Met<'_>) -> Self::Out;
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element_seed(Seed(Ignored(self.ctx())))?.is_some() {}
        Ok(self.met(Met::Array))
    }
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        Ignored(self.ctx()).map(map)?;
        Ok(self.met(Met::Object))
    }
}

/// A [`Read`] as a serde seed (any JSON value).
struct Seed<R>(R);

impl<'de, R: Read<'de>> DeserializeSeed<'de> for Seed<R> {
    type Value = R::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<R::Out, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R: Read<'de>> Visitor<'de> for Seed<R> {
    type Value = R::Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Number(v.into())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<R::Out, E> {
        // JSON has no NaN or infinity: a parsed number is always finite.
        Ok(self
            .0
            .met(Number::from_f64(v).map_or(Met::Null, Met::Number)))
    }
    fn visit_str<E>(self, v: &str) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Str(v)))
    }
    fn visit_unit<E>(self) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Null))
    }
    fn visit_none<E>(self) -> Result<R::Out, E> {
        Ok(self.0.met(Met::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<R::Out, A::Error> {
        self.0.seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<R::Out, A::Error> {
        self.0.map(map)
    }
}

/// The member names of one object, for the exact repeats JSON text can hold: a repeat
/// makes the body malformed (the deserializer's error, 400 `invalidSyntax`). Only names
/// no attribute takes are kept here (an attribute given twice, in any letter case, is
/// caught by [`Given`]); a few are compared, many hashed.
struct Names<'de> {
    text: bool,
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

impl<'de> Names<'de> {
    fn new(ctx: &Ctx<'_>) -> Self {
        Self {
            text: ctx.text,
            few: Vec::new(),
            many: None,
        }
    }

    // The name is kept as the `Cow` it is: a clone of a borrowed one copies no text.
    #[allow(clippy::ptr_arg)]
    fn first<E: de::Error>(&mut self, name: &Cow<'de, str>) -> Result<(), E> {
        if !self.text {
            return Ok(());
        }
        let repeated = match &mut self.many {
            None if self.few.len() < 16 => {
                let repeated = self.few.contains(name);
                self.few.push(name.clone());
                repeated
            }
            None => {
                let mut many: HashSet<_> = self.few.drain(..).collect();
                let repeated = !many.insert(name.clone());
                self.many = Some(many);
                repeated
            }
            Some(many) => !many.insert(name.clone()),
        };
        if repeated {
            return Err(E::custom(format!("duplicate member {name:?}")));
        }
        Ok(())
    }
}

/// The attributes of one list of definitions given so far, by position.
#[derive(Default)]
struct Given {
    low: u64,
    high: Vec<u64>,
}

impl Given {
    /// Whether the attribute at `at` is given for the first time.
    fn first(&mut self, at: usize) -> bool {
        let word = match at / 64 {
            0 => &mut self.low,
            w => {
                if self.high.len() < w {
                    self.high.resize(w, 0);
                }
                &mut self.high[w - 1]
            }
        };
        let bit = 1u64 << (at % 64);
        let first = *word & bit == 0;
        *word |= bit;
        first
    }
}

/// The attribute of `defs` named `name` (any letter case) and its position.
fn position(defs: &'static [AttributeDef], name: &str) -> Option<(usize, &'static AttributeDef)> {
    defs.iter()
        .enumerate()
        .find(|(_, d)| d.name.eq_ignore_ascii_case(name))
}

/// An attribute path for messages, formatted only when one is written.
struct Path<'a> {
    parent: &'a dyn fmt::Display,
    separator: char,
    name: &'a str,
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.parent, self.separator, self.name)
    }
}

/// A value read through and dropped: the JSON grammar checked, exact repeats of names
/// refused (text only).
struct Ignored<'c>(&'c Ctx<'c>);

impl<'de> Read<'de> for Ignored<'_> {
    type Out = ();
    fn ctx(&self) -> &Ctx<'_> {
        self.0
    }
    fn met(self, _: Met<'_>) {}
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = Names::new(self.0);
        while let Some(Key(key)) = map.next_key()? {
            names.first(&key)?;
            map.next_value_seed(Seed(Ignored(self.0)))?;
        }
        Ok(())
    }
}

/// A string or boolean for a typed member: `None` when absent (`null`) or wrong (the
/// problem recorded).
struct Scalar<'c> {
    def: &'static AttributeDef,
    path: &'c dyn fmt::Display,
    ctx: &'c Ctx<'c>,
}

enum Typed {
    Str(CompactString),
    Bool(bool),
}

impl<'de> Read<'de> for Scalar<'_> {
    type Out = Option<Typed>;
    fn ctx(&self) -> &Ctx<'_> {
        self.ctx
    }
    fn met(self, met: Met<'_>) -> Option<Typed> {
        match simple(self.def, &met, self.ctx.compat) {
            Ok(Simple::AsIs) => match met {
                Met::Str(s) => Some(Typed::Str(s.into())),
                Met::Bool(b) => Some(Typed::Bool(b)),
                _ => None,
            },
            Ok(Simple::Bool(b)) => Some(Typed::Bool(b)),
            Ok(Simple::Absent) => None,
            Err(expected) => {
                self.ctx.wrong(self.path, expected);
                None
            }
        }
    }
}

/// Reads the next value of `map` as the member `slot` of attribute `def`.
fn read_member<'de, A: MapAccess<'de>>(
    slot: Option<MemberMut<'_>>,
    def: &'static AttributeDef,
    path: &dyn fmt::Display,
    map: &mut A,
    ctx: &Ctx<'_>,
) -> Result<(), A::Error> {
    let scalar = Scalar { def, path, ctx };
    match slot {
        Some(MemberMut::Str(s)) => {
            if let Some(Typed::Str(v)) = map.next_value_seed(Seed(scalar))? {
                *s = Some(v);
            }
        }
        Some(MemberMut::Text(s)) => {
            if let Some(Typed::Str(v)) = map.next_value_seed(Seed(scalar))? {
                *s = v;
            }
        }
        Some(MemberMut::Bool(b)) => {
            if let Some(Typed::Bool(v)) = map.next_value_seed(Seed(scalar))? {
                *b = Some(v);
            }
        }
        Some(MemberMut::Name(part)) => {
            *part = map.next_value_seed(Seed(Object::new(def, path, ctx)))?
        }
        Some(MemberMut::Manager(part)) => {
            *part = map.next_value_seed(Seed(Object::new(def, path, ctx)))?;
        }
        Some(MemberMut::Values(list)) => {
            *list = map.next_value_seed(Seed(List::new(def, path, ctx)))?
        }
        Some(MemberMut::Addresses(list)) => {
            *list = map.next_value_seed(Seed(List::new(def, path, ctx)))?;
        }
        // A member the typed form does not keep: checked, not kept.
        None => map
            .next_value_seed(Seed(Single { def, path, ctx }))
            .map(drop)?,
    }
    Ok(())
}

/// What the members of a complex value are read into: a typed part of the user, or the
/// canonical JSON object of an extension attribute.
trait Fill: Default {
    fn fill<'de, A: MapAccess<'de>>(
        &mut self,
        def: &'static AttributeDef,
        path: &dyn fmt::Display,
        map: &mut A,
        ctx: &Ctx<'_>,
    ) -> Result<(), A::Error>;
    /// Sets the `value` sub-attribute to a string.
    fn value(&mut self, s: &str);
    /// Whether nothing is set (the value then reads as absent).
    fn empty(&self) -> bool;
}

impl<T: Attributes + Default> Fill for T {
    fn fill<'de, A: MapAccess<'de>>(
        &mut self,
        def: &'static AttributeDef,
        path: &dyn fmt::Display,
        map: &mut A,
        ctx: &Ctx<'_>,
    ) -> Result<(), A::Error> {
        read_member(self.writable(def.name), def, path, map, ctx)
    }
    fn value(&mut self, s: &str) {
        if let Some(MemberMut::Str(v)) = self.writable("value") {
            *v = Some(s.into());
        }
    }
    fn empty(&self) -> bool {
        super::fields::is_empty(self)
    }
}

/// The canonical JSON object of a complex attribute: canonical names, canonical values.
#[derive(Default)]
struct Canonical(Map<String, Value>);

impl Fill for Canonical {
    fn fill<'de, A: MapAccess<'de>>(
        &mut self,
        def: &'static AttributeDef,
        path: &dyn fmt::Display,
        map: &mut A,
        ctx: &Ctx<'_>,
    ) -> Result<(), A::Error> {
        if let Some(v) = map.next_value_seed(Seed(Single { def, path, ctx }))? {
            self.0.insert(def.name.to_owned(), v);
        }
        Ok(())
    }
    fn value(&mut self, s: &str) {
        self.0
            .insert("value".to_owned(), Value::String(s.to_owned()));
    }
    fn empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One value of the complex attribute `def`, read into an `F`: `None` when absent
/// (`null`, nothing set in it) or wrong.
struct Object<'c, F> {
    def: &'static AttributeDef,
    path: &'c dyn fmt::Display,
    ctx: &'c Ctx<'c>,
    /// Whether a one-element array may stand for the object (the manager, at the top).
    array: bool,
    fill: PhantomData<F>,
}

impl<'c, F> Object<'c, F> {
    fn new(def: &'static AttributeDef, path: &'c dyn fmt::Display, ctx: &'c Ctx<'c>) -> Self {
        Self {
            def,
            path,
            ctx,
            array: !def.multi_valued && ctx.manager(def),
            fill: PhantomData,
        }
    }

    fn element(&self) -> Self {
        Self {
            array: false,
            ..Self::new(self.def, self.path, self.ctx)
        }
    }
}

impl<'de, F: Fill> Read<'de> for Object<'_, F> {
    type Out = Option<F>;
    fn ctx(&self) -> &Ctx<'_> {
        self.ctx
    }
    fn met(self, met: Met<'_>) -> Option<F> {
        match met {
            Met::Null => None,
            // Compatibility: `"manager": "26118915-..."` (Entra, OneLogin).
            Met::Str(s) if self.ctx.manager(self.def) => {
                if s.contains('\0') {
                    self.ctx.wrong(self.path, "a string without NUL characters");
                    return None;
                }
                if s.is_empty() {
                    return None;
                }
                let mut out = F::default();
                out.value(s);
                Some(out)
            }
            _ => {
                self.ctx.wrong(self.path, "a JSON object");
                None
            }
        }
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<F>, A::Error> {
        if !self.array {
            while seq.next_element_seed(Seed(Ignored(self.ctx)))?.is_some() {}
            return Ok(self.met(Met::Array));
        }
        // Compatibility: the manager as a one-element array (Entra ID).
        let one = seq.next_element_seed(Seed(self.element()))?.flatten();
        if seq.next_element_seed(Seed(Ignored(self.ctx)))?.is_some() {
            while seq.next_element_seed(Seed(Ignored(self.ctx)))?.is_some() {}
            return Ok(self.met(Met::Array));
        }
        Ok(one)
    }
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<F>, A::Error> {
        let mut out = F::default();
        let mut names = Names::new(self.ctx);
        let mut given = Given::default();
        while let Some(Key(key)) = map.next_key()? {
            let found = position(self.def.sub_attributes, &key);
            if let Some((at, sub)) = found.filter(|(_, s)| s.mutability != Mutability::ReadOnly) {
                let path = Path {
                    parent: self.path,
                    separator: '.',
                    name: sub.name,
                };
                if given.first(at) {
                    out.fill(sub, &path, &mut map, self.ctx)?;
                    continue;
                }
                self.ctx.twice(&path);
            } else {
                // Unknown and read-only sub-attributes are ignored.
                names.first(&key)?;
            }
            map.next_value_seed(Seed(Ignored(self.ctx)))?;
        }
        Ok((!out.empty()).then_some(out))
    }
}

/// The values of the multi-valued complex attribute `def`: an array (`null` and empty
/// items dropped) or `null`.
struct List<'c, F>(Object<'c, F>);

impl<'c, F> List<'c, F> {
    fn new(def: &'static AttributeDef, path: &'c dyn fmt::Display, ctx: &'c Ctx<'c>) -> Self {
        Self(Object::new(def, path, ctx))
    }
}

impl<'de, F: Fill> Read<'de> for List<'_, F> {
    type Out = Vec<F>;
    fn ctx(&self) -> &Ctx<'_> {
        self.0.ctx
    }
    fn met(self, met: Met<'_>) -> Vec<F> {
        if !matches!(met, Met::Null) {
            // A single value for a multi-valued attribute: no known client sends it.
            self.0.ctx.wrong(self.0.path, "an array");
        }
        Vec::new()
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<F>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
        while let Some(item) = seq.next_element_seed(Seed(self.0.element()))? {
            out.extend(item);
        }
        Ok(out)
    }
}

/// The canonical JSON of one value of attribute `def` (one element, for a multi-valued
/// one): `None` when absent or wrong.
pub(crate) struct Single<'c> {
    pub(crate) def: &'static AttributeDef,
    pub(crate) path: &'c dyn fmt::Display,
    pub(crate) ctx: &'c Ctx<'c>,
}

impl<'c> Single<'c> {
    fn object(&self) -> Object<'c, Canonical> {
        Object {
            array: false,
            ..Object::new(self.def, self.path, self.ctx)
        }
    }
}

impl<'de> Read<'de> for Single<'_> {
    type Out = Option<Value>;
    fn ctx(&self) -> &Ctx<'_> {
        self.ctx
    }
    fn met(self, met: Met<'_>) -> Option<Value> {
        if self.def.kind == AttributeType::Complex {
            return self.object().met(met).map(|c| Value::Object(c.0));
        }
        match simple(self.def, &met, self.ctx.compat) {
            Ok(Simple::AsIs) => Some(met.to_value()),
            Ok(Simple::Bool(b)) => Some(Value::Bool(b)),
            Ok(Simple::Absent) => None,
            Err(expected) => {
                self.ctx.wrong(self.path, expected);
                None
            }
        }
    }
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        if self.def.kind != AttributeType::Complex {
            Ignored(self.ctx).map(map)?;
            return Ok(self.met(Met::Object));
        }
        Ok(self.object().map(map)?.map(|c| Value::Object(c.0)))
    }
}

/// The canonical JSON of the whole value of attribute `def`: an array for a
/// multi-valued one (`null` items dropped, `None` when none is left).
pub(crate) struct Whole<'c>(pub(crate) Single<'c>);

impl<'de> Read<'de> for Whole<'_> {
    type Out = Option<Value>;
    fn ctx(&self) -> &Ctx<'_> {
        self.0.ctx
    }
    fn met(self, met: Met<'_>) -> Option<Value> {
        let Single { def, path, ctx } = self.0;
        if !def.multi_valued || matches!(met, Met::Null) {
            return self.0.met(met);
        }
        // A single value for a multi-valued attribute: no known client sends it.
        ctx.wrong(path, "an array");
        None
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        let Single { def, path, ctx } = self.0;
        if !def.multi_valued {
            if def.kind == AttributeType::Complex {
                let object = Object::<Canonical>::new(def, path, ctx);
                return Ok(object.seq(seq)?.map(|c| Value::Object(c.0)));
            }
            if ctx.manager(def) {
                // As for the complex manager: a one-element array stands for its value.
                let one = seq.next_element_seed(Seed(Single { def, path, ctx }))?;
                if seq.next_element_seed(Seed(Ignored(ctx)))?.is_none() {
                    return Ok(one.flatten());
                }
            }
            while seq.next_element_seed(Seed(Ignored(ctx)))?.is_some() {}
            return Ok(self.0.met(Met::Array));
        }
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(Seed(Single { def, path, ctx }))? {
            out.extend(item);
        }
        Ok((!out.is_empty()).then_some(Value::Array(out)))
    }
    fn map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        if self.0.def.multi_valued {
            Ignored(self.0.ctx).map(map)?;
            return Ok(self.met(Met::Object));
        }
        self.0.map(map)
    }
}

/// Reads `value` (any deserializer of one JSON value) with `read`.
pub(crate) fn read_value<'de, D: Deserializer<'de>>(
    read: Whole<'_>,
    value: D,
) -> Result<Option<Value>, D::Error> {
    Seed(read).deserialize(value)
}

/// Reads `value` as one element (see [`Single`]).
pub(crate) fn read_single<'de, D: Deserializer<'de>>(
    read: Single<'_>,
    value: D,
) -> Result<Option<Value>, D::Error> {
    Seed(read).deserialize(value)
}

mod body;

pub(crate) use body::read_user;

#[cfg(test)]
mod tests;
