//! The whole body of a User request: `schemas`, core attributes (also under the core
//! schema's URN or prefixed with it), extension objects and URN-prefixed extension
//! attributes, each schema's attributes given once, and the required `userName`.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use serde_json::{Map, Value};

use super::{
    Ctx, Given, Ignored, Met, Names, Path, Read, Scalar, Seed, Single, Typed, Whole, position,
    read_member,
};
use crate::error::ScimError;
use crate::resource::fields::Attributes;
use crate::resource::json::Key;
use crate::resource::{EnterpriseUser, Secret, User};
use crate::schema::{COMMON_ATTRIBUTES, ENTERPRISE_USER, Mutability, SchemaDef, USER, USER_SCHEMA};

/// The `schemas` member of a User body: absent (`null`, `[]`) or a list of strings none
/// of which names another resource or message of RFC 7643/7644.
struct Schemas<'c>(&'c Ctx<'c>);

/// Where the URNs of RFC 7643/7644's own resources and messages begin (compared in any
/// letter case): every URN under them but the User schema's names something else.
const CORE_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";
const MESSAGES_PREFIX: &str = "urn:ietf:params:scim:api:messages:2.0:";

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

impl Schemas<'_> {
    fn not_a_list(&self) {
        self.0.fail(ScimError::InvalidSyntax(
            "schemas must be a list of URN strings".into(),
        ));
    }
}

/// One URN of `schemas`.
struct Urn<'c>(&'c Ctx<'c>);

impl<'de> Read<'de> for Urn<'_> {
    type Out = ();
    fn ctx(&self) -> &Ctx<'_> {
        self.0
    }
    fn met(self, met: Met<'_>) {
        let Met::Str(urn) = met else {
            return Schemas(self.0).not_a_list();
        };
        let other = starts_with_ignore_case(urn, MESSAGES_PREFIX)
            || (starts_with_ignore_case(urn, CORE_PREFIX)
                && !urn.eq_ignore_ascii_case(USER_SCHEMA));
        if other {
            self.0.fail(ScimError::InvalidSyntax(format!(
                "schemas names {urn:?}, which is not the User resource"
            )));
        }
    }
}

impl<'de> Read<'de> for Schemas<'_> {
    type Out = ();
    fn ctx(&self) -> &Ctx<'_> {
        self.0
    }
    fn met(self, met: Met<'_>) {
        if !matches!(met, Met::Null) {
            self.not_a_list();
        }
    }
    fn seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Seed(Urn(self.0)))?.is_some() {}
        Ok(())
    }
}

/// Reads a whole body into `user` (a default one: filled in place, never moved, which
/// a typical body's read would notice).
pub(crate) fn read_user<'de, D: Deserializer<'de>>(
    ctx: &Ctx<'_>,
    body: D,
    user: &mut User,
) -> Result<(), D::Error> {
    Seed(Body {
        ctx,
        user,
        core: Given::default(),
        extensions: Vec::new(),
    })
    .deserialize(body)
}

/// A user being read, with what was given of each schema.
struct Body<'c, 'u> {
    ctx: &'c Ctx<'c>,
    user: &'u mut User,
    core: Given,
    /// Per extension met: what was given, and (but for the Enterprise one, typed in the
    /// user) the attribute object.
    extensions: Vec<(&'static SchemaDef, Given, Map<String, Value>)>,
}

impl Body<'_, '_> {
    /// Reads the next value of `map` as the core attribute `name`.
    fn core<'de, A: MapAccess<'de>>(
        &mut self,
        name: &str,
        map: &mut A,
        names: &mut Names<'de>,
        key: &Cow<'de, str>,
    ) -> Result<(), A::Error> {
        let found = position(COMMON_ATTRIBUTES, name).or_else(|| {
            position(USER.attributes, name).map(|(at, d)| (at + COMMON_ATTRIBUTES.len(), d))
        });
        let def = match found {
            Some((at, def)) if def.mutability != Mutability::ReadOnly => {
                if self.core.first(at) {
                    def
                } else {
                    self.ctx.twice(&def.name);
                    return map.next_value_seed(Seed(Ignored(self.ctx)));
                }
            }
            _ => {
                // Unknown and read-only attributes (a GET echoed back) are ignored.
                names.first(key)?;
                return map.next_value_seed(Seed(Ignored(self.ctx)));
            }
        };
        if def.name == "password" {
            let read = map.next_value_seed(Seed(Scalar {
                def,
                path: &def.name,
                ctx: self.ctx,
            }))?;
            if let Some(Typed::Str(s)) = read {
                self.user.password = Some(Secret::new(s.as_str()));
            }
            return Ok(());
        }
        read_member(self.user.writable(def.name), def, &def.name, map, self.ctx)
    }

    /// Reads the next value of `map` as the attribute `name` of the extension `ext`.
    fn extension<'de, A: MapAccess<'de>>(
        &mut self,
        ext: &'static SchemaDef,
        name: &str,
        map: &mut A,
        names: &mut Names<'de>,
        key: &Cow<'de, str>,
    ) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let at = match self
            .extensions
            .iter()
            .position(|(s, ..)| std::ptr::eq(*s, ext))
        {
            Some(at) => at,
            None => {
                self.extensions.push((ext, Given::default(), Map::new()));
                self.extensions.len() - 1
            }
        };
        let (_, given, attrs) = &mut self.extensions[at];
        let found = position(ext.attributes, name);
        let Some((i, def)) = found.filter(|(_, d)| d.mutability != Mutability::ReadOnly) else {
            // Unknown and read-only attributes are ignored.
            names.first(key)?;
            return map.next_value_seed(Seed(Ignored(ctx)));
        };
        let path = Path {
            parent: &ext.id,
            separator: ':',
            name: def.name,
        };
        if !given.first(i) {
            ctx.twice(&path);
            return map.next_value_seed(Seed(Ignored(ctx)));
        }
        if std::ptr::eq(ext, &ENTERPRISE_USER) {
            let enterprise = self
                .user
                .enterprise
                .get_or_insert_with(EnterpriseUser::default);
            return read_member(enterprise.writable(def.name), def, &path, map, ctx);
        }
        let read = Whole(Single {
            def,
            path: &path,
            ctx,
        });
        if let Some(v) = map.next_value_seed(Seed(read))? {
            attrs.insert(def.name.to_owned(), v);
        }
        Ok(())
    }
}

/// An object of attributes under a schema's URN (`"urn:...:User": {...}`).
struct SchemaObject<'b, 'c, 'u> {
    body: &'b mut Body<'c, 'u>,
    /// `None`: the core schema.
    ext: Option<&'static SchemaDef>,
    urn: &'b str,
}

impl<'de> Read<'de> for SchemaObject<'_, '_, '_> {
    type Out = ();
    fn ctx(&self) -> &Ctx<'_> {
        self.body.ctx
    }
    fn met(self, met: Met<'_>) {
        if !matches!(met, Met::Null) {
            self.body.ctx.fail(ScimError::InvalidValue(format!(
                "{} must be a JSON object",
                self.urn
            )));
        }
    }
    fn map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut names = Names::new(self.body.ctx);
        while let Some(Key(key)) = map.next_key()? {
            match self.ext {
                None => self.body.core(&key, &mut map, &mut names, &key)?,
                Some(ext) => self.body.extension(ext, &key, &mut map, &mut names, &key)?,
            }
        }
        Ok(())
    }
}

impl<'de> Read<'de> for Body<'_, '_> {
    type Out = ();
    fn ctx(&self) -> &Ctx<'_> {
        self.ctx
    }
    fn met(self, _: Met<'_>) {
        self.ctx.fail(ScimError::InvalidSyntax(
            "request body must be a JSON object".into(),
        ));
    }
    fn map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut names = Names::new(ctx);
        while let Some(Key(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case("schemas") {
                names.first(&key)?;
                map.next_value_seed(Seed(Schemas(ctx)))?;
            } else if !key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
                self.core(&key, &mut map, &mut names, &key)?;
            } else if key.eq_ignore_ascii_case(USER_SCHEMA) || ctx.schemas.extension(&key).is_some()
            {
                names.first(&key)?;
                let object = SchemaObject {
                    ext: ctx.schemas.extension(&key),
                    urn: &key,
                    body: &mut self,
                };
                map.next_value_seed(Seed(object))?;
            } else {
                // An attribute name carrying its schema URN, `urn:...:User:employeeNumber`
                // (a "urn:" key always has a ':'); or an unknown extension, ignored.
                let (urn, name) = key.rsplit_once(':').unwrap_or_default();
                if urn.eq_ignore_ascii_case(USER_SCHEMA) {
                    self.core(name, &mut map, &mut names, &key)?;
                } else if let Some(ext) = ctx.schemas.extension(urn) {
                    self.extension(ext, name, &mut map, &mut names, &key)?;
                } else {
                    names.first(&key)?;
                    map.next_value_seed(Seed(Ignored(ctx)))?;
                }
            }
        }
        let user = self.user;
        if user.user_name.trim().is_empty() {
            ctx.fail(ScimError::InvalidValue(
                "required attribute userName is missing or empty".into(),
            ));
        }
        if user
            .enterprise
            .as_ref()
            .is_some_and(EnterpriseUser::is_empty)
        {
            user.enterprise = None;
        }
        for (ext, _, attrs) in self.extensions {
            if !attrs.is_empty() {
                user.extensions.insert(ext.id.to_owned(), attrs);
            }
        }
        Ok(())
    }
}
