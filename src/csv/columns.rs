//! [`ColumnMap`]: which User attribute each CSV column holds, and how a header row is read.

use super::CsvError;
use super::target::Target;
use crate::schema::AttributeType;

/// One column: its header in exported files and the other spellings it is known by.
#[derive(Debug, Clone)]
struct Column {
    header: String,
    /// Normalised alternative headers (see [`normalise`]).
    aliases: Vec<String>,
    target: Target,
}

impl Column {
    fn known(&self, normalised: &str) -> bool {
        normalise(&self.header) == normalised || self.aliases.iter().any(|a| a == normalised)
    }
}

/// A header compared for a default column: trimmed, lower-cased, without spaces,
/// underscores and hyphens (`"First Name"`, `"first_name"` and `"FirstName"` meet).
fn normalise(header: &str) -> String {
    header
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The columns of a CSV file: the default ones, the host's, and how headers are read.
///
/// The default columns, in export order, with the other headers they are recognised by
/// (compared ignoring case, spaces, underscores and hyphens):
///
/// | column | attribute | also read from |
/// |---|---|---|
/// | `userName` | `userName` (the key) | `user_name`, `User Name` |
/// | `givenName` | `name.givenName` | `first name` |
/// | `familyName` | `name.familyName` | `last name`, `surname` |
/// | `email` | `emails[type eq "work"].value` | `email address`, `mail`, `work email` |
/// | `displayName` | `displayName` | |
/// | `active` | `active` | `enabled` |
/// | `externalId` | `externalId` | |
/// | `title` | `title` | `job title` |
/// | `department` | Enterprise `department` | |
/// | `employeeNumber` | Enterprise `employeeNumber` | `employee id` |
/// | `manager` | Enterprise `manager.value` | `manager id` |
///
/// A header that is none of these is read as an attribute path ([`Target::parse`]), so
/// `name.middleName` or `phoneNumbers[type eq "mobile"].value` need no configuration;
/// [`ColumnMap::column`] adds columns under other headers (and to exports). Any other
/// header is an error, unless [`ColumnMap::ignore_unknown_columns`] is set. Without a
/// `userName` column the `email` column is the `userName` too
/// ([`ColumnMap::user_name_from_email`]).
///
/// ```
/// use scimkit::csv::ColumnMap;
/// let map = ColumnMap::new()
///     .column("Mobile", r#"phoneNumbers[type eq "mobile"].value"#)?
///     .column("Cost Center", "costCenter")?
///     .without("manager");
/// let headers: Vec<&str> = map.columns().map(|(h, _)| h).collect();
/// assert_eq!(headers.last(), Some(&"Cost Center"));
/// assert!(!headers.contains(&"manager"));
/// # Ok::<(), scimkit::csv::CsvError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ColumnMap {
    columns: Vec<Column>,
    user_name_from_email: bool,
    ignore_unknown: bool,
    /// Where [`ColumnMap::column`] finds extension attributes.
    schemas: std::sync::Arc<crate::schema::SchemaSet>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        Self::new()
    }
}

impl ColumnMap {
    /// The default columns (see the table above).
    pub fn new() -> Self {
        use AttributeType::{Boolean, String as Text};
        let core = Target::core;
        let sub = Target::sub_attribute;
        let ext = Target::enterprise;
        let col = |header: &str, aliases: &[&str], target| Column {
            header: header.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            target,
        };
        Self {
            columns: vec![
                col("userName", &[], Target::USER_NAME),
                col("givenName", &["firstname"], sub("name", "givenName")),
                col(
                    "familyName",
                    &["lastname", "surname"],
                    sub("name", "familyName"),
                ),
                col(
                    "email",
                    &["emailaddress", "mail", "workemail"],
                    Target::work_email(),
                ),
                col("displayName", &[], core("displayName", Text)),
                col("active", &["enabled"], core("active", Boolean)),
                col("externalId", &[], core("externalId", Text)),
                col("title", &["jobtitle"], core("title", Text)),
                col("department", &[], ext("department", None)),
                col(
                    "employeeNumber",
                    &["employeeid"],
                    ext("employeeNumber", None),
                ),
                col("manager", &["managerid"], ext("manager", Some("value"))),
            ],
            user_name_from_email: true,
            ignore_unknown: false,
            schemas: std::sync::Arc::default(),
        }
    }

    /// Only the `userName` column; add others with [`ColumnMap::column`].
    pub fn user_name_only() -> Self {
        let mut map = Self::new();
        map.columns.truncate(1);
        map
    }

    /// The same map, reading the extension attributes of `schemas` (a server's:
    /// [`ScimServer::schemas`](crate::ScimServer::schemas)) in [`ColumnMap::column`]
    /// paths; without it, those of [`SchemaSet::core`](crate::schema::SchemaSet::core).
    pub fn with_schemas(mut self, schemas: std::sync::Arc<crate::schema::SchemaSet>) -> Self {
        self.schemas = schemas;
        self
    }

    /// Adds a column `header` holding the attribute at `path` ([`Target::parse_in`]). A
    /// column already known by that header, or already holding that attribute, is
    /// replaced (so `.column("First Name", "name.givenName")` renames `givenName`; the
    /// default spellings are still read).
    pub fn column(mut self, header: &str, path: &str) -> Result<Self, CsvError> {
        let target = Target::parse_in(path, &self.schemas)?;
        let header = header.trim();
        if header.is_empty() {
            return Err(CsvError::Mapping("a column needs a header".into()));
        }
        if target == Target::USER_NAME {
            return Err(CsvError::Mapping(
                "userName is always the \"userName\" column".into(),
            ));
        }
        let n = normalise(header);
        let same = self.columns.iter().position(|c| c.target == target);
        let named = self.columns.iter().position(|c| c.known(&n));
        match (same.and_then(|i| self.columns.get_mut(i)), named) {
            // Renamed: the old header keeps reading.
            (Some(c), _) => {
                let old = std::mem::replace(&mut c.header, header.to_owned());
                c.aliases.push(normalise(&old));
                if let Some(j) = named.filter(|&j| Some(j) != same) {
                    self.columns.remove(j);
                }
            }
            // The header now holds another attribute.
            (None, Some(j)) => {
                if let Some(c) = self.columns.get_mut(j) {
                    *c = Column {
                        header: header.to_owned(),
                        aliases: Vec::new(),
                        target,
                    };
                }
            }
            (None, None) => self.columns.push(Column {
                header: header.to_owned(),
                aliases: Vec::new(),
                target,
            }),
        }
        Ok(self)
    }

    /// Removes the column known by `header` (not `userName`), e.g. to leave `manager`
    /// out of exports.
    pub fn without(mut self, header: &str) -> Self {
        let n = normalise(header);
        self.columns
            .retain(|c| c.target == Target::USER_NAME || !c.known(&n));
        self
    }

    /// Whether a file without a `userName` column takes the `userName` from its `email`
    /// column (default `true`).
    pub fn user_name_from_email(mut self, yes: bool) -> Self {
        self.user_name_from_email = yes;
        self
    }

    /// Whether headers that match no column are ignored (listed in
    /// [`super::ImportSummary::ignored_columns`]) instead of failing the import before
    /// its first row (default `false`: a misspelt header is an error, not lost data).
    pub fn ignore_unknown_columns(mut self, yes: bool) -> Self {
        self.ignore_unknown = yes;
        self
    }

    /// The columns in export order: header and attribute.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &Target)> {
        self.columns.iter().map(|c| (c.header.as_str(), &c.target))
    }

    /// Reads a header row: which attribute each column holds.
    pub(crate) fn plan<'h>(
        &self,
        headers: impl Iterator<Item = &'h str>,
        schemas: &crate::schema::SchemaSet,
    ) -> Result<Plan, CsvError> {
        let mut plan = Plan::default();
        let mut key_header = String::new();
        for (index, raw) in headers.enumerate() {
            plan.width += 1;
            let header = if index == 0 {
                raw.trim_start_matches('\u{feff}')
            } else {
                raw
            };
            let n = normalise(header);
            let found = self
                .columns
                .iter()
                .find(|c| c.known(&n))
                .map(|c| c.target.clone());
            let target = match found {
                Some(t) => t,
                None => match Target::parse_in(header, schemas) {
                    Ok(t) => t,
                    Err(_) if self.ignore_unknown => {
                        plan.ignored.push(header.to_owned());
                        continue;
                    }
                    Err(_) => {
                        return Err(CsvError::Header(format!(
                            "unknown column {header:?} (column {}): not a default column, \
                             a configured one, nor a User attribute path",
                            index + 1
                        )));
                    }
                },
            };
            let clash = if target == Target::USER_NAME {
                plan.key.map(|_| key_header.clone())
            } else {
                plan.cells
                    .iter()
                    .find(|c| c.target == target)
                    .map(|c| c.header.clone())
            };
            if let Some(other) = clash {
                return Err(CsvError::Header(format!(
                    "columns {other:?} and {header:?} both hold {target}"
                )));
            }
            if target == Target::USER_NAME {
                plan.key = Some(index);
                header.clone_into(&mut key_header);
            } else {
                plan.cells.push(Planned {
                    index,
                    header: header.to_owned(),
                    target,
                });
            }
        }
        if plan.width == 0 {
            return Err(CsvError::Header("the file is empty: no header row".into()));
        }
        if plan.key.is_none() && self.user_name_from_email {
            let email = Target::work_email();
            plan.key = plan
                .cells
                .iter()
                .find(|c| c.target == email)
                .map(|c| c.index);
        }
        if plan.key.is_none() {
            return Err(CsvError::Header(
                "no userName column (nor an email column to take it from)".into(),
            ));
        }
        Ok(plan)
    }
}

/// A header row, read.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The number of columns.
    pub width: usize,
    /// The column holding the `userName`.
    pub key: Option<usize>,
    /// The columns holding other attributes.
    pub cells: Vec<Planned>,
    /// Headers ignored as unknown.
    pub ignored: Vec<String>,
}

/// A column of the file holding an attribute.
#[derive(Debug)]
pub(crate) struct Planned {
    pub index: usize,
    pub header: String,
    pub target: Target,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_columns_are_all_valid_paths() {
        for (header, target) in ColumnMap::new().columns() {
            assert_eq!(
                &Target::parse(&target.to_string()).unwrap(),
                target,
                "{header}"
            );
        }
    }
}
