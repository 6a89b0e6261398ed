//! The pieces of a translated filter that differ between SQLite and PostgreSQL: parameters,
//! JSON access, element tables, text comparison and `LIKE`.

use super::*;

impl Translator<'_> {
    pub(super) fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        self.dialect.placeholder(self.params.len())
    }

    pub(super) fn text(&mut self, s: String) -> String {
        self.bind(Param::Text(s))
    }

    pub(super) fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("e{}", self.aliases)
    }

    /// The SQL expression of the JSON value at `keys` under `base` (as JSON).
    #[cfg(feature = "postgres")]
    pub(in crate::store::sql) fn pg_json(base: &str, keys: &[&str]) -> String {
        let mut s = format!("({base}");
        for k in keys {
            s.push_str(" -> '");
            s.push_str(&k.replace('\'', "''"));
            s.push('\'');
        }
        s.push(')');
        s
    }

    #[cfg(feature = "sqlite")]
    pub(in crate::store::sql) fn sqlite_path(keys: &[&str]) -> String {
        let mut s = String::from("'$");
        for k in keys {
            s.push_str(".\"");
            s.push_str(&k.replace('\'', "''"));
            s.push('"');
        }
        s.push('\'');
        s
    }

    /// The text of the JSON string at `keys` under `base` (NULL when absent).
    pub(in crate::store::sql) fn json_text(&self, base: &str, keys: &[&str]) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("json_extract({base}, {})", Self::sqlite_path(keys)),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => match keys.split_last() {
                Some((last, init)) => format!(
                    "({} ->> '{}')",
                    Self::pg_json(base, init),
                    last.replace('\'', "''")
                ),
                None => format!("({base} #>> '{{}}')"),
            },
        }
    }

    /// Whether the JSON value at `keys` under `base` is the boolean `b` (never NULL).
    pub(super) fn json_bool_is(&self, base: &str, keys: &[&str], b: bool) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("(json_type({base}, {}) IS '{b}')", Self::sqlite_path(keys)),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "COALESCE({} = '{b}'::jsonb, FALSE)",
                Self::pg_json(base, keys)
            ),
        }
    }

    /// Whether the JSON number at `keys` under `base` compares `sym` to the bound integer
    /// `param` (never NULL; FALSE when the value is absent or not a number).
    pub(super) fn json_integer_compare(
        &self,
        base: &str,
        keys: &[&str],
        sym: &str,
        param: &str,
    ) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let path = Self::sqlite_path(keys);
                format!(
                    "COALESCE((json_type({base}, {path}) IN ('integer', 'real') \
                     AND json_extract({base}, {path}) {sym} {param}), FALSE)"
                )
            }
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let value = Self::pg_json(base, keys);
                // CASE, not AND: the cast must never see a value that is not a number.
                format!(
                    "COALESCE(CASE WHEN jsonb_typeof({value}) = 'number' \
                     THEN ({value} #>> '{{}}')::numeric {sym} {param} ELSE FALSE END, FALSE)"
                )
            }
        }
    }

    /// Whether the JSON value at `keys` under `base` is an object (never NULL).
    pub(super) fn json_is_object(&self, base: &str, keys: &[&str]) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!(
                "(json_type({base}, {}) IS 'object')",
                Self::sqlite_path(keys)
            ),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "COALESCE(jsonb_typeof({}) = 'object', FALSE)",
                Self::pg_json(base, keys)
            ),
        }
    }

    /// A condition implied by "some email is `folded`" that the email index answers.
    pub(super) fn email_index(&mut self, folded: &str) -> Sql {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let p = self.text(folded.to_owned());
                Sql::Expr(format!(
                    "(u.seq IN (SELECT user_seq FROM scimkit_user_emails WHERE tenant = ?1 AND value = {p}))"
                ))
            }
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let doc = serde_json::json!([{ "value": folded }]).to_string();
                let p = self.text(doc);
                Sql::Expr(format!("(u.emails @> {p}::jsonb)"))
            }
        }
    }

    /// The `FROM` item iterating over the elements of the JSON array at `keys` under
    /// `base`, and its alias.
    pub(super) fn elements(&mut self, base: &str, keys: &[&str]) -> (String, String) {
        let alias = self.alias();
        let from = match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("json_each({base}, {}) AS {alias}", Self::sqlite_path(keys)),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "jsonb_array_elements(CASE WHEN jsonb_typeof({json}) = 'array' THEN {json} END) AS {alias}(v)",
                json = Self::pg_json(base, keys)
            ),
        };
        (from, alias)
    }

    /// The JSON value of the current element of `alias`.
    pub(super) fn element_json(&self, alias: &str) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("{alias}.value"),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!("{alias}.v"),
        }
    }

    /// The text of the current element of `alias` if it is a string (else NULL).
    pub(super) fn element_text(&self, alias: &str) -> String {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!("(CASE WHEN {alias}.type = 'text' THEN {alias}.atom END)"),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "(CASE WHEN jsonb_typeof({alias}.v) = 'string' THEN {alias}.v #>> '{{}}' END)"
            ),
        }
    }

    /// `EXISTS (SELECT 1 FROM <from> WHERE <pred>)`, for both sides of `pred`.
    pub(super) fn exists(from: &str, pred: Tr) -> Tr {
        let wrap = |p: Sql| match p {
            Sql::False => Sql::False,
            Sql::True => Sql::Expr(format!("(EXISTS (SELECT 1 FROM {from}))")),
            Sql::Expr(p) => Sql::Expr(format!("(EXISTS (SELECT 1 FROM {from} WHERE {p}))")),
        };
        if pred.exact {
            return Tr::exact(wrap(pred.sup));
        }
        Tr {
            sup: wrap(pred.sup),
            sub: wrap(pred.sub),
            exact: false,
        }
    }

    /// `expr <op> literal` for text, NULL-safe (false when `expr` is NULL).
    pub(super) fn text_compare(
        &mut self,
        expr: &str,
        op: CompareOp,
        literal: &str,
        case_exact: bool,
    ) -> Tr {
        let cut = literal.find('\0');
        match op {
            CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew if cut.is_some() => {
                // No stored string holds U+0000, so none equals or contains this literal.
                Tr::exact(Sql::False)
            }
            CompareOp::Eq => {
                let p = self.text(literal.to_owned());
                Tr::exact(Sql::Expr(null_safe(expr, &[expr, " = ", &p])))
            }
            CompareOp::Ne => {
                let eq = self.text_compare(expr, CompareOp::Eq, literal, case_exact);
                eq.not()
            }
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                // Against a literal with U+0000, a stored string (which has none) compares
                // as against the literal's part before it: x > "ab\0c" iff x > "ab".
                let (literal, op) = match cut {
                    Some(at) => (
                        literal.get(..at).unwrap_or_default(),
                        if matches!(op, CompareOp::Gt | CompareOp::Ge) {
                            CompareOp::Gt
                        } else {
                            CompareOp::Le
                        },
                    ),
                    None => (literal, op),
                };
                let sym = order_symbol(op).unwrap_or("<=");
                let p = self.text(literal.to_owned());
                let collate = match self.dialect {
                    #[cfg(feature = "sqlite")]
                    Dialect::Sqlite => "",
                    #[cfg(feature = "postgres")]
                    Dialect::Postgres => " COLLATE \"C\"",
                };
                Tr::exact(Sql::Expr(null_safe(
                    expr,
                    &[expr, collate, " ", sym, " ", &p],
                )))
            }
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let glob = self.glob(case_exact);
                self.like(expr, like_pattern(op, literal, glob), glob)
            }
        }
    }

    /// Whether `co`/`sw`/`ew` is a `GLOB`: SQLite's `LIKE` ignores ASCII case, so a
    /// case-exact comparison there is an escaped `GLOB`.
    fn glob(&self, case_exact: bool) -> bool {
        #[cfg(feature = "sqlite")]
        let sqlite = self.dialect == Dialect::Sqlite;
        #[cfg(not(feature = "sqlite"))]
        let sqlite = false;
        sqlite && case_exact
    }

    /// `expr` matching `pattern` (of [`like_pattern`]), NULL-safe.
    fn like(&mut self, expr: &str, pattern: String, glob: bool) -> Tr {
        #[cfg(feature = "sqlite")]
        if self.dialect == Dialect::Sqlite && pattern.len() > MAX_LIKE_PATTERN {
            return Tr::unknown();
        }
        let p = self.text(pattern);
        let cmp: [&str; 4] = if glob {
            [expr, " GLOB ", &p, ""]
        } else {
            [expr, " LIKE ", &p, " ESCAPE '\\'"]
        };
        Tr::exact(Sql::Expr(null_safe(expr, &cmp)))
    }
}

/// The escaped `LIKE` (or, with `glob`, `GLOB`) pattern of `co`/`sw`/`ew` `literal`.
fn like_pattern(op: CompareOp, literal: &str, glob: bool) -> String {
    let (any, escaped) = if glob {
        let mut e = String::with_capacity(literal.len() + 2);
        for c in literal.chars() {
            match c {
                '*' => e.push_str("[*]"),
                '?' => e.push_str("[?]"),
                '[' => e.push_str("[[]"),
                c => e.push(c),
            }
        }
        ("*", e)
    } else {
        let mut e = String::with_capacity(literal.len() + 2);
        for c in literal.chars() {
            if matches!(c, '%' | '_' | '\\') {
                e.push('\\');
            }
            e.push(c);
        }
        ("%", e)
    };
    match op {
        CompareOp::Co => format!("{any}{escaped}{any}"),
        CompareOp::Sw => format!("{escaped}{any}"),
        _ => format!("{any}{escaped}"),
    }
}
