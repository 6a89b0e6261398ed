//! The view of a user that PATCH works on: its canonical JSON form (canonical attribute
//! names, an extension under its URN, `password` included), one top-level member at a
//! time.
//!
//! A member is rendered from the user through the attribute table
//! ([`crate::resource::fields`]) the first time an operation reaches it, and only the
//! members reached are read back at the end, through the same table; the others are kept
//! as they are. So the work of a request is proportional to what it names, not to the
//! size of the user, and there is one engine (`apply.rs`) whatever the operations are.
//! Any error leaves the original user untouched, because only copies are changed.
//!
//! Where the table has a typed place for a value the engine writes (a string or boolean
//! attribute, a sub-attribute of `name` or of the manager, a sub-attribute of the
//! elements of a multi-valued attribute), and its member is not rendered yet, the view
//! stores it in the typed user instead ([`Doc::set_scalar`], [`Doc::list`]): the engine
//! has decided what to write, the view only says where it goes. A property test holds
//! this to the engine over the whole rendered user ([`Doc::whole`]).

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::Filter;
use crate::resource::User;
use crate::resource::fields::{self, Attributes, List, Member};
use crate::schema::{AttributeDef, ENTERPRISE_USER_SCHEMA, SchemaSet};

/// A user's canonical JSON form, its members rendered on first use.
pub(super) struct Doc<'u> {
    /// The user being patched (a copy): the members not rendered are written here
    /// directly, through the attribute table, where it has a typed place for the value.
    user: User,
    schemas: &'u SchemaSet,
    /// The members rendered so far (those absent from the user are not here).
    members: Map<String, Value>,
    /// The keys of the members rendered so far, present or absent (a handful: a request
    /// reaches at most every attribute once).
    loaded: Vec<&'static str>,
}

impl<'u> Doc<'u> {
    pub(super) fn new(user: &User, schemas: &'u SchemaSet) -> Self {
        Self {
            user: user.clone(),
            schemas,
            members: Map::new(),
            loaded: Vec::new(),
        }
    }

    /// The schemas whose extensions the document shows.
    pub(super) fn schemas(&self) -> &'u SchemaSet {
        self.schemas
    }

    /// The document, with the member `key` (an attribute name or an extension URN, in
    /// canonical spelling) rendered if it was not yet.
    pub(super) fn load(&mut self, key: &'static str) -> &mut Map<String, Value> {
        if !self.loaded.contains(&key) {
            self.loaded.push(key);
            if let Some(v) = attribute_value(&self.user, key, self.schemas) {
                self.members.insert(key.to_owned(), v);
            }
        }
        &mut self.members
    }

    /// Sets the string or boolean attribute `name` of the core schema (`urn: None`) or of
    /// the Enterprise extension, or its scalar sub-attribute `sub`, to a canonical JSON
    /// value (`None`: absent) in the typed user, as [`User::set_scalar`] does; `false`
    /// (nothing changed) when the member is rendered already or the table has no typed
    /// place for it, and the caller writes the document instead.
    pub(super) fn set_scalar(
        &mut self,
        urn: Option<&'static str>,
        name: &'static str,
        sub: Option<&str>,
        value: Option<&Value>,
    ) -> bool {
        if self.loaded.contains(&urn.unwrap_or(name)) {
            return false;
        }
        match urn {
            None => self.user.set_scalar(name, sub, value),
            Some(ENTERPRISE_USER_SCHEMA) => {
                // Left empty, the extension is dropped when the user is read back.
                let enterprise = self.user.enterprise.get_or_insert_default();
                enterprise.set_scalar(name, sub, value)
            }
            Some(_) => false,
        }
    }

    /// The core multi-valued attribute `name`, typed, unless it is rendered already.
    pub(super) fn list(&mut self, urn: Option<&str>, name: &'static str) -> Option<List<'_>> {
        if urn.is_some() || self.loaded.contains(&name) {
            return None;
        }
        self.user.list_mut(name)
    }

    /// The keys of the members rendered so far.
    #[cfg(test)]
    pub(super) fn rendered(&self) -> &[&'static str] {
        &self.loaded
    }

    /// The document as it is, without rendering anything more.
    pub(super) fn members(&mut self) -> &mut Map<String, Value> {
        &mut self.members
    }

    /// A document with every member an operation can write rendered at once: the whole
    /// user, the reference the rendering on demand is held to (a property test of
    /// `apply.rs`, and the PATCH fuzz target).
    #[cfg(any(test, fuzzing))]
    pub(super) fn whole(user: &User, schemas: &'u SchemaSet) -> Self {
        let mut doc = Self::new(user, schemas);
        doc.load_all();
        doc
    }

    #[cfg(any(test, fuzzing))]
    fn load_all(&mut self) {
        for (name, _) in <User as fields::Attributes>::MEMBERS {
            if !matches!(*name, "id" | "meta" | "groups") {
                self.load(name);
            }
        }
        self.load("password");
        for ext in self.schemas.extensions() {
            self.load(ext.id);
        }
    }

    /// The user with the rendered members read back (the others as they were), or the
    /// error that makes the result invalid.
    pub(super) fn into_user(mut self) -> Result<User, ScimError> {
        let user_name = match self.members.get("userName") {
            Some(Value::String(s)) => s.as_str(),
            None if !self.loaded.contains(&"userName") => self.user.user_name.as_str(),
            _ => "",
        };
        if user_name.trim().is_empty() {
            return Err(ScimError::Mutability(
                "userName is required and cannot be removed".into(),
            ));
        }
        let mut out = self.user;
        for key in self.loaded {
            read_back(&mut out, key, self.members.remove(key))
                .map_err(|e| ScimError::InvalidValue(format!("invalid User after PATCH: {e}")))?;
        }
        // What rendering a user and reading it back does to the members no operation
        // reached: an empty Enterprise extension is gone, and so are objects of extensions
        // not in `schemas` (the server carries those over: [`crate::resource::carry_over`]).
        if out.enterprise.as_ref().is_some_and(|e| e.is_empty()) {
            out.enterprise = None;
        }
        out.extensions
            .retain(|urn, attrs| !attrs.is_empty() && self.schemas.extension(urn).is_some());
        Ok(out)
    }
}

/// The canonical JSON of the member `key` of `user`, as [`User::to_value`] renders it
/// (and `password`, which it does not), read through the attribute table.
fn attribute_value(user: &User, key: &str, schemas: &SchemaSet) -> Option<Value> {
    if key == "password" {
        return user
            .password
            .as_ref()
            .map(|p| Value::String(p.expose().to_owned()));
    }
    match fields::member(user, key) {
        Some(m) => member_value(m),
        None => user
            .extensions_shown(Some(schemas))
            .find(|(u, _)| *u == key)
            .map(|(_, attrs)| Value::Object(attrs.clone())),
    }
}

/// The JSON a member is rendered as (by its type's `Serialize`).
fn member_value(m: Member<'_>) -> Option<Value> {
    match m {
        Member::Str(s) => Some(Value::String(s.to_owned())),
        Member::Bool(b) => Some(Value::Bool(b)),
        Member::Instant(_) | Member::Groups(_) | Member::Meta(_) => None, // read-only
        Member::Name(v) => serde_json::to_value(v).ok(),
        Member::MultiValues(v) => serde_json::to_value(v).ok(),
        Member::Addresses(v) => serde_json::to_value(v).ok(),
        Member::Enterprise(v) => serde_json::to_value(v).ok(),
        Member::Manager(v) => serde_json::to_value(v).ok(),
    }
}

/// Sets the member `key` of `out` from its canonical JSON (`None`: absent).
fn read_back(out: &mut User, key: &str, value: Option<Value>) -> Result<(), serde_json::Error> {
    if key == "password" {
        out.password = value.map(serde_json::from_value).transpose()?;
        return Ok(());
    }
    if fields::is_member::<User>(key) {
        out.set_json(key, value)?;
        return Ok(());
    }
    match value {
        Some(Value::Object(attrs)) => {
            out.extensions.insert(key.to_owned(), attrs);
        }
        _ => {
            out.extensions.remove(key);
        }
    }
    Ok(())
}

/// `$body` with `$l` bound to the typed list, whichever its element type.
macro_rules! each {
    ($list:expr, $l:ident => $body:expr) => {
        match $list {
            List::Values($l) => $body,
            List::Addresses($l) => $body,
        }
    };
}

/// The elements of a multi-valued attribute as a value path writes them: the JSON array
/// of the document (`apply.rs`), or a typed list of the user (below).
pub(super) trait ElementList {
    fn count(&self) -> usize;
    /// Whether element `i` matches the value filter of `target` (no filter: every one).
    fn selects(&self, i: usize, filter: Option<&Filter>, def: &'static AttributeDef) -> bool;
    /// Whether an element can take `v` as its sub-attribute `sub` (as a whole, without).
    fn accepts(&self, sub: Option<&str>, v: &Value) -> bool;
    /// Writes `v` to element `i` as its sub-attribute `sub` (merged in, without).
    fn write(&mut self, i: usize, sub: Option<&str>, v: &Value);
    fn is_primary(&self, i: usize) -> bool;
    fn unset_primary(&mut self, i: usize);
}

/// A typed multi-valued attribute, its elements read and written through their attribute
/// table (only sub-attributes: a whole element is the document's to merge).
impl ElementList for List<'_> {
    fn count(&self) -> usize {
        each!(self, l => l.len())
    }
    fn selects(&self, i: usize, filter: Option<&Filter>, def: &'static AttributeDef) -> bool {
        filter.is_none_or(|f| crate::filter::list_element_matches(f, self, i, def))
    }
    fn accepts(&self, sub: Option<&str>, v: &Value) -> bool {
        sub.is_some_and(|sub| each!(self, l => accepts(l, sub, v)))
    }
    fn write(&mut self, i: usize, sub: Option<&str>, v: &Value) {
        let Some(sub) = sub else {
            return;
        };
        each!(self, l => {
            if let Some(field) = l.get_mut(i).and_then(|e| e.slot(sub)) {
                field.set_json(Some(v));
            }
        })
    }
    fn is_primary(&self, i: usize) -> bool {
        each!(self, l => l
            .get(i)
            .is_some_and(|e| matches!(fields::member(e, "primary"), Some(Member::Bool(true)))))
    }
    fn unset_primary(&mut self, i: usize) {
        each!(self, l => {
            if let Some(field) = l.get_mut(i).and_then(|e| e.slot("primary")) {
                field.set_json(Some(&Value::Bool(false)));
            }
        })
    }
}

/// Whether an element of type `T` can take `v` as its member `sub`.
fn accepts<T: Attributes + Default>(_: &[T], sub: &str, v: &Value) -> bool {
    T::default().slot(sub).is_some_and(|f| f.takes(Some(v)))
}
