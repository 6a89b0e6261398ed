//! What the two SQL drivers (rusqlite, sqlx) supply to the logic both stores share, in
//! the manner of sqlx's `Arguments`/`Row` over several databases:
//!
//! - [`Statement`]: a statement's text, written once with SQLite's numbered placeholders
//!   (`?1`, `?2`, ...); PostgreSQL's (`$1`, `$2`, ...) is derived from it once per process,
//!   so a request never formats a statement and both drivers cache it prepared.
//! - [`Arg`]: a value to bind, borrowed from the row it encodes; each driver binds a list
//!   of them (SQLite through `ToSql`, PostgreSQL through `Query::bind`), in order.
//! - [`ReadRow`]: a column of a result row by position, as both drivers read it; the
//!   decoding of users, keys, tenants and events is written once over it.

#[cfg(feature = "postgres")]
use std::sync::OnceLock;

use crate::store::StoreError;

/// A statement written once, with `?N` placeholders.
#[derive(Debug)]
pub(super) struct Statement {
    text: &'static str,
    #[cfg(feature = "postgres")]
    postgres: OnceLock<String>,
}

impl Statement {
    /// The statement `text`, its placeholders `?1`, `?2`, ... (outside string literals).
    pub(super) const fn new(text: &'static str) -> Self {
        Self {
            text,
            #[cfg(feature = "postgres")]
            postgres: OnceLock::new(),
        }
    }

    /// The text for SQLite.
    #[cfg(feature = "sqlite")]
    pub(super) fn sqlite(&self) -> &'static str {
        self.text
    }

    /// The text for PostgreSQL: each `?N` written `$N`, derived on first use.
    #[cfg(feature = "postgres")]
    pub(super) fn postgres(&self) -> &str {
        self.postgres.get_or_init(|| dollar_placeholders(self.text))
    }
}

/// `sql` with every `?` placeholder outside string literals written `$`.
#[cfg(feature = "postgres")]
pub(super) fn dollar_placeholders(sql: &str) -> String {
    let mut in_literal = false;
    sql.chars()
        .map(|c| match c {
            '\'' => {
                in_literal = !in_literal;
                c
            }
            '?' if !in_literal => '$',
            _ => c,
        })
        .collect()
}

/// A value bound to a statement.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    /// Text, or NULL.
    Text(Option<&'a str>),
    /// Bytes.
    Blob(&'a [u8]),
    /// An integer, or NULL.
    Int(Option<i64>),
    /// A boolean, or NULL.
    Bool(Option<bool>),
}

impl<'a> Arg<'a> {
    /// Text that is never NULL.
    pub(super) fn text(s: &'a str) -> Self {
        Self::Text(Some(s))
    }

    /// An integer that is never NULL.
    pub(super) fn int(i: i64) -> Self {
        Self::Int(Some(i))
    }
}

/// A value bound to a statement that owns it: the parameters of a translated filter or
/// list plan.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Param {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
}

#[cfg(feature = "postgres")]
impl Param {
    /// The parameter as an [`Arg`].
    pub(super) fn arg(&self) -> Arg<'_> {
        match self {
            Param::Text(s) => Arg::text(s),
            Param::Int(i) => Arg::int(*i),
        }
    }
}

#[cfg(feature = "sqlite")]
impl rusqlite::types::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Arg::Text(s) => s.to_sql(),
            Arg::Blob(b) => b.to_sql(),
            Arg::Int(i) => i.to_sql(),
            Arg::Bool(b) => b.to_sql(),
        }
    }
}

/// An [`Arg`] as a value of its own, for a write that outlives the borrowed row (SQLite's
/// writer runs it later, on its own connection).
#[cfg(feature = "sqlite")]
impl From<Arg<'_>> for rusqlite::types::Value {
    fn from(a: Arg<'_>) -> Self {
        match a {
            Arg::Text(s) => s.map(str::to_owned).into(),
            Arg::Blob(b) => b.to_vec().into(),
            Arg::Int(i) => i.into(),
            Arg::Bool(b) => b.into(),
        }
    }
}

#[cfg(feature = "sqlite")]
impl rusqlite::types::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
        }
    }
}

/// A PostgreSQL statement with its arguments.
#[cfg(feature = "postgres")]
pub(super) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `args` to `q`, in order.
#[cfg(feature = "postgres")]
pub(super) fn bind<'q>(mut q: PgQuery<'q>, args: impl IntoIterator<Item = Arg<'q>>) -> PgQuery<'q> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s),
            Arg::Blob(b) => q.bind(b),
            Arg::Int(i) => q.bind(i),
            Arg::Bool(b) => q.bind(b),
        };
    }
    q
}

/// Binds the parameters of a translated filter or list plan to `q`, in order.
#[cfg(feature = "postgres")]
pub(super) fn bind_params<'q>(q: PgQuery<'q>, params: &'q [Param]) -> PgQuery<'q> {
    bind(q, params.iter().map(Param::arg))
}

/// Maps a SQLite error: unique violations become [`StoreError::Uniqueness`] naming the
/// attribute ([`unique_attribute`] of the message), anything else [`StoreError::Backend`].
#[cfg(feature = "sqlite")]
pub(super) fn map_error(e: rusqlite::Error) -> StoreError {
    match unique_violation(&e) {
        Some(msg) => StoreError::Uniqueness {
            attribute: unique_attribute(msg).into(),
        },
        None => StoreError::backend(e),
    }
}

/// The attribute a unique index (or constraint) named in `msg` keeps unique: `userName`
/// (users' `user_name_lower`), `displayName` (groups' `display_name_lower`), else `id`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(super) fn unique_attribute(msg: &str) -> &'static str {
    if msg.contains("user_name") {
        "userName"
    } else if msg.contains("display_name") {
        "displayName"
    } else {
        "id"
    }
}

/// The message of a unique (or primary key) violation.
#[cfg(feature = "sqlite")]
fn unique_violation(e: &rusqlite::Error) -> Option<&str> {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Some(msg.as_deref().unwrap_or(""))
        }
        _ => None,
    }
}

/// The rows of the cached SQLite statement `sql` with `params`, each read with `read`.
#[cfg(feature = "sqlite")]
pub(super) fn sqlite_all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    mut read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_error)?;
    let mut rows = st.query(params).map_err(map_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// The first row of the cached SQLite statement `sql` with `params`, read with `read`.
#[cfg(feature = "sqlite")]
pub(super) fn sqlite_one<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnOnce(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(map_error)?;
    let mut rows = st.query(params).map_err(map_error)?;
    rows.next().map_err(map_error)?.map(read).transpose()
}

/// Runs `q` on `on` and reads its first row, if any, with `read`.
#[cfg(feature = "postgres")]
pub(super) async fn fetch_one<'q, 'c, T>(
    q: PgQuery<'q>,
    on: impl sqlx::PgExecutor<'c>,
    read: impl FnOnce(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let row = q.fetch_optional(on).await.map_err(super::map_db_error)?;
    row.as_ref().map(read).transpose()
}

/// Runs `q` on `on` and reads every row with `read`.
#[cfg(feature = "postgres")]
pub(super) async fn fetch_all<'q, 'c, T>(
    q: PgQuery<'q>,
    on: impl sqlx::PgExecutor<'c>,
    read: impl FnMut(&sqlx::postgres::PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = q.fetch_all(on).await.map_err(super::map_db_error)?;
    rows.iter().map(read).collect()
}

/// A result row, read by column position.
pub(super) trait ReadRow {
    /// Text (non-NULL).
    fn text(&self, i: usize) -> Result<&str, StoreError>;
    /// Bytes (non-NULL).
    fn blob(&self, i: usize) -> Result<&[u8], StoreError>;
    /// An integer, or NULL.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A boolean, or NULL.
    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError>;

    /// An integer (non-NULL).
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| super::backend_msg(format!("column {i} is NULL")))
    }

    /// A boolean (non-NULL).
    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        self.opt_bool(i)?
            .ok_or_else(|| super::backend_msg(format!("column {i} is NULL")))
    }

    /// The pair of integers at `i` and `i + 1` (an instant's seconds and nanoseconds).
    fn pair(&self, i: usize) -> Result<(Option<i64>, Option<i64>), StoreError> {
        Ok((self.opt_int(i)?, self.opt_int(i + 1)?))
    }
}

#[cfg(feature = "sqlite")]
impl ReadRow for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<&str, StoreError> {
        sqlite_ref(self, i, rusqlite::types::ValueRef::as_str)
    }

    fn blob(&self, i: usize) -> Result<&[u8], StoreError> {
        sqlite_ref(self, i, rusqlite::types::ValueRef::as_blob)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.get(i).map_err(map_error)
    }

    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        self.get(i).map_err(map_error)
    }
}

/// Column `i` of a SQLite row, borrowed, as `f` reads it.
#[cfg(feature = "sqlite")]
fn sqlite_ref<'r, T: ?Sized>(
    row: &'r rusqlite::Row<'_>,
    i: usize,
    f: fn(&rusqlite::types::ValueRef<'r>) -> rusqlite::types::FromSqlResult<&'r T>,
) -> Result<&'r T, StoreError> {
    row.get_ref(i).and_then(|v| Ok(f(&v)?)).map_err(map_error)
}

/// Column `i` of a PostgreSQL row.
#[cfg(feature = "postgres")]
fn pg<'r, T>(row: &'r sqlx::postgres::PgRow, i: usize) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::Row::try_get(row, i).map_err(super::map_db_error)
}

#[cfg(feature = "postgres")]
impl ReadRow for sqlx::postgres::PgRow {
    fn text(&self, i: usize) -> Result<&str, StoreError> {
        pg(self, i)
    }

    fn blob(&self, i: usize) -> Result<&[u8], StoreError> {
        pg(self, i)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        pg(self, i)
    }

    fn opt_bool(&self, i: usize) -> Result<Option<bool>, StoreError> {
        pg(self, i)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_placeholders_are_derived_outside_literals() {
        assert_eq!(
            super::dollar_placeholders("SELECT '?1', x FROM t WHERE a = ?1 AND b = ?12"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b = $12"
        );
    }
}
