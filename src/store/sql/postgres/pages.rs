//! List pages of [`PostgresUserStore`]: a page and its total in one statement, and the
//! users it keeps decoded read without their JSON.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PostgresUserStore;
use crate::list::ListQuery;
use crate::store::StoreError;
use crate::store::sql::driver::{Param, bind_params};
use crate::store::sql::list_sql::{FetchedPage, PAGE_SELECT, Paging, SqlPlan, at_most_one};
use crate::store::sql::{map_db_error, to_usize};

/// `page` (a `SELECT <columns> FROM ...` of [`plan`](crate::store::sql::list_sql::plan))
/// with the total of `count` (the same `WHERE`, with the same parameters) as a last column
/// `total`: the page and its total in one round trip. The subquery runs once (an init
/// plan), and not at all for an empty page, whose total is then counted apart.
pub(super) fn with_total(page: &str, count: &str) -> Option<String> {
    let rest = page.strip_prefix(PAGE_SELECT)?;
    Some(format!("{PAGE_SELECT}, ({count}) AS total{rest}"))
}

/// `statement` (a page statement, with or without [`with_total`]) selecting the rows'
/// `seq` and `version` only, not their resources.
fn keys_only(statement: &str) -> Option<String> {
    let rest = statement.strip_prefix(PAGE_SELECT)?;
    Some(format!("SELECT u.seq AS seq, u.version AS version{rest}"))
}

/// The `total` of the first of `rows` when the statement counted (`total`), if any row.
fn counted(total: bool, rows: &[PgRow]) -> Result<Option<usize>, StoreError> {
    match (total, rows.first()) {
        (true, Some(r)) => Ok(Some(to_usize(r.try_get("total").map_err(map_db_error)?))),
        _ => Ok(None),
    }
}

/// The resources of rows `$2` (their `seq`) of tenant `$1`.
const RESOURCES_BY_SEQ: &str = "SELECT seq, resource::text AS resource, version \
     FROM scimkit_users WHERE tenant = $1 AND seq = ANY($2)";

impl PostgresUserStore {
    /// The rows of the page of `plan` and, when the statement can count them in the same
    /// round trip, the total of its `count` (the same `WHERE`).
    pub(super) async fn page_and_total(
        &self,
        tenant: &str,
        query: &ListQuery,
        plan: &SqlPlan,
    ) -> Result<FetchedPage, StoreError> {
        let Some((sql, params)) = &plan.page else {
            return Ok((Vec::new(), None));
        };
        // A first page of `userName eq`/`id eq` (at most one user) with room for more
        // than one tells its total by itself: no count.
        let unique = at_most_one(query);
        let first = match plan.paging {
            Paging::Offset { offset, .. } => offset == 0,
            Paging::Keyset { first } => first,
        };
        let combined = (!(unique && first && query.count > 1))
            .then(|| with_total(sql, &plan.count().0))
            .flatten();
        let statement = combined.as_deref().unwrap_or(sql);
        let total = combined.is_some();
        // A `userName eq`/`id eq` page (an identity provider's lookup before a write)
        // stays one round trip, read or not.
        let kept = if !unique && query.count <= self.decoded.capacity() / 2 {
            self.page_through_kept(tenant, statement, params, total)
                .await?
        } else {
            None
        };
        match kept {
            Some(page) => Ok(page),
            None => self.page(tenant, statement, params, total).await,
        }
    }

    /// Runs a page `statement` of [`plan`] (with a `total` column when `total`): one round
    /// trip, the page's resources included.
    pub(super) async fn page(
        &self,
        tenant: &str,
        statement: &str,
        params: &[Param],
        total: bool,
    ) -> Result<FetchedPage, StoreError> {
        let fetched = self
            .conns
            .read_rows(|| bind_params(sqlx::query(statement), params))
            .await?;
        let rows = fetched
            .iter()
            .map(|r| self.decoded.read_row(tenant, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, counted(total, &fetched)?))
    }

    /// Runs a page `statement` through the decoded users: first without the resources
    /// (the rows' `seq` and `version`, and the total: one round trip carrying a few bytes
    /// per user), then, only for users not kept at that version, their resources by `seq`
    /// (a second round trip). A page of users read before, an identity provider's
    /// repeated import, is thus one small round trip and no parsing. `None` (run the
    /// statement whole instead) when a row changed or went away between the two.
    pub(super) async fn page_through_kept(
        &self,
        tenant: &str,
        statement: &str,
        params: &[Param],
        total: bool,
    ) -> Result<Option<FetchedPage>, StoreError> {
        let Some(keys) = keys_only(statement) else {
            return Ok(None);
        };
        let fetched = self
            .conns
            .read_rows(|| bind_params(sqlx::query(&keys), params))
            .await?;
        let counted = counted(total, &fetched)?;
        let mut rows = Vec::with_capacity(fetched.len());
        let mut missing = Vec::new();
        for r in &fetched {
            let seq: i64 = r.try_get("seq").map_err(map_db_error)?;
            let version: i64 = r.try_get("version").map_err(map_db_error)?;
            let user = self.decoded.get(tenant, seq, version);
            if user.is_none() {
                missing.push(seq);
            }
            rows.push((seq, version, user));
        }
        if !missing.is_empty() {
            let read = self
                .conns
                .read_rows(|| sqlx::query(RESOURCES_BY_SEQ).bind(tenant).bind(&missing))
                .await?;
            let mut by_seq = HashMap::with_capacity(read.len());
            for r in &read {
                let seq: i64 = r.try_get("seq").map_err(map_db_error)?;
                by_seq.insert(seq, r);
            }
            for (seq, version, user) in &mut rows {
                if user.is_some() {
                    continue;
                }
                let Some(r) = by_seq.get(seq) else {
                    return Ok(None);
                };
                let read_version: i64 = r.try_get("version").map_err(map_db_error)?;
                if read_version != *version {
                    return Ok(None);
                }
                let resource: &str = r.try_get("resource").map_err(map_db_error)?;
                *user = Some(
                    self.decoded
                        .get_or_decode(tenant, *seq, *version, resource)?,
                );
            }
        }
        let rows = rows
            .into_iter()
            .map(|(seq, _, user)| user.map(|u| (seq, u)))
            .collect::<Option<Vec<_>>>();
        Ok(rows.map(|rows| (rows, counted)))
    }
}
