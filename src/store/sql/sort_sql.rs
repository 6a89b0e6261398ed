//! Translation of a [`SortSpec`] to `ORDER BY` terms, with the semantics of
//! [`SortSpec::sort`].

use super::filter_sql::{Dialect, Loc, Translator, Values};
use crate::schema::{
    AttributeDef, AttributeType, Returned, SchemaSet, USER_SCHEMA, user_attribute,
};
use crate::sort::SortSpec;

/// How to order a list.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Order {
    /// `ORDER BY` these terms (ending with `u.seq`, the stable order).
    Sql(String),
    /// In Rust, with [`SortSpec::sort`], over every match.
    InRust,
}

/// The `ORDER BY` terms for `sort`, with the semantics of [`SortSpec::sort`]: the key of
/// [`SortSpec::key`] (strings case-folded unless `caseExact`, instants as instants, the
/// primary-else-first element of a multi-valued attribute), users without one last in
/// either direction, ties in creation order.
pub(super) fn order_by(sort: Option<&SortSpec>, dialect: Dialect, schemas: &SchemaSet) -> Order {
    let Some(spec) = sort else {
        return Order::Sql("u.seq".into());
    };
    let mut params = Vec::new();
    let t = Translator {
        dialect,
        params: &mut params,
        aliases: 0,
        schemas,
    };
    match t.sort_key(spec) {
        SortKey::Unsupported => Order::InRust,
        // Every user has the same key, or none: the stable order.
        SortKey::None => Order::Sql("u.seq".into()),
        SortKey::Exprs(exprs) => {
            let dir = if spec.descending { "DESC" } else { "ASC" };
            let mut terms: Vec<String> = exprs
                .into_iter()
                .map(|(expr, text)| {
                    let collate = match dialect {
                        #[cfg(feature = "postgres")]
                        Dialect::Postgres if text => " COLLATE \"C\"",
                        _ => {
                            let _ = text;
                            ""
                        }
                    };
                    format!("{expr}{collate} {dir} NULLS LAST")
                })
                .collect();
            terms.push("u.seq".into());
            Order::Sql(terms.join(", "))
        }
    }
}

/// A sort key in SQL.
enum SortKey {
    /// No user has a (distinct) key.
    None,
    /// The key's expressions, compared in order; `true` for text.
    Exprs(Vec<(String, bool)>),
    /// Not translated.
    Unsupported,
}

impl Translator<'_> {
    fn sort_key(&self, spec: &SortSpec) -> SortKey {
        let path = &spec.by;
        let urn = path.urn.as_deref();
        let core = urn.is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA));
        let (extension, def) = match urn {
            Some(u) if !core => match self.schemas.extension(u) {
                Some(ext) => (Some(ext.id), ext.attribute(&path.name)),
                // An unknown schema: no key for anyone.
                None => return SortKey::None,
            },
            _ => (None, user_attribute(urn, &path.name)),
        };
        // Unknown attributes, `schemas` (the same for everyone) and what is never returned
        // (`password`, write-only extension values; the order would reveal them) give no
        // key: every user sorts alike, in creation order, as in memory.
        let Some(def) = def.filter(|d| d.returned != Returned::Never) else {
            return SortKey::None;
        };
        let mut keys: Vec<&'static str> = Vec::with_capacity(3);
        keys.extend(extension);
        keys.push(def.name);
        let sub = path.sub_attr.as_deref();
        if def.kind != AttributeType::Complex {
            if sub.is_some() {
                return SortKey::None;
            }
            if def.multi_valued {
                // The first element decides (RFC 7644 §3.4.2.3): not translated.
                return SortKey::Unsupported;
            }
            if extension.is_none() {
                let column = match def.name {
                    "userName" => Some("u.user_name_lower"),
                    "id" => Some("u.id"),
                    "externalId" => Some("u.external_id"),
                    "active" => return SortKey::Exprs(vec![("u.active".into(), false)]),
                    _ => None,
                };
                if let Some(c) = column {
                    return SortKey::Exprs(vec![(c.into(), true)]);
                }
            }
            return self.json_sort_key("u.search", &keys, def);
        }
        if !def.multi_valued {
            // A complex attribute itself is an object: no key.
            let Some(sd) = sub
                .and_then(|s| def.sub_attribute(s))
                .filter(|d| d.returned != Returned::Never)
            else {
                return SortKey::None;
            };
            if extension.is_none() && def.name == "meta" {
                match sd.name {
                    "created" => {
                        return SortKey::Exprs(vec![
                            ("u.created_s".into(), false),
                            ("u.created_ns".into(), false),
                        ]);
                    }
                    "lastModified" => {
                        return SortKey::Exprs(vec![
                            ("u.modified_s".into(), false),
                            ("u.modified_ns".into(), false),
                        ]);
                    }
                    "version" => {
                        if let Some(Values::One(Loc::Text { expr, .. })) = self.meta_loc("version")
                        {
                            return SortKey::Exprs(vec![(expr, true)]);
                        }
                    }
                    _ => {}
                }
            }
            // The column the sort index reads (migration 0008): the same value as the
            // document's, written with it.
            if extension.is_none() && def.name == "name" && sd.name == "familyName" {
                return SortKey::Exprs(vec![("u.family_name".into(), true)]);
            }
            keys.push(sd.name);
            return self.json_sort_key("u.search", &keys, sd);
        }
        // Multi-valued: the sub-attribute (default `value`) of the primary element, else
        // of the first.
        // A sub-attribute never returned gives no key, as in memory ([`SortSpec::key`]).
        let Some(sd) = def
            .sub_attribute(sub.unwrap_or("value"))
            .filter(|d| d.returned != Returned::Never)
        else {
            return SortKey::None;
        };
        let elem = match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => "e.value",
            #[cfg(feature = "postgres")]
            Dialect::Postgres => "e.v",
        };
        let key = match self.json_sort_key(elem, &[sd.name], sd) {
            SortKey::Exprs(mut e) if e.len() == 1 => e.remove(0),
            other => return other,
        };
        let (elem_key, text) = key;
        let expr = match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!(
                "(SELECT {} FROM json_each(u.search, {}) AS e \
                 ORDER BY (json_type(e.value, '$.\"primary\"') IS 'true') DESC, e.key LIMIT 1)",
                elem_key,
                Self::sqlite_path(&keys)
            ),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "(SELECT {} FROM jsonb_array_elements(CASE WHEN jsonb_typeof({json}) = 'array' \
                 THEN {json} END) WITH ORDINALITY AS e(v, i) \
                 ORDER BY COALESCE(e.v -> 'primary' = 'true'::jsonb, FALSE) DESC, e.i LIMIT 1)",
                elem_key,
                json = Self::pg_json("u.search", &keys)
            ),
        };
        SortKey::Exprs(vec![(expr, text)])
    }

    /// The sort key of the scalar at `keys` under `base`.
    fn json_sort_key(&self, base: &str, keys: &[&str], def: &AttributeDef) -> SortKey {
        match def.kind {
            AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
                SortKey::Exprs(vec![(self.json_text(base, keys), true)])
            }
            // SQLite gives JSON booleans as 0/1; PostgreSQL's text 'false' < 'true'.
            AttributeType::Boolean => {
                let text = match self.dialect {
                    #[cfg(feature = "sqlite")]
                    Dialect::Sqlite => false,
                    #[cfg(feature = "postgres")]
                    Dialect::Postgres => true,
                };
                SortKey::Exprs(vec![(self.json_text(base, keys), text)])
            }
            _ => SortKey::Unsupported,
        }
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use super::{Order, order_by};
    use crate::schema::{AttributeDef, SchemaDef, SchemaSet};
    use crate::sort::SortSpec;
    use crate::store::sql::filter_sql::Dialect;

    const URN: &str = "urn:example:sortsql:2.0:User";

    static SECRETS: SchemaDef = SchemaDef {
        id: URN,
        name: "Secrets",
        description: "",
        attributes: &[
            AttributeDef::string("pin", "").write_only(),
            AttributeDef::complex(
                "device",
                "",
                &[
                    AttributeDef::string("serial", ""),
                    AttributeDef::string("secret", "").write_only(),
                ],
            ),
            AttributeDef::complex(
                "creds",
                "",
                &[
                    AttributeDef::string("value", "").write_only(),
                    AttributeDef::string("label", ""),
                ],
            )
            .multi(),
        ],
    };

    fn order(by: &str) -> Order {
        let spec = SortSpec::parse(&format!("{URN}:{by}"), None).unwrap();
        let schemas = SchemaSet::default().with_extension(&SECRETS).unwrap();
        order_by(Some(&spec), Dialect::Sqlite, &schemas)
    }

    #[test]
    fn sorting_by_never_returned_values_is_creation_order_in_sql() {
        let stable = Order::Sql("u.seq".into());
        for by in ["pin", "device.secret", "creds", "creds.value"] {
            assert_eq!(order(by), stable, "{by}");
        }
        for by in ["device.serial", "creds.label"] {
            assert_ne!(order(by), stable, "{by}");
        }
    }
}
