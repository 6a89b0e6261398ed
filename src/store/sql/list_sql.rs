//! Planning `list`: the statements that serve a [`ListQuery`], shared by both dialects.
//!
//! - Filter and sort translated exactly: one page query (`ORDER BY <key>, seq` with
//!   `LIMIT`/`OFFSET`, or for an unsorted cursor query keyset paging `seq > position`,
//!   so a deep page costs what the first does) and, unless the page shows the total
//!   already, a `COUNT(*)` with the same `WHERE`, or without a condition the count kept
//!   per tenant with every create and delete.
//! - Otherwise: the candidates of the superset condition, at most the fallback limit of
//!   them, checked with `Filter::matches` and sorted with `SortSpec::sort` in Rust.

use std::borrow::Cow;
use std::sync::Arc;

use super::driver::Param;
use super::filter_sql::{Dialect, translate};
use super::sort_sql::{Order, order_by};
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::schema::SchemaSet;
use crate::store::StoreError;

/// How every page query starts: the columns `seq, resource, version`, in this order in
/// both dialects (the order [`Decoded::read_row`](super::decoded::Decoded::read_row)
/// reads).
pub(super) const PAGE_SELECT: &str =
    "SELECT u.seq AS seq, CAST(u.resource AS TEXT) AS resource, u.version AS version";

/// How to serve a list query.
pub(super) enum Plan {
    /// Nothing can match.
    Empty,
    /// Run `sql` (its parameters, then the row limit: one more than the fallback limit),
    /// then check, sort and page with [`page_in_rust`].
    Rust { sql: String, params: Vec<Param> },
    /// Run the page and its count in SQL.
    Sql(SqlPlan),
}

/// A list served in SQL: run `page` (if any), then [`SqlPlan::count`] unless the page
/// tells the total.
pub(super) struct SqlPlan {
    pub page: Option<(String, Vec<Param>)>,
    /// What the count reads from (`FROM ... WHERE ...`), `None` for the count kept per
    /// tenant (no condition).
    count_from: Option<String>,
    /// The count's parameters.
    count_params: CountParams,
    dialect: Dialect,
    pub paging: Paging,
}

/// The parameters of a plan's count: the first of its page's, or its own (no page).
enum CountParams {
    OfPage(usize),
    Own(Vec<Param>),
}

/// A statement counting a list's matches, and its parameters.
pub(super) type CountStatement<'a> = (Cow<'a, str>, &'a [Param]);

impl SqlPlan {
    /// The statement counting the users the list matches: a `COUNT(*)` with the page's
    /// `WHERE`, or without a condition the count kept per tenant. Written when asked
    /// for: a page that tells its total (a `userName eq` lookup) needs none.
    pub(super) fn count(&self) -> CountStatement<'_> {
        let sql = match &self.count_from {
            Some(from) => Cow::Owned(["SELECT COUNT(*) ", from].concat()),
            None => Cow::Borrowed(kept_count(self.dialect)),
        };
        let params = match (&self.count_params, &self.page) {
            (CountParams::Own(params), _) => params.as_slice(),
            (CountParams::OfPage(n), Some((_, page))) => page.get(..*n).unwrap_or(page),
            (CountParams::OfPage(_), None) => &[],
        };
        (sql, params)
    }
}

/// The users of a page with their `seq`, and its total when the page's statement counted
/// it.
pub(super) type FetchedPage = (Vec<(i64, Arc<User>)>, Option<usize>);

/// How the page of a [`Plan::Sql`] was cut.
pub(super) enum Paging {
    /// `OFFSET offset LIMIT count`.
    Offset { offset: usize, cursor: bool },
    /// `seq > after LIMIT count + 1`: one extra row tells whether there is a next page.
    Keyset { first: bool },
}

/// Drops the parameters `sql` does not use and renumbers the placeholders (`?N` or `$N`,
/// outside string literals) of those it does, in order.
fn compact(sql: String, params: Vec<Param>) -> (String, Vec<Param>) {
    let mut used = vec![false; params.len()];
    visit_placeholders(&sql, |n| {
        if let Some(u) = n.checked_sub(1).and_then(|i| used.get_mut(i)) {
            *u = true;
        }
    });
    if used.iter().all(|u| *u) {
        return (sql, params);
    }
    let mut renumber = vec![0usize; params.len()];
    let mut kept = Vec::new();
    for (i, p) in params.into_iter().enumerate() {
        if used.get(i).copied().unwrap_or(false) {
            kept.push(p);
            if let Some(r) = renumber.get_mut(i) {
                *r = kept.len();
            }
        }
    }
    let sql = scan_placeholders(&sql, |n| {
        n.checked_sub(1).and_then(|i| renumber.get(i)).copied()
    });
    (sql, kept)
}

/// Calls `f` with the number of each placeholder of `sql` outside string literals (the
/// ones [`scan_placeholders`] finds), without writing anything.
fn visit_placeholders(sql: &str, mut f: impl FnMut(usize)) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut in_literal = false;
    while let Some(&c) = bytes.get(i) {
        i += 1;
        if c == b'\'' {
            in_literal = !in_literal;
            continue;
        }
        if in_literal || (c != b'?' && c != b'$') {
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if let Some(n) = sql.get(start..i).and_then(|d| d.parse::<usize>().ok()) {
            f(n);
        }
    }
}

/// Calls `f` with the number of each placeholder of `sql` outside string literals, and
/// returns `sql` with each replaced by the number `f` gives (kept when it gives `None`).
fn scan_placeholders(sql: &str, mut f: impl FnMut(usize) -> Option<usize>) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.char_indices().peekable();
    let mut in_literal = false;
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c == '\'' {
            in_literal = !in_literal;
            continue;
        }
        if in_literal || (c != '?' && c != '$') {
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>().ok() {
            Some(n) => match f(n) {
                Some(m) => out.push_str(&m.to_string()),
                None => out.push_str(&digits),
            },
            None => out.push_str(&digits),
        }
    }
    out
}

/// The statement reading the number of users of tenant `?1`/`$1` kept with every create
/// and delete (a few small rows, whatever the tenant's size): the total of a list without
/// a condition.
fn kept_count(dialect: Dialect) -> &'static str {
    match dialect {
        // One row per tenant (migrations 0006 and 0009), absent before its first write.
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            "SELECT COALESCE((SELECT c.users FROM scimkit_tenant_counters AS c \
             WHERE c.tenant = ?1), 0)"
        }
        // One row per tenant and slot (migration 0010).
        #[cfg(feature = "postgres")]
        Dialect::Postgres => {
            "SELECT CAST(COALESCE(SUM(c.users), 0) AS BIGINT) \
             FROM scimkit_user_counts AS c WHERE c.tenant = $1"
        }
    }
}

/// A position of this store that is not valid.
fn bad_position() -> StoreError {
    StoreError::InvalidFilter("not a position of this store".into())
}

/// An offset position (`""` is the start).
fn offset_position(cursor: &str) -> Result<usize, StoreError> {
    if cursor.is_empty() {
        Ok(0)
    } else {
        cursor.parse().map_err(|_| bad_position())
    }
}

/// Plans `query` for `tenant`.
pub(super) fn plan(
    query: &ListQuery,
    tenant: &str,
    dialect: Dialect,
    schemas: &SchemaSet,
) -> Result<Plan, StoreError> {
    let mut params = vec![Param::Text(tenant.to_owned())];
    let translated = query
        .filter
        .as_ref()
        .map(|f| translate(f, dialect, &mut params, schemas));
    let (condition, exact) = match &translated {
        Some(t) if t.never => return Ok(Plan::Empty),
        Some(t) => (t.condition.as_deref(), t.exact),
        None => (None, true),
    };
    // The statements are written with `push_str`, not `format!`: this runs on every list
    // request (a lookup by `userName` among them), where `format!` cost a sixth of it.
    let mut where_clause = String::with_capacity(24 + condition.map_or(0, str::len));
    where_clause.push_str("u.tenant = ");
    dialect.push_placeholder(&mut where_clause, 1);
    if let Some(c) = condition {
        where_clause.push_str(" AND ");
        where_clause.push_str(c);
    }
    // Constant folding may have dropped conditions whose values were already bound.
    let (where_clause, params) = compact(where_clause, params);
    let from = ["FROM scimkit_users AS u WHERE ", &where_clause].concat();
    let n = params.len();
    let order = match order_by(query.sort.as_ref(), dialect, schemas) {
        Order::Sql(order) if exact => order,
        _ => {
            return Ok(Plan::Rust {
                sql: format!(
                    "{PAGE_SELECT} {from} ORDER BY u.seq LIMIT {}",
                    dialect.placeholder(n + 1)
                ),
                params,
            });
        }
    };
    // At most one user matches `userName eq` or `id eq` (unique per tenant): no order to
    // keep, and no `ORDER BY` to tempt the planner away from the unique index.
    let unique = at_most_one(query);
    // `PAGE_SELECT`, `from`, then `middle` and the order (unless `unique`), then `LIMIT`
    // and `OFFSET` with placeholders `limit` and `offset`.
    let page_sql = |middle: &str, order: &str, limit: usize, offset: Option<usize>| {
        let mut sql = String::with_capacity(PAGE_SELECT.len() + from.len() + 64);
        sql.push_str(PAGE_SELECT);
        sql.push(' ');
        sql.push_str(&from);
        sql.push_str(middle);
        if !unique {
            sql.push_str(" ORDER BY ");
            sql.push_str(order);
        }
        sql.push_str(" LIMIT ");
        dialect.push_placeholder(&mut sql, limit);
        if let Some(offset) = offset {
            sql.push_str(" OFFSET ");
            dialect.push_placeholder(&mut sql, offset);
        }
        sql
    };
    if query.count == 0 {
        return Ok(Plan::Sql(SqlPlan {
            page: None,
            count_from: condition.map(|_| from),
            count_params: CountParams::Own(params),
            dialect,
            paging: Paging::Offset {
                offset: 0,
                cursor: query.cursor.is_some(),
            },
        }));
    }
    let limit = i64::try_from(query.count).unwrap_or(i64::MAX);
    match (&query.cursor, &query.sort) {
        (Some(cursor), None) => {
            let after = if cursor.is_empty() {
                0
            } else {
                cursor.parse::<i64>().map_err(|_| bad_position())?
            };
            let mut after_seq = String::from(" AND u.seq > ");
            dialect.push_placeholder(&mut after_seq, n + 1);
            let sql = page_sql(&after_seq, "u.seq", n + 2, None);
            let mut page_params = params;
            page_params.push(Param::Int(after));
            page_params.push(Param::Int(limit.saturating_add(1)));
            Ok(Plan::Sql(SqlPlan {
                page: Some((sql, page_params)),
                count_from: condition.map(|_| from),
                count_params: CountParams::OfPage(n),
                dialect,
                paging: Paging::Keyset {
                    first: cursor.is_empty(),
                },
            }))
        }
        (cursor, _) => {
            let offset = match cursor {
                Some(c) => offset_position(c)?,
                None => query.start_index.saturating_sub(1),
            };
            let sql = page_sql("", &order, n + 1, Some(n + 2));
            let mut page_params = params;
            page_params.push(Param::Int(limit));
            page_params.push(Param::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
            Ok(Plan::Sql(SqlPlan {
                page: Some((sql, page_params)),
                count_from: condition.map(|_| from),
                count_params: CountParams::OfPage(n),
                dialect,
                paging: Paging::Offset {
                    offset,
                    cursor: cursor.is_some(),
                },
            }))
        }
    }
}

/// A page fetched by a [`Plan::Sql`] (users with their `seq`), and its total when the
/// page alone tells it. The caller counts otherwise, and calls [`set_total`].
pub(super) fn finish_page(
    query: &ListQuery,
    paging: &Paging,
    mut rows: Vec<(i64, Arc<User>)>,
) -> (ListPage<Arc<User>>, Option<usize>) {
    let known = page_tells_total(query, paging, rows.len());
    let more = match *paging {
        Paging::Keyset { .. } => {
            let more = rows.len() > query.count;
            rows.truncate(query.count);
            more
        }
        Paging::Offset { .. } => false,
    };
    let last = rows.last().map(|(seq, _)| *seq);
    let resources: Vec<_> = rows.into_iter().map(|(_, u)| u).collect();
    let total = known.then_some(resources.len());
    let mut page = ListPage::new(resources.len(), resources);
    if more {
        page.next_cursor = last.map(|s| s.to_string());
    }
    (page, total)
}

/// Whether at most one user can match `query`: its filter requires `userName eq` or
/// `id eq` (unique per tenant).
pub(super) fn at_most_one(query: &ListQuery) -> bool {
    query
        .filter
        .as_ref()
        .is_some_and(|f| f.equality_on("userName").is_some() || f.equality_on("id").is_some())
}

/// Whether a page of `rows` rows fetched by a [`Plan::Sql`] tells the total by itself
/// (it starts at the first match and is short), so that no count is needed.
pub(super) fn page_tells_total(query: &ListQuery, paging: &Paging, rows: usize) -> bool {
    match *paging {
        Paging::Keyset { first } => first && rows <= query.count,
        Paging::Offset { offset, .. } => offset == 0 && rows < query.count,
    }
}

/// Records the total of a page from [`finish_page`], and the next position of an
/// offset-paged cursor query.
pub(super) fn set_total(page: &mut ListPage<Arc<User>>, paging: &Paging, total: usize) {
    page.total_results = total;
    if let Paging::Offset {
        offset,
        cursor: true,
    } = *paging
    {
        let end = offset.saturating_add(page.resources.len());
        page.next_cursor = (end < total && !page.resources.is_empty()).then(|| end.to_string());
    }
}

/// Finishes a [`Plan::Rust`]: checks the candidates, sorts and pages them.
pub(super) fn page_in_rust(
    query: &ListQuery,
    limit: usize,
    candidates: Vec<Arc<User>>,
    schemas: &SchemaSet,
) -> Result<ListPage<Arc<User>>, StoreError> {
    if candidates.len() > limit {
        return Err(StoreError::InvalidFilter(format!(
            "this filter or sort cannot be evaluated by the database and selects more than \
             {limit} users; narrow the filter"
        )));
    }
    let mut matching: Vec<Arc<User>> = candidates
        .into_iter()
        .filter(|u| {
            query
                .filter
                .as_ref()
                .is_none_or(|f| f.matches_in(u, schemas))
        })
        .collect();
    if let Some(sort) = &query.sort {
        matching = sort.sort_in(matching, schemas);
    }
    match &query.cursor {
        None => Ok(query.page(matching.into_iter())),
        Some(cursor) => {
            let offset = offset_position(cursor)?;
            let mut by_offset = query.clone();
            by_offset.cursor = None;
            by_offset.start_index = offset.saturating_add(1);
            let mut page = by_offset.page(matching.into_iter());
            let end = offset.saturating_add(page.resources.len());
            if end < page.total_results && !page.resources.is_empty() {
                page.next_cursor = Some(end.to_string());
            }
            Ok(page)
        }
    }
}

/// Plans both dialects' index tests share.
#[cfg(test)]
pub(super) mod test_plans {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::{Plan, SqlPlan, plan};
    use crate::list::ListQuery;
    use crate::sort::SortSpec;
    use crate::store::sql::driver::Param;
    use crate::store::sql::filter_sql::Dialect;

    /// The sort indexes of both dialects (migration 0006; 0007 dropped those of
    /// `name.givenName` and `displayName`), each with the attribute it orders by and a
    /// second page of 100 sorted by that attribute.
    pub fn sorted_pages() -> impl Iterator<Item = (&'static str, &'static str, ListQuery)> {
        [("name.familyName", "scimkit_users_family_name")]
            .into_iter()
            .map(|(by, index)| {
                let sort = SortSpec::parse(by, None).unwrap();
                (
                    by,
                    index,
                    ListQuery::all(100).starting_at(101).sorted_by(sort),
                )
            })
    }

    /// Filters on indexed attributes with the index each must use in `dialect` (the
    /// names differ), each with a page of 10 users it filters.
    pub fn indexed_filters(dialect: Dialect) -> Vec<(&'static str, &'static str, ListQuery)> {
        let filters = [
            r#"userName eq "U7""#,
            r#"externalId eq "x""#,
            r#"id eq "x""#,
            r#"emails.value eq "U7@example.com""#,
            r#"userName eq "a" or userName eq "b""#,
        ];
        let indexes = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => [
                "scimkit_users_user_name",
                "scimkit_users_external_id",
                "scimkit_users_id",
                "scimkit_user_emails USING PRIMARY KEY",
                "scimkit_users_user_name",
            ],
            #[cfg(feature = "postgres")]
            Dialect::Postgres => [
                "scimkit_users_user_name_key",
                "scimkit_users_external_id",
                "scimkit_users_pkey",
                "scimkit_users_emails",
                "scimkit_users_user_name_key",
            ],
        };
        filters
            .into_iter()
            .zip(indexes)
            .map(|(f, index)| {
                let q = ListQuery::all(10).with_filter(crate::filter::parse(f).unwrap());
                (f, index, q)
            })
            .collect()
    }

    /// Asserts that the query plan `lines` of the page sorted by `by` reads `index` and
    /// does not sort (`sort`: how a sort shows in the dialect's plans).
    pub fn assert_read_in_order(by: &str, index: &str, lines: &[String], sort: &str) {
        assert!(
            lines.iter().any(|l| l.contains(index)) && !lines.iter().any(|l| l.contains(sort)),
            "sortBy={by}: {lines:#?}"
        );
    }

    /// The page statement of `q` for tenant `t`, with its parameters.
    pub fn page_statement(q: &ListQuery, dialect: Dialect) -> (String, Vec<Param>) {
        let Plan::Sql(SqlPlan {
            page: Some(page), ..
        }) = plan(q, "t", dialect, crate::schema::SchemaSet::core()).unwrap()
        else {
            panic!("{q:?} is planned in SQL");
        };
        page
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    proptest::proptest! {
        /// `visit_placeholders` (compact's first pass, which writes nothing) finds the
        /// placeholders `scan_placeholders` finds, in order, literals included.
        #[test]
        fn placeholders_are_found_alike_by_both_scans(sql in "[?$' a1-3]{0,40}") {
            let mut visited = Vec::new();
            visit_placeholders(&sql, |n| visited.push(n));
            let mut scanned = Vec::new();
            let same = scan_placeholders(&sql, |n| {
                scanned.push(n);
                None
            });
            proptest::prop_assert_eq!(visited, scanned);
            proptest::prop_assert_eq!(same, sql);
        }
    }

    #[test]
    fn unused_parameters_are_dropped_and_the_rest_renumbered() {
        let params = vec![
            Param::Text("t".into()),
            Param::Text("dropped".into()),
            Param::Int(3),
        ];
        let (sql, kept) = compact("a = $1 AND b = $3 AND c = '$2'".into(), params);
        assert_eq!(sql, "a = $1 AND b = $2 AND c = '$2'");
        assert_eq!(kept, vec![Param::Text("t".into()), Param::Int(3)]);
        let (sql, kept) = compact(
            "a = ?1 OR b = ?2".into(),
            vec![Param::Int(1), Param::Int(2)],
        );
        assert_eq!((sql.as_str(), kept.len()), ("a = ?1 OR b = ?2", 2));
    }
}
