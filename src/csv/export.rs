//! [`Export`]: a tenant's users as CSV, page by page.

use std::fmt;
use std::io::Write;

use serde_json::Value;

use super::CsvError;
use super::columns::ColumnMap;
use crate::filter::Filter;
use crate::list::ListQuery;
use crate::store::{RequestContext, UserStore};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportSummary {
    /// Users written (data rows, after the header).
    pub users: u64,
}

type ProgressCallback<'a> = Box<dyn FnMut(u64) + Send + 'a>;

/// A CSV export of one tenant's users, in the format [`super::Import`] reads.
///
/// One header row (the [`ColumnMap`]'s headers), then one row per user in the store's
/// stable order (creation order), read a page at a time ([`Export::page_size`]) with the
/// store's RFC 9865 cursors when it has them, else by `startIndex`. An absent attribute
/// is an empty cell; booleans are `true`/`false`; a multi-valued column shows the element
/// of its `type`. Attributes that are never returned (`password`, and the write-only
/// attributes and sub-attributes of a host's extension) are always empty.
///
/// Cells are written as they are stored. A spreadsheet may read a cell beginning with
/// `=`, `+`, `-` or `@` as a formula: hand exports of untrusted data to people with that
/// in mind.
///
/// Offset paging over a store without cursors can miss or repeat a user created or
/// deleted during the export; with cursors (as [`crate::MemoryUserStore`] has) it cannot.
///
/// ```
/// use scimkit::csv::{ColumnMap, Export};
/// use scimkit::{MemoryUserStore, RequestContext, ScimServer, StaticKeyAuthenticator, User};
/// use std::sync::Arc;
///
/// # async fn demo() -> Result<(), scimkit::csv::CsvError> {
/// let store = Arc::new(MemoryUserStore::new());
/// let server = ScimServer::builder()
///     .shared_store(store.clone())
///     .authenticator(StaticKeyAuthenticator::new())
///     .build()
///     .expect("valid configuration");
/// let ctx = RequestContext::system("acme");
/// let mut user = User::new("ann");
/// user.title = Some("Engineer, Platform".into());
/// server.create_user(&ctx, user).await.expect("created");
///
/// let columns = ColumnMap::user_name_only().column("Job Title", "title")?;
/// let mut out = Vec::new();
/// let summary = Export::new(store.as_ref(), ctx).columns(columns).run(&mut out).await?;
/// assert_eq!(summary.users, 1);
/// assert_eq!(String::from_utf8(out).unwrap(), "userName,Job Title\nann,\"Engineer, Platform\"\n");
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Export<'a> {
    store: &'a dyn UserStore,
    ctx: RequestContext,
    columns: ColumnMap,
    /// The filter and page size; paged by cursor or by `startIndex` when run.
    query: ListQuery,
    delimiter: u8,
    on_progress: Option<ProgressCallback<'a>>,
}

impl fmt::Debug for Export<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export")
            .field("tenant", &self.ctx.tenant)
            .field("columns", &self.columns)
            .field("filter", &self.query.filter)
            .field("page_size", &self.query.count)
            .field("delimiter", &self.delimiter)
            .finish_non_exhaustive()
    }
}

impl<'a> Export<'a> {
    /// An export of the tenant of `ctx` from `store`, with the default columns.
    pub fn new(store: &'a dyn UserStore, ctx: RequestContext) -> Self {
        Self {
            store,
            ctx,
            columns: ColumnMap::new(),
            query: ListQuery::all(500),
            delimiter: b',',
            on_progress: None,
        }
    }

    /// The columns to write.
    pub fn columns(mut self, columns: ColumnMap) -> Self {
        self.columns = columns;
        self
    }

    /// Only the users matching `filter` (e.g. `active eq true`).
    pub fn filter(mut self, filter: Filter) -> Self {
        self.query = self.query.with_filter(filter);
        self
    }

    /// Users read from the store at a time (default 500; at least 1).
    pub fn page_size(mut self, n: usize) -> Self {
        self.query.count = n.max(1);
        self
    }

    /// The field delimiter (default `b','`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Called after every page with the number of users written so far.
    pub fn on_progress(mut self, f: impl FnMut(u64) + Send + 'a) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Writes the header and every user, then flushes `output`.
    ///
    /// # Errors
    ///
    /// [`CsvError::Io`] when writing fails, [`CsvError::Store`] when listing does; what
    /// was written before stays written.
    pub async fn run<W: Write>(mut self, output: W) -> Result<ExportSummary, CsvError> {
        let mut writer = ::csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .from_writer(output);
        writer
            .write_record(self.columns.columns().map(|(header, _)| header))
            .map_err(CsvError::from_csv)?;
        let cursors = self.store.supports_cursors();
        let mut query = self.query;
        if cursors {
            query.cursor = Some(String::new());
        }
        let mut summary = ExportSummary::default();
        loop {
            let page = self
                .store
                .list(&self.ctx, &query)
                .await
                .map_err(CsvError::Store)?;
            for user in &page.resources {
                let doc = user.to_value();
                for (_, target) in self.columns.columns() {
                    let number;
                    let cell = match target.get(&doc) {
                        Some(Value::String(s)) => s.as_str(),
                        Some(Value::Bool(true)) => "true",
                        Some(Value::Bool(false)) => "false",
                        Some(Value::Number(n)) => {
                            number = n.to_string();
                            number.as_str()
                        }
                        _ => "",
                    };
                    writer.write_field(cell).map_err(CsvError::from_csv)?;
                }
                writer
                    .write_record(None::<&[u8]>)
                    .map_err(CsvError::from_csv)?;
                summary.users += 1;
            }
            if let Some(f) = self.on_progress.as_mut() {
                f(summary.users);
            }
            let done = page.resources.len();
            if cursors {
                match page.next_cursor {
                    Some(next) => query.cursor = Some(next),
                    None => break,
                }
            } else {
                query.start_index += done;
                if done == 0 || query.start_index > page.total_results {
                    break;
                }
            }
        }
        writer.flush()?;
        tracing::info!(tenant = %self.ctx.tenant, users = summary.users, "csv export finished");
        Ok(summary)
    }
}
