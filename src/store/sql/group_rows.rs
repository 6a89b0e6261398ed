//! Rows of `scimkit_groups` and `scimkit_group_members` (migration 0011), and the one
//! [`GroupStore`](crate::group::GroupStore) implementation of both SQL dialects
//! ([`sql_group_store!`]) over the two calls each dialect's database supplies
//! ([`GroupDatabase`]: run one statement; run a list of statements in one write
//! transaction).
//!
//! Memberships are rows `(tenant, group_id, user_id)`, keyed by group and indexed by user.
//! A write is a list of [`Step`]s run in order in one transaction: the group's row first
//! (an insert, or a compare-and-swap update that also bumps the version), then one
//! statement per [`MemberEdit`] — `Add` inserts the ids that name users of the tenant
//! (`INSERT ... SELECT ... FROM scimkit_users ... ON CONFLICT DO NOTHING`), `Remove`
//! deletes those rows, `RemoveAll` the group's rows — so a write costs its own size, never
//! a read of the member list. A membership row goes with its user (in the transaction of
//! the user's delete), so reads show users of the tenant only, from the membership rows
//! alone.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::backend_msg;
use super::encode::{Expected, format_version, missed};
use super::outbox::{self, NewRow, join_instant, split_instant};
use crate::context::RequestContext;
use crate::events::{MemberChanges, group_events_for};
use crate::group::{
    Group, GroupChange, GroupFilter, GroupMember, GroupQuery, MemberEdit, direct_membership,
};
use crate::list::ListPage;
use crate::resource::{CompactString, GroupMembership, Meta};
use crate::store::{StoreError, fold_user_name};

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A value bound to a [`Step`], owned (SQLite's writer runs it later, on its thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// Text, or NULL.
    Text(Option<String>),
    /// An integer, or NULL.
    Int(Option<i64>),
    /// The version of the write, a value of the tenant's counter that the dialect takes
    /// for it (SQLite in the transaction, PostgreSQL from its reserved block).
    Version,
}

impl Value {
    fn text(s: &str) -> Self {
        Self::Text(Some(s.to_owned()))
    }

    fn int(i: i64) -> Self {
        Self::Int(Some(i))
    }
}

/// The type of a column a [`Step`] reads (every column is read as nullable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Text.
    Text,
    /// An integer.
    Int,
}

/// A column of a row read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    /// Text, or NULL.
    Text(Option<String>),
    /// An integer, or NULL.
    Int(Option<i64>),
}

/// A row read, its columns in order.
pub(super) type Row = Vec<Cell>;

/// One statement of a read or a write, in the dialect's own text.
#[derive(Debug, Clone)]
pub(super) struct Step {
    /// The statement.
    pub(super) sql: Cow<'static, str>,
    /// Its arguments, in order.
    pub(super) args: Vec<Value>,
    /// The columns it returns.
    pub(super) columns: &'static [Kind],
    /// Whether it must return a row: if it returns none, the write is rolled back and
    /// fails with [`missed`] of whether group `args[1]` of tenant `args[0]` exists.
    pub(super) guard: bool,
}

/// The outbox rows of a write, from the rows of its steps: computed in the write's
/// transaction after its last step, and inserted before it commits.
pub(super) type Events = Box<dyn Fn(&[Vec<Row>]) -> Result<Vec<NewRow>> + Send + Sync>;

/// What a dialect's database supplies to the group store.
#[async_trait::async_trait]
pub(super) trait GroupDatabase: Send + Sync {
    /// The fixed statements, in this dialect.
    fn statements(&self) -> &'static Statements;

    /// Whether writes record provisioning events in the outbox (`scimkit_outbox`).
    fn outbox(&self) -> bool;

    /// A statement written with `?N` placeholders, in this dialect's.
    fn placeholders(&self, sql: String) -> String;

    /// The rows of one statement (outside any write).
    async fn read(&self, step: Step) -> Result<Vec<Row>>;

    /// Runs `steps` in order in one write transaction of `tenant` and returns the rows of
    /// each; a failing step (or a [`Step::guard`] without a row) rolls it all back. A
    /// unique violation is [`StoreError::Uniqueness`] naming its attribute. With `events`,
    /// inserts the outbox rows it computes from the steps' rows in the same transaction,
    /// after them.
    async fn write(
        &self,
        tenant: &Arc<str>,
        steps: Vec<Step>,
        events: Option<Events>,
    ) -> Result<Vec<Vec<Row>>>;
}

/// The columns of a group, unqualified (a write's `RETURNING`), in the order of
/// [`read_group`].
const COLUMNS: &str = "id, seq, display_name, external_id, created_s, created_ns, \
     modified_s, modified_ns, version";

/// The columns of a group `g` (or `p`, a page), in the order of [`read_group`].
fn columns(alias: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The kinds of [`COLUMNS`], with the columns a read puts before (`$before`) and after
/// them (`$after`): the one list of a group's column types.
macro_rules! group_kinds {
    ($($before:ident)*; $($after:ident)*) => {
        &[
            $(Kind::$before,)*
            Kind::Text, // id
            Kind::Int,  // seq
            Kind::Text, // display_name
            Kind::Text, // external_id
            Kind::Int,  // created_s
            Kind::Int,  // created_ns
            Kind::Int,  // modified_s
            Kind::Int,  // modified_ns
            Kind::Int,  // version
            $(Kind::$after,)*
        ]
    };
}

/// The kinds of [`COLUMNS`].
const GROUP: &[Kind] = group_kinds!(;);

/// A group's columns, then a member's id (NULL without one).
const GROUP_AND_MEMBER: &[Kind] = group_kinds!(; Text);

/// A page's total, then [`GROUP`].
const TOTAL_AND_GROUP: &[Kind] = group_kinds!(Int;);

/// A page's total, then [`GROUP_AND_MEMBER`].
const TOTAL_GROUP_AND_MEMBER: &[Kind] = group_kinds!(Int; Text);

/// How many columns a list of them names.
const fn count_columns(list: &str) -> usize {
    let bytes = list.as_bytes();
    let (mut i, mut n) = (0, 1);
    while i < bytes.len() {
        if bytes[i] == b',' {
            n += 1;
        }
        i += 1;
    }
    n
}

// [`COLUMNS`] and [`GROUP`] describe the same columns.
const _: () = assert!(count_columns(COLUMNS) == GROUP.len());

/// A member's id.
const MEMBER: &[Kind] = &[Kind::Text];

/// A user's id, then one of its groups' id and displayName.
const USER_GROUP: &[Kind] = &[Kind::Text, Kind::Text, Kind::Text];

/// A row (`SELECT 1`) or none.
const NOTHING: &[Kind] = &[];

/// The statements of the group store in one dialect, built once per process from its two
/// fragments (see [`Statements::new`]).
#[derive(Debug)]
pub(super) struct Statements {
    /// Inserts group `?2` of tenant `?1`: `?3` its version and creation order, `?4` the
    /// name, `?5` its folded form, `?6` externalId, `?7`..`?10` created and modified.
    insert: String,
    /// The compare-and-swap update of group `?2` of tenant `?1` at version `?10` (NULL:
    /// any): `?3` the new version, `?4`/`?5` the new name and its folded form (NULL:
    /// kept), `?6` 1 when externalId is set to `?7`, `?8`/`?9` lastModified.
    update: String,
    /// Deletes group `?2` of tenant `?1` at version `?3` (NULL: any), returning it.
    delete: String,
    /// The displayName and externalId of group `?2` of tenant `?1`, locked until the
    /// write commits where the dialect locks rows (the "before" of a rename's event).
    before: String,
    /// Adds the users of tenant `?1` among the ids of the JSON array `?3` to group `?2`;
    /// the second returns the ids that joined.
    add: [String; 2],
    /// Removes the ids of the JSON array `?3` from group `?2` of tenant `?1`; the second
    /// returns the ids that left.
    remove: [String; 2],
    /// Removes every member of group `?2` of tenant `?1`; the second returns them.
    remove_all: [String; 2],
    /// The members of group `?2` of tenant `?1`.
    members: String,
    /// The groups (id, displayName) of each user of the JSON array `?2` of tenant `?1`,
    /// by the membership index on users.
    pub(super) groups_of: String,
    /// A row when group `?2` of tenant `?1` exists.
    pub(super) exists: String,
    /// Group `?2` of tenant `?1`, one row per member (one with NULLs when it has none).
    get: String,
    /// Group `?2` of tenant `?1`, without members.
    get_bare: String,
}

impl Statements {
    /// The statements of a dialect: `ids`, a subquery of the ids in the JSON array text at
    /// the placeholder it is given; `lock`, the locking clause (or nothing) that keeps the
    /// users an `Add` finds from being deleted before it commits; `row_lock`, the one that
    /// locks a group's row for the rest of the write (or nothing, where one writer at a
    /// time writes); `placeholders`, the dialect's placeholders of a statement written
    /// with `?N`.
    ///
    /// Members are read from the membership rows alone: a row never outlives its user
    /// (deleted with it, migration 0011), so it names a user of the tenant.
    pub(super) fn new(
        ids: fn(&str) -> String,
        lock: &str,
        row_lock: &str,
        placeholders: impl Fn(String) -> String,
    ) -> Self {
        let p = placeholders;
        let ids3 = ids("?3");
        let both = |sql: String| [p(sql.clone()), p(format!("{sql} RETURNING user_id"))];
        Self {
            insert: p(format!(
                "INSERT INTO scimkit_groups (tenant, id, seq, display_name, \
                 display_name_lower, external_id, created_s, created_ns, modified_s, \
                 modified_ns, version) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?3) RETURNING {COLUMNS}"
            )),
            update: p(format!(
                "UPDATE scimkit_groups SET version = ?3, \
                 display_name = COALESCE(?4, display_name), \
                 display_name_lower = COALESCE(?5, display_name_lower), \
                 external_id = CASE WHEN CAST(?6 AS BIGINT) = 1 THEN ?7 ELSE external_id END, \
                 modified_s = ?8, modified_ns = ?9 \
                 WHERE tenant = ?1 AND id = ?2 \
                 AND (CAST(?10 AS BIGINT) IS NULL OR version = ?10) RETURNING {COLUMNS}"
            )),
            delete: p(format!(
                "DELETE FROM scimkit_groups WHERE tenant = ?1 AND id = ?2 \
                 AND (CAST(?3 AS BIGINT) IS NULL OR version = ?3) RETURNING {COLUMNS}"
            )),
            before: p(format!(
                "SELECT display_name, external_id FROM scimkit_groups \
                 WHERE tenant = ?1 AND id = ?2{row_lock}"
            )),
            add: both(format!(
                "INSERT INTO scimkit_group_members (tenant, group_id, user_id) \
                 SELECT u.tenant, ?2, u.id FROM scimkit_users u \
                 WHERE u.tenant = ?1 AND u.id IN ({ids3}){lock} \
                 ON CONFLICT DO NOTHING"
            )),
            remove: both(format!(
                "DELETE FROM scimkit_group_members \
                 WHERE tenant = ?1 AND group_id = ?2 AND user_id IN ({ids3})"
            )),
            remove_all: both(
                "DELETE FROM scimkit_group_members WHERE tenant = ?1 AND group_id = ?2".to_owned(),
            ),
            members: p("SELECT user_id FROM scimkit_group_members \
                 WHERE tenant = ?1 AND group_id = ?2 ORDER BY user_id"
                .to_owned()),
            groups_of: p(format!(
                "SELECT m.user_id, g.id, g.display_name FROM scimkit_group_members m \
                 JOIN scimkit_groups g ON g.tenant = m.tenant AND g.id = m.group_id \
                 WHERE m.tenant = ?1 AND m.user_id IN ({})",
                ids("?2")
            )),
            exists: p("SELECT 1 FROM scimkit_groups WHERE tenant = ?1 AND id = ?2".to_owned()),
            get: p(format!(
                "SELECT {}, m.user_id FROM scimkit_groups g \
                 LEFT JOIN scimkit_group_members m ON m.tenant = g.tenant AND m.group_id = g.id \
                 WHERE g.tenant = ?1 AND g.id = ?2 ORDER BY m.user_id",
                columns("g")
            )),
            get_bare: p(format!(
                "SELECT {} FROM scimkit_groups g WHERE g.tenant = ?1 AND g.id = ?2",
                columns("g")
            )),
        }
    }
}

#[cfg(test)]
impl Statements {
    /// The statements of an `Add` edit (without and with the ids that joined).
    pub(super) fn add_sql(&self) -> &[String; 2] {
        &self.add
    }

    /// The statements of a `Remove` edit (without and with the ids that left).
    pub(super) fn remove_sql(&self) -> &[String; 2] {
        &self.remove
    }
}

/// A [`Step`] reading rows.
fn read(sql: impl Into<Cow<'static, str>>, args: Vec<Value>, columns: &'static [Kind]) -> Step {
    Step {
        sql: sql.into(),
        args,
        columns,
        guard: false,
    }
}

/// A [`Step`] whose statement is one of `db`'s fixed ones.
fn fixed(sql: &'static str, args: Vec<Value>, columns: &'static [Kind]) -> Step {
    read(Cow::Borrowed(sql), args, columns)
}

/// The JSON array of `ids` (once each; ids that no user can have left out).
fn id_array(ids: &[CompactString]) -> Result<String> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let ids: Vec<&str> = ids
        .iter()
        .map(CompactString::as_str)
        .filter(|id| !id.contains('\0') && seen.insert(*id))
        .collect();
    serde_json::to_string(&ids).map_err(StoreError::backend)
}

/// The step of one membership edit of group `id`; with `returning`, its rows are the ids
/// of the users who joined (an `Add`) or left.
fn edit_step(
    sql: &'static Statements,
    tenant: &str,
    id: &str,
    edit: &MemberEdit,
    returning: bool,
) -> Result<Option<Step>> {
    let group = || vec![Value::text(tenant), Value::text(id)];
    let columns = if returning { MEMBER } else { NOTHING };
    let at = usize::from(returning);
    let step = match edit {
        MemberEdit::Add(ids) | MemberEdit::Remove(ids) if ids.is_empty() => return Ok(None),
        MemberEdit::Add(ids) => {
            let mut args = group();
            args.push(Value::Text(Some(id_array(ids)?)));
            fixed(&sql.add[at], args, columns)
        }
        MemberEdit::Remove(ids) => {
            let mut args = group();
            args.push(Value::Text(Some(id_array(ids)?)));
            fixed(&sql.remove[at], args, columns)
        }
        MemberEdit::RemoveAll => fixed(&sql.remove_all[at], group(), columns),
    };
    Ok(Some(step))
}

/// Which way the rows of an edit's step (with `returning`) moved members.
#[derive(Debug, Clone, Copy)]
enum Moved {
    Joined,
    Left,
}

impl Moved {
    fn of(edit: &MemberEdit) -> Self {
        match edit {
            MemberEdit::Add(_) => Self::Joined,
            MemberEdit::Remove(_) | MemberEdit::RemoveAll => Self::Left,
        }
    }
}

/// What a group write does, for its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
    Delete,
}

/// Where a write's events come from, by the index of its steps.
#[derive(Debug, Clone)]
struct EventPlan {
    write: Write,
    /// The step whose row is the group's displayName and externalId before an update
    /// (none when the update names neither).
    before: Option<usize>,
    /// The step whose first row is the group after the write, or the deleted one (its
    /// [`COLUMNS`]).
    group: usize,
    /// The steps of the membership edits and which way each moved its rows' members.
    edits: Vec<(usize, Moved)>,
}

impl EventPlan {
    /// The outbox rows of a write by `ctx`, from the rows of its steps.
    fn rows(&self, ctx: &RequestContext, rows: &[Vec<Row>]) -> Result<Vec<NewRow>> {
        let first = |at: usize| {
            rows.get(at)
                .and_then(|r| r.first())
                .ok_or_else(|| backend_msg("a group write's step returned no row"))
        };
        let group = first(self.group)?;
        let id = required(text(group, 0)?, 0)?;
        let now = (required(text(group, 2)?, 2)?, text(group, 3)?);
        let read_before = match self.before {
            Some(at) => {
                let row = first(at)?;
                Some((required(text(row, 0)?, 0)?, text(row, 1)?))
            }
            None => None,
        };
        let mut members = MemberChanges::new();
        for &(at, moved) in &self.edits {
            for row in rows.get(at).map_or(&[][..], Vec::as_slice) {
                let user = required(text(row, 0)?, 0)?;
                match moved {
                    Moved::Joined => members.joined(user),
                    Moved::Left => members.left(user),
                }
            }
        }
        let (before, after) = match self.write {
            Write::Create => (None, Some(now)),
            // An update that names neither attribute keeps both.
            Write::Update => (Some(read_before.unwrap_or(now)), Some(now)),
            Write::Delete => (Some(now), None),
        };
        let kinds = group_events_for(before, after, members);
        outbox::group_rows(ctx, kinds, id, now.0)
    }

    /// The [`Events`] of a write by `ctx` by this plan.
    fn events(self, ctx: &RequestContext) -> Events {
        let ctx = ctx.clone();
        Box::new(move |rows| self.rows(&ctx, rows))
    }
}

fn text(row: &[Cell], i: usize) -> Result<Option<&str>> {
    match row.get(i) {
        Some(Cell::Text(t)) => Ok(t.as_deref()),
        _ => Err(backend_msg(format!("group column {i} is not text"))),
    }
}

fn int(row: &[Cell], i: usize) -> Result<Option<i64>> {
    match row.get(i) {
        Some(Cell::Int(n)) => Ok(*n),
        _ => Err(backend_msg(format!("group column {i} is not an integer"))),
    }
}

fn required<T>(v: Option<T>, i: usize) -> Result<T> {
    v.ok_or_else(|| backend_msg(format!("group column {i} is NULL")))
}

/// The group of the [`COLUMNS`] of `row` from column `at` (without members); `None` when
/// its id is NULL (an outer join without a group).
fn read_group(row: &[Cell], at: usize) -> Result<Option<Group>> {
    let Some(id) = text(row, at)? else {
        return Ok(None);
    };
    let int_at = |i: usize| int(row, at + i).and_then(|v| required(v, at + i));
    let created = join_instant(int_at(4)?, int_at(5)?)?;
    let mut meta = Meta::new("Group", created);
    meta.last_modified = join_instant(int_at(6)?, int_at(7)?)?;
    meta.version = Some(format_version(int_at(8)?).into());
    Ok(Some(Group {
        id: Some(id.into()),
        external_id: text(row, at + 3)?.map(Into::into),
        display_name: required(text(row, at + 2)?, at + 2)?.into(),
        members: Vec::new(),
        meta: Some(meta),
    }))
}

/// The member of the column of `row` at `at` (its id), if any.
fn read_member(row: &[Cell], at: usize) -> Result<Option<GroupMember>> {
    let Some(id) = text(row, at)? else {
        return Ok(None);
    };
    Ok(Some(GroupMember {
        value: Some(id.into()),
        kind: Some("User".into()),
        ..GroupMember::default()
    }))
}

/// The groups of rows holding a group's columns at `at`, each followed by a member's
/// (when `members`), consecutive rows of one group being its members.
fn read_groups(rows: &[Row], at: usize, members: bool) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for row in rows {
        let Some(group) = read_group(row, at)? else {
            continue;
        };
        let same = groups.last().is_some_and(|g| g.id == group.id);
        if !same {
            groups.push(group);
        }
        if members {
            if let (Some(member), Some(last)) =
                (read_member(row, at + GROUP.len())?, groups.last_mut())
            {
                last.members.push(member);
            }
        }
    }
    Ok(groups)
}

/// The members of rows of [`MEMBER`].
fn read_members(rows: &[Row]) -> Result<Vec<GroupMember>> {
    rows.iter()
        .filter_map(|r| read_member(r, 0).transpose())
        .collect()
}

/// The first group of a write's rows.
fn written(rows: Option<&Vec<Row>>) -> Result<Group> {
    rows.and_then(|r| r.first())
        .map(|r| read_group(r, 0))
        .transpose()?
        .flatten()
        .ok_or_else(|| backend_msg("a group write returned no row"))
}

/// Whether `s` can be stored (PostgreSQL's text cannot hold U+0000).
fn storable(s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(backend_msg(
            "strings containing U+0000 cannot be stored by the SQL stores",
        ));
    }
    Ok(())
}

/// [`GroupStore::create`](crate::group::GroupStore::create).
pub(super) async fn create(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    group: Group,
) -> Result<Group> {
    let sql = db.statements();
    let id = group
        .id
        .clone()
        .ok_or_else(|| backend_msg("a group reaches the store with its id set"))?;
    storable(&id)?;
    storable(&group.display_name)?;
    if let Some(e) = &group.external_id {
        storable(e)?;
    }
    let meta = group
        .meta
        .clone()
        .unwrap_or_else(|| Meta::new("Group", Utc::now()));
    let (cs, cns) = split_instant(&meta.created);
    let (ms, mns) = split_instant(&meta.last_modified);
    let tenant = &*ctx.tenant;
    let mut steps = vec![fixed(
        &sql.insert,
        vec![
            Value::text(tenant),
            Value::text(&id),
            Value::Version,
            Value::text(&group.display_name),
            Value::text(&fold_user_name(&group.display_name)),
            Value::Text(group.external_id.as_deref().map(str::to_owned)),
            Value::int(cs),
            Value::int(cns),
            Value::int(ms),
            Value::int(mns),
        ],
        GROUP,
    )];
    let ids: Vec<CompactString> = group
        .members
        .iter()
        .filter_map(|m| m.value.clone())
        .collect();
    let mut plan = EventPlan {
        write: Write::Create,
        before: None,
        group: 0,
        edits: Vec::new(),
    };
    let add = MemberEdit::Add(ids);
    if let Some(step) = edit_step(sql, tenant, &id, &add, db.outbox())? {
        plan.edits.push((steps.len(), Moved::of(&add)));
        steps.push(step);
    }
    steps.push(fixed(
        &sql.members,
        vec![Value::text(tenant), Value::text(&id)],
        MEMBER,
    ));
    let events = db.outbox().then(|| plan.events(ctx));
    let rows = db.write(&ctx.tenant, steps, events).await?;
    let mut stored = written(rows.first())?;
    stored.members = read_members(rows.last().map_or(&[][..], Vec::as_slice))?;
    Ok(stored)
}

/// [`GroupStore::get`](crate::group::GroupStore::get).
pub(super) async fn get(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    id: &str,
    members: bool,
) -> Result<Option<Group>> {
    if id.contains('\0') {
        return Ok(None);
    }
    let sql = db.statements();
    let args = vec![Value::text(&ctx.tenant), Value::text(id)];
    let step = if members {
        fixed(&sql.get, args, GROUP_AND_MEMBER)
    } else {
        fixed(&sql.get_bare, args, GROUP)
    };
    let rows = db.read(step).await?;
    Ok(read_groups(&rows, 0, members)?.into_iter().next())
}

/// Why a write of group `id` expecting `etag` fails at once, if it does (an ETag no
/// version of these stores has), else the version it expects (`None`: any).
async fn expected(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    id: &str,
    etag: Option<&str>,
) -> Result<Option<i64>> {
    match Expected::of(etag) {
        Expected::Any => Ok(None),
        Expected::Version(v) => Ok(Some(v)),
        Expected::Never => {
            let args = vec![Value::text(&ctx.tenant), Value::text(id)];
            let step = fixed(&db.statements().exists, args, NOTHING);
            Err(missed(!db.read(step).await?.is_empty()))
        }
    }
}

/// [`GroupStore::update`](crate::group::GroupStore::update).
pub(super) async fn update(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    id: &str,
    change: &GroupChange,
    now: DateTime<Utc>,
    expected_version: Option<&str>,
    members: bool,
) -> Result<Group> {
    if id.contains('\0') {
        return Err(StoreError::NotFound);
    }
    if let Some(name) = &change.display_name {
        storable(name)?;
    }
    if let Some(Some(e)) = &change.external_id {
        storable(e)?;
    }
    let at = expected(db, ctx, id, expected_version).await?;
    let sql = db.statements();
    let tenant = &*ctx.tenant;
    let (ms, mns) = split_instant(&now);
    let name = change.display_name.as_deref();
    let external_id = change.external_id.as_ref();
    let outbox = db.outbox();
    let mut plan = EventPlan {
        write: Write::Update,
        before: None,
        group: 0,
        edits: Vec::new(),
    };
    let mut steps = Vec::new();
    if outbox && (name.is_some() || external_id.is_some()) {
        // What a rename's event compares with, read in the write's transaction.
        plan.before = Some(0);
        plan.group = 1;
        steps.push(fixed(
            &sql.before,
            vec![Value::text(tenant), Value::text(id)],
            &[Kind::Text, Kind::Text],
        ));
    }
    steps.push(Step {
        guard: true,
        ..fixed(
            &sql.update,
            vec![
                Value::text(tenant),
                Value::text(id),
                Value::Version,
                Value::Text(name.map(str::to_owned)),
                Value::Text(name.map(fold_user_name)),
                Value::int(i64::from(external_id.is_some())),
                Value::Text(external_id.and_then(|e| e.as_deref()).map(str::to_owned)),
                Value::int(ms),
                Value::int(mns),
                Value::Int(at),
            ],
            GROUP,
        )
    });
    for edit in &change.members {
        if let Some(step) = edit_step(sql, tenant, id, edit, outbox)? {
            plan.edits.push((steps.len(), Moved::of(edit)));
            steps.push(step);
        }
    }
    if members {
        steps.push(fixed(
            &sql.members,
            vec![Value::text(tenant), Value::text(id)],
            MEMBER,
        ));
    }
    let group_at = plan.group;
    let events = outbox.then(|| plan.events(ctx));
    let rows = db.write(&ctx.tenant, steps, events).await?;
    let mut stored = written(rows.get(group_at))?;
    if members {
        stored.members = read_members(rows.last().map_or(&[][..], Vec::as_slice))?;
    }
    Ok(stored)
}

/// [`GroupStore::delete`](crate::group::GroupStore::delete): the group's row and its
/// memberships, in one transaction.
pub(super) async fn delete(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    id: &str,
    expected_version: Option<&str>,
) -> Result<()> {
    if id.contains('\0') {
        return Err(StoreError::NotFound);
    }
    let at = expected(db, ctx, id, expected_version).await?;
    let sql = db.statements();
    let group = || vec![Value::text(&ctx.tenant), Value::text(id)];
    let mut row = group();
    row.push(Value::Int(at));
    let steps = vec![
        Step {
            guard: true,
            ..fixed(&sql.delete, row, GROUP)
        },
        // The members are not listed in the group's `groupDeleted` event.
        fixed(&sql.remove_all[0], group(), NOTHING),
    ];
    let plan = EventPlan {
        write: Write::Delete,
        before: None,
        group: 0,
        edits: Vec::new(),
    };
    let events = db.outbox().then(|| plan.events(ctx));
    db.write(&ctx.tenant, steps, events).await?;
    Ok(())
}

/// The `WHERE` condition of `filter` over the group `g`, its parameters numbered from
/// `params.len() + 1` and pushed to `params`.
fn condition(filter: &GroupFilter, params: &mut Vec<Value>) -> String {
    let mut bind = |v: &str| {
        params.push(Value::text(v));
        format!("?{}", params.len())
    };
    match filter {
        // No stored value holds U+0000: such a value matches nothing.
        GroupFilter::DisplayName(v)
        | GroupFilter::ExternalId(v)
        | GroupFilter::Id(v)
        | GroupFilter::Member(v)
            if v.contains('\0') =>
        {
            "1 = 0".to_owned()
        }
        GroupFilter::DisplayName(name) => {
            format!("g.display_name_lower = {}", bind(&fold_user_name(name)))
        }
        GroupFilter::ExternalId(e) => format!("g.external_id = {}", bind(e)),
        GroupFilter::Id(id) => format!("g.id = {}", bind(id)),
        GroupFilter::Member(user) => format!(
            "EXISTS (SELECT 1 FROM scimkit_group_members gm WHERE gm.tenant = g.tenant \
             AND gm.group_id = g.id AND gm.user_id = {})",
            bind(user)
        ),
        GroupFilter::And(l, r) => {
            let l = condition(l, params);
            format!("({l} AND {})", condition(r, params))
        }
        GroupFilter::Or(l, r) => {
            let l = condition(l, params);
            format!("({l} OR {})", condition(r, params))
        }
    }
}

/// The statement of one page of `query` and its total, in one snapshot: one row per
/// group of the page (per member, with members), or one row with the total alone when the
/// page is empty. Parameters: `?1` the tenant, `?2` the page size, `?3` the offset, then
/// the filter's.
fn page_sql(db: &impl GroupDatabase, query: &GroupQuery, params: &mut Vec<Value>) -> String {
    let cond = match &query.filter {
        Some(filter) => condition(filter, params),
        None => "1 = 1".to_owned(),
    };
    let matching = format!("FROM scimkit_groups g WHERE g.tenant = ?1 AND {cond}");
    let page = format!(
        "SELECT {} {matching} ORDER BY g.seq LIMIT ?2 OFFSET ?3",
        columns("g")
    );
    let from = format!("FROM (SELECT COUNT(*) AS n {matching}) t LEFT JOIN ({page}) p ON 1 = 1");
    let group = columns("p");
    let sql = if query.members {
        format!(
            "SELECT t.n, {group}, m.user_id {from} \
             LEFT JOIN scimkit_group_members m ON m.tenant = ?1 AND m.group_id = p.id \
             ORDER BY p.seq, m.user_id"
        )
    } else {
        format!("SELECT t.n, {group} {from} ORDER BY p.seq")
    };
    db.placeholders(sql)
}

/// [`GroupStore::list`](crate::group::GroupStore::list): the page and its exact total in
/// one statement.
pub(super) async fn list(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    query: &GroupQuery,
) -> Result<ListPage<Group>> {
    let to_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut params = vec![
        Value::text(&ctx.tenant),
        Value::int(to_i64(query.count)),
        Value::int(to_i64(query.start_index.max(1) - 1)),
    ];
    let sql = page_sql(db, query, &mut params);
    let columns = if query.members {
        TOTAL_GROUP_AND_MEMBER
    } else {
        TOTAL_AND_GROUP
    };
    let rows = db.read(read(sql, params, columns)).await?;
    let total = match rows.first() {
        Some(row) => required(int(row, 0)?, 0)?,
        None => 0,
    };
    let groups = read_groups(&rows, 1, query.members)?;
    Ok(ListPage::new(usize::try_from(total).unwrap_or(0), groups))
}

/// [`GroupStore::groups_of`](crate::group::GroupStore::groups_of): one statement over the
/// membership index on users, for every user at once.
pub(super) async fn groups_of(
    db: &impl GroupDatabase,
    ctx: &RequestContext,
    user_ids: &[&str],
) -> Result<Vec<(CompactString, GroupMembership)>> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<CompactString> = user_ids.iter().map(|&u| u.into()).collect();
    let args = vec![Value::text(&ctx.tenant), Value::Text(Some(id_array(&ids)?))];
    let rows = db
        .read(fixed(&db.statements().groups_of, args, USER_GROUP))
        .await?;
    rows.iter()
        .map(|row| {
            let user = required(text(row, 0)?, 0)?;
            let membership = direct_membership(
                required(text(row, 1)?, 1)?.into(),
                required(text(row, 2)?, 2)?.into(),
            );
            Ok((user.into(), membership))
        })
        .collect()
}

/// Implements [`GroupStore`](crate::group::GroupStore) for `$store`, a
/// [`GroupDatabase`], over the functions above. The module that calls it imports
/// `Result` (the SQL stores' alias).
macro_rules! sql_group_store {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl crate::group::GroupStore for $store {
            async fn create(
                &self,
                ctx: &RequestContext,
                group: crate::group::Group,
            ) -> Result<crate::group::Group> {
                crate::store::sql::group_rows::create(self, ctx, group).await
            }

            async fn get(
                &self,
                ctx: &RequestContext,
                id: &str,
                members: bool,
            ) -> Result<Option<crate::group::Group>> {
                crate::store::sql::group_rows::get(self, ctx, id, members).await
            }

            async fn update(
                &self,
                ctx: &RequestContext,
                id: &str,
                change: &crate::group::GroupChange,
                now: chrono::DateTime<chrono::Utc>,
                expected_version: Option<&str>,
                members: bool,
            ) -> Result<crate::group::Group> {
                crate::store::sql::group_rows::update(
                    self,
                    ctx,
                    id,
                    change,
                    now,
                    expected_version,
                    members,
                )
                .await
            }

            async fn delete(
                &self,
                ctx: &RequestContext,
                id: &str,
                expected_version: Option<&str>,
            ) -> Result<()> {
                crate::store::sql::group_rows::delete(self, ctx, id, expected_version).await
            }

            async fn list(
                &self,
                ctx: &RequestContext,
                query: &crate::group::GroupQuery,
            ) -> Result<crate::list::ListPage<crate::group::Group>> {
                crate::store::sql::group_rows::list(self, ctx, query).await
            }

            async fn groups_of(
                &self,
                ctx: &RequestContext,
                user_ids: &[&str],
            ) -> Result<
                Vec<(
                    crate::resource::CompactString,
                    crate::resource::GroupMembership,
                )>,
            > {
                crate::store::sql::group_rows::groups_of(self, ctx, user_ids).await
            }

            /// Nothing to do: a user's memberships are deleted with the user, in the
            /// transaction of its delete (migration 0011: a trigger on SQLite, a foreign
            /// key `ON DELETE CASCADE` on PostgreSQL), whoever deletes it.
            async fn remove_user(&self, _: &RequestContext, _: &str) -> Result<()> {
                Ok(())
            }
        }
    };
}
pub(super) use sql_group_store;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn statements() -> Statements {
        Statements::new(
            |p| format!("SELECT value FROM json_each({p})"),
            "",
            "",
            |s| s,
        )
    }

    #[test]
    fn filters_bind_every_value_and_fold_display_names() {
        let mut params = Vec::new();
        let f = GroupFilter::Or(
            Box::new(GroupFilter::DisplayName("ÄDMINS".into())),
            Box::new(GroupFilter::And(
                Box::new(GroupFilter::Member("u1".into())),
                Box::new(GroupFilter::ExternalId("x\0".into())),
            )),
        );
        let sql = condition(&f, &mut params);
        assert_eq!(
            sql,
            "(g.display_name_lower = ?1 OR (EXISTS (SELECT 1 FROM scimkit_group_members gm \
             WHERE gm.tenant = g.tenant AND gm.group_id = g.id AND gm.user_id = ?2) AND 1 = 0))"
        );
        assert_eq!(params, [Value::text("ädmins"), Value::text("u1")]);
    }

    #[test]
    fn edit_ids_are_sent_once_each() {
        let ids: Vec<CompactString> = ["a", "b", "a", "c\0"].map(Into::into).to_vec();
        assert_eq!(id_array(&ids).unwrap(), r#"["a","b"]"#);
        let s = Box::leak(Box::new(statements()));
        assert!(
            edit_step(s, "t", "g", &MemberEdit::Add(Vec::new()), true)
                .unwrap()
                .is_none(),
            "an empty edit runs no statement"
        );
    }

    #[test]
    fn rows_of_one_group_gather_its_members() {
        let group = |id: &str| -> Vec<Cell> {
            vec![
                Cell::Text(Some(id.into())),
                Cell::Int(Some(1)),
                Cell::Text(Some(format!("G{id}"))),
                Cell::Text(None),
                Cell::Int(Some(0)),
                Cell::Int(Some(0)),
                Cell::Int(Some(0)),
                Cell::Int(Some(0)),
                Cell::Int(Some(7)),
            ]
        };
        let with = |id: &str, member: Option<&str>| {
            let mut row = group(id);
            row.push(Cell::Text(member.map(Into::into)));
            row
        };
        let rows = vec![
            with("a", Some("u1")),
            with("a", Some("u2")),
            with("b", None),
        ];
        let groups = read_groups(&rows, 0, true).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members.len(), 2);
        assert_eq!(groups[0].members[1].value.as_deref(), Some("u2"));
        assert_eq!(groups[0].members[1].kind.as_deref(), Some("User"));
        assert!(groups[1].members.is_empty());
        assert_eq!(groups[1].version(), Some("W/\"7\""));
    }
}
