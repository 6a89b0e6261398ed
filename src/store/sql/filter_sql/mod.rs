//! Translation of a [`Filter`] to a SQL boolean expression over `scimkit_users AS u`,
//! with the semantics of [`Filter::matches`] (see `filter/eval.rs`).
//!
//! Values are always bound parameters; the only names written into the SQL text are the
//! canonical attribute names of [`crate::schema`], never text from the filter.
//!
//! Each node translates to a pair of conditions: `sup`, true for every matching row (and
//! maybe others), and `sub`, true only for matching rows. For everything the translator
//! knows, both are the same exact condition. A node it does not know gets `sup = TRUE`,
//! `sub = FALSE`; `not` swaps the two, so the top-level `sup` is always a superset of the
//! matches, to be checked with [`Filter::matches`].

mod dialect;

use super::driver::Param;
use super::encode::{fold, parse_instant_key, present_key};
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::schema::{
    AttributeDef, AttributeType, Returned, SchemaSet, USER_SCHEMA, user_attribute,
};

/// The SQL dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// SQLite 3.38+ (JSON functions built in).
    #[cfg(feature = "sqlite")]
    Sqlite,
    /// PostgreSQL 12+.
    #[cfg(feature = "postgres")]
    Postgres,
}

impl Dialect {
    /// The placeholder of the `n`th bound parameter (from 1): `?n` or `$n`.
    pub(super) fn placeholder(self, n: usize) -> String {
        let mut out = String::with_capacity(4);
        self.push_placeholder(&mut out, n);
        out
    }

    /// Appends [`Dialect::placeholder`] `n` to `out`.
    pub(super) fn push_placeholder(self, out: &mut String, n: usize) {
        out.push(match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite => '?',
            #[cfg(feature = "postgres")]
            Self::Postgres => '$',
        });
        out.push_str(itoa::Buffer::new().format(n));
    }
}

/// The SQL operator of an ordering comparison (`eq`, `gt`, `ge`, `lt`, `le`); `None` for
/// the others.
fn order_symbol(op: CompareOp) -> Option<&'static str> {
    match op {
        CompareOp::Eq => Some("="),
        CompareOp::Gt => Some(">"),
        CompareOp::Ge => Some(">="),
        CompareOp::Lt => Some("<"),
        CompareOp::Le => Some("<="),
        _ => None,
    }
}

/// A translated filter.
#[derive(Debug)]
pub(super) struct Translated {
    /// The condition, or `None` when it is always true.
    pub condition: Option<String>,
    /// Whether the condition is exact; if not, it selects a superset of the matches.
    pub exact: bool,
    /// Whether the condition is always false (nothing can match).
    pub never: bool,
}

/// Longest `LIKE`/`GLOB` pattern SQLite accepts by default (`SQLITE_MAX_LIKE_PATTERN_LENGTH`).
#[cfg(feature = "sqlite")]
const MAX_LIKE_PATTERN: usize = 50_000;

/// Translates `filter`, appending its parameters to `params` (numbered after those already
/// there, so the caller binds `params` in order). `params[0]` must be the tenant: the
/// conditions may use it (as `?1` / `$1`) in subqueries.
pub(super) fn translate(
    filter: &Filter,
    dialect: Dialect,
    params: &mut Vec<Param>,
    schemas: &SchemaSet,
) -> Translated {
    let mut t = Translator {
        dialect,
        params,
        aliases: 0,
        schemas,
    };
    let tr = t.filter(filter, &Scope::Resource);
    Translated {
        never: tr.sup == Sql::False,
        condition: match tr.sup {
            Sql::True => None,
            Sql::False => Some("FALSE".into()),
            Sql::Expr(s) => Some(s),
        },
        exact: tr.exact,
    }
}

/// A condition: a constant, or a parenthesized SQL boolean expression that is never NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sql {
    True,
    False,
    Expr(String),
}

impl Sql {
    fn not(self) -> Sql {
        match self {
            Sql::True => Sql::False,
            Sql::False => Sql::True,
            Sql::Expr(e) => Sql::Expr(format!("(NOT {e})")),
        }
    }
}

/// Makes the comparison of `expr` with a literal that the pieces `cmp` write false rather
/// than NULL when `expr` is NULL (so that `not` works), in a form the database still
/// answers from an index when `expr` is an indexed column.
fn null_safe(expr: &str, cmp: &[&str]) -> String {
    // Written piece by piece, not with `format!`: a `userName eq` lookup, as IdPs send
    // on every import, spent more in formatting its one comparison than in the rest of
    // its translation.
    let len = expr.len() + cmp.iter().map(|p| p.len()).sum::<usize>() + 24;
    let mut out = String::with_capacity(len);
    let push_cmp = |out: &mut String| cmp.iter().for_each(|p| out.push_str(p));
    match expr {
        // NOT NULL columns.
        "u.user_name_lower" | "u.id" => {
            out.push('(');
            push_cmp(&mut out);
            out.push(')');
        }
        "u.external_id" => {
            out.push('(');
            out.push_str(expr);
            out.push_str(" IS NOT NULL AND ");
            push_cmp(&mut out);
            out.push(')');
        }
        _ => {
            out.push_str("COALESCE(");
            push_cmp(&mut out);
            out.push_str(", FALSE)");
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logic {
    And,
    Or,
}

/// Joins conditions with `and`/`or`, folding constants, as a balanced tree (so that long
/// chains stay within SQLite's expression depth limit).
fn join(op: Logic, items: Vec<Sql>) -> Sql {
    let (neutral, absorbing) = match op {
        Logic::And => (Sql::True, Sql::False),
        Logic::Or => (Sql::False, Sql::True),
    };
    let mut exprs = Vec::with_capacity(items.len());
    for item in items {
        if item == absorbing {
            return absorbing;
        }
        if let Sql::Expr(e) = item {
            exprs.push(e);
        }
    }
    if exprs.is_empty() {
        return neutral;
    }
    Sql::Expr(balanced(op, &exprs))
}

fn balanced(op: Logic, exprs: &[String]) -> String {
    match exprs {
        [one] => one.clone(),
        _ => {
            let (left, right) = exprs.split_at(exprs.len() / 2);
            let word = if op == Logic::And { "AND" } else { "OR" };
            format!("({} {word} {})", balanced(op, left), balanced(op, right))
        }
    }
}

/// A translation: `sup` ⊇ matches ⊇ `sub`; equal when `exact`.
#[derive(Debug, Clone)]
struct Tr {
    sup: Sql,
    sub: Sql,
    exact: bool,
}

impl Tr {
    fn exact(sql: Sql) -> Tr {
        Tr {
            sub: sql.clone(),
            sup: sql,
            exact: true,
        }
    }

    fn unknown() -> Tr {
        Tr {
            sup: Sql::True,
            sub: Sql::False,
            exact: false,
        }
    }

    fn not(self) -> Tr {
        Tr {
            sup: self.sub.not(),
            sub: self.sup.not(),
            exact: self.exact,
        }
    }

    fn join(op: Logic, parts: Vec<Tr>) -> Tr {
        let exact = parts.iter().all(|p| p.exact);
        if exact {
            return Tr::exact(join(op, parts.into_iter().map(|p| p.sup).collect()));
        }
        let sup = join(op, parts.iter().map(|p| p.sup.clone()).collect());
        let sub = join(op, parts.into_iter().map(|p| p.sub).collect());
        Tr { sup, sub, exact }
    }
}

/// Where attribute paths resolve.
enum Scope {
    /// The user row (`u`).
    Resource,
    /// One element of a value filter (`emails[...]`, `name[...]`): a JSON object.
    Element(Element),
}

/// The element of a value filter.
struct Element {
    /// SQL expression of the JSON value holding the element.
    base: String,
    /// Keys from `base` to the element (empty for array elements).
    keys: Vec<&'static str>,
    /// The definition of the filtered attribute.
    parent: &'static AttributeDef,
    /// Whether the element is the row's `meta` (its instants and version are columns).
    is_meta: bool,
}

/// Where the values a comparison looks at are.
pub(super) enum Values {
    /// Nothing: the attribute is unknown or cannot hold a value there.
    Absent,
    /// One scalar (maybe NULL).
    One(Loc),
    /// The elements of a JSON array, and the scalar to compare within each.
    Each {
        base: String,
        keys: Vec<&'static str>,
        elem: ElemLoc,
        /// Whether these are `emails.value`, which has an index for `eq`.
        emails: bool,
    },
    /// Something the translator does not handle.
    Unsupported,
}

/// A scalar location.
pub(super) enum Loc {
    /// A text expression; its strings are lower-cased unless `case_exact`.
    Text { expr: String, case_exact: bool },
    /// A boolean column.
    BoolColumn(&'static str),
    /// A JSON boolean at `keys` under `base`.
    JsonBool {
        base: String,
        keys: Vec<&'static str>,
    },
    /// A JSON integer at `keys` under `base` (an `integer` attribute of an extension).
    JsonInteger {
        base: String,
        keys: Vec<&'static str>,
    },
    /// `meta.created` / `meta.lastModified`: (seconds, nanoseconds) columns, and the
    /// lower-cased JSON text for `co`/`sw`/`ew`.
    Instant {
        secs: &'static str,
        nanos: &'static str,
        text: String,
    },
}

/// The scalar compared inside each element of an array.
pub(super) enum ElemLoc {
    /// The element itself is a string (`schemas`, multi-valued simple attributes).
    SelfText { case_exact: bool },
    /// A string sub-attribute.
    SubText { key: &'static str, case_exact: bool },
    /// A boolean sub-attribute.
    SubBool { key: &'static str },
}

/// The resolution of a top-level attribute path.
enum Resolved {
    Absent,
    Schemas,
    Attr {
        /// The extension URN (canonical), `None` for the core schema.
        extension: Option<&'static str>,
        def: &'static AttributeDef,
    },
}

fn resolve_top(path: &AttrPath, schemas: &SchemaSet) -> Resolved {
    let urn = path.urn.as_deref();
    let core = urn.is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA));
    if core && path.name.eq_ignore_ascii_case("schemas") {
        return Resolved::Schemas;
    }
    let (extension, def) = match urn {
        Some(u) if !core => match schemas.extension(u) {
            Some(ext) => (Some(ext.id), ext.attribute(&path.name)),
            None => (None, None),
        },
        _ => (None, user_attribute(urn, &path.name)),
    };
    match def {
        Some(def) if def.returned != Returned::Never => Resolved::Attr { extension, def },
        _ => Resolved::Absent,
    }
}

pub(super) struct Translator<'p> {
    pub(super) dialect: Dialect,
    pub(super) params: &'p mut Vec<Param>,
    pub(super) aliases: usize,
    /// Where extension attributes are found.
    pub(super) schemas: &'p SchemaSet,
}

/// The filters' translation; the dialect's pieces are in `dialect.rs`.
impl Translator<'_> {
    fn filter(&mut self, filter: &Filter, scope: &Scope) -> Tr {
        match filter {
            Filter::And(..) | Filter::Or(..) => {
                let op = if matches!(filter, Filter::And(..)) {
                    Logic::And
                } else {
                    Logic::Or
                };
                let mut operands = Vec::new();
                let mut stack = vec![filter];
                while let Some(f) = stack.pop() {
                    match (op, f) {
                        (Logic::And, Filter::And(l, r)) | (Logic::Or, Filter::Or(l, r)) => {
                            stack.push(r);
                            stack.push(l);
                        }
                        _ => operands.push(f),
                    }
                }
                let parts = operands
                    .into_iter()
                    .map(|f| self.filter(f, scope))
                    .collect();
                Tr::join(op, parts)
            }
            Filter::Not(inner) => self.filter(inner, scope).not(),
            Filter::Present(path) => self.present(path, scope),
            Filter::Compare {
                path,
                op,
                value: CompValue::Null,
            } => match op {
                CompareOp::Eq => self.present(path, scope).not(),
                CompareOp::Ne => self.present(path, scope),
                _ => Tr::exact(Sql::False),
            },
            Filter::Compare { path, op, value } => {
                let values = self.values(path, scope);
                self.compare(values, *op, value)
            }
            Filter::ValuePath { path, filter } => self.value_path(path, filter, scope),
        }
    }

    /// Where the values of `path` are, for comparisons.
    fn values(&mut self, path: &AttrPath, scope: &Scope) -> Values {
        match scope {
            Scope::Resource => self.top_values(path),
            Scope::Element(el) => {
                let Some(def) = el.parent.sub_attribute(&path.name) else {
                    return Values::Absent;
                };
                if path.sub_attr.is_some() {
                    // Sub-attributes are scalars: they have no members.
                    return Values::Absent;
                }
                self.element_scalar(el, def)
            }
        }
    }

    fn element_scalar(&mut self, el: &Element, def: &'static AttributeDef) -> Values {
        if el.is_meta {
            if let Some(loc) = self.meta_loc(def.name) {
                return loc;
            }
        }
        let mut keys = el.keys.clone();
        keys.push(def.name);
        self.json_scalar(el.base.clone(), keys, def)
    }

    /// `meta.created`, `meta.lastModified` and `meta.version`, which live in columns.
    pub(super) fn meta_loc(&self, sub: &str) -> Option<Values> {
        let instant = |secs, nanos, key| {
            Values::One(Loc::Instant {
                secs,
                nanos,
                text: self.json_text("u.search", &["meta", key]),
            })
        };
        match sub {
            "created" => Some(instant("u.created_s", "u.created_ns", "created")),
            "lastModified" => Some(instant("u.modified_s", "u.modified_ns", "lastModified")),
            "version" => {
                let has_meta = self.json_is_object("u.search", &["meta"]);
                let text = match self.dialect {
                    #[cfg(feature = "sqlite")]
                    Dialect::Sqlite => "('W/\"' || u.version || '\"')",
                    #[cfg(feature = "postgres")]
                    Dialect::Postgres => "('W/\"' || u.version::text || '\"')",
                };
                Some(Values::One(Loc::Text {
                    expr: format!("(CASE WHEN {has_meta} THEN {text} END)"),
                    case_exact: true,
                }))
            }
            _ => None,
        }
    }

    /// A scalar of the `search` document (or an element of it).
    fn json_scalar(&self, base: String, keys: Vec<&'static str>, def: &AttributeDef) -> Values {
        match def.kind {
            AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
                Values::One(Loc::Text {
                    expr: self.json_text(&base, &keys),
                    case_exact: def.case_exact,
                })
            }
            AttributeType::Boolean => Values::One(Loc::JsonBool { base, keys }),
            AttributeType::Integer => Values::One(Loc::JsonInteger { base, keys }),
            _ => Values::Unsupported,
        }
    }

    fn top_values(&mut self, path: &AttrPath) -> Values {
        let (extension, def) = match resolve_top(path, self.schemas) {
            Resolved::Absent => return Values::Absent,
            Resolved::Schemas if path.sub_attr.is_some() => return Values::Absent,
            Resolved::Schemas => {
                return Values::Each {
                    base: "u.search".into(),
                    keys: vec!["schemas"],
                    elem: ElemLoc::SelfText { case_exact: false },
                    emails: false,
                };
            }
            Resolved::Attr { extension, def } => (extension, def),
        };
        let mut keys: Vec<&'static str> = Vec::with_capacity(3);
        keys.extend(extension);
        keys.push(def.name);
        if def.kind != AttributeType::Complex {
            if path.sub_attr.is_some() {
                return Values::Absent;
            }
            if def.multi_valued {
                // A multi-valued simple attribute (extensions may have them): compared
                // element by element.
                return match def.kind {
                    AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
                        Values::Each {
                            base: "u.search".into(),
                            keys,
                            elem: ElemLoc::SelfText {
                                case_exact: def.case_exact,
                            },
                            emails: false,
                        }
                    }
                    _ => Values::Unsupported,
                };
            }
            if extension.is_none() {
                match def.name {
                    "userName" => {
                        return Values::One(Loc::Text {
                            expr: "u.user_name_lower".into(),
                            case_exact: false,
                        });
                    }
                    "id" => {
                        return Values::One(Loc::Text {
                            expr: "u.id".into(),
                            case_exact: true,
                        });
                    }
                    "externalId" => {
                        return Values::One(Loc::Text {
                            expr: "u.external_id".into(),
                            case_exact: true,
                        });
                    }
                    "active" => return Values::One(Loc::BoolColumn("u.active")),
                    _ => {}
                }
            }
            return self.json_scalar("u.search".into(), keys, def);
        }
        // Complex: a sub-attribute, or `value` when none is named.
        let sub_name = path.sub_attr.as_deref().unwrap_or("value");
        let Some(sub) = def.sub_attribute(sub_name) else {
            return Values::Absent;
        };
        if def.multi_valued {
            let elem = match sub.kind {
                AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
                    ElemLoc::SubText {
                        key: sub.name,
                        case_exact: sub.case_exact,
                    }
                }
                AttributeType::Boolean => ElemLoc::SubBool { key: sub.name },
                _ => return Values::Unsupported,
            };
            let emails = extension.is_none() && def.name == "emails" && sub.name == "value";
            return Values::Each {
                base: "u.search".into(),
                keys,
                elem,
                emails,
            };
        }
        if extension.is_none() && def.name == "meta" {
            if let Some(loc) = self.meta_loc(sub.name) {
                return loc;
            }
        }
        keys.push(sub.name);
        self.json_scalar("u.search".into(), keys, sub)
    }

    /// The condition that some value at `values` compares `op` to `literal`
    /// (`ne` is `not eq`).
    fn compare(&mut self, values: Values, op: CompareOp, literal: &CompValue) -> Tr {
        if op == CompareOp::Ne {
            return self.compare(values, CompareOp::Eq, literal).not();
        }
        match values {
            Values::Absent => Tr::exact(Sql::False),
            Values::Unsupported => Tr::unknown(),
            Values::One(loc) => self.compare_loc(&loc, op, literal),
            Values::Each {
                base,
                keys,
                elem,
                emails,
            } => {
                let hint = match (emails, op, literal) {
                    (true, CompareOp::Eq, CompValue::String(s)) if !s.contains('\0') => {
                        Some(self.email_index(&fold(s)))
                    }
                    _ => None,
                };
                let (from, alias) = self.elements(&base, &keys);
                let e = self.element_json(&alias);
                let loc = match elem {
                    ElemLoc::SelfText { case_exact } => Loc::Text {
                        expr: self.element_text(&alias),
                        case_exact,
                    },
                    ElemLoc::SubText { key, case_exact } => Loc::Text {
                        expr: self.json_text(&e, &[key]),
                        case_exact,
                    },
                    ElemLoc::SubBool { key } => Loc::JsonBool {
                        base: e,
                        keys: vec![key],
                    },
                };
                let inner = self.compare_loc(&loc, op, literal);
                let exists = Self::exists(&from, inner);
                match hint {
                    // Implied by `exists`; lets the database start from the email index.
                    Some(hint) => Tr::join(Logic::And, vec![Tr::exact(hint), exists]),
                    None => exists,
                }
            }
        }
    }

    fn compare_loc(&mut self, loc: &Loc, op: CompareOp, literal: &CompValue) -> Tr {
        match (loc, literal) {
            (Loc::Text { expr, case_exact }, CompValue::String(s)) => {
                let lit = if *case_exact { s.clone() } else { fold(s) };
                self.text_compare(expr, op, &lit, *case_exact)
            }
            (Loc::BoolColumn(col), CompValue::Bool(b)) => match op {
                CompareOp::Eq => Tr::exact(Sql::Expr(format!(
                    "({col} IS {})",
                    if *b { "TRUE" } else { "FALSE" }
                ))),
                _ => Tr::exact(Sql::False),
            },
            (Loc::JsonBool { base, keys }, CompValue::Bool(b)) => match op {
                CompareOp::Eq => Tr::exact(Sql::Expr(self.json_bool_is(base, keys, *b))),
                _ => Tr::exact(Sql::False),
            },
            (Loc::Instant { secs, nanos, text }, CompValue::String(s)) => {
                if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                    return self.text_compare(text, op, &fold(s), false);
                }
                let Some((ls, ln)) = parse_instant_key(s) else {
                    return Tr::exact(Sql::False);
                };
                let Some(sym) = order_symbol(op) else {
                    return Tr::exact(Sql::False);
                };
                let ps = self.bind(Param::Int(ls));
                let pn = self.bind(Param::Int(ln));
                Tr::exact(Sql::Expr(format!(
                    "COALESCE(({secs}, {nanos}) {sym} ({ps}, {pn}), FALSE)"
                )))
            }
            (Loc::JsonInteger { base, keys }, CompValue::Number(n)) => {
                // `Filter::matches` compares two i64s exactly; other literals (fractions,
                // beyond i64) compare as f64 there: left to it.
                let Some(n) = n.as_i64() else {
                    return Tr::unknown();
                };
                let Some(sym) = order_symbol(op) else {
                    return Tr::exact(Sql::False);
                };
                let p = self.bind(Param::Int(n));
                Tr::exact(Sql::Expr(self.json_integer_compare(base, keys, sym, &p)))
            }
            // A literal of another type never compares equal (nor in order).
            _ => Tr::exact(Sql::False),
        }
    }

    /// `path pr`.
    fn present(&mut self, path: &AttrPath, scope: &Scope) -> Tr {
        match scope {
            Scope::Resource => {
                let key = match resolve_top(path, self.schemas) {
                    Resolved::Absent => return Tr::exact(Sql::False),
                    Resolved::Schemas if path.sub_attr.is_some() => {
                        return Tr::exact(Sql::False);
                    }
                    Resolved::Schemas => present_key(None, "schemas", None),
                    Resolved::Attr { extension, def } => match path.sub_attr.as_deref() {
                        None => present_key(extension, def.name, None),
                        Some(s) => match def.sub_attribute(s) {
                            Some(sub) => present_key(extension, def.name, Some(sub.name)),
                            None => return Tr::exact(Sql::False),
                        },
                    },
                };
                let p = self.text(key);
                Tr::exact(Sql::Expr(match self.dialect {
                    #[cfg(feature = "sqlite")]
                    Dialect::Sqlite => format!("(instr(u.present, {p}) > 0)"),
                    #[cfg(feature = "postgres")]
                    Dialect::Postgres => format!("(strpos(u.present, {p}) > 0)"),
                }))
            }
            Scope::Element(el) => {
                let Some(def) = el.parent.sub_attribute(&path.name) else {
                    return Tr::exact(Sql::False);
                };
                if path.sub_attr.is_some() {
                    return Tr::exact(Sql::False);
                }
                if el.is_meta && def.name == "version" {
                    // Within `meta[...]`, meta is there, and so is its version.
                    return Tr::exact(Sql::True);
                }
                let mut keys = el.keys.clone();
                keys.push(def.name);
                match def.kind {
                    AttributeType::Boolean => {
                        let t = self.json_bool_is(&el.base, &keys, true);
                        let f = self.json_bool_is(&el.base, &keys, false);
                        Tr::exact(Sql::Expr(format!("({t} OR {f})")))
                    }
                    AttributeType::String
                    | AttributeType::Reference
                    | AttributeType::Binary
                    | AttributeType::DateTime => {
                        let text = self.json_text(&el.base, &keys);
                        Tr::exact(Sql::Expr(format!("COALESCE({text} <> '', FALSE)")))
                    }
                    _ => Tr::unknown(),
                }
            }
        }
    }

    /// `path[filter]`.
    fn value_path(&mut self, path: &AttrPath, filter: &Filter, scope: &Scope) -> Tr {
        if path.sub_attr.is_some() {
            // Not produced by the parser.
            return Tr::unknown();
        }
        let Scope::Resource = scope else {
            // Inside an element every member is a scalar: no elements to filter.
            return Tr::exact(Sql::False);
        };
        let (extension, def) = match resolve_top(path, self.schemas) {
            Resolved::Attr { extension, def } if def.kind == AttributeType::Complex => {
                (extension, def)
            }
            // Unknown, `schemas` (strings) or simple attributes: no object to filter.
            _ => return Tr::exact(Sql::False),
        };
        let mut keys: Vec<&'static str> = Vec::with_capacity(2);
        keys.extend(extension);
        keys.push(def.name);
        if def.multi_valued {
            let (from, alias) = self.elements("u.search", &keys);
            let el = Element {
                base: self.element_json(&alias),
                keys: Vec::new(),
                parent: def,
                is_meta: false,
            };
            let inner = self.filter(filter, &Scope::Element(el));
            return Self::exists(&from, inner);
        }
        let guard = Tr::exact(Sql::Expr(self.json_is_object("u.search", &keys)));
        let el = Element {
            base: "u.search".into(),
            keys,
            parent: def,
            is_meta: extension.is_none() && def.name == "meta",
        };
        let inner = self.filter(filter, &Scope::Element(el));
        Tr::join(Logic::And, vec![guard, inner])
    }
}

#[cfg(test)]
mod tests;
