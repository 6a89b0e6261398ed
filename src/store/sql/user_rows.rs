//! Rows of `scimkit_users` and the [`UserStore`](crate::store::UserStore) implementation,
//! shared by both dialects: the columns a write sets, the statements both run as they
//! are, and [`sql_user_store!`], the trait's one implementation over the few operations
//! each dialect's store supplies.

use super::driver::Statement;

/// The columns a write sets, in the order of [`EncodedUser::args`](super::encode::EncodedUser::args).
macro_rules! row_columns {
    () => {
        "user_name, user_name_lower, external_id, active, created_s, created_ns, \
         modified_s, modified_ns, resource, search, present, family_name, emails"
    };
}
pub(super) use row_columns;

/// The columns of `row_columns!` a database had before migration 8 (the first 11), for the
/// tests that write rows as older versions of scimkit did.
#[cfg(test)]
pub(super) const COLUMNS_BEFORE_8: &str = "user_name, user_name_lower, external_id, active, \
     created_s, created_ns, modified_s, modified_ns, resource, search, present";

/// `seq, resource, version` of user `?2` of tenant `?1` (the columns every page reads
/// first, so that one reader serves a GET and a page).
pub(super) static GET: Statement = Statement::new(
    "SELECT seq, CAST(resource AS TEXT) AS resource, version FROM scimkit_users \
     WHERE tenant = ?1 AND id = ?2",
);

/// [`GET`] for a read that keeps user `?2` decoded at version `?3` (NULL: none): the
/// resource is NULL when the row is at that version, so a GET of a kept user reads and
/// sends no JSON (SQLite copied and cast it for every row; PostgreSQL sent its `json`).
/// Read with [`Decoded::read_unless_kept`](super::decoded::Decoded::read_unless_kept).
pub(super) static GET_UNLESS_KEPT: Statement = Statement::new(
    "SELECT seq, CASE WHEN version = ?3 THEN NULL ELSE CAST(resource AS TEXT) END AS resource, \
     version FROM scimkit_users WHERE tenant = ?1 AND id = ?2",
);

/// A row when user `?2` of tenant `?1` exists.
pub(super) static EXISTS: Statement =
    Statement::new("SELECT 1 FROM scimkit_users WHERE tenant = ?1 AND id = ?2");

/// Implements [`UserStore`](crate::store::UserStore) for a SQL store, over its inherent
/// methods (each dialect supplies only these):
///
/// - `insert(ctx, user)`: the created user as stored;
/// - `fetch(tenant, id)`: user `id`, if any;
/// - `exists(tenant, id)`: whether user `id` exists (tells a failed compare-and-swap from
///   a missing user);
/// - `swap(ctx, user, expected)`: the replaced user as stored, compare-and-swap on
///   `expected` (`None`: any version; [`missed`](super::encode::missed) on a miss);
/// - `remove(ctx, id, expected)`: the same for a delete;
/// - `candidates(tenant, sql, args)`: the users a [`Plan::Rust`](super::list_sql::Plan)
///   selects, in order;
/// - `page_and_total(tenant, query, plan)`: the rows of a [`SqlPlan`](super::list_sql::SqlPlan)'s
///   page, and its total when counted with them;
/// - `count(tenant, query, count)`: the total of a plan's `count` statement;
/// - `pending(limit)`, `acknowledge(through)`: the outbox.
///
/// What both share is written here: a write without an id is refused; an ETag becomes
/// the version to expect ([`Expected`](super::encode::Expected)), and an ETag that no
/// stored version has is answered at once as a mismatch (or a missing user); a list is
/// planned once and served in SQL or, past what translates, in Rust. The module that
/// calls it imports `Result` (the SQL stores' alias, with
/// [`StoreError`](crate::store::StoreError)).
macro_rules! sql_user_store {
    ($store:ident, $dialect:expr) => {
        impl $store {
            /// Sets how many candidate rows may be checked in Rust for a filter that cannot
            /// be fully translated to SQL (default
            /// [`DEFAULT_FALLBACK_LIMIT`](crate::store::DEFAULT_FALLBACK_LIMIT)).
            #[must_use]
            pub fn with_fallback_limit(mut self, limit: usize) -> Self {
                self.fallback_limit = limit;
                self
            }

            /// The version a conditional write expects (`None`: any), or why it fails at once.
            async fn expected(
                &self,
                tenant: &str,
                id: &str,
                etag: Option<&str>,
            ) -> Result<Option<i64>> {
                use super::encode::{Expected, missed};
                match Expected::of(etag) {
                    Expected::Any => Ok(None),
                    Expected::Version(v) => Ok(Some(v)),
                    Expected::Never => Err(missed(self.exists(tenant, id).await?)),
                }
            }
        }

        #[async_trait::async_trait]
        impl UserStore for $store {
            async fn create(&self, ctx: &RequestContext, user: User) -> Result<Arc<User>> {
                let stored = Arc::new(self.insert(ctx, user).await?);
                self.keep_written(&ctx.tenant, &stored, true);
                Ok(stored)
            }

            async fn get(&self, ctx: &RequestContext, id: &str) -> Result<Option<Arc<User>>> {
                self.fetch(&ctx.tenant, id).await
            }

            fn kept(&self, ctx: &RequestContext, id: &str) -> Option<Arc<User>> {
                self.kept_latest(&ctx.tenant, id)
            }

            async fn replace(
                &self,
                ctx: &RequestContext,
                user: User,
                expected_version: Option<&str>,
            ) -> Result<Arc<User>> {
                let Some(id) = user.id.clone() else {
                    return Err(StoreError::NotFound);
                };
                let expected = self.expected(&ctx.tenant, &id, expected_version).await?;
                let stored = Arc::new(self.swap(ctx, user, expected).await?);
                self.keep_written(&ctx.tenant, &stored, false);
                Ok(stored)
            }

            async fn delete(
                &self,
                ctx: &RequestContext,
                id: &str,
                expected_version: Option<&str>,
            ) -> Result<()> {
                let expected = self.expected(&ctx.tenant, id, expected_version).await?;
                self.remove(ctx, id, expected).await
            }

            fn supports_cursors(&self) -> bool {
                true
            }

            async fn list(
                &self,
                ctx: &RequestContext,
                query: &ListQuery,
            ) -> Result<ListPage<Arc<User>>> {
                use crate::store::sql::list_sql::{
                    Plan, finish_page, page_in_rust, plan, set_total,
                };
                match plan(query, &ctx.tenant, $dialect, ctx.schemas())? {
                    Plan::Empty => Ok(query.page(std::iter::empty())),
                    Plan::Rust { sql, mut params } => {
                        let limit = self.fallback_limit.saturating_add(1);
                        params.push(Param::Int(crate::store::sql::to_i64(limit)));
                        let users = self.candidates(&ctx.tenant, &sql, &params).await?;
                        page_in_rust(query, self.fallback_limit, users, ctx.schemas())
                    }
                    Plan::Sql(sql) => {
                        let (rows, counted) = self.page_and_total(&ctx.tenant, query, &sql).await?;
                        let (mut page, known) = finish_page(query, &sql.paging, rows);
                        let total = match known.or(counted) {
                            Some(total) => total,
                            // No page (count=0), an empty one (past the end), or one not
                            // counted with its rows: count apart.
                            None => self.count(&ctx.tenant, query, sql.count()).await?,
                        };
                        set_total(&mut page, &sql.paging, total);
                        Ok(page)
                    }
                }
            }
        }

        #[async_trait::async_trait]
        impl crate::events::EventOutbox for $store {
            async fn pending_events(&self, limit: usize) -> Result<Vec<ProvisioningEvent>> {
                self.pending(limit).await
            }

            async fn acknowledge_events(&self, through: u64) -> Result<()> {
                self.acknowledge(through).await
            }
        }
    };
}
pub(super) use sql_user_store;
