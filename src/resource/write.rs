//! The response writer: a resource written as compact JSON straight from its attribute
//! table (`fields.rs`), whole or as a projection selects it (`attributes`,
//! `excludedAttributes`, the attributes' own `returned`: see [`crate::projection`]).
//!
//! One writer for every response: [`write_user`] with no [`Selection`] writes the
//! resource whole (the bytes `serde_json` writes for its `Serialize`, which a property
//! test and a fuzz target check); with one, it writes what the projection keeps, deciding
//! per member from the table's positions (resolved once per response or page, not per
//! resource) and per sub-attribute while it writes. Nothing is built in between; a complex
//! value, array element or extension object that turns out empty is taken back out of
//! the output. The writer knows a resource type only through [`Resource`]: its attribute
//! table, its core schema and the extension objects it keeps as JSON.

use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::fields::{Attributes, Member};
use super::render::{rfc3339, unquoted, write_str};
use super::{Meta, User, UserView};
use crate::projection::{Keep, Projection, Subs};
use crate::schema::{self, AttributeDef, COMMON_ATTRIBUTES, Returned, SchemaDef, SchemaSet};

/// A resource type as the writer sees it: its attribute table (whose members named by an
/// extension URN are typed extension objects, such as a User's Enterprise extension),
/// its core schema, and the extension objects it keeps as JSON.
pub(crate) trait Resource: Attributes {
    /// The core schema: its URN comes first in `schemas`; it and the attributes common
    /// to every resource (RFC 7643 §3.1) say what each member's `returned` is.
    fn schema() -> &'static SchemaDef;

    /// The table's members resolved against the schemas ([`Table::of`], made once).
    fn table() -> &'static Table;

    /// The extension objects kept as JSON that the resource shows, by URN, in order
    /// (with `schemas`, only those of its extension schemas).
    fn json_extensions<'a>(
        &'a self,
        schemas: Option<&'a SchemaSet>,
    ) -> impl Iterator<Item = (&'a str, &'a Map<String, Value>)> + 'a;
}

impl Resource for User {
    fn schema() -> &'static SchemaDef {
        &schema::USER
    }

    fn table() -> &'static Table {
        static TABLE: LazyLock<Table> = LazyLock::new(Table::of::<User>);
        &TABLE
    }

    fn json_extensions<'a>(
        &'a self,
        schemas: Option<&'a SchemaSet>,
    ) -> impl Iterator<Item = (&'a str, &'a Map<String, Value>)> + 'a {
        self.extensions_shown(schemas)
    }
}

/// The members of a resource type's attribute table, resolved against its schemas.
#[derive(Debug)]
pub(crate) struct Table {
    /// Each member, by position: its name and schema.
    members: Vec<(&'static str, Schema)>,
    /// The positions of the typed extension objects.
    extensions: Vec<usize>,
    /// Whether no attribute of the table (nor of its typed extensions, nor any of
    /// their sub-attributes) is `returned: never` or `request`: then a projection that
    /// names nothing writes the table whole.
    plain: bool,
}

/// What a member of a table is.
#[derive(Debug, Clone, Copy)]
enum Schema {
    /// An attribute of the core schema or a common one (`None`: unknown to the schema).
    Core(Option<&'static AttributeDef>),
    /// A typed extension object (a built-in extension: the Enterprise User one).
    Extension(&'static SchemaDef),
}

impl Table {
    fn of<T: Resource>() -> Self {
        let members: Vec<(&'static str, Schema)> = T::MEMBERS
            .iter()
            .map(|(name, _)| {
                let schema = match SchemaSet::core().split_extension_path(name) {
                    Some((ext, "")) => Schema::Extension(ext),
                    _ => Schema::Core(
                        schema::find_attribute(COMMON_ATTRIBUTES, name)
                            .or_else(|| T::schema().attribute(name)),
                    ),
                };
                (*name, schema)
            })
            .collect();
        let extensions = members
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| matches!(s, Schema::Extension(_)))
            .map(|(at, _)| at)
            .collect();
        fn plain(defs: &[AttributeDef]) -> bool {
            defs.iter().all(|d| {
                matches!(d.returned, Returned::Default | Returned::Always)
                    && plain(d.sub_attributes)
            })
        }
        let plain = members.iter().all(|(_, s)| match s {
            Schema::Core(def) => def.is_none_or(|d| plain(std::slice::from_ref(d))),
            Schema::Extension(ext) => plain(ext.attributes),
        });
        Self {
            members,
            extensions,
            plain,
        }
    }
}

/// A projection resolved against the attribute table of a resource type: what a
/// response writes of each member, by its position in the table, and of each attribute
/// of its typed extension objects. Built once for a response or a page of them.
#[derive(Debug)]
pub(crate) struct Selection<'p> {
    projection: &'p Projection,
    schemas: &'p SchemaSet,
    table: &'static Table,
    /// The projection names nothing and the table is plain: the table's members are
    /// written whole (the JSON extension objects still follow their schemas' `returned`).
    whole: bool,
    /// What is written of each member, by position (empty when `whole`: then resolved as
    /// needed).
    members: Vec<Plan<'p>>,
    /// For each typed extension object (`Plan::Extension`'s index), what is written of
    /// each attribute of its schema, in the schema's order.
    extensions: Vec<Vec<Keep<'p>>>,
}

/// What is written of one member of a resource's table.
#[derive(Debug, Clone, Copy)]
enum Plan<'p> {
    /// An attribute of the core schema.
    Core(Keep<'p>),
    /// A typed extension object: each of its attributes as the extension's schema and
    /// the projection say (`Selection::extensions[i]`, when resolved).
    Extension(&'static SchemaDef, usize),
}

impl<'p> Selection<'p> {
    /// `projection` for resources of type `T` of a server with `schemas`.
    pub(crate) fn new<T: Resource>(projection: &'p Projection, schemas: &'p SchemaSet) -> Self {
        let table = T::table();
        let mut selection = Self {
            projection,
            schemas,
            table,
            whole: projection.is_identity() && table.plain,
            members: Vec::new(),
            extensions: Vec::new(),
        };
        if !selection.whole {
            for at in 0..table.members.len() {
                let plan = selection.resolve(at);
                if let Plan::Extension(ext, _) = plan {
                    let keeps = ext
                        .attributes
                        .iter()
                        .map(|a| projection.keep(Some(ext.id), Some(a), a.name))
                        .collect();
                    selection.extensions.push(keeps);
                }
                selection.members.push(plan);
            }
        }
        selection
    }

    /// What is written of the member at position `at` of the table, resolved.
    fn resolve(&self, at: usize) -> Plan<'p> {
        match self.table.members.get(at) {
            Some((_, Schema::Extension(ext))) => Plan::Extension(ext, self.extensions.len()),
            Some((name, Schema::Core(def))) => Plan::Core(self.projection.keep(None, *def, name)),
            None => Plan::Core(Keep::Whole),
        }
    }

    /// What is written of the member at position `at` of the table.
    fn plan(&self, at: usize) -> Plan<'p> {
        match self.members.get(at) {
            Some(plan) => *plan,
            None => self.resolve(at),
        }
    }

    /// What is written of attribute `name` of the typed extension object `ext` of schema
    /// `def`.
    fn extension_attribute(&self, def: &'static SchemaDef, ext: usize, name: &str) -> Keep<'p> {
        let resolved = def
            .attributes
            .iter()
            .position(|a| a.name == name)
            .and_then(|at| self.extensions.get(ext)?.get(at).copied());
        resolved.unwrap_or_else(|| {
            self.projection
                .keep(Some(def.id), def.attribute(name), name)
        })
    }
}

impl UserView<'_> {
    /// The bytes responses carry for this view ([`write_user`]), for the fuzzer to check
    /// that they are `serde_json`'s bytes for it. Fuzz builds only.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn written(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_user(self, None, &mut out);
        out
    }
}

/// Writes `view` as compact JSON into `out`: whole without a `selection` (the bytes
/// `serde_json::to_writer` writes for it, without serde's per-field machinery: attribute
/// names are written as literals and strings are copied in runs between the characters
/// JSON escapes), else as `selection` projects it.
pub(crate) fn write_user(
    view: &UserView<'_>,
    selection: Option<&Selection<'_>>,
    out: &mut Vec<u8>,
) {
    write_resource(view.user, view.location, view.schemas, selection, out);
}

/// [`write_user`] for any resource type: its `schemas`, its members in table order, its
/// JSON extension objects, then `meta` (with `location`, if given, instead of the stored
/// one).
fn write_resource<T: Resource>(
    resource: &T,
    location: Option<&str>,
    schemas: Option<&SchemaSet>,
    selection: Option<&Selection<'_>>,
    out: &mut Vec<u8>,
) {
    let schemas = selection.map(|s| s.schemas).or(schemas);
    // Written whole, the table needs no selection (the fast path of most responses).
    let table =
        selection.filter(|s| !s.whole || resource.json_extensions(schemas).next().is_some());
    let mut o = Obj::begin(out);
    o.key(k!("schemas"));
    let listed = o.out.len();
    write_schemas(resource, schemas, &[], o.out);
    let listed = listed..o.out.len();
    // Extensions listed in `schemas` whose objects the projection left empty.
    let mut dropped: Vec<&str> = Vec::new();
    let mut meta = None;
    match table {
        // Every member whole: the table unrolled with nothing but the writes.
        None => resource.each(|key, member| match member {
            Member::Meta(m) => meta = Some((Keep::Whole, m)),
            _ => {
                o.key(Quoted(key));
                write_member(member, o.out);
            }
        }),
        Some(selection) => resource.each_at(|at, key, member| match (selection.plan(at), member) {
            (Plan::Core(keep), Member::Meta(m)) => meta = Some((keep, m)),
            (Plan::Core(keep), _) => write_kept(keep, Quoted(key), member, &mut o),
            (Plan::Extension(def, ext), Member::Enterprise(value)) => {
                let keep = |name: &str| selection.extension_attribute(def, ext, name);
                if !write_typed_extension(value, keep, Quoted(key), &mut o) {
                    dropped.push(unquoted(key));
                }
            }
            (Plan::Extension(..), _) => write_kept(Keep::Whole, Quoted(key), member, &mut o),
        }),
    }
    for (urn, attrs) in resource.json_extensions(schemas) {
        let def = selection.and_then(|s| Some((s.projection, s.schemas.extension(urn)?)));
        match def {
            Some((projection, def)) => {
                if !write_json_extension(urn, attrs, def, projection, &mut o) {
                    dropped.push(urn);
                }
            }
            None => {
                o.escaped_key(urn);
                // Extension values are JSON already; serde_json writes them as it always
                // does.
                if serde_json::to_writer(&mut *o.out, attrs).is_err() {
                    o.out.extend_from_slice(b"{}");
                }
            }
        }
    }
    if let Some((keep, m)) = meta {
        write_meta(m, location.or(m.location.as_deref()), keep, &mut o);
    }
    o.end();
    if !dropped.is_empty() {
        // An extension projected away is no longer listed in `schemas`.
        let mut list = Vec::with_capacity(listed.len());
        write_schemas(resource, schemas, &dropped, &mut list);
        out.splice(listed, list);
    }
}

/// Writes the `schemas` array of `resource`: its core schema, then each extension it
/// has a value of (typed, then JSON), except those `dropped`.
fn write_schemas<T: Resource>(
    resource: &T,
    schemas: Option<&SchemaSet>,
    dropped: &[&str],
    out: &mut Vec<u8>,
) {
    // Schema URNs of the tables need no escaping (a test checks the table's names).
    let literal = |out: &mut Vec<u8>, urn: &str| {
        out.push(b'"');
        out.extend_from_slice(urn.as_bytes());
        out.push(b'"');
    };
    out.push(b'[');
    literal(out, T::schema().id);
    for &at in &T::table().extensions {
        let Some((urn, get)) = T::MEMBERS.get(at) else {
            continue;
        };
        if get(resource).is_some() && !dropped.contains(urn) {
            out.push(b',');
            literal(out, urn);
        }
    }
    for (urn, _) in resource.json_extensions(schemas) {
        if !dropped.contains(&urn) {
            out.push(b',');
            write_str(out, urn);
        }
    }
    out.push(b']');
}

/// Writes member `member` under `key` as `keep` says.
fn write_kept(keep: Keep<'_>, key: Quoted, member: Member<'_>, o: &mut Obj<'_>) {
    match keep {
        Keep::Drop => {}
        Keep::Whole => {
            o.key(key);
            write_member(member, o.out);
        }
        Keep::Subs(subs) => {
            let mark = o.mark();
            o.key(key);
            if !write_member_subs(member, &subs, o.out) {
                o.rollback(mark);
            }
        }
    }
}

/// Writes the sub-attributes of `member` that `subs` keeps (a scalar whole); `false`
/// when nothing is left (the caller takes the member back out).
fn write_member_subs(member: Member<'_>, subs: &Subs<'_>, out: &mut Vec<u8>) -> bool {
    match member {
        Member::Name(v) => write_object_subs(v, subs, out),
        Member::Manager(v) => write_object_subs(v, subs, out),
        Member::Enterprise(v) => write_object_subs(v, subs, out),
        Member::Meta(v) => write_object_subs(v, subs, out),
        Member::MultiValues(v) => write_array_subs(v, subs, out),
        Member::Addresses(v) => write_array_subs(v, subs, out),
        Member::Groups(v) => write_array_subs(v, subs, out),
        Member::Str(_) | Member::Bool(_) | Member::Instant(_) => {
            write_member(member, out);
            true
        }
    }
}

/// Writes the members of `value` that `subs` keeps as an object; `false` when none is.
fn write_object_subs<T: Attributes>(value: &T, subs: &Subs<'_>, out: &mut Vec<u8>) -> bool {
    let mut o = Obj::begin(out);
    value.each(|key, member| {
        if subs.keeps(unquoted(key)) {
            o.key(Quoted(key));
            write_member(member, o.out);
        }
    });
    let written = !o.first;
    o.end();
    written
}

/// Writes `values` as an array of the objects [`write_object_subs`] writes, leaving out
/// those left empty; `false` when every one is.
fn write_array_subs<T: Attributes>(values: &[T], subs: &Subs<'_>, out: &mut Vec<u8>) -> bool {
    let mut a = Arr::begin(out);
    for v in values {
        let mark = a.item();
        if !write_object_subs(v, subs, a.out) {
            a.rollback(mark);
        }
    }
    a.end()
}

/// Writes a typed extension object (`value`) under `key` with its attributes as `keep`
/// says (by name); `false` (nothing written) when it keeps none.
fn write_typed_extension<'p, T: Attributes>(
    value: &T,
    keep: impl Fn(&str) -> Keep<'p>,
    key: Quoted,
    o: &mut Obj<'_>,
) -> bool {
    let mark = o.mark();
    o.key(key);
    let mut inner = Obj::begin(o.out);
    value.each(|key, member| {
        write_kept(keep(unquoted(key)), Quoted(key), member, &mut inner);
    });
    let written = !inner.first;
    inner.end();
    if !written {
        o.rollback(mark);
    }
    written
}

/// Writes an extension object kept as JSON (`attrs`, of schema `def`) under `urn` with
/// the attributes `projection` keeps; `false` (nothing written) when it keeps none.
fn write_json_extension(
    urn: &str,
    attrs: &Map<String, Value>,
    def: &'static SchemaDef,
    projection: &Projection,
    o: &mut Obj<'_>,
) -> bool {
    let mark = o.mark();
    o.escaped_key(urn);
    let mut inner = Obj::begin(o.out);
    for (name, value) in attrs {
        match projection.keep(Some(def.id), def.attribute(name), name) {
            Keep::Drop => {}
            Keep::Whole => {
                inner.escaped_key(name);
                write_value(value, inner.out);
            }
            Keep::Subs(subs) => {
                let at = inner.mark();
                inner.escaped_key(name);
                if !write_value_subs(value, &subs, inner.out) {
                    inner.rollback(at);
                }
            }
        }
    }
    let written = !inner.first;
    inner.end();
    if !written {
        o.rollback(mark);
    }
    written
}

/// Writes a JSON value as `serde_json` writes it.
fn write_value(value: &Value, out: &mut Vec<u8>) {
    // Writing a `Value` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes the members of an object that `subs` keeps, in an object or in each object of
/// an array (a scalar whole), leaving out what is left empty; `false` when nothing is
/// left (an empty array included).
fn write_value_subs(value: &Value, subs: &Subs<'_>, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Object(members) => {
            let mut o = Obj::begin(out);
            for (name, v) in members {
                if subs.keeps(name) {
                    o.escaped_key(name);
                    write_value(v, o.out);
                }
            }
            let written = !o.first;
            o.end();
            written
        }
        Value::Array(items) => {
            let mut a = Arr::begin(out);
            for item in items {
                let mark = a.item();
                if !write_value_subs(item, subs, a.out) {
                    a.rollback(mark);
                }
            }
            a.end()
        }
        other => {
            write_value(other, out);
            true
        }
    }
}

/// Writes `meta` as `keep` says, `location` (the response's, else the stored one)
/// after `lastModified`, which every meta has.
fn write_meta(meta: &Meta, location: Option<&str>, keep: Keep<'_>, o: &mut Obj<'_>) {
    let subs = match keep {
        Keep::Drop => return,
        Keep::Whole => None,
        Keep::Subs(subs) => Some(subs),
    };
    let keeps = |name: &str| subs.is_none_or(|s| s.keeps(name));
    let mark = o.mark();
    o.key(k!("meta"));
    let mut m = Obj::begin(o.out);
    let mut location = location.filter(|_| keeps("location"));
    meta.each(|key, member| {
        if key != k!("location").0 && keeps(unquoted(key)) {
            m.key(Quoted(key));
            write_member(member, m.out);
        }
        if key == k!("lastModified").0 {
            if let Some(at) = location.take() {
                m.key(k!("location"));
                write_str(m.out, at);
            }
        }
    });
    let written = !m.first;
    m.end();
    if subs.is_some() && !written {
        o.rollback(mark);
    }
}

/// A built-in member name as [`Obj::key`] takes it: `"name":`. Only this macro and the
/// attribute tables (`Attributes::each_at`) make one, so that no unquoted name can reach
/// the output.
macro_rules! k {
    ($name:literal) => {
        Quoted(concat!("\"", $name, "\":"))
    };
}
use k;

/// A member name quoted and followed by its colon (made by `k!`).
#[derive(Clone, Copy)]
struct Quoted(&'static str);

/// Writes a member as its JSON value (a part as the object of its own table's members).
/// Scalars are written inline, where the kind is known and the `match` folds away.
#[inline(always)]
pub(crate) fn write_member(member: Member<'_>, out: &mut Vec<u8>) {
    match member {
        Member::Str(s) => write_str(out, s),
        Member::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        other => write_part(other, out),
    }
}

/// [`write_member`] for the members that are not scalars.
#[inline(never)]
fn write_part(member: Member<'_>, out: &mut Vec<u8>) {
    match member {
        Member::Str(s) => write_str(out, s),
        Member::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Member::Instant(t) => rfc3339::write_json(t, out),
        Member::Name(v) => write_object(v, out),
        Member::MultiValues(v) => write_array(v, out),
        Member::Addresses(v) => write_array(v, out),
        Member::Groups(v) => write_array(v, out),
        Member::Enterprise(v) => write_object(v, out),
        Member::Manager(v) => write_object(v, out),
        Member::Meta(v) => write_object(v, out),
    }
}

/// Writes `value` as the object of the members its attribute table declares.
fn write_object<T: Attributes>(value: &T, out: &mut Vec<u8>) {
    let mut o = Obj::begin(out);
    value.each(|key, member| {
        o.key(Quoted(key));
        write_member(member, o.out);
    });
    o.end();
}

/// Writes `values` as an array of objects.
fn write_array<T: Attributes>(values: &[T], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_object(v, out);
    }
    out.push(b']');
}

/// Where an object or array being written stood: its length and whether it was empty.
#[derive(Clone, Copy)]
struct Mark(usize, bool);

/// A JSON object being written: members separated by commas.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }
    /// The comma before every member but the first.
    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }
    /// Starts a member whose name may need escaping.
    fn escaped_key(&mut self, key: &str) {
        self.separate();
        write_str(self.out, key);
        self.out.push(b':');
    }
    /// Starts a member. `quoted` is the member's name already quoted and followed by its
    /// colon (`k!("name")`): a built-in attribute name, which JSON does not escape,
    /// written in one copy.
    fn key(&mut self, quoted: Quoted) {
        self.separate();
        self.out.extend_from_slice(quoted.0.as_bytes());
    }
    /// Where the object stands, before a member that may be taken back out.
    fn mark(&self) -> Mark {
        Mark(self.out.len(), self.first)
    }
    /// Takes out what was written since `mark`.
    fn rollback(&mut self, mark: Mark) {
        self.out.truncate(mark.0);
        self.first = mark.1;
    }
    fn end(self) {
        self.out.push(b'}');
    }
}

/// A JSON array being written: elements separated by commas.
struct Arr<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Arr<'a> {
    fn begin(out: &'a mut Vec<u8>) -> Self {
        out.push(b'[');
        Self { out, first: true }
    }
    /// Starts an element (that may be taken back out).
    fn item(&mut self) -> Mark {
        let mark = Mark(self.out.len(), self.first);
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        mark
    }
    /// Takes out what was written since `mark`.
    fn rollback(&mut self, mark: Mark) {
        self.out.truncate(mark.0);
        self.first = mark.1;
    }
    /// Ends the array; whether it has an element.
    fn end(self) -> bool {
        self.out.push(b']');
        !self.first
    }
}
