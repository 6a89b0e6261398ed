//! A [`User`] to and from the columns of `scimkit_users`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::backend_msg;
use super::driver::Arg;
use crate::filter::present_each;
use crate::resource::fields::{Attributes, Member};
use crate::resource::{User, UserView, write_json_member, write_json_str, write_json_user};
use crate::schema::{
    AttributeDef, AttributeType, COMMON_ATTRIBUTES, ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA,
    SchemaSet, USER, USER_SCHEMA,
};
use crate::store::StoreError;
use crate::store::memory::fold_user_name;

/// The columns of one row, computed from a [`User`].
#[derive(Debug)]
pub(super) struct EncodedUser {
    pub id: String,
    pub user_name: String,
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub active: Option<bool>,
    pub created: Option<(i64, i64)>,
    pub modified: Option<(i64, i64)>,
    /// The resource as JSON, without `password` and `meta.version`.
    pub resource: String,
    /// The JSON filters read: strings of `caseExact: false` attributes lower-cased.
    pub search: String,
    /// ` path1 path2 ... `: every attribute path for which `pr` holds.
    pub present: String,
    /// `name.familyName` as in `search` (folded): the key of the sort index.
    pub family_name: Option<String>,
    /// The `emails` array of `search` as JSON: the source of the email index.
    pub emails: Option<String>,
    /// The addresses of the user's email rows (SQLite's email index): [`email_values`].
    #[cfg(feature = "sqlite")]
    pub email_values: Vec<String>,
}

/// How many columns [`EncodedUser::args`] gives values for (those `row_columns!` names).
pub(super) const ROW_COLUMNS: usize = 13;

/// How many parameters [`EncodedUser::write_args`] binds: `tenant, id, version`, then the
/// row's columns. A statement's own parameters follow them.
pub(super) const WRITE_PARAMS: usize = 3 + ROW_COLUMNS;

impl EncodedUser {
    /// The values of the columns `row_columns` names, in order.
    pub(super) fn args(&self) -> [Arg<'_>; ROW_COLUMNS] {
        let split = |t: Option<(i64, i64)>| (t.map(|c| c.0), t.map(|c| c.1));
        let (created, modified) = (split(self.created), split(self.modified));
        [
            Arg::text(&self.user_name),
            Arg::text(&self.user_name_lower),
            Arg::Text(self.external_id.as_deref()),
            Arg::Bool(self.active),
            Arg::Int(created.0),
            Arg::Int(created.1),
            Arg::Int(modified.0),
            Arg::Int(modified.1),
            Arg::text(&self.resource),
            Arg::text(&self.search),
            Arg::text(&self.present),
            Arg::Text(self.family_name.as_deref()),
            Arg::Text(self.emails.as_deref()),
        ]
    }

    /// The values of a write of this row for `tenant` at `version`: `tenant, id, version`,
    /// then [`EncodedUser::args`] (parameters 1 to [`WRITE_PARAMS`] of both dialects'
    /// writes).
    pub(super) fn write_args<'a>(
        &'a self,
        tenant: &'a str,
        version: i64,
    ) -> impl Iterator<Item = Arg<'a>> {
        [Arg::text(tenant), Arg::text(&self.id), Arg::int(version)]
            .into_iter()
            .chain(self.args())
    }
}

/// The `meta.version` for the version number `n`.
pub(super) fn format_version(n: i64) -> String {
    format!("W/\"{n}\"")
}

/// The version number in an ETag written by [`format_version`]; `None` for anything else
/// (which then matches no stored version).
pub(super) fn parse_version(etag: &str) -> Option<i64> {
    let n: i64 = etag.strip_prefix("W/\"")?.strip_suffix('"')?.parse().ok()?;
    (format_version(n) == etag).then_some(n)
}

/// What a conditional write (`replace`/`delete` with an expected ETag) may change, by the
/// compare-and-swap rule both dialects keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(super) enum Expected {
    /// No ETag: any version.
    Any,
    /// Only this version.
    Version(i64),
    /// An ETag no version of these stores has: nothing (the write fails with
    /// [`missed`]).
    Never,
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
impl Expected {
    /// The expectation of an `If-Match` ETag (`None`: unconditional).
    pub(super) fn of(etag: Option<&str>) -> Self {
        match etag {
            None => Self::Any,
            Some(etag) => parse_version(etag).map_or(Self::Never, Self::Version),
        }
    }
}

/// Why a conditional write changed no row: the user exists (so its version differed),
/// or not.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(super) fn missed(exists: bool) -> StoreError {
    if exists {
        StoreError::VersionMismatch
    } else {
        StoreError::NotFound
    }
}

/// An instant as (seconds, nanoseconds) the way the filter evaluator compares it: through
/// its JSON text read back as RFC 3339 (`None` when that fails, as it does for years
/// outside 0..=9999, so that comparisons with it are false as in [`Filter::matches`](crate::filter::Filter::matches)).
/// Computed from the instant itself; a property test checks it against the text read
/// back ([`parse_instant_key`] of its JSON form).
pub(super) fn instant_key(dt: &DateTime<Utc>) -> Option<(i64, i64)> {
    use chrono::Datelike;
    (0..=9999)
        .contains(&dt.year())
        .then(|| (dt.timestamp(), i64::from(dt.timestamp_subsec_nanos())))
}

/// A filter literal as (seconds, nanoseconds), as the filter evaluator parses it.
pub(super) fn parse_instant_key(text: &str) -> Option<(i64, i64)> {
    let t = DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some((t.timestamp(), i64::from(t.timestamp_subsec_nanos())))
}

/// The case folding of `caseExact: false` strings (both stored and literal).
pub(super) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The key under which `pr` of a (canonical) attribute path is recorded in `present`.
pub(super) fn present_key(extension: Option<&str>, name: &str, sub: Option<&str>) -> String {
    let mut key = String::from(" ");
    push_present_key(&mut key, extension, name, sub);
    key
}

/// How `present` names the Enterprise extension in its keys: `E:department` for
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` (migration 13).
/// No other key can be the same: core keys hold no `:`, and the keys of a host's
/// extensions start with `urn:` (an extension id must).
pub(super) const ENTERPRISE_PRESENT: &str = "E";

/// Appends `urn:name.sub ` (the key of [`present_key`] after its leading space) to `out`;
/// the Enterprise URN is written [`ENTERPRISE_PRESENT`].
fn push_present_key(out: &mut String, extension: Option<&str>, name: &str, sub: Option<&str>) {
    if let Some(urn) = extension {
        out.push_str(if urn == ENTERPRISE_USER_SCHEMA {
            ENTERPRISE_PRESENT
        } else {
            urn
        });
        out.push(':');
    }
    out.push_str(name);
    if let Some(sub) = sub {
        out.push('.');
        out.push_str(sub);
    }
    out.push(' ');
}

/// Every top-level attribute a filter can see, with the extension it is in (`None` for
/// the core schema): core, Enterprise and registered extensions. `password` is never
/// visible; `schemas` has no definition.
pub(super) fn visible_attributes(
    schemas: &SchemaSet,
) -> impl Iterator<Item = (Option<&'static str>, &'static AttributeDef)> + '_ {
    COMMON_ATTRIBUTES
        .iter()
        .chain(USER.attributes)
        .filter(|d| d.name != "password")
        .map(|d| (None, d))
        .chain(
            std::iter::once(&ENTERPRISE_USER)
                .chain(schemas.extensions().iter().copied())
                .flat_map(|s| s.attributes.iter().map(|d| (Some(s.id), d))),
        )
}

/// The `present` column: the paths (attributes and sub-attributes) for which `pr` holds,
/// computed by the filter engine itself ([`present_each`]: what
/// [`Filter::matches_in`](crate::filter::Filter::matches_in) answers for `path pr`,
/// without building the filters).
fn present_paths(user: &User, schemas: &SchemaSet) -> String {
    let mut out = String::with_capacity(512);
    out.push(' ');
    let no_subs: [&str; 0] = [];
    present_each(user, schemas, None, "schemas", no_subs, |_| {
        push_present_key(&mut out, None, "schemas", None);
    });
    for (extension, def) in visible_attributes(schemas) {
        let subs = def.sub_attributes.iter().map(|s| s.name);
        present_each(user, schemas, extension, def.name, subs, |sub| {
            push_present_key(&mut out, extension, def.name, sub);
        });
    }
    out
}

/// The definition of the core (or common) attribute `name`.
fn core_attribute(name: &str) -> Option<&'static AttributeDef> {
    COMMON_ATTRIBUTES
        .iter()
        .chain(USER.attributes)
        .find(|d| d.name == name)
}

/// Whether strings of `def` are compared as they are (strings without a definition, such
/// as `schemas`, are not case-exact).
fn case_exact(def: Option<&AttributeDef>) -> bool {
    def.is_some_and(|d| d.case_exact)
}

/// Top-level members of the resource that `search` leaves out: filters and sorts read
/// them from columns of their own (`id`, `user_name_lower`, `external_id`), never from
/// `search`, and leaving them out keeps a typical row under half a 4 KiB page.
const NOT_SEARCHED: [&str; 3] = ["id", "userName", "externalId"];

/// Writes `value` as JSON text to `out`, with every string that is not `caseExact` by
/// `def` lower-cased ([`fold`]): the objects of extensions kept as JSON.
fn write_folded_value(
    out: &mut Vec<u8>,
    value: &Value,
    def: Option<&'static AttributeDef>,
) -> serde_json::Result<()> {
    match value {
        Value::String(s) => write_folded_str(out, s, def),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_folded_value(out, item, def)?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_folded_map(out, map, |key| sub_attribute(def, key))?,
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

/// [`write_folded_value`] of an object, each member by the definition `def_of` gives.
fn write_folded_map(
    out: &mut Vec<u8>,
    map: &serde_json::Map<String, Value>,
    def_of: impl Fn(&str) -> Option<&'static AttributeDef>,
) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (key, member)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, key);
        out.push(b':');
        write_folded_value(out, member, def_of(key))?;
    }
    out.push(b'}');
    Ok(())
}

/// The definition of the sub-attribute `name` of a complex attribute `def`.
fn sub_attribute(def: Option<&'static AttributeDef>, name: &str) -> Option<&'static AttributeDef> {
    def.filter(|d| d.kind == AttributeType::Complex)
        .and_then(|d| d.sub_attribute(name))
}

/// Writes the string `s`, folded unless `def` is `caseExact`.
fn write_folded_str(out: &mut Vec<u8>, s: &str, def: Option<&'static AttributeDef>) {
    if case_exact(def) {
        write_json_str(out, s);
    } else {
        write_json_str_folded(out, s);
    }
}

/// Writes [`fold`]`(s)` as a JSON string. An ASCII string (most are) is written and then
/// lower-cased in place, without the folded copy: its [`fold`] is its ASCII lower case,
/// and the JSON escapes (`\"`, `\\`, `\n`, `\u001f`, ...) hold no upper-case letter, so
/// lower-casing the written text is writing the lower-cased text.
fn write_json_str_folded(out: &mut Vec<u8>, s: &str) {
    if s.is_ascii() {
        let at = out.len();
        write_json_str(out, s);
        if let Some(written) = out.get_mut(at..) {
            written.make_ascii_lowercase();
        }
    } else {
        write_json_str(out, &fold(s));
    }
}

/// Writes `value` (its attribute table, in order) as a JSON object, strings folded by
/// the definition `def_of` gives for each member.
fn write_folded_object<T: Attributes>(
    out: &mut Vec<u8>,
    value: &T,
    schemas: &SchemaSet,
    def_of: impl Fn(&str) -> Option<&'static AttributeDef>,
) {
    out.push(b'{');
    let mut first = true;
    write_folded_members(out, value, &[], &mut first, schemas, def_of, |_, _| {});
    out.push(b'}');
}

/// Writes the members of `value` but those named in `skip`, each after a `,` unless it
/// is the `first` of its object, strings folded by the definition `def_of` gives for
/// each; `written` learns where each member's value went in `out`.
fn write_folded_members<T: Attributes>(
    out: &mut Vec<u8>,
    value: &T,
    skip: &[&str],
    first: &mut bool,
    schemas: &SchemaSet,
    def_of: impl Fn(&str) -> Option<&'static AttributeDef>,
    mut written: impl FnMut(&str, std::ops::Range<usize>),
) {
    for (name, get) in T::MEMBERS {
        let Some(member) = get(value).filter(|_| !skip.contains(name)) else {
            continue;
        };
        if !std::mem::take(first) {
            out.push(b',');
        }
        write_json_str(out, name);
        out.push(b':');
        let at = out.len();
        write_folded_member(out, member, def_of(name), schemas);
        written(name, at..out.len());
    }
}

/// Writes a member of the typed user (as the response writer writes it), its strings
/// folded unless `caseExact` by `def` (a part's members by `def`'s sub-attributes; the
/// Enterprise extension's by its schema when `schemas` has it).
fn write_folded_member(
    out: &mut Vec<u8>,
    member: Member<'_>,
    def: Option<&'static AttributeDef>,
    schemas: &SchemaSet,
) {
    let subs = |key: &str| sub_attribute(def, key);
    fn array<T: Attributes>(
        out: &mut Vec<u8>,
        items: &[T],
        schemas: &SchemaSet,
        subs: impl Fn(&str) -> Option<&'static AttributeDef> + Copy,
    ) {
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_folded_object(out, item, schemas, subs);
        }
        out.push(b']');
    }
    match member {
        Member::Str(s) => write_folded_str(out, s, def),
        Member::Bool(_) => write_json_member(member, out),
        Member::Instant(_) => {
            // RFC 3339 text is ASCII.
            let at = out.len();
            write_json_member(member, out);
            if !case_exact(def) {
                out[at..].make_ascii_lowercase();
            }
        }
        Member::Name(v) => write_folded_object(out, v, schemas, subs),
        Member::Manager(v) => write_folded_object(out, v, schemas, subs),
        Member::Meta(v) => write_folded_object(out, v, schemas, subs),
        Member::MultiValues(v) => array(out, v, schemas, subs),
        Member::Addresses(v) => array(out, v, schemas, subs),
        Member::Groups(v) => array(out, v, schemas, subs),
        Member::Enterprise(v) => {
            let schema = schemas.extension(ENTERPRISE_USER_SCHEMA);
            write_folded_object(out, v, schemas, |k| schema.and_then(|s| s.attribute(k)));
        }
    }
}

/// The `search` document as JSON text, and its `emails` member (the source of the email
/// index; `None` when absent): the user's JSON form (`stored`, as `resource` holds it)
/// with case-insensitive strings folded, without [`NOT_SEARCHED`]. Written from the
/// typed user through its attribute table, as the response writer writes it: no
/// document is built.
fn search_document(
    stored: &User,
    schemas: &SchemaSet,
) -> serde_json::Result<(Vec<u8>, Option<String>)> {
    let mut out = Vec::with_capacity(1024);
    // `schemas`, folded (no definition): the core URN, the Enterprise one when its
    // object is shown, then those of the extension objects kept as JSON.
    out.extend_from_slice(b"{\"schemas\":[");
    write_json_str_folded(&mut out, USER_SCHEMA);
    if stored.enterprise.as_ref().is_some_and(|e| !e.is_empty()) {
        out.push(b',');
        write_json_str_folded(&mut out, ENTERPRISE_USER_SCHEMA);
    }
    for (urn, _) in stored.extensions_shown(None) {
        out.push(b',');
        write_json_str_folded(&mut out, urn);
    }
    out.push(b']');
    let mut emails = None;
    let mut first = false;
    write_folded_members(
        &mut out,
        stored,
        &NOT_SEARCHED,
        &mut first,
        schemas,
        core_attribute,
        |name, at| {
            if name == "emails" {
                emails = Some(at);
            }
        },
    );
    let emails = emails.map(|at| utf8(out[at].to_vec()));
    // The extension objects kept as JSON, by their schemas when registered here.
    for (urn, attrs) in stored.extensions_shown(None) {
        out.push(b',');
        write_json_str(&mut out, urn);
        out.push(b':');
        let schema = schemas.extension(urn);
        write_folded_map(&mut out, attrs, |k| schema.and_then(|s| s.attribute(k)))?;
    }
    out.push(b'}');
    Ok((out, emails))
}

/// `name.familyName` as in `search`: folded unless `caseExact`.
fn family_name_key(user: &User) -> Option<String> {
    let family = user.name.as_ref()?.family_name.as_deref()?;
    let def = core_attribute("name").and_then(|d| d.sub_attribute("familyName"));
    Some(if case_exact(def) {
        family.to_owned()
    } else {
        fold(family)
    })
}

/// The addresses of `user`'s email rows: the `value` of each element of `emails` as the
/// `emails` column holds it (folded unless `caseExact`), each once: what
/// `json_extract(e.value, '$.value')` reads from each element of that column
/// (`email_values_are_what_the_emails_column_holds`).
#[cfg(feature = "sqlite")]
pub(super) fn email_values(user: &User) -> Vec<String> {
    let def = core_attribute("emails").and_then(|d| d.sub_attribute("value"));
    once_each(
        user.emails
            .iter()
            .filter_map(|e| e.value.as_deref())
            .map(|value| {
                if case_exact(def) {
                    value.to_owned()
                } else {
                    fold(value)
                }
            }),
    )
}

/// `values` each once, in the order they first come (as a user's email rows are: one
/// per address however often it is listed).
#[cfg(feature = "sqlite")]
pub(super) fn once_each(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut once: Vec<String> = Vec::with_capacity(values.size_hint().0);
    for value in values {
        if !once.contains(&value) {
            once.push(value);
        }
    }
    once
}

/// JSON text written by serde_json (always UTF-8).
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether the JSON text `json` holds U+0000 in a string or key: an escape `\u0000`
/// (JSON writers escape it; a literal backslash before it is written `\\`).
fn has_nul(json: &[u8]) -> bool {
    memchr::memmem::find_iter(json, br"\u0000").any(|at| {
        // The escape starts here when the backslashes before it pair up.
        let before = json[..at].iter().rev().take_while(|b| **b == b'\\').count();
        before % 2 == 0
    })
}

/// Computes the row for `user`. Fails without an `id`, or for strings holding U+0000.
pub(super) fn encode(user: &User, schemas: &SchemaSet) -> Result<EncodedUser, StoreError> {
    let id = user
        .id
        .clone()
        .ok_or_else(|| backend_msg("a user must have an id to be stored"))?;
    let mut stored = user.clone();
    stored.password = None;
    if let Some(meta) = stored.meta.as_mut() {
        meta.version = None;
    }
    // The resource as its JSON form writes it, every non-empty extension object included
    // (those of extensions this process has not registered are the user's too: stored
    // again as they came).
    let view = UserView {
        user: &stored,
        location: None,
        schemas: None,
    };
    let mut resource = Vec::with_capacity(1024);
    write_json_user(&view, None, &mut resource);
    if has_nul(&resource) || id.contains('\0') {
        return Err(backend_msg(
            "strings containing U+0000 cannot be stored by the SQL stores",
        ));
    }
    let resource = utf8(resource);
    let (search, emails) = search_document(&stored, schemas).map_err(StoreError::backend)?;
    // `pr` on meta.version holds whenever meta is present: the store always assigns one.
    if let Some(meta) = stored.meta.as_mut() {
        meta.version = Some(format_version(0).into());
    }
    let present = present_paths(&stored, schemas);
    let family_name = family_name_key(&stored);
    Ok(EncodedUser {
        id: id.to_string(),
        user_name: user.user_name.to_string(),
        user_name_lower: fold_user_name(&user.user_name),
        external_id: user.external_id.as_deref().map(String::from),
        active: user.active,
        created: user.meta.as_ref().and_then(|m| instant_key(&m.created)),
        modified: user
            .meta
            .as_ref()
            .and_then(|m| instant_key(&m.last_modified)),
        resource,
        search: utf8(search),
        present,
        family_name,
        emails,
        #[cfg(feature = "sqlite")]
        email_values: email_values(&stored),
    })
}

/// The user as a store hands it out: what [`decode`] will read back for it.
pub(super) fn as_stored(mut user: User, version: i64) -> User {
    user.password = None;
    if user.enterprise.as_ref().is_some_and(|e| e.is_empty()) {
        user.enterprise = None;
    }
    if let Some(meta) = user.meta.as_mut() {
        meta.version = Some(format_version(version).into());
    }
    user
}

/// Reads a stored user back: every member, `id` and `meta` included, and the objects of
/// extensions registered here or not.
pub(super) fn decode(resource: &str, version: i64) -> Result<User, StoreError> {
    let serde_json::Value::Object(doc) =
        serde_json::from_str(resource).map_err(StoreError::backend)?
    else {
        return Err(StoreError::Backend(
            "a stored user is not a JSON object".into(),
        ));
    };
    let mut user = User::from_canonical(doc).map_err(StoreError::backend)?;
    if let Some(meta) = user.meta.as_mut() {
        meta.version = Some(format_version(version).into());
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::resource::{EnterpriseUser, Meta, MultiValue, Name, Secret};
    use serde_json::Value;

    fn sample() -> User {
        let mut u = User::new("BJensen@Example.COM");
        u.id = Some("id-1".into());
        u.external_id = Some("Ext-1".into());
        u.name = Some(Name {
            given_name: Some("Barbara".into()),
            middle_name: Some(Default::default()),
            ..Name::default()
        });
        u.emails = vec![MultiValue::typed("BJ@Example.com", "Work")];
        u.password = Some(Secret::new("s3cret"));
        u.enterprise = Some(EnterpriseUser {
            department: Some("Tour Ops".into()),
            ..EnterpriseUser::default()
        });
        u.meta = Some(Meta::new("User", DateTime::UNIX_EPOCH));
        u
    }

    /// What the `search` document was when it was written from the resource's
    /// `serde_json::Value` (`User::to_value`): the oracle of [`search_document`].
    mod by_value {
        use serde_json::Value;

        use super::super::{
            AttributeDef, AttributeType, SchemaSet, case_exact, core_attribute, fold,
        };

        fn write_folded(out: &mut Vec<u8>, value: &Value, def: Option<&'static AttributeDef>) {
            match value {
                Value::String(s) if !case_exact(def) => {
                    serde_json::to_writer(&mut *out, &fold(s)).unwrap();
                }
                Value::Array(items) => {
                    out.push(b'[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_folded(out, item, def);
                    }
                    out.push(b']');
                }
                Value::Object(map) => {
                    out.push(b'{');
                    for (i, (key, member)) in map.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        serde_json::to_writer(&mut *out, key).unwrap();
                        out.push(b':');
                        let sub = def
                            .filter(|d| d.kind == AttributeType::Complex)
                            .and_then(|d| d.sub_attribute(key));
                        write_folded(out, member, sub);
                    }
                    out.push(b'}');
                }
                other => serde_json::to_writer(&mut *out, other).unwrap(),
            }
        }

        /// The `search` document and its `emails` member, as JSON values.
        pub(super) fn search(resource: &Value, schemas: &SchemaSet) -> (Value, Option<Value>) {
            let mut doc = serde_json::Map::new();
            let mut emails = None;
            for (key, member) in resource.as_object().unwrap() {
                if ["id", "userName", "externalId"].contains(&key.as_str()) {
                    continue;
                }
                let mut out = Vec::new();
                match key
                    .starts_with("urn:")
                    .then(|| schemas.extension(key))
                    .flatten()
                {
                    Some(schema) => match member {
                        Value::Object(ext) => {
                            let mut folded = serde_json::Map::new();
                            for (k, v) in ext {
                                let mut o = Vec::new();
                                write_folded(&mut o, v, schema.attribute(k));
                                folded.insert(k.clone(), serde_json::from_slice(&o).unwrap());
                            }
                            out = serde_json::to_vec(&folded).unwrap();
                        }
                        other => serde_json::to_writer(&mut out, other).unwrap(),
                    },
                    None => write_folded(&mut out, member, core_attribute(key)),
                }
                let value: Value = serde_json::from_slice(&out).unwrap();
                if key == "emails" && !value.is_null() {
                    emails = Some(value.clone());
                }
                doc.insert(key.clone(), value);
            }
            (Value::Object(doc), emails)
        }
    }

    /// A registered extension: a case-exact string, a folded one, a complex attribute.
    static REGISTERED: crate::schema::SchemaDef = crate::schema::SchemaDef {
        id: "urn:example:encode:2.0:User",
        name: "Encode",
        description: "",
        attributes: &[
            AttributeDef::string("code", "").case_exact(),
            AttributeDef::string("label", ""),
            AttributeDef::complex(
                "device",
                "",
                &[AttributeDef::string("serial", "").case_exact()],
            ),
        ],
    };

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
        ))]

        /// The row's `resource` is the user's JSON form (without `password` and
        /// `meta.version`), and `search`, `emails` and `family_name` are what folding that
        /// JSON form's strings gives, whatever the strings hold.
        #[test]
        fn rows_are_the_json_form_and_its_folding(
            mut user in crate::testing::arbitrary::user(),
            version in proptest::option::of(0i64..100),
            with_extension in proptest::prelude::any::<bool>(),
        ) {
            user.id = Some("id-\u{212A}\"\\".into());
            if let Some(meta) = user.meta.as_mut() {
                meta.version = version.map(|v| format_version(v).into());
            }
            if with_extension {
                let ext = serde_json::json!({"A": "B\u{0130}", "n": [1, {"X": "Y"}], "t": true});
                user.extensions.insert("urn:example:Custom".into(), ext.as_object().unwrap().clone());
                let ext = serde_json::json!({"code": "AbC", "label": "XyZ",
                    "device": {"serial": "Sn", "model": "Mo"}, "other": ["Q"]});
                user.extensions.insert(REGISTERED.id.into(), ext.as_object().unwrap().clone());
            }
            let registered = SchemaSet::core().clone().with_extension(&REGISTERED).unwrap();
            let schemas = if with_extension { &registered } else { SchemaSet::core() };
            let row = encode(&user, schemas).unwrap();
            let mut expected = user.clone();
            expected.password = None;
            if let Some(meta) = expected.meta.as_mut() {
                meta.version = None;
            }
            let json = expected.to_value();
            let resource: serde_json::Value = serde_json::from_str(&row.resource).unwrap();
            proptest::prop_assert_eq!(&resource, &json);
            let (search, emails) = by_value::search(&json, schemas);
            let got: serde_json::Value = serde_json::from_str(&row.search).unwrap();
            proptest::prop_assert_eq!(got, search);
            let got_emails = row.emails.as_deref().map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap());
            proptest::prop_assert_eq!(got_emails, emails);
            let family = json.pointer("/name/familyName").and_then(|f| f.as_str()).map(fold);
            proptest::prop_assert_eq!(row.family_name, family);
        }

        /// A user as a store keeps it after writing it ([`as_stored`]) is the user its row
        /// decodes to: the decoded users can hand out either.
        #[test]
        fn written_users_are_what_their_rows_decode_to(
            mut user in crate::testing::arbitrary::user(),
            version in 0i64..1_000,
            with_extension in proptest::prelude::any::<bool>(),
        ) {
            user.id = Some("id-1".into());
            if user.meta.is_none() {
                user.meta = Some(crate::resource::Meta::new("User", chrono::Utc::now()));
            }
            if with_extension {
                let ext = serde_json::json!({"A": "B", "n": [1, {"X": "Y"}], "t": true});
                user.extensions.insert("urn:example:Custom".into(), ext.as_object().unwrap().clone());
                let ext = serde_json::json!({"code": "AbC", "device": {"serial": "Sn"}});
                user.extensions.insert(REGISTERED.id.into(), ext.as_object().unwrap().clone());
            }
            let registered = SchemaSet::core().clone().with_extension(&REGISTERED).unwrap();
            let schemas = if with_extension { &registered } else { SchemaSet::core() };
            let row = encode(&user, schemas).unwrap();
            let decoded = decode(&row.resource, version).unwrap();
            let written = as_stored(user, version);
            proptest::prop_assert_eq!(decoded.to_value(), written.to_value());
            proptest::prop_assert!(decoded == written, "equal JSON, unequal users");
        }

        /// `has_nul` finds U+0000 in any string or key of JSON text, and only there.
        #[test]
        fn nul_is_found_in_json_text_exactly_when_a_string_holds_it(
            s in "[a\\\\u0\u{0}\"]{0,12}",
            as_key in proptest::prelude::any::<bool>(),
        ) {
            let doc = if as_key {
                serde_json::json!({ s.clone(): 1 })
            } else {
                serde_json::json!({ "k": s.clone() })
            };
            let text = serde_json::to_vec(&doc).unwrap();
            proptest::prop_assert_eq!(has_nul(&text), s.contains('\0'));
        }

        /// A folded string is written byte for byte as its [`fold`] is: ASCII ones
        /// (lower-cased after writing) with quotes, backslashes and control characters to
        /// escape among them, and any other.
        #[test]
        fn folded_strings_are_written_as_their_fold_is(
            s in proptest::prop_oneof![
                "[A-Za-z\"\\\u{0}-\u{1f}\u{7f} ]{0,24}",
                proptest::prelude::any::<String>(),
            ],
        ) {
            let mut by_copy = b"x".to_vec();
            write_json_str(&mut by_copy, &fold(&s));
            let mut in_place = b"x".to_vec();
            write_json_str_folded(&mut in_place, &s);
            proptest::prop_assert_eq!(in_place, by_copy);
        }
    }

    #[test]
    fn conditional_writes_expect_what_their_etag_names() {
        assert_eq!(Expected::of(None), Expected::Any);
        assert_eq!(Expected::of(Some("W/\"7\"")), Expected::Version(7));
        for other in ["\"7\"", "W/\"07\"", "*", ""] {
            assert_eq!(Expected::of(Some(other)), Expected::Never, "{other}");
        }
        assert!(matches!(missed(true), StoreError::VersionMismatch));
        assert!(matches!(missed(false), StoreError::NotFound));
    }

    #[test]
    fn versions_round_trip_and_reject_other_etags() {
        assert_eq!(format_version(42), "W/\"42\"");
        assert_eq!(parse_version("W/\"42\""), Some(42));
        for bad in ["\"42\"", "W/\"042\"", "W/\"x\"", "W/42", ""] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    #[test]
    fn encode_folds_search_keeps_resource_and_drops_password() {
        let e = encode(&sample(), crate::schema::SchemaSet::core()).unwrap();
        assert_eq!(e.user_name_lower, "bjensen@example.com");
        assert!(!e.resource.contains("s3cret") && !e.search.contains("s3cret"));
        let search: Value = serde_json::from_str(&e.search).unwrap();
        for column in NOT_SEARCHED {
            assert!(
                search.get(column).is_none(),
                "{column} is read from its column"
            );
        }
        assert_eq!(search["emails"][0]["type"], "work");
        assert_eq!(search[ENTERPRISE_USER_SCHEMA]["department"], "tour ops");
        assert_eq!(search["meta"]["resourceType"], "User", "caseExact");
        for key in [
            "userName",
            "name",
            "name.givenName",
            "emails.value",
            "meta.version",
        ] {
            assert!(
                e.present.contains(&format!(" {key} ")),
                "{key}: {}",
                e.present
            );
        }
        assert!(
            !e.present.contains(" name.middleName "),
            "empty is not present"
        );
        assert!(e.present.contains(" E:department "), "{}", e.present);
        assert_eq!(
            present_key(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")),
            " E:manager.value "
        );
        let back = decode(&e.resource, 7).unwrap();
        assert_eq!(back, as_stored(sample(), 7));
        assert!(back.password.is_none());
    }

    #[test]
    fn present_is_what_the_filter_engine_says() {
        let mut bare = User::new("x");
        bare.id = Some("id-2".into());
        bare.name = Some(Name::default());
        bare.emails = vec![MultiValue::typed("", "work")];
        for user in [sample(), bare] {
            let present = encode(&user, crate::schema::SchemaSet::core())
                .unwrap()
                .present;
            let mut stored = user.clone();
            if let Some(meta) = stored.meta.as_mut() {
                meta.version = Some(format_version(0).into());
            }
            let schemas = crate::schema::SchemaSet::core();
            let mut paths = vec![(None, "schemas", None)];
            for (ext, def) in visible_attributes(schemas) {
                paths.push((ext, def.name, None));
                paths.extend(
                    def.sub_attributes
                        .iter()
                        .map(|s| (ext, def.name, Some(s.name))),
                );
            }
            for (ext, name, sub) in paths {
                let path = crate::filter::AttrPath {
                    urn: ext.map(str::to_owned),
                    name: name.to_owned(),
                    sub_attr: sub.map(str::to_owned),
                };
                let expected = crate::filter::Filter::Present(path).matches_in(&stored, schemas);
                let key = present_key(ext, name, sub);
                assert_eq!(present.contains(&key), expected, "{key}: {present}");
            }
        }
    }

    #[test]
    fn search_folds_non_ascii_and_unregistered_extensions_but_not_case_exact_strings() {
        let mut u = sample();
        u.display_name = Some("ÉMILE Ünal".into());
        u.name.as_mut().unwrap().family_name = Some("ÇELİK".into());
        u.emails.push(MultiValue::typed("Ö@Example.COM", "Home"));
        let urn = "urn:example:not-registered-here:2.0:User";
        let mut ext = serde_json::Map::new();
        ext.insert("Team".into(), Value::String("Blue ÅSA".into()));
        u.extensions.insert(urn.into(), ext);
        let e = encode(&u, crate::schema::SchemaSet::core()).unwrap();
        let search: Value = serde_json::from_str(&e.search).unwrap();
        assert_eq!(search["displayName"], "émile ünal");
        assert_eq!(search["name"]["familyName"], fold("ÇELİK"));
        assert_eq!(e.family_name.as_deref(), Some(fold("ÇELİK").as_str()));
        assert_eq!(search["emails"][1]["value"], "ö@example.com");
        assert_eq!(search[urn]["Team"], "blue åsa");
        assert_eq!(search["meta"]["resourceType"], "User", "caseExact");
        let emails: Value = serde_json::from_str(e.emails.as_deref().unwrap()).unwrap();
        assert_eq!(emails, search["emails"]);
        // The same members as the resource, in the same order, but those of columns.
        let resource: Value = serde_json::from_str(&e.resource).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let mut expected = keys(&resource);
        expected.retain(|k| !NOT_SEARCHED.contains(&k.as_str()));
        assert_eq!(keys(&search), expected);
    }

    #[test]
    fn nul_is_refused() {
        let mut u = sample();
        u.title = Some("a\0b".into());
        assert!(matches!(
            encode(&u, crate::schema::SchemaSet::core()),
            Err(StoreError::Backend(_))
        ));
    }

    proptest::proptest! {
        /// `instant_key` is what reading the instant's JSON text back as RFC 3339 gives:
        /// every year chrono represents, leap seconds included.
        #[test]
        fn instant_keys_are_the_json_text_read_back(
            secs in -400_000_000_000i64..400_000_000_000i64,
            nanos in proptest::prop_oneof![0u32..2_000_000_000, proptest::strategy::Just(0u32)],
        ) {
            if let Some(dt) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                let by_text = match serde_json::to_value(dt) {
                    Ok(Value::String(s)) => parse_instant_key(&s),
                    _ => None,
                };
                proptest::prop_assert_eq!(instant_key(&dt), by_text, "{:?}", dt);
            }
        }
    }

    #[test]
    fn instants_far_in_the_future_compare_as_nothing() {
        use chrono::TimeZone;
        let far = Utc.with_ymd_and_hms(12_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(instant_key(&far), None);
        let near = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(instant_key(&near), Some((near.timestamp(), 0)));
    }

    #[test]
    fn objects_of_unregistered_extensions_survive_decode_and_encode() {
        let urn = "urn:example:not-registered-here:2.0:User";
        let resource = format!(
            r#"{{"schemas":["{USER}"],"id":"id-9","userName":"x","{urn}":{{"a":1}},"{ENTERPRISE_USER_SCHEMA}":{{"department":"Ops"}}}}"#,
            USER = crate::schema::USER_SCHEMA
        );
        let user = decode(&resource, 3).unwrap();
        assert_eq!(user.extensions[urn]["a"], 1);
        let shown = serde_json::to_value(crate::resource::UserView {
            user: &user,
            location: None,
            schemas: Some(crate::schema::SchemaSet::core()),
        })
        .unwrap();
        assert!(
            shown.get(urn).is_none(),
            "not rendered by a server without it"
        );
        let row = encode(&user, crate::schema::SchemaSet::core()).unwrap();
        assert!(row.resource.contains(urn), "stored again: {}", row.resource);
        assert_eq!(decode(&row.resource, 4).unwrap().extensions[urn]["a"], 1);
    }
}
