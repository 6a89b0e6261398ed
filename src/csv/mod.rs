//! CSV import and export of users (feature `csv`).
//!
//! Before an account connects its identity provider, it can provision its users from a
//! spreadsheet: [`Import`] upserts every row by `userName` through the same provisioning
//! operations as SCIM requests ([`ScimServer::create_user`](crate::ScimServer::create_user),
//! [`ScimServer::update_user`](crate::ScimServer::update_user)), so the same validation,
//! required attributes, uniqueness and compare-and-swap apply. [`Export`] writes a
//! tenant's users in the same format, so an export imports back unchanged.
//!
//! ```
//! use scimkit::csv::{ColumnMap, Export, Import};
//! use scimkit::{MemoryUserStore, RequestContext, ScimServer, StaticKeyAuthenticator};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), scimkit::csv::CsvError> {
//! let store = Arc::new(MemoryUserStore::new());
//! let server = ScimServer::builder()
//!     .shared_store(store.clone())
//!     .authenticator(StaticKeyAuthenticator::new())
//!     .build()
//!     .expect("valid configuration");
//! let ctx = RequestContext::system("acme");
//!
//! let file = "user_name,First Name,Last Name,Email,Active\n\
//!             bjensen,Barbara,Jensen,bjensen@example.com,yes\n\
//!             jsmith,John,,jsmith@example.com,no\n";
//! let summary = Import::new(&server, ctx.clone())
//!     .on_row(|row| println!("{row}")) // "line 2: bjensen: created", ...
//!     .run(file.as_bytes())
//!     .await?;
//! assert_eq!((summary.rows, summary.created), (2, 2));
//!
//! let mut out = Vec::new();
//! Export::new(store.as_ref(), ctx).columns(ColumnMap::new()).run(&mut out).await?;
//! let csv = String::from_utf8(out).unwrap();
//! assert!(csv.starts_with("userName,givenName,familyName,email,displayName,active,"));
//! assert!(csv.contains("\nbjensen,Barbara,Jensen,bjensen@example.com,,true,"));
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Columns
//!
//! The header row names the columns ([`ColumnMap`]): default names such as `userName`,
//! `givenName`, `email`, `active`, `department`, `manager` (matched ignoring case, spaces,
//! underscores and hyphens, with common spellings such as `First Name`), any User
//! attribute path (`name.middleName`, `phoneNumbers[type eq "mobile"].value`), and
//! columns the host names itself ([`ColumnMap::column`]). An unknown header fails the
//! import before its first row unless [`ColumnMap::ignore_unknown_columns`] is set.
//! Without a `userName` column, the `email` column is the `userName`.
//!
//! # What a row does
//!
//! - The row's `userName` is looked up case-insensitively. No user: the row is created
//!   from its cells. A user: only the attributes of the file's columns change, everything
//!   else (other attributes, other emails, the password, the id) stays; `userName` is the
//!   key and keeps its stored spelling.
//! - An empty cell leaves the attribute as it is ([`EmptyCells::Keep`], the default), or
//!   removes it ([`EmptyCells::Clear`]). The `userName` cell can never be empty.
//! - Cells are trimmed of surrounding whitespace (see [`Import::trim`]); booleans read
//!   `true`/`false`/`yes`/`no`/`1`/`0` in any letter case. Files may start with a UTF-8
//!   byte order mark and end lines with LF or CRLF; quoted cells may hold delimiters,
//!   quotes (doubled) and newlines; rows with only empty cells are skipped.
//! - A row is one create or one compare-and-swap replace: it is applied whole or not at
//!   all. A rejected row (bad value, missing required attribute, wrong number of fields,
//!   invalid UTF-8, a `userName` taken by a concurrent writer) is reported with its line
//!   number and the SCIM error, and the import goes on. Only a store failure
//!   ([`CsvError::Aborted`]) or an unreadable input stops it; rows before stay applied.
//! - A row that changes nothing is reported [`RowOutcome::Unchanged`] and not written.
//!
//! # Memory
//!
//! Rows are read one at a time from any [`std::io::Read`]; outcomes go to the
//! [`Import::on_row`] callback as they happen, and the [`ImportSummary`] keeps counters
//! only, so a file of any length imports in constant memory. [`Export`] writes page by
//! page to any [`std::io::Write`].

mod columns;
mod export;
mod import;
mod target;

pub use columns::ColumnMap;
pub use export::{Export, ExportSummary};
pub use import::{EmptyCells, Import, ImportSummary, Progress, RowOutcome, RowReport};
pub use target::Target;

use crate::error::ScimError;
use crate::store::StoreError;

/// Why a CSV import or export could not run (rejected rows are not errors: they are
/// reported through [`Import::on_row`] and counted in [`ImportSummary::rejected`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    /// A column mapping names no writable User attribute.
    #[error("invalid column mapping {0}")]
    Mapping(String),
    /// The header row cannot be read: an unknown or duplicate column, no `userName`.
    /// Nothing was imported.
    #[error("CSV header: {0}")]
    Header(String),
    /// The input is not CSV the reader can go on from.
    #[error("CSV line {line}: {message}")]
    Malformed {
        /// The line where reading stopped.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// Reading the input or writing the output failed.
    #[error("CSV I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed during an import (a 500): the import stopped at this line; the
    /// rows before it are applied. The cause was logged with the request id.
    #[error("import stopped at line {line}: {error}")]
    Aborted {
        /// The line of the row being imported.
        line: u64,
        /// The error, with the request id for the logs.
        error: ScimError,
    },
    /// The store failed to list users during an export.
    #[error("export stopped: {0}")]
    Store(#[source] StoreError),
}

impl CsvError {
    fn from_csv(e: ::csv::Error) -> Self {
        let line = e.position().map_or(0, ::csv::Position::line);
        match e.into_kind() {
            ::csv::ErrorKind::Io(io) => Self::Io(io),
            other => Self::Malformed {
                line,
                message: format!("{other:?}"),
            },
        }
    }
}
