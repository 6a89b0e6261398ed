//! The PATCH engine: RFC 7644 §3.5.2 operations, with the client dialects
//! [`Compatibility`] allows, applied to the view of a user in `doc.rs` (its canonical
//! JSON form, rendered member by member through the attribute table as operations reach
//! it). This is the one place that says what an operation does: which targets exist
//! (the schema), which are read-only or required, how a value is read (the same
//! canonicalisation as a POST body), how value paths select, merge and create elements,
//! and which element stays primary. The result is read back through the attribute
//! table, so a user that no operation reached keeps every member as it was.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::doc::{Doc, ElementList};
use super::elements::Elements;
use super::{PatchOpKind, PatchOperation, PatchPath};
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::resource::User;
use crate::resource::input::{Simple, canonical_simple, canonical_single, canonical_value};
use crate::schema::{AttributeDef, AttributeType, Mutability, SchemaSet, user_attribute};

/// Applies `ops` in order to the user `doc` views, and reads the result back.
pub(super) fn apply(
    mut doc: Doc<'_>,
    ops: &[PatchOperation],
    compat: &Compatibility,
    max_elements: usize,
) -> Result<User, ScimError> {
    let schemas = doc.schemas();
    for op in ops {
        apply_op(&mut doc, op, compat, max_elements, schemas)?;
    }
    doc.into_user()
}

fn apply_op(
    doc: &mut Doc<'_>,
    op: &PatchOperation,
    compat: &Compatibility,
    max_elements: usize,
    schemas: &SchemaSet,
) -> Result<(), ScimError> {
    let value = op.value.as_ref().unwrap_or(&Value::Null);
    let env = Env {
        compat,
        max_elements,
        schemas,
    };
    match &op.path {
        Some(path) => apply_path(doc, op.op, path, value, &env, true),
        None => {
            // The target is the resource itself: each member of the value object is an
            // attribute (or, as compatibility allows, a dotted or URN-prefixed path).
            let Value::Object(members) = value else {
                return Err(ScimError::InvalidValue(format!(
                    "{} without a path needs an object value",
                    op.op.as_str()
                )));
            };
            for (key, v) in members {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = PatchPath::for_pathless_key(key, compat, schemas)?;
                apply_path(doc, op.op, &path, v, &env, false)?;
            }
            Ok(())
        }
    }
}

/// The object stored under `key`, created (or reset, if it is not an object) as needed.
fn object_entry<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::InvalidValue(format!("{key} is not an object")))
}

/// The value of a multi-valued operation: as the client sent it, or canonical, for the
/// elements a value path selects.
enum Operand {
    Raw(Value),
    Selected(Option<Value>),
}

/// What every path of an operation is applied with.
struct Env<'a> {
    compat: &'a Compatibility,
    max_elements: usize,
    schemas: &'a SchemaSet,
}

fn apply_path(
    doc: &mut Doc<'_>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: &Value,
    env: &Env<'_>,
    explicit: bool,
) -> Result<(), ScimError> {
    let (compat, max_elements) = (env.compat, env.max_elements);
    let extension = match path.urn.as_deref() {
        None => None,
        Some(u) => match env.schemas.extension(u) {
            Some(ext) => Some(ext),
            None => return Ok(()), // an extension this server does not know: ignored
        },
    };
    let urn = extension.map(|e| e.id);
    let Some(attribute) = path.attribute.as_deref() else {
        // The whole extension.
        return match kind {
            PatchOpKind::Remove => {
                if let Some(u) = urn {
                    doc.load(u).remove(u);
                }
                Ok(())
            }
            _ => {
                let Value::Object(members) = value else {
                    if value.is_null() && kind == PatchOpKind::Replace {
                        if let Some(u) = urn {
                            doc.load(u).remove(u);
                        }
                        return Ok(());
                    }
                    return Err(ScimError::InvalidValue(format!(
                        "{path} needs an object value"
                    )));
                };
                for (k, v) in members {
                    let sub = PatchPath {
                        urn: urn.map(str::to_owned),
                        attribute: Some(k.clone()),
                        filter: None,
                        sub_attribute: None,
                    };
                    apply_path(doc, kind, &sub, v, env, explicit)?;
                }
                Ok(())
            }
        };
    };
    let def = match extension {
        None => user_attribute(None, attribute),
        Some(ext) => ext.attribute(attribute),
    };
    let Some(def) = def else {
        return Ok(()); // unknown attributes are ignored, as in POST and PUT
    };
    if def.mutability == Mutability::ReadOnly {
        if !explicit {
            return Ok(()); // read-only members of a path-less value are ignored, as in PUT
        }
        return Err(ScimError::Mutability(format!("{path} is read-only")));
    }
    let sub = match path.sub_attribute.as_deref() {
        None => None,
        Some(name) => {
            if def.kind != AttributeType::Complex {
                return Err(ScimError::InvalidPath(format!(
                    "{} has no sub-attributes",
                    def.name
                )));
            }
            match def.sub_attribute(name) {
                None => return Ok(()), // unknown sub-attribute: ignored
                Some(s) if s.mutability == Mutability::ReadOnly => {
                    if !explicit {
                        return Ok(());
                    }
                    return Err(ScimError::Mutability(format!("{path} is read-only")));
                }
                Some(s) => Some(s),
            }
        }
    };
    if path.filter.is_some() && def.kind != AttributeType::Complex {
        return Err(ScimError::InvalidPath(format!(
            "{} is not a complex attribute; it takes no value filter",
            def.name
        )));
    }
    if kind == PatchOpKind::Remove && def.required && sub.is_none() && path.filter.is_none() {
        return Err(ScimError::Mutability(format!(
            "{} is required and cannot be removed",
            def.name
        )));
    }
    let target = Target {
        kind,
        compat,
        urn,
        def,
        sub,
        filter: path.filter.as_ref(),
        label: Label { def, sub },
    };
    let result = if def.multi_valued {
        target.multi(doc, value, max_elements)
    } else if def.kind == AttributeType::Complex {
        target.complex(doc, value)
    } else {
        target.simple(doc, value)
    };
    if let Some(u) = urn {
        let doc = doc.members();
        let empty_extension = doc
            .get(u)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty);
        if empty_extension {
            doc.remove(u);
        }
    }
    result
}

/// A resolved PATCH target, and the operation on it.
pub(super) struct Target<'a> {
    kind: PatchOpKind,
    compat: &'a Compatibility,
    /// The extension the attribute belongs to (`None`: the core schema).
    urn: Option<&'static str>,
    pub(super) def: &'static AttributeDef,
    sub: Option<&'static AttributeDef>,
    pub(super) filter: Option<&'a Filter>,
    /// The attribute path named in error messages (`name.givenName`).
    label: Label,
}

/// An attribute path for error messages, formatted only when one is written.
struct Label {
    def: &'static AttributeDef,
    sub: Option<&'static AttributeDef>,
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sub {
            Some(sub) => write!(f, "{}.{}", self.def.name, sub.name),
            None => f.write_str(self.def.name),
        }
    }
}

impl Target<'_> {
    fn key(&self) -> &'static str {
        self.def.name
    }

    /// The canonical form of one element of this (multi-valued) attribute.
    fn element(&self, value: &Value, compat: &Compatibility) -> Result<Option<Value>, ScimError> {
        canonical_single(self.def, value, &self.label, compat)
    }

    /// `value` read as the attribute or sub-attribute `def` (of this target), as a POST
    /// body's is; borrowed when a simple value reads as it is.
    fn read<'v>(
        &self,
        def: &'static AttributeDef,
        value: &'v Value,
        compat: &Compatibility,
    ) -> Result<Option<Cow<'v, Value>>, ScimError> {
        if def.multi_valued || def.kind == AttributeType::Complex {
            let v = canonical_value(def, value, &self.label, compat)?;
            return Ok(v.map(Cow::Owned));
        }
        Ok(match canonical_simple(def, value, &self.label, compat)? {
            Simple::AsIs => Some(Cow::Borrowed(value)),
            Simple::Bool(b) => Some(Cow::Owned(Value::Bool(b))),
            Simple::Absent => None,
        })
    }

    /// Whether an element of the attribute matches the value filter.
    fn selects(&self, element: &Value) -> bool {
        self.filter
            .is_none_or(|f| crate::filter::matches_element(f, element, self.def))
    }

    /// The object the attribute is a member of (the document, or its extension's object),
    /// with the attribute rendered.
    fn container<'d>(&self, doc: &'d mut Doc<'_>) -> Result<&'d mut Map<String, Value>, ScimError> {
        let members = doc.load(self.urn.unwrap_or(self.def.name));
        match self.urn {
            None => Ok(members),
            Some(u) => object_entry(members, u),
        }
    }

    fn simple(&self, doc: &mut Doc<'_>, value: &Value) -> Result<(), ScimError> {
        let (kind, compat) = (self.kind, self.compat);
        let new = match kind {
            PatchOpKind::Remove => None,
            PatchOpKind::Add | PatchOpKind::Replace => match self.read(self.def, value, compat)? {
                None if self.def.required => {
                    return Err(ScimError::Mutability(format!(
                        "{} is required and cannot be removed",
                        self.def.name
                    )));
                }
                new => new,
            },
        };
        if doc.set_scalar(self.urn, self.key(), None, new.as_deref()) {
            return Ok(());
        }
        let cont = self.container(doc)?;
        match new {
            Some(v) => {
                cont.insert(self.key().to_owned(), v.into_owned());
            }
            None => {
                cont.remove(self.key());
            }
        }
        Ok(())
    }

    /// A singular complex attribute (`name`, `manager`).
    fn complex(&self, doc: &mut Doc<'_>, value: &Value) -> Result<(), ScimError> {
        let (kind, compat) = (self.kind, self.compat);
        let key = self.key();
        if let (None, Some(sub)) = (self.filter, self.sub) {
            let new = match kind {
                PatchOpKind::Remove => None,
                _ => self.read(sub, value, compat)?,
            };
            if doc.set_scalar(self.urn, key, Some(sub.name), new.as_deref()) {
                return Ok(());
            }
            return self.set_sub(self.container(doc)?, sub, new.map(Cow::into_owned));
        }
        let cont = self.container(doc)?;
        if let Some(current) = cont.get(key) {
            if self.filter.is_some() && !self.selects(current) {
                return match kind {
                    PatchOpKind::Remove => Ok(()),
                    _ => Err(ScimError::NoTarget(format!(
                        "{} matched nothing",
                        self.label
                    ))),
                };
            }
        }
        match (kind, self.sub) {
            // `remove` of the attribute, with or without a value (Entra sends the manager's id).
            (PatchOpKind::Remove, None) => {
                cont.remove(key);
            }
            (PatchOpKind::Remove, Some(sub)) => return self.set_sub(cont, sub, None),
            (_, None) => match canonical_value(self.def, value, &self.label, compat)? {
                Some(Value::Object(new)) => {
                    let obj = object_entry(cont, key)?;
                    for (k, v) in new {
                        obj.insert(k, v);
                    }
                }
                Some(_) => {
                    return Err(ScimError::InvalidValue(format!(
                        "{} needs an object value",
                        self.label
                    )));
                }
                None if kind == PatchOpKind::Replace => {
                    cont.remove(key);
                }
                None => {}
            },
            (_, Some(sub)) => {
                let new = self.read(sub, value, compat)?;
                return self.set_sub(cont, sub, new.map(Cow::into_owned));
            }
        }
        Ok(())
    }

    /// Sets the sub-attribute `sub` of this singular complex attribute in `cont` (`None`:
    /// unassigns it, and the attribute with it once it holds nothing).
    fn set_sub(
        &self,
        cont: &mut Map<String, Value>,
        sub: &'static AttributeDef,
        new: Option<Value>,
    ) -> Result<(), ScimError> {
        let key = self.key();
        match new {
            Some(v) => {
                object_entry(cont, key)?.insert(sub.name.to_owned(), v);
            }
            None => {
                if let Some(Value::Object(obj)) = cont.get_mut(key) {
                    obj.remove(sub.name);
                    if obj.is_empty() {
                        cont.remove(key);
                    }
                }
            }
        }
        Ok(())
    }

    /// A multi-valued attribute (`emails`, `addresses`, ...).
    fn multi(
        &self,
        doc: &mut Doc<'_>,
        value: &Value,
        max_elements: usize,
    ) -> Result<(), ScimError> {
        let (kind, compat) = (self.kind, self.compat);
        let operand =
            if kind != PatchOpKind::Remove && (self.filter.is_some() || self.sub.is_some()) {
                // add/replace emails[type eq "work"] {..} or emails[...].value / emails.value:
                // written to the elements selected.
                let new = match self.sub {
                    Some(sub) => self.read(sub, value, compat)?,
                    None => self.element(value, compat)?.map(Cow::Owned),
                };
                if let (Some(sub), Some(new)) = (self.sub, &new) {
                    let written = doc.list(self.urn, self.key()).is_some_and(|mut list| {
                        write_selected(&mut list, self, Some(sub.name), new)
                    });
                    if written {
                        return Ok(());
                    }
                }
                Operand::Selected(new.map(Cow::into_owned))
            } else {
                Operand::Raw(value.clone())
            };
        let key = self.key();
        let cont = self.container(doc)?;
        let mut items = match cont.remove(key) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let result = match operand {
            Operand::Raw(value) => self.multi_items(&mut items, value),
            Operand::Selected(new) => self.write_items(&mut items, new),
        };
        let n = items.len();
        if n > 0 {
            cont.insert(key.to_owned(), Value::Array(items));
        }
        result?;
        // No operation leaves a list longer than the server accepts, so no later
        // operation of the request works on a longer one (the server checks the same
        // limit on the result). A value written to the typed list above adds no element.
        if n <= max_elements {
            return Ok(());
        }
        Err(ScimError::InvalidValue(match self.urn {
            None => format!("{key} holds {n} values; this server accepts at most {max_elements}"),
            Some(u) => {
                format!("{u}:{key} holds {n} values; this server accepts at most {max_elements}")
            }
        }))
    }

    fn multi_items(&self, items: &mut Vec<Value>, value: Value) -> Result<(), ScimError> {
        let (kind, compat) = (self.kind, self.compat);
        // Which elements the value filter selects: one flag per element, so that every
        // step below is one pass (no index list searched per element).
        let mask: Vec<bool> = items.iter().map(|e| self.selects(e)).collect();
        let selected = || mask.iter().enumerate().filter_map(|(i, s)| s.then_some(i));
        match (kind, self.filter.is_some(), self.sub) {
            // remove emails / remove emails with a value (Entra)
            (PatchOpKind::Remove, false, None) => {
                if !value.is_null() && compat.remove_with_value {
                    let doomed = canonical_value(self.def, &value, &self.label, compat)?;
                    let doomed = match doomed {
                        Some(Value::Array(d)) => d,
                        _ => Vec::new(),
                    };
                    let doomed = Elements::new(self.case_exact(), &doomed);
                    items.retain(|e| doomed.first_same(e).is_none());
                } else {
                    items.clear();
                }
            }
            // remove emails[type eq "work"]
            (PatchOpKind::Remove, true, None) => retain_unselected(items, &mask),
            // remove emails.value / remove emails[type eq "work"].value
            (PatchOpKind::Remove, _, Some(sub)) => {
                for i in selected() {
                    if let Some(Value::Object(e)) = items.get_mut(i) {
                        e.remove(sub.name);
                    }
                }
                items.retain(|e| e.as_object().is_some_and(|o| !o.is_empty()));
            }
            // add emails [...]: append, merging elements that are already there
            (PatchOpKind::Add, false, None) => {
                let new = match canonical_value(self.def, &value, &self.label, compat)? {
                    Some(Value::Array(n)) => n,
                    _ => Vec::new(),
                };
                let mut index = Elements::new(self.case_exact(), items);
                let mut primaries = Primaries::new(items);
                for element in new {
                    let at = match index.first_same(&element) {
                        Some(i) => match items.get_mut(i) {
                            Some(e) => {
                                index.remove(i, e);
                                merge_into(e, element);
                                index.insert(i, e);
                                i
                            }
                            None => continue,
                        },
                        None => {
                            index.insert(items.len(), &element);
                            items.push(element);
                            items.len() - 1
                        }
                    };
                    primaries.fix(items, at);
                }
            }
            // replace emails [...]: the whole set
            (PatchOpKind::Replace, false, None) => {
                *items = match canonical_value(self.def, &value, &self.label, compat)? {
                    Some(Value::Array(n)) => n,
                    _ => Vec::new(),
                };
                if let Some(last) = items.iter().rposition(is_primary) {
                    fix_primary(items, last);
                }
            }
            // add/replace with a value filter or a sub-attribute: `write_items`.
            (PatchOpKind::Add | PatchOpKind::Replace, _, _) => {}
        }
        Ok(())
    }

    /// Writes `new` (the sub-attribute's value, or the element's without one) to the
    /// elements the value filter selects; a value path that selects nothing creates its
    /// element, as compatibility allows; `None` unassigns what is selected.
    fn write_items(&self, items: &mut Vec<Value>, new: Option<Value>) -> Result<(), ScimError> {
        let compat = self.compat;
        let sub = self.sub.map(|s| s.name);
        let Some(new) = new else {
            match sub {
                Some(sub) => {
                    for e in items.iter_mut() {
                        if let (true, Value::Object(o)) = (self.selects(e), &mut *e) {
                            o.remove(sub);
                        }
                    }
                }
                None => items.retain(|e| !self.selects(e)),
            }
            items.retain(|e| e.as_object().is_some_and(|o| !o.is_empty()));
            return Ok(());
        };
        if write_selected(items, self, sub, &new) {
            return Ok(());
        }
        if self.filter.is_some() && !compat.unmatched_value_path_creates {
            return Err(ScimError::NoTarget(format!(
                "{} matched no value",
                self.label
            )));
        }
        let mut element = self
            .filter
            .map(|f| self.seed(f, compat))
            .unwrap_or_default();
        match (sub, new) {
            (Some(sub), new) => {
                element.insert(sub.to_owned(), new);
            }
            (None, Value::Object(p)) => element.extend(p),
            (None, _) => {}
        }
        items.push(Value::Object(element));
        let at = items.len() - 1;
        fix_primary(items, at);
        Ok(())
    }

    /// Whether the `value` sub-attribute of this attribute is compared case-sensitively.
    fn case_exact(&self) -> bool {
        self.def
            .sub_attribute("value")
            .is_some_and(|s| s.case_exact)
    }

    /// The element an unmatched value path creates: the `eq` terms of its filter
    /// (`emails[type eq "work"]` seeds `{"type": "work"}`).
    fn seed(&self, filter: &Filter, compat: &Compatibility) -> Map<String, Value> {
        let mut out = Map::new();
        let mut stack = vec![filter];
        while let Some(f) = stack.pop() {
            match f {
                Filter::And(a, b) => {
                    stack.push(a);
                    stack.push(b);
                }
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value,
                } if path.sub_attr.is_none() && path.urn.is_none() => {
                    let Some(sub) = self.def.sub_attribute(&path.name) else {
                        continue;
                    };
                    let v = match value {
                        CompValue::String(s) => Value::String(s.clone()),
                        CompValue::Bool(b) => Value::Bool(*b),
                        CompValue::Number(n) => Value::Number(n.clone()),
                        CompValue::Null => continue,
                    };
                    if let Ok(Some(v)) = canonical_single(sub, &v, &self.label, compat) {
                        out.insert(sub.name.to_owned(), v);
                    }
                }
                _ => {}
            }
        }
        out
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

/// Merges the members of `patch` into `target` (both objects); otherwise replaces it.
fn merge_into(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => t.extend(p),
        (t, p) => *t = p,
    }
}

impl ElementList for Vec<Value> {
    fn count(&self) -> usize {
        self.len()
    }
    fn selects(&self, i: usize, filter: Option<&Filter>, def: &'static AttributeDef) -> bool {
        self.get(i)
            .is_some_and(|e| filter.is_none_or(|f| crate::filter::matches_element(f, e, def)))
    }
    fn accepts(&self, _: Option<&str>, _: &Value) -> bool {
        true
    }
    fn write(&mut self, i: usize, sub: Option<&str>, v: &Value) {
        let Some(e) = self.get_mut(i) else {
            return;
        };
        match (sub, &mut *e) {
            (Some(sub), Value::Object(o)) => {
                o.insert(sub.to_owned(), v.clone());
            }
            (Some(sub), _) => {
                let mut o = Map::new();
                o.insert(sub.to_owned(), v.clone());
                *e = Value::Object(o);
            }
            (None, _) => merge_into(e, v.clone()),
        }
    }
    fn is_primary(&self, i: usize) -> bool {
        self.get(i).is_some_and(is_primary)
    }
    fn unset_primary(&mut self, i: usize) {
        if let Some(Value::Object(o)) = self.get_mut(i) {
            o.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Writes `v` to every element `target` selects (see [`Elements::write`]); then, if the
/// last selected primary element is primary, no other is. Whether any element was
/// selected: when none was, or the elements cannot take `v`, nothing has changed.
pub(super) fn write_selected<E: ElementList>(
    items: &mut E,
    target: &Target<'_>,
    sub: Option<&str>,
    v: &Value,
) -> bool {
    if !items.accepts(sub, v) {
        return false;
    }
    let mut last_primary = None;
    let mut any = false;
    for i in 0..items.count() {
        if items.selects(i, target.filter, target.def) {
            any = true;
            items.write(i, sub, v);
            if items.is_primary(i) {
                last_primary = Some(i);
            }
        }
    }
    if let Some(last) = last_primary {
        fix_primary(items, last);
    }
    any
}

/// At most one value is primary (RFC 7643 §2.4): if element `at` is primary, clear the
/// others.
fn fix_primary<E: ElementList>(items: &mut E, at: usize) {
    if !items.is_primary(at) {
        return;
    }
    for i in 0..items.count() {
        if i != at && items.is_primary(i) {
            items.unset_primary(i);
        }
    }
}

/// Keeps the elements `mask` does not select (one pass).
fn retain_unselected(items: &mut Vec<Value>, mask: &[bool]) {
    let mut selected = mask.iter();
    items.retain(|_| !selected.next().copied().unwrap_or(false));
}

/// The elements marked primary, kept so that making one primary clears the others in
/// work proportional to how many were primary, not to the length of the list.
struct Primaries(Vec<usize>);

impl Primaries {
    fn new(items: &[Value]) -> Self {
        Self(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, e)| is_primary(e).then_some(i))
                .collect(),
        )
    }

    /// As [`fix_primary`]: if element `at` is primary, no other is.
    fn fix(&mut self, items: &mut [Value], at: usize) {
        if !items.get(at).is_some_and(is_primary) {
            return;
        }
        for i in self.0.drain(..) {
            super::elements::tick();
            if i == at {
                continue;
            }
            if let Some(Value::Object(o)) = items.get_mut(i) {
                if o.get("primary") == Some(&Value::Bool(true)) {
                    o.insert("primary".into(), Value::Bool(false));
                }
            }
        }
        self.0.push(at);
    }
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
