//! A [`User`] to and from the columns of `scimkit_users`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::backend_msg;
use super::driver::Arg;
use crate::filter::present_each;
use crate::resource::User;
use crate::schema::{
    AttributeDef, AttributeType, COMMON_ATTRIBUTES, ENTERPRISE_USER, ENTERPRISE_USER_SCHEMA,
    SchemaSet, USER,
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
/// its JSON text read back as RFC 3339 (`None` when that fails, as it does for years past
/// 9999, so that comparisons with it are false as in [`Filter::matches`](crate::filter::Filter::matches)).
pub(super) fn instant_key(dt: &DateTime<Utc>) -> Option<(i64, i64)> {
    let text = match serde_json::to_value(dt) {
        Ok(Value::String(s)) => s,
        _ => return None,
    };
    parse_instant_key(&text)
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
) -> Vec<(Option<&'static str>, &'static AttributeDef)> {
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
        .collect()
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

/// Writes `value` as JSON text to `out`, with every string that is not `caseExact` by
/// `def` lower-cased.
fn write_folded(
    out: &mut Vec<u8>,
    value: &Value,
    def: Option<&'static AttributeDef>,
) -> serde_json::Result<()> {
    match value {
        Value::String(s) if !case_exact(def) => serde_json::to_writer(&mut *out, &fold(s)),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_folded(out, item, def)?;
            }
            out.push(b']');
            Ok(())
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, member)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key)?;
                out.push(b':');
                let sub = def
                    .filter(|d| d.kind == AttributeType::Complex)
                    .and_then(|d| d.sub_attribute(key));
                write_folded(out, member, sub)?;
            }
            out.push(b'}');
            Ok(())
        }
        other => serde_json::to_writer(&mut *out, other),
    }
}

/// Top-level members of the resource that `search` leaves out: filters and sorts read
/// them from columns of their own (`id`, `user_name_lower`, `external_id`), never from
/// `search`, and leaving them out keeps a typical row under half a 4 KiB page.
const NOT_SEARCHED: [&str; 3] = ["id", "userName", "externalId"];

/// The `search` document as JSON text: the resource's JSON with case-insensitive strings
/// folded, written in one pass (no copy of the document), without [`NOT_SEARCHED`].
fn search_document(resource: &Value, schemas: &SchemaSet) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    let Value::Object(map) = resource else {
        serde_json::to_writer(&mut out, resource)?;
        return Ok(out);
    };
    out.push(b'{');
    let searched = map
        .iter()
        .filter(|(key, _)| !NOT_SEARCHED.contains(&key.as_str()));
    for (i, (key, member)) in searched.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key)?;
        out.push(b':');
        match key
            .starts_with("urn:")
            .then(|| schemas.extension(key))
            .flatten()
        {
            Some(schema) => match member {
                Value::Object(ext) => {
                    out.push(b'{');
                    for (j, (k, v)) in ext.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        serde_json::to_writer(&mut out, k)?;
                        out.push(b':');
                        write_folded(&mut out, v, schema.attribute(k))?;
                    }
                    out.push(b'}');
                }
                other => serde_json::to_writer(&mut out, other)?,
            },
            None => write_folded(&mut out, member, core_attribute(key))?,
        }
    }
    out.push(b'}');
    Ok(out)
}

/// `name.familyName` as in `search`: folded unless `caseExact`.
fn family_name_key(resource: &Value) -> Option<String> {
    let family = resource.pointer("/name/familyName")?.as_str()?;
    let def = core_attribute("name").and_then(|d| d.sub_attribute("familyName"));
    Some(if case_exact(def) {
        family.to_owned()
    } else {
        fold(family)
    })
}

/// The `emails` array as in `search` (JSON text), `None` when absent.
fn emails_key(resource: &Value) -> serde_json::Result<Option<String>> {
    let Some(emails) = resource.get("emails").filter(|e| !e.is_null()) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(128);
    write_folded(&mut out, emails, core_attribute("emails"))?;
    Ok(Some(utf8(out)))
}

/// JSON text written by serde_json (always UTF-8).
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether any string in `value` holds U+0000.
fn has_nul(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s.contains('\0') => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.keys().any(|k| k.contains('\0')) {
                    return true;
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    false
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
    let mut resource = stored.to_value();
    // Objects of extensions this process has not registered are not rendered, but they
    // are the user's: stored again as they came.
    if let Value::Object(doc) = &mut resource {
        for (urn, attrs) in &stored.extensions {
            if !attrs.is_empty() && schemas.extension(urn).is_none() {
                doc.insert(urn.clone(), Value::Object(attrs.clone()));
            }
        }
    }
    if has_nul(&resource) || id.contains('\0') {
        return Err(backend_msg(
            "strings containing U+0000 cannot be stored by the SQL stores",
        ));
    }
    let search = search_document(&resource, schemas).map_err(StoreError::backend)?;
    // `pr` on meta.version holds whenever meta is present: the store always assigns one.
    if let Some(meta) = stored.meta.as_mut() {
        meta.version = Some(format_version(0).into());
    }
    let present = present_paths(&stored, schemas);
    let family_name = family_name_key(&resource);
    let emails = emails_key(&resource).map_err(StoreError::backend)?;
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
        resource: utf8(serde_json::to_vec(&resource).map_err(StoreError::backend)?),
        search: utf8(search),
        present,
        family_name,
        emails,
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

/// Whether a stored resource has a member named by a URN other than the Enterprise
/// extension's (so it must be read with its extension objects, registered here or not).
fn has_custom_extension(resource: &str) -> bool {
    let enterprise = format!("\"{ENTERPRISE_USER_SCHEMA}\"");
    resource
        .match_indices("\"urn:")
        .any(|(at, _)| !resource[at..].starts_with(&enterprise))
}

/// Reads a stored user back.
pub(super) fn decode(resource: &str, version: i64) -> Result<User, StoreError> {
    let mut user: User = if has_custom_extension(resource) {
        match serde_json::from_str(resource).map_err(StoreError::backend)? {
            serde_json::Value::Object(doc) => {
                User::from_canonical(doc).map_err(StoreError::backend)?
            }
            _ => {
                return Err(StoreError::Backend(
                    "a stored user is not a JSON object".into(),
                ));
            }
        }
    } else {
        serde_json::from_str(resource).map_err(StoreError::backend)?
    };
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
        assert!(has_custom_extension(&resource));
        assert!(!has_custom_extension(&format!(
            r#"{{"{ENTERPRISE_USER_SCHEMA}":{{}}}}"#
        )));
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
