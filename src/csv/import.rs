//! [`Import`]: rows upserted by `userName` through the server's provisioning operations.

use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{SubsecRound, Utc};
use serde_json::{Map, Value};

use super::CsvError;
use super::columns::{ColumnMap, Plan};
use super::target::Target;
use crate::compat::Compatibility;
use crate::error::ScimError;
use crate::resource::User;
use crate::resource::input::user_from_value;
use crate::schema::SchemaSet;
use crate::server::ScimServer;
use crate::store::RequestContext;

/// What an empty cell means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmptyCells {
    /// Leave the attribute as it is (the default): a sparse file updates only what it
    /// fills in, and an export, where absent attributes are empty, imports unchanged.
    #[default]
    Keep,
    /// Remove the attribute: the file is the truth for its columns.
    Clear,
}

/// How far an import has got, given to [`Import::on_progress`] after every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Data rows done (created, updated, unchanged or rejected).
    pub rows: u64,
    /// Bytes of input read so far, for a progress bar against the file's size.
    pub bytes: u64,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowOutcome {
    /// A new user; its `id` (`None` in a dry run, where nothing is created).
    Created {
        /// The new user's id.
        id: Option<String>,
    },
    /// An existing user was changed.
    Updated {
        /// The user's id.
        id: String,
    },
    /// An existing user already had these values; nothing was written.
    Unchanged {
        /// The user's id.
        id: String,
    },
    /// Nothing of the row was applied, for this reason.
    Rejected(ScimError),
}

/// The outcome of one row, given to [`Import::on_row`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowReport {
    /// The line of the file where the row starts (the header is line 1; a quoted cell
    /// may span lines).
    pub line: u64,
    /// The row's `userName` as written (empty when it had none).
    pub user_name: String,
    /// What became of it.
    pub outcome: RowOutcome,
}

impl fmt::Display for RowReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: ", self.line, self.user_name)?;
        match &self.outcome {
            RowOutcome::Created { .. } => f.write_str("created"),
            RowOutcome::Updated { .. } => f.write_str("updated"),
            RowOutcome::Unchanged { .. } => f.write_str("unchanged"),
            RowOutcome::Rejected(e) => match e.scim_type() {
                Some(t) => write!(f, "rejected ({}): {e}", t.as_str()),
                None => write!(f, "rejected: {e}"),
            },
        }
    }
}

/// The counts of an import: constant-size however long the file (the rows themselves
/// went to [`Import::on_row`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportSummary {
    /// Data rows read (blank rows are skipped and not counted).
    pub rows: u64,
    /// Users created (or, in a dry run, that would be).
    pub created: u64,
    /// Users changed (or that would be).
    pub updated: u64,
    /// Rows that matched their user already.
    pub unchanged: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Bytes of input read.
    pub bytes: u64,
    /// Whether this was a dry run: nothing was written.
    pub dry_run: bool,
    /// Headers ignored as unknown ([`ColumnMap::ignore_unknown_columns`]).
    pub ignored_columns: Vec<String>,
}

type RowCallback<'a> = Box<dyn FnMut(&RowReport) + Send + 'a>;
type ProgressCallback<'a> = Box<dyn FnMut(Progress) + Send + 'a>;

/// A CSV import into one tenant. See the [module documentation](super) for what a row
/// does; configure, then [`Import::run`].
///
/// ```
/// use scimkit::csv::{ColumnMap, EmptyCells, Import, RowOutcome};
/// use scimkit::{MemoryUserStore, RequestContext, ScimServer, StaticKeyAuthenticator};
///
/// # async fn demo() -> Result<(), scimkit::csv::CsvError> {
/// let server = ScimServer::builder()
///     .store(MemoryUserStore::new())
///     .authenticator(StaticKeyAuthenticator::new())
///     .required_attributes(["name.familyName"])
///     .build()
///     .expect("valid configuration");
/// let file = "Email,Last Name,Mobile\nann@example.com,Lee,+1 555 0100\nbob@example.com,,\n";
/// let mut rejected = Vec::new();
/// let summary = Import::new(&server, RequestContext::system("acme"))
///     .columns(ColumnMap::new().column("Mobile", r#"phoneNumbers[type eq "mobile"].value"#)?)
///     .empty_cells(EmptyCells::Keep)
///     .dry_run(true)
///     .on_row(|row| {
///         if let RowOutcome::Rejected(e) = &row.outcome {
///             rejected.push(format!("line {}: {e}", row.line));
///         }
///     })
///     .run(file.as_bytes())
///     .await?;
/// assert_eq!((summary.created, summary.rejected), (1, 1));
/// assert_eq!(rejected, ["line 3: missing required attributes: name.familyName"]);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
/// ```
pub struct Import<'a> {
    settings: Settings<'a>,
    on_row: Option<RowCallback<'a>>,
    on_progress: Option<ProgressCallback<'a>>,
}

/// Everything of an [`Import`] but its callbacks (which need not be `Sync`).
#[derive(Debug)]
struct Settings<'a> {
    server: &'a ScimServer,
    ctx: RequestContext,
    columns: ColumnMap,
    dry_run: bool,
    empty_cells: EmptyCells,
    trim: bool,
    delimiter: u8,
}

impl fmt::Debug for Import<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Import")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One cell to apply: set (`Some`) or clear (`None`).
type Change<'p> = (&'p Target, Option<Value>);

impl<'a> Import<'a> {
    /// An import into the tenant of `ctx` (use [`RequestContext::system`] for work the
    /// host does itself), with the default columns.
    pub fn new(server: &'a ScimServer, ctx: RequestContext) -> Self {
        Self {
            settings: Settings {
                server,
                ctx: ctx.with_schemas(std::sync::Arc::clone(server.schemas())),
                columns: ColumnMap::new(),
                dry_run: false,
                empty_cells: EmptyCells::Keep,
                trim: true,
                delimiter: b',',
            },
            on_row: None,
            on_progress: None,
        }
    }

    /// The columns to read.
    pub fn columns(mut self, columns: ColumnMap) -> Self {
        self.settings.columns = columns;
        self
    }

    /// Validates every row and reports what would happen, writing nothing. Rows run the
    /// same checks as a real import (schema, types, the host's required attributes) and
    /// see the store as it is, so a file naming the same new user twice reports it
    /// created twice, where a real import would create then update it.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.settings.dry_run = yes;
        self
    }

    /// What an empty cell means (default [`EmptyCells::Keep`]).
    pub fn empty_cells(mut self, mode: EmptyCells) -> Self {
        self.settings.empty_cells = mode;
        self
    }

    /// Whether surrounding whitespace is trimmed from cells (default `true`, as
    /// spreadsheets leave stray spaces; a value with surrounding spaces then does not
    /// survive an export and import).
    pub fn trim(mut self, yes: bool) -> Self {
        self.settings.trim = yes;
        self
    }

    /// The field delimiter (default `b','`; `b';'` for spreadsheets in many locales).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.settings.delimiter = delimiter;
        self
    }

    /// Called with each row's outcome as soon as it is known, in file order.
    pub fn on_row(mut self, f: impl FnMut(&RowReport) + Send + 'a) -> Self {
        self.on_row = Some(Box::new(f));
        self
    }

    /// Called after every row with the rows done and the bytes read.
    pub fn on_progress(mut self, f: impl FnMut(Progress) + Send + 'a) -> Self {
        self.on_progress = Some(Box::new(f));
        self
    }

    /// Reads the header row, then imports the rows one by one, in constant memory.
    ///
    /// `input` is read synchronously, a buffer at a time: a file, a byte slice, an upload
    /// already spooled to disk. (From an async stream, bridge with a channel-backed
    /// `Read` on a blocking thread.)
    ///
    /// # Errors
    ///
    /// [`CsvError::Header`] before any row is applied; [`CsvError::Aborted`] when the
    /// store fails; [`CsvError::Io`]/[`CsvError::Malformed`] when the input cannot be
    /// read on. Rows before the error stay applied.
    pub async fn run<R: Read>(self, input: R) -> Result<ImportSummary, CsvError> {
        let Self {
            settings,
            mut on_row,
            mut on_progress,
        } = self;
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(settings.delimiter)
            // Lines end at '\n'; a '\r' before it is stripped from the last cell ([`cell`]),
            // so that both line endings give the same, exact, line numbers ([`line_of`]).
            .terminator(::csv::Terminator::Any(b'\n'))
            .from_reader(input);
        let mut record = ::csv::ByteRecord::new();
        if !reader
            .read_byte_record(&mut record)
            .map_err(CsvError::from_csv)?
        {
            return Err(CsvError::Header("the file is empty: no header row".into()));
        }
        let headers: Vec<String> = (0..record.len())
            .map(|i| String::from_utf8_lossy(cell(&record, i)).into_owned())
            .collect();
        let plan = settings.columns.plan(
            headers.iter().map(String::as_str),
            settings.server.schemas(),
        )?;
        let mut summary = ImportSummary {
            dry_run: settings.dry_run,
            ignored_columns: plan.ignored.clone(),
            ..ImportSummary::default()
        };
        while reader
            .read_byte_record(&mut record)
            .map_err(CsvError::from_csv)?
        {
            if record.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            let line = line_of(&record, reader.position());
            let (user_name, outcome) = match settings.cells(&plan, &record) {
                Ok((name, changes)) => {
                    let outcome = match settings.upsert(&name, &changes).await {
                        Ok(o) => o,
                        Err(error @ ScimError::Internal { .. }) => {
                            return Err(CsvError::Aborted { line, error });
                        }
                        Err(e) => RowOutcome::Rejected(e),
                    };
                    (name, outcome)
                }
                Err((name, e)) => (name, RowOutcome::Rejected(e)),
            };
            summary.rows += 1;
            match outcome {
                RowOutcome::Created { .. } => summary.created += 1,
                RowOutcome::Updated { .. } => summary.updated += 1,
                RowOutcome::Unchanged { .. } => summary.unchanged += 1,
                RowOutcome::Rejected(_) => summary.rejected += 1,
            }
            if let Some(f) = on_row.as_mut() {
                f(&RowReport {
                    line,
                    user_name,
                    outcome,
                });
            }
            if let Some(f) = on_progress.as_mut() {
                f(Progress {
                    rows: summary.rows,
                    bytes: reader.position().byte(),
                });
            }
        }
        summary.bytes = reader.position().byte();
        tracing::info!(
            tenant = %settings.ctx.tenant,
            dry_run = summary.dry_run,
            rows = summary.rows,
            created = summary.created,
            updated = summary.updated,
            unchanged = summary.unchanged,
            rejected = summary.rejected,
            "csv import finished"
        );
        Ok(summary)
    }
}

impl Settings<'_> {
    /// The row's `userName` and the changes its cells make, or why it is rejected.
    fn cells<'p>(
        &self,
        plan: &'p Plan,
        record: &::csv::ByteRecord,
    ) -> Result<(String, Vec<Change<'p>>), (String, ScimError)> {
        let text = |index: usize, header: &str| -> Result<&str, ScimError> {
            let raw = cell(record, index);
            let s = std::str::from_utf8(raw).map_err(|_| {
                ScimError::InvalidValue(format!("column {header:?} is not valid UTF-8"))
            })?;
            Ok(if self.trim { s.trim() } else { s })
        };
        let key = plan.key.unwrap_or_default();
        let user_name = text(key, "userName").map_err(|e| (String::new(), e))?;
        let reject = |e| (user_name.to_owned(), e);
        if record.len() != plan.width {
            return Err(reject(ScimError::InvalidSyntax(format!(
                "the row has {} fields, the header {}",
                record.len(),
                plan.width
            ))));
        }
        if user_name.trim().is_empty() {
            return Err(reject(ScimError::InvalidValue(
                "required attribute userName is empty".into(),
            )));
        }
        let mut changes = Vec::with_capacity(plan.cells.len());
        for column in &plan.cells {
            let cell = text(column.index, &column.header).map_err(reject)?;
            if cell.is_empty() {
                if self.empty_cells == EmptyCells::Clear {
                    changes.push((&column.target, None));
                }
                continue;
            }
            let value = column.target.cell_value(cell).map_err(|why| {
                reject(ScimError::InvalidValue(format!(
                    "column {:?}: {why}",
                    column.header
                )))
            })?;
            changes.push((&column.target, Some(value)));
        }
        Ok((user_name.to_owned(), changes))
    }

    /// Creates or updates the row's user.
    async fn upsert(
        &self,
        user_name: &str,
        changes: &[Change<'_>],
    ) -> Result<RowOutcome, ScimError> {
        let (server, ctx) = (self.server, &self.ctx);
        let compat = server.config().compatibility();
        let schemas: &SchemaSet = server.schemas();
        // Twice at most: a create that loses a race to another writer becomes an update.
        for attempt in 0..2 {
            if let Some(current) = server.find_user_by_user_name(ctx, user_name).await? {
                let id = current.id.clone().unwrap_or_default();
                if self.dry_run {
                    let next = apply(&current, changes, compat, schemas)?;
                    server.validate_user(&next)?;
                    return Ok(if next == *current {
                        RowOutcome::Unchanged { id: id.into() }
                    } else {
                        RowOutcome::Updated { id: id.into() }
                    });
                }
                let changed = AtomicBool::new(false);
                server
                    .update_user(ctx, &id, None, |current| {
                        let mut next = apply(current, changes, compat, schemas)?;
                        let differs = next != *current;
                        changed.store(differs, Ordering::Relaxed);
                        if let Some(meta) = next.meta.as_mut().filter(|_| differs) {
                            meta.last_modified = Utc::now().trunc_subsecs(3).max(meta.created);
                        }
                        Ok(next)
                    })
                    .await?;
                return Ok(if changed.load(Ordering::Relaxed) {
                    RowOutcome::Updated { id: id.into() }
                } else {
                    RowOutcome::Unchanged { id: id.into() }
                });
            }
            let mut doc = Map::new();
            doc.insert("userName".into(), Value::String(user_name.to_owned()));
            let user = build(doc, changes, compat, schemas)?;
            if self.dry_run {
                server.validate_user(&user)?;
                return Ok(RowOutcome::Created { id: None });
            }
            match server.create_user(ctx, user).await {
                Ok(created) => {
                    return Ok(RowOutcome::Created {
                        id: created.id.as_deref().map(String::from),
                    });
                }
                Err(ScimError::Uniqueness(_)) if attempt == 0 => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ScimError::Conflict(format!(
            "userName {user_name:?} is being changed concurrently; retry the row"
        )))
    }
}

/// Cell `index` of a record, without the `'\r'` of a CRLF line ending.
fn cell(record: &::csv::ByteRecord, index: usize) -> &[u8] {
    let raw = record.get(index).unwrap_or_default();
    if index + 1 == record.len() {
        raw.strip_suffix(b"\r").unwrap_or(raw)
    } else {
        raw
    }
}

/// The line a record starts on. The reader's own start position counts the blank lines
/// before the record, so count back from where it ended instead: its quoted newlines,
/// and the newline that ended it, if one did.
fn line_of(record: &::csv::ByteRecord, end: &::csv::Position) -> u64 {
    let start = record.position().map_or(1, ::csv::Position::line);
    let inner: u64 = record
        .iter()
        .map(|f| f.iter().filter(|&&b| b == b'\n').count() as u64)
        .sum();
    if end.line() > start + inner {
        end.line() - inner - 1
    } else {
        start
    }
}

/// A user from a JSON object and the row's changes, validated as a POST body is.
fn build(
    mut doc: Map<String, Value>,
    changes: &[Change<'_>],
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<User, ScimError> {
    for (target, value) in changes {
        target.set(&mut doc, value.clone());
    }
    user_from_value(Value::Object(doc), compat, schemas)
}

/// `current` with the row's changes: what the client can write is rebuilt from JSON
/// and validated; the id, metadata, groups and password are kept.
fn apply(
    current: &User,
    changes: &[Change<'_>],
    compat: &Compatibility,
    schemas: &SchemaSet,
) -> Result<User, ScimError> {
    let doc = match current.to_value() {
        Value::Object(doc) => doc,
        _ => Map::new(),
    };
    let mut next = build(doc, changes, compat, schemas)?;
    crate::resource::carry_over(current, &mut next, false, schemas);
    next.id.clone_from(&current.id);
    next.meta.clone_from(&current.meta);
    next.groups.clone_from(&current.groups);
    if next.password.is_none() {
        next.password.clone_from(&current.password);
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_reports_read_well() {
        let r = RowReport {
            line: 7,
            user_name: "bob".into(),
            outcome: RowOutcome::Rejected(ScimError::InvalidValue("bad".into())),
        };
        assert_eq!(r.to_string(), "line 7: bob: rejected (invalidValue): bad");
    }
}
