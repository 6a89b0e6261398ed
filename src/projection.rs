//! Attribute projection: the `attributes` and `excludedAttributes` parameters
//! (RFC 7644 §3.4.2.5, §3.9), resolved to what to write of each attribute.
//!
//! A [`Projection`] is the parsed parameters. Inside the crate, `Projection::keep` says,
//! for one attribute of a resource (core or extension, with its schema definition),
//! whether a response writes it whole, leaves it out, or writes some of its
//! sub-attributes. The response writer (`resource/write.rs`) asks it while it writes a
//! resource from its attribute table: there is no intermediate JSON value. Nothing here
//! knows a resource type: the rules are those of the schema.
//!
//! The rules, as responses apply them:
//!
//! * `returned: always` attributes (`id`, and `schemas`, which the writer writes itself)
//!   are written whatever the parameters say; `returned: never` never; `returned:
//!   request` only when `attributes` names them (or one of their sub-attributes).
//! * Paths are case-insensitive and may carry a schema URN
//!   (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`) or be a
//!   whole extension URN, which selects (or excludes) the extension's attributes (but not
//!   its `returned: request` ones, nor, excluded, its `returned: always` ones).
//! * `name.givenName`, `meta.created` and `emails.value` select sub-attributes, in a
//!   singular complex attribute or in each element of a multi-valued one. The
//!   sub-attributes of an extension attribute follow their own `returned` too.
//! * A complex value whose sub-attributes are filtered and of which nothing is left is
//!   left out: an element of a multi-valued attribute, then the attribute, then (for an
//!   extension) the extension object, which is then no longer listed in `schemas`.

use std::collections::{BTreeMap, BTreeSet};

use crate::schema::{AttributeDef, Returned, SchemaSet, USER_SCHEMA};

/// One attribute path of a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Path {
    /// `None` for the core schema, else the extension URN (canonical spelling).
    extension: Option<&'static str>,
    /// The attribute; `None` selects the whole extension.
    attribute: Option<String>,
    /// The sub-attribute, if any.
    sub: Option<String>,
}

impl Path {
    fn parse(raw: &str, schemas: &SchemaSet) -> Option<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        let (extension, rest) = match schemas.split_extension_path(raw) {
            Some((ext, "")) => {
                return Some(Self {
                    extension: Some(ext.id),
                    attribute: None,
                    sub: None,
                });
            }
            Some((ext, rest)) => (Some(ext.id), rest),
            None => (None, after_urn(raw, USER_SCHEMA).unwrap_or(raw)),
        };
        let (attribute, sub) = match rest.split_once('.') {
            Some((a, s)) => (a, Some(s.to_owned())),
            None => (rest, None),
        };
        Some(Self {
            extension,
            attribute: Some(attribute.to_owned()),
            sub,
        })
    }
}

/// What an attribute's paths name: the attribute whole, and which of its sub-attributes
/// (ASCII lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Named {
    whole: bool,
    subs: BTreeSet<String>,
}

impl Named {
    /// Whether sub-attribute `sub` (any letter case) is named.
    fn names_sub(&self, sub: &str) -> bool {
        lowered(sub, |sub| self.subs.contains(sub))
    }
}

/// A list of paths, indexed: each attribute and sub-attribute is looked up once, in
/// logarithmic time and without an allocation, however many paths a request names (a
/// SearchRequest body may name tens of thousands), rather than by scanning the list for
/// every member of every resource. Ordered maps, so that a parsed request reads the same
/// every time (its `Debug` form is what the `parse_operation` fuzz target compares).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Paths {
    /// Whole extensions named, by canonical URN.
    extensions: BTreeSet<&'static str>,
    /// Attributes named, by extension (`None`: the core schema), then by ASCII-lower-cased
    /// name.
    attributes: BTreeMap<Option<&'static str>, BTreeMap<String, Named>>,
}

impl Paths {
    fn is_empty(&self) -> bool {
        self.extensions.is_empty() && self.attributes.is_empty()
    }

    fn insert(&mut self, path: Path) {
        let Some(attribute) = path.attribute else {
            if let Some(ext) = path.extension {
                self.extensions.insert(ext);
            }
            return;
        };
        let named = self
            .attributes
            .entry(path.extension)
            .or_default()
            .entry(attribute.to_ascii_lowercase())
            .or_default();
        match path.sub {
            Some(sub) => {
                named.subs.insert(sub.to_ascii_lowercase());
            }
            None => named.whole = true,
        }
    }

    /// What is named of attribute `key` of `extension` (`None`: the core schema), not
    /// counting whole-extension paths.
    fn attribute(&self, extension: Option<&'static str>, key: &str) -> Option<&Named> {
        tick();
        let named = self.attributes.get(&extension)?;
        lowered(key, |key| named.get(key))
    }

    /// Whether the whole extension is named.
    fn whole_extension(&self, extension: &str) -> bool {
        self.extensions.contains(extension)
    }
}

#[cfg(test)]
thread_local! {
    /// Lookups counted by the tests that check projection work is linear.
    pub(crate) static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one lookup (in tests; nothing otherwise).
#[inline(always)]
fn tick() {
    #[cfg(test)]
    WORK.with(|w| w.set(w.get() + 1));
}

/// `f` of `s` in ASCII lower case, lower-cased on the stack when it has an upper-case
/// letter (attribute names are short; a longer one is copied).
fn lowered<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    tick();
    if !s.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(s);
    }
    let mut buf = [0u8; 64];
    match buf.get_mut(..s.len()) {
        Some(bytes) => {
            bytes.copy_from_slice(s.as_bytes());
            bytes.make_ascii_lowercase();
            // ASCII lower-casing keeps UTF-8 valid.
            f(std::str::from_utf8(bytes).unwrap_or_default())
        }
        None => f(&s.to_ascii_lowercase()),
    }
}

/// `s` after a leading `urn` and `:` (the URN in any letter case), if it starts so.
pub(crate) fn after_urn<'a>(s: &'a str, urn: &str) -> Option<&'a str> {
    let rest = s.get(urn.len()..)?.strip_prefix(':')?;
    s.get(..urn.len())?
        .eq_ignore_ascii_case(urn)
        .then_some(rest)
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    include: Option<Paths>,
    exclude: Paths,
}

fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>, schemas: &SchemaSet) -> Paths {
    let mut paths = Paths::default();
    for path in items
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter_map(|raw| Path::parse(raw, schemas))
    {
        paths.insert(path);
    }
    paths
}

/// What a response writes of one attribute ([`Projection::keep`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep<'p> {
    /// Nothing.
    Drop,
    /// The whole value, as it is.
    Whole,
    /// The sub-attributes [`Subs::keeps`] keeps, in the value (an object) or in each of its
    /// elements (an array); a value left empty is not written.
    Subs(Subs<'p>),
}

/// Which sub-attributes of one attribute a response writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subs<'p> {
    /// The sub-attributes the paths name, and whether they are the ones kept
    /// (`attributes`) or the ones left out (`excludedAttributes`).
    named: Option<(&'p Named, bool)>,
    /// For an extension attribute: its definition, whose sub-attributes' `returned`
    /// applies, and what `attributes` names of it (for `returned: request`).
    returned: Option<(&'static AttributeDef, Option<&'p Named>)>,
}

impl Subs<'_> {
    /// Whether sub-attribute `sub` (as a resource writes its name) is written.
    pub(crate) fn keeps(&self, sub: &str) -> bool {
        if let Some((def, requested)) = self.returned {
            match def.sub_attribute(sub).map(|d| d.returned) {
                Some(Returned::Never) => return false,
                Some(Returned::Request) if !requested.is_some_and(|n| n.names_sub(sub)) => {
                    return false;
                }
                _ => {}
            }
        }
        self.named
            .is_none_or(|(named, include)| named.names_sub(sub) == include)
    }
}

impl Projection {
    /// From the comma-separated parameter values (either may be absent). When both are
    /// given, `attributes` wins, as RFC 7644 §3.4.2.5 allows only one. Extension URNs are
    /// those of `schemas`.
    pub fn new(attributes: Option<&str>, excluded: Option<&str>, schemas: &SchemaSet) -> Self {
        Self::from_lists(
            attributes.map(|a| vec![a]),
            excluded.map(|e| vec![e]),
            schemas,
        )
    }

    /// From lists of paths, as a SearchRequest body carries them.
    pub fn from_lists<'a>(
        attributes: Option<Vec<&'a str>>,
        excluded: Option<Vec<&'a str>>,
        schemas: &SchemaSet,
    ) -> Self {
        let include = attributes
            .map(|a| parse_list(a, schemas))
            .filter(|v| !v.is_empty());
        let exclude = if include.is_some() {
            Paths::default()
        } else {
            excluded.map(|e| parse_list(e, schemas)).unwrap_or_default()
        };
        Self { include, exclude }
    }

    /// Whether the projection changes nothing (the attributes' own `returned` still
    /// applies).
    pub fn is_identity(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// What a response writes of attribute `name` (as the resource writes it) of
    /// `extension` (its canonical URN; `None`: the resource's core schema), whose
    /// definition is `def` (`None`: an attribute the schema does not know, returned by
    /// default).
    pub(crate) fn keep(
        &self,
        extension: Option<&'static str>,
        def: Option<&'static AttributeDef>,
        name: &str,
    ) -> Keep<'_> {
        let requested = self
            .include
            .as_ref()
            .and_then(|inc| inc.attribute(extension, name));
        // The sub-attributes of an extension attribute follow their own `returned`.
        let returned = extension
            .and(def)
            .filter(|d| !d.sub_attributes.is_empty())
            .map(|d| (d, requested));
        let subs = |named| Keep::Subs(Subs { named, returned });
        let whole = match returned {
            Some(_) => subs(None),
            None => Keep::Whole,
        };
        match def.map_or(Returned::Default, |d| d.returned) {
            Returned::Never => Keep::Drop,
            Returned::Always => whole,
            Returned::Request if requested.is_none() => Keep::Drop,
            Returned::Request | Returned::Default => match &self.include {
                Some(include) => match requested {
                    _ if extension.is_some_and(|e| include.whole_extension(e)) => whole,
                    None => Keep::Drop,
                    Some(named) if named.whole => whole,
                    Some(named) => subs(Some((named, true))),
                },
                // An excluded extension keeps only its `returned: always` attributes.
                None if extension.is_some_and(|e| self.exclude.whole_extension(e)) => Keep::Drop,
                None => match self.exclude.attribute(extension, name) {
                    None => whole,
                    Some(named) if named.whole => Keep::Drop,
                    Some(named) => subs(Some((named, false))),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{
        EnterpriseUser, Manager, Meta, MultiValue, Name, Selection, User, UserView, write_json_user,
    };
    use crate::schema::ENTERPRISE_USER_SCHEMA;
    use serde_json::{Value, json};

    /// `user` as a response with `attributes=include` / `excludedAttributes=exclude`
    /// writes it.
    fn written(user: &User, include: Option<&str>, exclude: Option<&str>) -> Value {
        let projection = Projection::new(include, exclude, SchemaSet::core());
        lists(user, &projection)
    }

    fn lists(user: &User, projection: &Projection) -> Value {
        let selection = Selection::new::<User>(projection, SchemaSet::core());
        let view = UserView {
            user,
            location: None,
            schemas: None,
        };
        let mut out = Vec::new();
        write_json_user(&view, Some(&selection), &mut out);
        serde_json::from_slice(&out).expect("the writer writes JSON")
    }

    /// `user()` after `attributes=include` / `excludedAttributes=exclude`.
    fn projected(include: Option<&str>, exclude: Option<&str>) -> Value {
        written(&user(), include, exclude)
    }

    /// `user()` projected on `userName,name.givenName,emails.value`.
    fn name_and_email_values() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "a@x"}, {"value": "b@x"}]
        })
    }

    fn email(value: &str, kind: &str) -> MultiValue {
        MultiValue {
            value: Some(value.into()),
            kind: Some(kind.into()),
            ..MultiValue::default()
        }
    }

    fn user() -> User {
        User {
            id: Some("1".into()),
            name: Some(Name {
                given_name: Some("Barbara".into()),
                family_name: Some("Jensen".into()),
                ..Name::default()
            }),
            emails: vec![email("a@x", "work"), email("b@x", "home")],
            meta: Some(Meta::new("User", chrono::DateTime::UNIX_EPOCH)),
            enterprise: Some(EnterpriseUser {
                employee_number: Some("7".into()),
                department: Some("Ops".into()),
                ..EnterpriseUser::default()
            }),
            ..User::new("bjensen")
        }
    }

    #[test]
    fn attributes_keep_only_requested_plus_always_returned() {
        let u = projected(Some("userName,name.givenName,emails.value"), None);
        assert_eq!(u, name_and_email_values());
    }

    #[test]
    fn extension_paths_select_inside_the_extension() {
        let u = projected(
            Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")),
            None,
        );
        assert_eq!(u[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
        assert!(u.get("userName").is_none());
        let u = projected(Some(ENTERPRISE_USER_SCHEMA), None);
        assert_eq!(u[ENTERPRISE_USER_SCHEMA]["department"], "Ops");
    }

    /// The work of one projection, counted: `n` paths (half naming sub-attributes of
    /// `emails`, half unknown attributes) over a user of `n` emails.
    fn projection_work(n: usize) -> u64 {
        let mut paths: Vec<String> = (0..n / 2).map(|i| format!("emails.s{i}")).collect();
        paths.extend((0..n / 2).map(|i| format!("unknown{i}")));
        paths.push("emails.VALUE".into());
        let mut u = user();
        u.emails = (0..n)
            .map(|i| MultiValue {
                display: Some("D".into()),
                ..email(&format!("u{i}@x"), "work")
            })
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        WORK.with(|w| w.replace(0));
        for (include, exclude) in [(Some(refs.clone()), None), (None, Some(refs.clone()))] {
            lists(
                &u,
                &Projection::from_lists(include, exclude, SchemaSet::core()),
            );
        }
        WORK.with(|w| w.replace(0))
    }

    #[test]
    fn projection_of_many_paths_over_many_elements_does_linear_work() {
        crate::test_checks::assert_n_log_n("projection lookups", 200, projection_work);
    }

    #[test]
    fn many_paths_project_as_few_do() {
        let mut paths = vec!["EMAILS.value", "name.GIVENNAME", "userName"];
        paths.extend(std::iter::repeat_n("emails.value", 1000));
        let projection = Projection::from_lists(Some(paths), None, SchemaSet::core());
        assert_eq!(lists(&user(), &projection), name_and_email_values());
    }

    #[test]
    fn excluded_attributes_remove_but_never_id() {
        let u = projected(None, Some("NAME, emails.type,id,meta"));
        assert!(u.get("name").is_none());
        assert!(u.get("meta").is_none());
        assert_eq!(u["id"], "1");
        assert_eq!(u["emails"][0], json!({"value": "a@x"}));
        let u = projected(None, Some(ENTERPRISE_USER_SCHEMA));
        assert!(u.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(u["schemas"], json!([USER_SCHEMA]));
    }

    /// Okta and Entra read `meta.version` (the ETag) and `meta.location` alone.
    #[test]
    fn meta_sub_attributes_are_selected_and_excluded_one_by_one() {
        let mut u = user();
        if let Some(meta) = &mut u.meta {
            meta.version = Some("W/\"3\"".into());
            meta.location = Some("https://x/Users/1".into());
        }
        let got = written(&u, Some("meta.version,META.Location"), None);
        assert_eq!(
            got["meta"],
            json!({"location": "https://x/Users/1", "version": "W/\"3\""})
        );
        let got = written(
            &u,
            None,
            Some("meta.created,meta.lastModified,meta.location"),
        );
        assert_eq!(
            got["meta"],
            json!({"resourceType": "User", "version": "W/\"3\""})
        );
        // A meta of which nothing is selected is not written.
        u.meta = Some(Meta::new("User", chrono::DateTime::UNIX_EPOCH));
        assert!(
            written(&u, Some("userName,meta.version"), None)
                .get("meta")
                .is_none()
        );
    }

    /// A client asking for `emails.display` or `name.middleName` gets no empty objects.
    #[test]
    fn complex_values_left_empty_by_a_projection_are_not_written() {
        let mut u = user();
        u.emails[1].display = Some("B".into());
        let got = written(&u, Some("emails.display,name.middleName"), None);
        assert_eq!(
            got,
            json!({"schemas": [USER_SCHEMA], "id": "1", "emails": [{"display": "B"}]})
        );
        let got = written(&u, None, Some("emails.value,emails.type,name.givenName"));
        assert_eq!(got["emails"], json!([{"display": "B"}]));
        assert_eq!(got["name"], json!({"familyName": "Jensen"}));
        let got = written(&u, None, Some("emails.value,emails.type,emails.display"));
        assert!(got.get("emails").is_none(), "{got}");
        // Of the Enterprise extension, only a manager that has a value survives `manager.value`.
        let path = format!("{ENTERPRISE_USER_SCHEMA}:manager.value");
        let got = written(&u, Some(&path), None);
        assert!(got.get(ENTERPRISE_USER_SCHEMA).is_none(), "{got}");
        assert_eq!(got["schemas"], json!([USER_SCHEMA]));
        if let Some(e) = &mut u.enterprise {
            e.manager = Some(Manager {
                value: Some("m".into()),
                display_name: Some("M".into()),
                ..Manager::default()
            });
        }
        let got = written(&u, Some(&path.to_ascii_uppercase()), None);
        assert_eq!(
            got[ENTERPRISE_USER_SCHEMA],
            json!({"manager": {"value": "m"}})
        );
        assert_eq!(got["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    }

    /// `attributes=userName` (Okta's and OneLogin's lookups) lists no extension the
    /// response does not carry.
    #[test]
    fn extensions_projected_away_are_not_listed_in_schemas() {
        let got = projected(Some("userName"), None);
        assert_eq!(
            got,
            json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "bjensen"})
        );
        let got = projected(
            None,
            Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")),
        );
        assert_eq!(got["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
        assert_eq!(got[ENTERPRISE_USER_SCHEMA], json!({"department": "Ops"}));
    }

    /// Projected responses are written in the order whole ones are (`schemas` first),
    /// and without a projection the response is the whole user, byte for byte.
    #[test]
    fn projected_users_are_written_in_the_order_of_whole_ones() {
        let u = user();
        let projection = Projection::new(None, Some("name"), SchemaSet::core());
        let selection = Selection::new::<User>(&projection, SchemaSet::core());
        let view = UserView {
            user: &u,
            location: Some("https://x/Users/1"),
            schemas: None,
        };
        let (mut projected, mut whole) = (Vec::new(), Vec::new());
        write_json_user(&view, Some(&selection), &mut projected);
        write_json_user(&view, None, &mut whole);
        let mut without_name = serde_json::to_value(view).unwrap();
        without_name.as_object_mut().unwrap().remove("name");
        assert_eq!(
            serde_json::from_slice::<Value>(&projected).unwrap(),
            without_name
        );
        let projected = String::from_utf8(projected).unwrap();
        let whole = String::from_utf8(whole).unwrap();
        let name = whole.find(",\"name\":").unwrap();
        let end = whole[name..].find("},").unwrap() + name + 1;
        assert_eq!(projected, format!("{}{}", &whole[..name], &whole[end..]));
        let identity = Projection::default();
        let selection = Selection::new::<User>(&identity, SchemaSet::core());
        let mut same = Vec::new();
        write_json_user(&view, Some(&selection), &mut same);
        assert_eq!(String::from_utf8(same).unwrap(), whole);
    }
}
