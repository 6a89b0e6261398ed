//! [`SqliteDatabase`]: the connections of the SQLite stores, shared by
//! [`SqliteUserStore`](super::SqliteUserStore), [`SqliteApiKeyStore`](super::SqliteApiKeyStore)
//! and [`SqliteTenantStore`](super::SqliteTenantStore).
//!
//! # Reads: inline, on a small pool of read connections
//!
//! A read takes an idle read connection from a mutex-guarded list (opening one when none
//! is idle), runs its cached prepared statements on the calling task, and puts the
//! connection back. No thread hop, no channel: WAL mode lets readers run beside the writer.
//!
//! A read connection of a file with a writer thread keeps its read transaction open
//! between reads while it is current: while the writer has committed nothing since it
//! began, and for at most [`SNAPSHOT_REUSE`] (how late a read may see a commit of another
//! process). A read after a write of this process always sees it. Starting and ending a
//! read transaction is two locks on the log's shared memory (two `fcntl` calls) and a
//! look at its header; reused, a read pays them once per snapshot. See [`Readers`].
//!
//! # Writes: one writer connection, group commit
//!
//! Every write is a closure for the one writer connection, run in a batch: **every**
//! write waiting at that moment, in one transaction (`BEGIN IMMEDIATE`), then one
//! commit; a write that fails (a taken `userName`, a compare-and-swap mismatch) is
//! answered with its own error and leaves nothing behind. Writes fail before they change
//! anything (SQLite undoes a failed statement), so they run without savepoints; a write
//! that fails after changing rows has the batch rolled back and run again, each write
//! in its own `SAVEPOINT`, so that it alone is rolled back (see `run_batch`). So
//! concurrent writers share one commit (one WAL append and, under [`Durability::Full`],
//! one `fsync`). Who runs the batches:
//!
//! - **A writer thread** (the default for a file, [`SqliteOptions::writer_thread`]): a
//!   write is sent to it over a channel and its caller awaits the answer (a future woken
//!   by the writer, no async runtime needed): one hop per write, and the caller's thread
//!   (an async runtime's worker) goes on serving other requests meanwhile, which is what
//!   lets their writes join the next batch on a server with few workers.
//! - **The callers themselves** (in-memory databases, or `writer_thread(false)`): when no
//!   batch is running, the caller runs one; while one runs, new writes queue and their
//!   callers block on a condition variable until it ends: a caller whose write was in it
//!   returns, the first other one runs the next batch. No thread, no hop; but a blocked
//!   caller blocks its thread.
//!
//! Measured with `benches/sql.rs` (`sqlite_concurrent_creates`: 4,000 creates from 16
//! writers on a file): the writer thread was faster in every case but one (16 OS threads
//! under `Full`), and 1.9 to 2.8 times faster for 16 tasks on a one-worker runtime, the
//! shape of a server; see `changes/sqlite.md`.
//!
//! # Durability
//!
//! A write is acknowledged after its transaction committed to the write-ahead log. What
//! survives what depends on [`Durability`]: see there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::decoded::{DEFAULT_DECODED, Decoded};
use super::driver::map_error;
use super::migrations::{SQLITE, pending};
use super::{backend_msg, lock};
use crate::store::StoreError;

/// How long a connection waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection (the fixed statements of the stores plus the
/// most recent list queries).
const STATEMENT_CACHE: usize = 128;

/// Idle read connections kept open by default.
const DEFAULT_READERS: usize = 8;

/// What a committed write survives: SQLite's `synchronous` setting for the writer.
///
/// Both settings keep every acknowledged write across a crash of the **process**
/// (SIGKILL, panic, OOM kill): a commit is in the write-ahead log, in the operating
/// system's page cache, before it is acknowledged. They differ on a crash of the
/// **machine** (power loss, kernel panic):
///
/// - [`Durability::Normal`] (the default; `synchronous=NORMAL` in WAL mode): a commit
///   does not wait for a sync, so a power loss can lose the transactions committed since
///   the log was last synced. SQLite syncs it at checkpoints; while writes go on, the
///   checkpoint thread of a file with a writer thread also syncs it every 10 ms (see
///   `LogFlusher`), which in practice bounds the loss to the last few milliseconds of
///   writes, without promising it (a starved thread syncs later). The database is never
///   corrupted: it comes back as of an earlier commit.
/// - [`Durability::Full`] (`synchronous=FULL`): every commit syncs the log before it is
///   acknowledged, so a power loss loses nothing acknowledged. Group commit shares one
///   sync among the writes committed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a process crash; a power loss may lose the
    /// transactions committed since the log was last synced.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives a power loss too; each (group) commit waits for a sync.
    Full,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// Options of [`SqliteDatabase::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// What a committed write survives (default [`Durability::Normal`]).
    pub durability: Durability,
    /// How many idle read connections are kept open (default 8). More readers than this
    /// may run at once; the extra connections are closed after their read.
    pub readers: usize,
    /// How many decoded users are kept in memory (default 4,096; 0 keeps none). A stored
    /// user is decoded from its JSON once, then handed out again for as long as its row
    /// keeps the same version: a version is never reused for a row, so a kept user is
    /// never stale, whichever process wrote the database.
    pub decoded_users: usize,
    /// Whether the writes of a database file go to a writer thread, their callers
    /// awaiting the answer (default `true`), instead of being committed by the calling
    /// threads, which block meanwhile (see [`SqliteDatabase`]). An in-memory
    /// database always commits on the calling threads.
    pub writer_thread: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Normal,
            readers: DEFAULT_READERS,
            decoded_users: DEFAULT_DECODED,
            writer_thread: true,
        }
    }
}

impl SqliteOptions {
    /// These options with `durability`.
    #[must_use]
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// These options keeping `readers` idle read connections.
    #[must_use]
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = readers;
        self
    }

    /// These options with or without a writer thread (see [`SqliteOptions::writer_thread`]).
    #[must_use]
    pub fn writer_thread(mut self, on: bool) -> Self {
        self.writer_thread = on;
        self
    }

    /// These options keeping up to `n` decoded users (see [`SqliteOptions::decoded_users`]).
    #[must_use]
    pub fn decoded_users(mut self, n: usize) -> Self {
        self.decoded_users = n;
        self
    }
}

/// A SQLite database (one file in WAL mode, or memory) with its connections: a small
/// pool of read connections used inline by the calling task, and one writer that commits
/// concurrent writes together. Cheap to clone; the clones share the connections, so the
/// user, key and tenant stores of one database share one writer.
///
/// Writes are group-committed: every write waiting is run in one transaction (a failed
/// one is rolled back alone and answered with its own error), then one commit. For a file, a writer thread runs the batches and callers await their answer
/// (a future that needs no async runtime); in memory, or with
/// [`SqliteOptions::writer_thread`] off, the callers run the batches themselves, blocking
/// while another caller's batch runs.
///
/// Several processes may open the same file: SQLite's locks keep one writer at a time
/// (waiting up to 10 s for another process's write lock), and uniqueness,
/// compare-and-swap and versions are enforced by the database. A read sees another
/// process's commit at most 1 ms after it (reads reuse a snapshot that long at most
/// while this process writes nothing, see the module's documentation).
///
/// ```
/// # fn demo() -> Result<(), scimkit::StoreError> {
/// use scimkit::store::{Durability, SqliteDatabase, SqliteOptions, SqliteUserStore};
/// let db = SqliteDatabase::open_with(
///     "/tmp/scimkit-doc-db.db",
///     SqliteOptions::default().durability(Durability::Full),
/// )?;
/// let users = SqliteUserStore::new(db.clone());
/// # let _ = users;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file, `None` for a private in-memory database (one connection for everything).
    path: Option<PathBuf>,
    options: SqliteOptions,
    readers: Arc<Readers>,
    writer: Arc<Mutex<Connection>>,
    /// The writer thread's queue, when writes go through one.
    thread: Option<std::sync::mpsc::Sender<Box<dyn Write>>>,
    /// Keeps the checkpoint thread running (it stops when this is dropped).
    _checkpoints: Option<std::sync::mpsc::Sender<()>>,
    /// What the writer thread and the checkpoint thread share.
    checkpointing: Arc<Checkpointing>,
    /// Writes waiting for the next batch, and whether a batch is running.
    queue: Mutex<Queue>,
    /// Signalled when a batch is done.
    batch_done: Condvar,
    decoded: Decoded,
}

impl fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDatabase")
            .field("path", &self.inner.path)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// How often the checkpoint thread copies the write-ahead log into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How often the checkpoint thread flushes the write-ahead log while writes go on
/// (see [`LogFlusher`]).
const LOG_FLUSH_EVERY: Duration = Duration::from_millis(10);

/// The log (pages) past which the checkpoint thread works to restart it.
const RESTART_PAGES: i64 = 4_000;

/// How few new pages a pass of the checkpoint thread must have found (so that it was
/// short, and few arrived while it ran) before the writer is asked to finish.
const CATCH_UP_PAGES: i64 = 512;

/// How few pages a flush of the database file by the checkpoint thread must have let
/// arrive before the writer is asked to finish (see [`finish_for_the_writer`]).
const FINISH_PAGES: i64 = 128;

/// How many flushes the checkpoint thread makes at most before the writer finishes.
const FINISH_ROUNDS: usize = 3;

/// The log (pages) past which the writer is asked to finish even though the thread does
/// not catch up (writes arrive faster than it copies).
const GIVE_UP_PAGES: i64 = 4 * RESTART_PAGES;

/// The writer's own automatic checkpoint (pages of log): a backstop only, for a log the
/// checkpoint thread cannot keep up with.
const WRITER_CHECKPOINT_PAGES: i64 = 65_536;

/// Moves the copying of checkpoints off the writer. SQLite's default checkpoints every
/// 1,000 pages inside the commit that crosses the mark, which then waits for the copy of
/// every page and the syncs while the writes queued behind it wait too. Here a thread of
/// its own runs `PASSIVE` checkpoints on a connection of its own (a passive checkpoint
/// never blocks the writer or the readers), every [`CHECKPOINT_EVERY`], back to back
/// while the log is past [`RESTART_PAGES`].
///
/// Under a steady stream of writes a passive checkpoint never *completes* (new frames
/// arrive while it copies), and the log can restart from its beginning only after a
/// complete one: it would grow without bound (hundreds of MiB in the load test, slowing
/// every read and ending in a long truncation). So the writer, between two batches, runs
/// one more passive checkpoint itself when the thread raises `due`: it is the only
/// writer, so that one completes, and the next write restarts the log. Meanwhile every
/// write waits, so the thread leaves the writer as little as it can:
///
/// - it runs passes back to back until one found at most [`CATCH_UP_PAGES`] new pages:
///   a pass copies the pages that arrived during the one before, so passes shorten
///   while the thread copies faster than writes arrive (a first pass of 7,500 pages
///   took 33 ms in the load test, and the writer, asked right after it, copied the
///   1,500 pages that had arrived meanwhile: 14 ms);
/// - SQLite syncs the database file only when a checkpoint completes, so the thread
///   flushes the file (`fdatasync`) first, then copies what arrived during that flush,
///   and so on while that is many pages ([`finish_for_the_writer`]), and only then
///   raises `due`: the writer copies and syncs only the pages of the last milliseconds.
///
/// Between passes the thread also flushes the log every [`LOG_FLUSH_EVERY`] (see
/// [`LogFlusher`]). Durability is unchanged: a commit is acknowledged once it is in the
/// log, as before. Past [`GIVE_UP_PAGES`] (writes arriving faster than the thread
/// copies) the writer is asked at once. The thread stops when the returned sender (held
/// by the database) is dropped.
fn start_checkpoints(
    path: &Path,
    durability: Durability,
    writer: &Mutex<Connection>,
    shared: Arc<Checkpointing>,
    readers: Arc<Readers>,
) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = open_file(path, durability).map_err(map_error)?;
    lock(writer)
        .execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}"
        ))
        .map_err(map_error)?;
    // The database file, to flush what the passes copied into it (see below).
    let file = std::fs::File::open(path).map_err(StoreError::backend)?;
    // With `synchronous=FULL` every commit syncs the log already.
    let mut log = (durability == Durability::Normal).then(|| LogFlusher::new(path));
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("scimkit-sqlite-checkpoint".into())
        .spawn(move || {
            let mut next_pass = Instant::now() + CHECKPOINT_EVERY;
            let mut last = (0, 0);
            loop {
                let wait = next_pass
                    .saturating_duration_since(Instant::now())
                    .min(LOG_FLUSH_EVERY);
                if !matches!(
                    stopped.recv_timeout(wait),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                ) {
                    break;
                }
                // Idle readers' stale snapshots would hold back the passes (and, from
                // other processes' point of view, their checkpoints).
                readers.end_stale(shared.batches.load(Ordering::Acquire));
                if Instant::now() < next_pass {
                    // A pass syncs the log itself.
                    if let Some(log) = &mut log {
                        log.flush_if_written(shared.batches.load(Ordering::Acquire));
                    }
                    continue;
                }
                next_pass = Instant::now() + CHECKPOINT_EVERY;
                match passive_checkpoint(&conn) {
                    Ok(pass) => {
                        match after_pass(pass, last) {
                            // Asked already, and the writer has had no batch to finish
                            // it after: nothing more to do until it has.
                            Pass::Due if shared.due.load(Ordering::Acquire) => {}
                            Pass::Due => {
                                let _rounds = finish_for_the_writer(&conn, &file, pass);
                                shared.due.store(true, Ordering::Release);
                            }
                            Pass::Again => next_pass = Instant::now(),
                            Pass::Wait => {}
                        }
                        last = pass;
                    }
                    Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; retrying"),
                }
            }
        })
        .map_err(StoreError::backend)?;
    Ok(stop)
}

/// The checkpoint thread's part of finishing a checkpoint, before it asks the writer for
/// the rest (a pass that completes): the thread's last pass having left `pass`.
///
/// SQLite syncs the database file only when a checkpoint completes, so the writer's pass
/// would wait for every page the thread copied since the last one (30 MiB in the load
/// test: 17 ms). The thread flushes the file itself, then copies what arrived during the
/// flush, and again while that was more than [`FINISH_PAGES`] (at most
/// [`FINISH_ROUNDS`] times): the writer copies and syncs the pages of the last few
/// milliseconds only. Returns how many flushes it made.
fn finish_for_the_writer(conn: &Connection, file: &std::fs::File, pass: (i64, i64)) -> usize {
    let mut copied = pass.1;
    for round in 1..=FINISH_ROUNDS {
        if let Err(e) = file.sync_data() {
            tracing::warn!(error = %e, "SQLite database sync failed");
            return round;
        }
        match passive_checkpoint(conn) {
            Ok((log, now)) => {
                // What arrived during the sync.
                let found = new_pages(log, copied);
                copied = now;
                if found <= FINISH_PAGES {
                    return round;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpoint failed");
                return round;
            }
        }
    }
    FINISH_ROUNDS
}

/// What the writer thread and the checkpoint thread of a database file share.
#[derive(Default)]
struct Checkpointing {
    /// Raised by the checkpoint thread when the writer should finish a checkpoint.
    due: AtomicBool,
    /// Batches the writer has run: whether the log may have grown since the checkpoint
    /// thread last flushed it.
    batches: AtomicU64,
}

/// How long a read transaction of a read connection may serve reads after it began,
/// while the writer commits nothing: the bound on how late a read sees a commit of
/// another process (a commit of this process is seen by every read that starts after it).
const SNAPSHOT_REUSE: Duration = Duration::from_millis(1);

/// The idle read connections.
///
/// With a writer thread, a read connection keeps its read transaction open after a read,
/// and the next read on it runs in the same snapshot while that is current (no batch
/// committed since it began, begun less than [`SNAPSHOT_REUSE`] ago); else the read ends
/// it and begins another. This process's commits are all the writer's, counted before
/// their callers are answered, so a read that starts after a write was acknowledged finds
/// the count moved and a new snapshot. An open read transaction holds back checkpoints
/// (they cannot copy past its snapshot), so idle connections end theirs once stale: the
/// checkpoint thread every [`LOG_FLUSH_EVERY`], and the writer before it finishes a
/// checkpoint ([`Readers::end_stale`]). Without a writer thread (no checkpoint thread to
/// end them), reads run in transactions of their own. Read connections are `query_only`.
struct Readers {
    /// At most [`SqliteOptions::readers`].
    idle: Mutex<Vec<Reader>>,
}

/// A read connection, and the read transaction it keeps open between reads.
struct Reader {
    conn: Connection,
    /// The open read transaction: the writer's batch count when it began, and when.
    open: Option<(u64, Instant)>,
}

impl Reader {
    /// Whether the open transaction is current when the writer has run `batches`.
    fn current(&self, batches: u64) -> bool {
        matches!(self.open, Some((began, at)) if began == batches && at.elapsed() < SNAPSHOT_REUSE)
    }

    /// Readies the connection for a read when the writer has run `batches` batches: its
    /// open transaction when current, else a new one (with `reuse`) or none.
    fn ready(&mut self, batches: u64, reuse: bool) -> rusqlite::Result<()> {
        if self.current(batches) {
            return Ok(());
        }
        self.end()?;
        if reuse {
            exec_cached(&self.conn, "BEGIN")?;
            self.open = Some((batches, Instant::now()));
        }
        Ok(())
    }

    /// Ends the connection's transaction, if any.
    fn end(&mut self) -> rusqlite::Result<()> {
        self.open = None;
        if self.conn.is_autocommit() {
            return Ok(());
        }
        exec_cached(&self.conn, "COMMIT")
    }
}

impl Readers {
    /// Ends the open transactions of the idle connections that are no longer current
    /// when the writer has run `batches` batches (a connection that cannot end its
    /// transaction is closed).
    fn end_stale(&self, batches: u64) {
        lock(&self.idle).retain_mut(|r| r.open.is_none() || r.current(batches) || r.end().is_ok());
    }
}

/// Flushes the write-ahead log (`fdatasync`) every [`LOG_FLUSH_EVERY`] while writes go
/// on, so that the sync each checkpoint pass starts with finds little to write.
///
/// A log frame (a 24-byte header and a page) does not end on a page of the file, so the
/// writer's next frame always writes into the page the last one ended in. While a sync
/// writes that page, the writer's next commit waits for it, and a checkpoint pass used to
/// sync everything the writer had logged since the last pass (megabytes, 7–10 ms on the
/// virtual machine of BENCHMARKS.md): under the load test's POSTs one batch in ten to
/// twenty waited 10–28 ms, and the POST p99 was 11–26 ms. Flushed every 10 ms, a sync
/// writes what 10 ms of writes logged, and a batch waits for that much at most. It is
/// extra durability, not part of the guarantee (with `synchronous=NORMAL` a commit is
/// acknowledged once it is in the log file, before any sync); skipped while nothing is
/// written, and with `synchronous=FULL`, where every commit syncs.
struct LogFlusher {
    path: PathBuf,
    /// The log file, once it exists.
    file: Option<std::fs::File>,
    /// The writer's batch count at the last flush.
    flushed: u64,
    /// Whether a sync failed: flushing stops (warned once), and checkpoints sync the log
    /// as SQLite does.
    failed: bool,
}

impl LogFlusher {
    fn new(db: &Path) -> Self {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        Self {
            path: path.into(),
            file: None,
            flushed: 0,
            failed: false,
        }
    }

    /// Flushes the log unless the writer has run no batch (`batches`) since the last
    /// flush. Returns whether it did.
    fn flush_if_written(&mut self, batches: u64) -> bool {
        if batches == self.flushed || self.failed {
            return false;
        }
        if self.file.is_none() {
            // Opened for writing too: some systems sync only files open for writing.
            self.file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&self.path)
                .ok();
        }
        let Some(file) = &self.file else {
            return false;
        };
        if let Err(e) = file.sync_data() {
            tracing::warn!(error = %e, "SQLite log sync failed; the log is synced at checkpoints only from now on");
            self.failed = true;
            return false;
        }
        self.flushed = batches;
        true
    }
}

/// The pages of a log of `log` pages that a pass found new, the pass before it having
/// copied `copied`: all of them when the log restarted since.
fn new_pages(log: i64, copied: i64) -> i64 {
    if copied <= log { log - copied } else { log }
}

/// What the checkpoint thread does after a pass.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Ask the writer to finish the checkpoint (the log is long and nearly all copied).
    Due,
    /// Another pass at once (the log is long, and this pass made progress).
    Again,
    /// The next pass in [`CHECKPOINT_EVERY`].
    Wait,
}

/// The step after a pass that found `log` pages of log and left `copied` of them in the
/// database file, the pass before it having left `last`.
fn after_pass((log, copied): (i64, i64), last: (i64, i64)) -> Pass {
    if log < RESTART_PAGES {
        return Pass::Wait;
    }
    if copied < log && (log, copied) == last {
        // No progress (a reader holds an old snapshot): not a busy loop.
        return Pass::Wait;
    }
    let found = new_pages(log, last.1);
    if (copied == log && found <= CATCH_UP_PAGES) || log >= GIVE_UP_PAGES {
        Pass::Due
    } else {
        Pass::Again
    }
}

/// Runs a `PASSIVE` checkpoint: the pages of log, and how many of them are in the
/// database file now.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// A read connection: [`open_file`], and `query_only` (a write through it would hold the
/// write lock in its open read transaction).
fn open_reader(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = open_file(path, durability)?;
    conn.execute_batch("PRAGMA query_only = ON")?;
    Ok(conn)
}

fn open_file(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {};
         -- Truncate the write-ahead log back to 64 MiB whenever a checkpoint resets it,
         -- so a busy store does not keep a huge WAL file.
         PRAGMA journal_size_limit = 67108864;
         -- Statement journals (a savepoint per write of a batch) and temporary B-trees
         -- in memory: no temporary file created and unlinked per batch.
         PRAGMA temp_store = MEMORY;",
        durability.pragma()
    ))?;
    Ok(conn)
}

impl SqliteDatabase {
    /// Opens (creating it if missing) the database file at `path`, in WAL mode with
    /// [`Durability::Normal`], and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteDatabase::open`] with `options`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the file cannot be opened or migrated.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = open_file(&path, options.durability).map_err(map_error)?;
        Self::start(Some(path), options, writer)
    }

    /// A private in-memory database, for tests and demos: one connection serves reads
    /// and writes (each connection would otherwise see its own database). Clone it to
    /// share it between stores.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if SQLite cannot be started.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(map_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Self::start(None, SqliteOptions::default(), conn)
    }

    /// Opens a database by URL: `sqlite://PATH` or `sqlite:PATH` (created if missing; a
    /// `?query` is ignored), or `sqlite::memory:`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the URL is not a SQLite URL or the database cannot be
    /// opened.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| backend_msg(format!("not a SQLite URL: {url}")))?;
        let rest = rest.split('?').next().unwrap_or_default();
        if rest == ":memory:" || rest == "//:memory:" {
            return Self::in_memory();
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(backend_msg(format!("no file in SQLite URL {url}")));
        }
        Self::open(path)
    }

    fn start(
        path: Option<PathBuf>,
        options: SqliteOptions,
        writer: Connection,
    ) -> Result<Self, StoreError> {
        let writer = Arc::new(Mutex::new(writer));
        let checkpointing = Arc::new(Checkpointing::default());
        let readers = Arc::new(Readers {
            idle: Mutex::new(Vec::new()),
        });
        let thread = if options.writer_thread && path.is_some() {
            let (tx, rx) = std::sync::mpsc::channel::<Box<dyn Write>>();
            let shared = Arc::clone(&writer);
            let checkpointing = Arc::clone(&checkpointing);
            let readers = Arc::clone(&readers);
            std::thread::Builder::new()
                .name("scimkit-sqlite-writer".into())
                .spawn(move || {
                    while let Ok(first) = rx.recv() {
                        // Let the tasks that are about to send their writes send them
                        // (on a busy server they share this core), so that they join
                        // this batch instead of each paying a commit of its own.
                        std::thread::yield_now();
                        let mut batch = vec![first];
                        batch.extend(rx.try_iter());
                        let conn = lock(&shared);
                        // A panicking write must not stop the writer: its batch's writes
                        // are answered with an error (see `Pending`'s `Drop`), and its
                        // transaction rolled back.
                        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_batch(&conn, batch, &checkpointing.batches);
                        }));
                        if run.is_err() && !conn.is_autocommit() {
                            let _ = conn.execute_batch("ROLLBACK");
                        }
                        // Between two batches: the end of a checkpoint the thread asked
                        // for (see `start_checkpoints`).
                        if checkpointing.due.swap(false, Ordering::AcqRel) {
                            // Idle readers' snapshots older than this batch would keep it
                            // from completing.
                            readers.end_stale(checkpointing.batches.load(Ordering::Acquire));
                            if let Err(e) = passive_checkpoint(&conn) {
                                tracing::warn!(error = %e, "SQLite checkpoint failed");
                            }
                        }
                    }
                })
                .map_err(StoreError::backend)?;
            Some(tx)
        } else {
            None
        };
        let checkpoints = match (&thread, &path) {
            (Some(_), Some(path)) => Some(start_checkpoints(
                path,
                options.durability,
                &writer,
                Arc::clone(&checkpointing),
                Arc::clone(&readers),
            )?),
            _ => None,
        };
        let db = Self {
            inner: Arc::new(Inner {
                path,
                options,
                readers,
                writer,
                thread,
                _checkpoints: checkpoints,
                checkpointing,
                queue: Mutex::new(Queue::default()),
                batch_done: Condvar::new(),
                decoded: Decoded::new(options.decoded_users),
            }),
        };
        db.migrate()?;
        Ok(db)
    }

    /// The options the database was opened with.
    pub fn options(&self) -> SqliteOptions {
        self.inner.options
    }

    /// Applies the migrations shipped with this version of scimkit that the database has
    /// not seen yet, in one transaction, and returns the resulting schema version.
    /// Running it again (from any process) is a no-op. The constructors run it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a migration fails (nothing is applied then).
    pub fn migrate(&self) -> Result<i64, StoreError> {
        self.migrate_to(i64::MAX)
    }

    /// Applies the migrations up to `target`.
    pub(super) fn migrate_to(&self, target: i64) -> Result<i64, StoreError> {
        let mut conn = lock(&self.inner.writer);
        let migrated = migrate_to(&mut conn, target);
        // Counted like a batch: reads after it begin new snapshots.
        self.inner
            .checkpointing
            .batches
            .fetch_add(1, Ordering::Release);
        migrated
    }

    /// The schema version of the database (0 for an empty database).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be read.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(|conn| current_version(conn).map_err(map_error))
    }

    /// The latest schema version this version of scimkit knows.
    pub fn latest_schema_version() -> i64 {
        SQLITE.last().map_or(0, |m| m.version)
    }

    /// The users decoded from their rows, shared by the clones.
    pub(super) fn decoded(&self) -> &Decoded {
        &self.inner.decoded
    }

    /// Runs `f` on a read connection, inline. With a writer thread, `f` runs in the
    /// connection's read transaction, one snapshot for all its statements (see
    /// [`Readers`]); else each statement runs in its own unless `f` begins one.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(path) = &self.inner.path else {
            return f(&lock(&self.inner.writer));
        };
        let readers = &self.inner.readers;
        let batches = self.inner.checkpointing.batches.load(Ordering::Acquire);
        let idle = lock(&readers.idle).pop();
        let mut reader = match idle {
            Some(reader) => reader,
            None => Reader {
                conn: open_reader(path, self.inner.options.durability).map_err(map_error)?,
                open: None,
            },
        };
        // Snapshots are kept only where the checkpoint thread ends the stale ones.
        let reuse = self.inner.thread.is_some();
        reader.ready(batches, reuse).map_err(map_error)?;
        let result = f(&reader.conn);
        if result.is_err() || !reuse {
            // A connection whose transaction cannot end (a failed read) is not reused.
            if reader.end().is_err() {
                return result;
            }
        } else if reader.conn.is_autocommit() {
            reader.open = None;
        }
        let mut idle = lock(&readers.idle);
        if idle.len() < self.inner.options.readers {
            idle.push(reader);
        }
        result
    }

    /// Runs `f` in a write transaction of the writer connection, possibly together with
    /// other queued writes, and returns its result once the transaction committed. An
    /// `Err` from `f` rolls back what `f` did, and only that. `f` may be run more than
    /// once (when another write of its batch fails after changing rows, the batch runs
    /// again with savepoints): it reads what it needs inside, and its last run counts.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(thread) = &self.inner.thread else {
            return self.write_inline(f);
        };
        let slot = Arc::new(Slot::new());
        thread
            .send(Box::new(Pending::new(f, slot.clone())))
            .map_err(|_| backend_msg("the SQLite writer thread has stopped"))?;
        Reply(slot).await
    }

    /// [`SqliteDatabase::write`] committed by the calling thread (or by another caller's
    /// batch).
    pub(super) fn write_inline<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        let mut queue = lock(&self.inner.queue);
        queue.pending.push(Box::new(Pending::new(f, slot.clone())));
        loop {
            if let Some(done) = slot.take() {
                return done;
            }
            if queue.running {
                // Ours is in the queue for the next batch, or in the running one.
                queue = self
                    .inner
                    .batch_done
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            // No batch running: ours is queued, so we run the next one, with every
            // write queued by then.
            queue.running = true;
            let batch = std::mem::take(&mut queue.pending);
            drop(queue);
            let running = Running(&self.inner);
            run_batch(
                &lock(&self.inner.writer),
                batch,
                &self.inner.checkpointing.batches,
            );
            drop(running);
            return slot
                .take()
                .unwrap_or_else(|| Err(backend_msg("a queued SQLite write was not run")));
        }
    }
}

/// Where a write's answer is left, and who to wake for it.
struct Slot<T> {
    state: Mutex<SlotState<T>>,
}

/// The answer, once there; the waker of the task awaiting it; and, once answered by the
/// writer thread, the relay of the answered batch.
struct SlotState<T> {
    answer: Option<Result<T, StoreError>>,
    waker: Option<Waker>,
    relay: Option<Arc<Relay>>,
}

impl<T> Slot<T> {
    fn new() -> Self {
        Self {
            state: Mutex::new(SlotState {
                answer: None,
                waker: None,
                relay: None,
            }),
        }
    }

    fn take(&self) -> Option<Result<T, StoreError>> {
        lock(&self.state).answer.take()
    }

    /// Leaves `answer` and wakes the caller at once.
    fn set(&self, answer: Result<T, StoreError>) {
        let waker = {
            let mut state = lock(&self.state);
            state.answer = Some(answer);
            state.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Leaves `answer` without waking the caller: its waker goes to `relay`, which the
    /// caller also learns, to wake the rest of the batch when it runs (see [`Relay`]).
    fn set_relayed(&self, answer: Result<T, StoreError>, relay: &Arc<Relay>) {
        let mut state = lock(&self.state);
        state.answer = Some(answer);
        if let Some(w) = state.waker.take() {
            relay.add(w);
        }
        state.relay = Some(Arc::clone(relay));
    }
}

/// The wakers of the callers whose writes a batch answered, woken in one hand-off.
///
/// Waking a task from the writer thread is a remote wake-up of the caller's runtime: a
/// system call to unpark a worker, which on a busy core then preempts the writer thread
/// at once, runs that one task, parks again and hands the core back, once per write of
/// the batch (0.6 context switches per write at 16 connections). So the writer wakes only
/// one caller, and the first caller of the batch to run (its answer taken, or its future
/// dropped) wakes the others, from its runtime's own thread, where waking is a queue push.
/// Every answer is in place before anyone is woken, so a caller that runs for another
/// reason finds its own and wakes the rest too: whoever comes first drains the relay.
#[derive(Default)]
struct Relay {
    wakers: Mutex<Vec<Waker>>,
}

impl Relay {
    /// Wakes the callers a caller's `relay` (taken from its slot, outside its lock)
    /// carries, if it was the one woken for its batch.
    fn pass_on(relay: Option<Arc<Relay>>) {
        if let Some(relay) = relay {
            relay.wake_all();
        }
    }

    fn add(&self, waker: Waker) {
        lock(&self.wakers).push(waker);
    }

    /// Wakes one waiting caller (from the writer thread); it wakes the others.
    fn wake_one(&self) {
        let first = lock(&self.wakers).pop();
        if let Some(w) = first {
            w.wake();
        }
    }

    /// Wakes every caller still in the relay.
    fn wake_all(&self) {
        let wakers = std::mem::take(&mut *lock(&self.wakers));
        for w in wakers {
            w.wake();
        }
    }
}

/// The answer of a write sent to the writer thread.
struct Reply<T>(Arc<Slot<T>>);

impl<T> std::future::Future for Reply<T> {
    type Output = Result<T, StoreError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let mut state = lock(&self.0.state);
        match state.answer.take() {
            Some(answer) => {
                let relay = state.relay.take();
                drop(state);
                Relay::pass_on(relay);
                std::task::Poll::Ready(answer)
            }
            None => {
                state.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

impl<T> Drop for Reply<T> {
    /// A caller that stops waiting (its request dropped) passes the wake-ups it may
    /// carry on, and leaves no waker behind.
    fn drop(&mut self) {
        let relay = {
            let mut state = lock(&self.0.state);
            state.waker = None;
            state.relay.take()
        };
        Relay::pass_on(relay);
    }
}

/// The queue of writes.
#[derive(Default)]
struct Queue {
    pending: Vec<Box<dyn Write>>,
    /// Whether a batch is running (its writes are no longer in `pending`).
    running: bool,
}

/// Ends a running batch, also when a write panicked: the next waiter takes its turn.
struct Running<'a>(&'a Inner);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.0.queue).running = false;
        self.0.batch_done.notify_all();
    }
}

/// A queued write.
trait Write: Send {
    /// Runs the write; `true` if it succeeded (so its changes are kept). A write may be
    /// run again when its batch is run again from the start (see [`run_batch`]): its
    /// result is that of its last run.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: with its own result, or with `failure` when the transaction
    /// holding it did not commit. The caller is woken by `relay` (see [`Relay`]).
    fn finish(&mut self, failure: Option<&str>, relay: &Arc<Relay>);
}

struct Pending<T, F> {
    f: F,
    result: Option<Result<T, StoreError>>,
    slot: Arc<Slot<T>>,
    answered: bool,
}

impl<T, F> Pending<T, F> {
    fn new(f: F, slot: Arc<Slot<T>>) -> Self {
        Self {
            f,
            result: None,
            slot,
            answered: false,
        }
    }
}

impl<T, F> Drop for Pending<T, F> {
    /// A write dropped unanswered (a panic in its batch) is answered with an error, so
    /// that its caller does not wait forever.
    fn drop(&mut self) {
        if !self.answered {
            self.slot
                .set(Err(backend_msg("a queued SQLite write was abandoned")));
        }
    }
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let result = (self.f)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(&mut self, failure: Option<&str>, relay: &Arc<Relay>) {
        let answer = match (self.result.take(), failure) {
            // A write refused on its own keeps its own error, whatever became of the rest.
            (Some(Err(e)), _) => Err(e),
            (_, Some(why)) => Err(backend_msg(format!("SQLite write failed: {why}"))),
            (Some(ok), None) => ok,
            (None, None) => Err(backend_msg("a queued SQLite write was not run")),
        };
        self.slot.set_relayed(answer, relay);
        self.answered = true;
    }
}

/// Runs a statement that returns no rows (`BEGIN`, `COMMIT`, `SAVEPOINT`...) from the
/// connection's statement cache: parsed once per connection, not once per call (a parse
/// costs about what running it does).
pub(super) fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// Runs `batch` in one transaction, one commit for all.
///
/// The writes run one after another, without savepoints: a write that fails having
/// changed no row (a taken `userName` refused by its first insert, a compare-and-swap
/// that matched no row) needs nothing taken back, and that is how writes fail. Only when
/// one fails after it changed rows is the batch rolled back and run again from the
/// start, each write in its own savepoint, so that the failed one is rolled back alone
/// (writes are closures the batch may run again: they read what they need inside).
/// A savepoint copies every page a write changes first, so running without them saves
/// that copy on every batch that needs none. `batches` counts the batches answered.
fn run_batch(conn: &Connection, mut batch: Vec<Box<dyn Write>>, batches: &AtomicU64) {
    let answer_all = |mut batch: Vec<Box<dyn Write>>, failure: Option<&str>| {
        // Counted before anyone is answered: a caller that reads the count then sees
        // its batch in it.
        batches.fetch_add(1, Ordering::Release);
        let relay = Arc::new(Relay::default());
        for w in &mut batch {
            w.finish(failure, &relay);
        }
        relay.wake_one();
    };
    let fail_all = |batch: Vec<Box<dyn Write>>, why: &str| answer_all(batch, Some(why));
    let mut ran = attempt(conn, &mut batch, false);
    if let Attempt::Again = ran {
        ran = attempt(conn, &mut batch, true);
    }
    match ran {
        Attempt::Ran => {}
        Attempt::Failed(why) => return fail_all(batch, &why),
        Attempt::Again => return fail_all(batch, "a write failed after its changes"),
    }
    match exec_cached(conn, "COMMIT") {
        Ok(()) => answer_all(batch, None),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            fail_all(batch, &e.to_string());
        }
    }
}

/// How a run of a batch's writes in a transaction ended.
enum Attempt {
    /// Every write ran (each succeeded or failed leaving no change): commit.
    Ran,
    /// A write failed after it changed rows, and the transaction was rolled back: run the
    /// batch again with savepoints.
    Again,
    /// The transaction failed (rolled back): every write fails with this.
    Failed(String),
}

/// Runs the writes of `batch` in a new transaction, each in its own savepoint when
/// `savepoints` (a write that fails is then rolled back alone), else as they are. A lone
/// write needs no savepoint: when it fails, the whole transaction is rolled back.
fn attempt(conn: &Connection, batch: &mut [Box<dyn Write>], savepoints: bool) -> Attempt {
    if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
        return Attempt::Failed(e.to_string());
    }
    let single = batch.len() == 1;
    for w in batch.iter_mut() {
        if single {
            if !w.run(conn) {
                // Nothing else in the transaction: roll it all back.
                let _ = conn.execute_batch("ROLLBACK");
                return Attempt::Failed("rolled back".into());
            }
        } else if savepoints {
            let step = exec_cached(conn, "SAVEPOINT scimkit_write").and_then(|()| {
                if w.run(conn) {
                    exec_cached(conn, "RELEASE scimkit_write")
                } else {
                    conn.execute_batch("ROLLBACK TO scimkit_write; RELEASE scimkit_write")
                }
            });
            if let Err(e) = step {
                let _ = conn.execute_batch("ROLLBACK");
                return Attempt::Failed(e.to_string());
            }
        } else {
            // A statement that fails is undone by SQLite and counts no change; so a
            // failed write that counted none left the transaction as it found it.
            let before = conn.total_changes();
            if !w.run(conn) && conn.total_changes() != before && !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
                return Attempt::Again;
            }
        }
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (an I/O error, a full disk).
            return Attempt::Failed("the transaction was rolled back by SQLite".into());
        }
    }
    Attempt::Ran
}

fn current_version(conn: &Connection) -> rusqlite::Result<i64> {
    let exists: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'scimkit_schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if exists == 0 {
        return Ok(0);
    }
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM scimkit_schema_migrations",
        [],
        |r| r.get(0),
    )
}

/// Applies the migrations up to `target` on `conn`, in one transaction.
fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(map_error)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS scimkit_schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        )",
    )
    .map_err(map_error)?;
    let mut version = current_version(&tx).map_err(map_error)?;
    for m in pending(SQLITE, version, target) {
        tx.execute_batch(m.sql).map_err(|e| m.failed("SQLite", e))?;
        tx.execute(
            "INSERT INTO scimkit_schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.description, chrono::Utc::now().to_rfc3339()],
        )
        .map_err(map_error)?;
        version = m.version;
    }
    tx.commit().map_err(map_error)?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn db() -> SqliteDatabase {
        let dir = std::env::temp_dir().join(format!("scimkit-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        SqliteDatabase::open(dir.join("db.sqlite")).unwrap()
    }

    /// Inserts tenant `t{n}`: the write of the tests below.
    fn add_tenant(conn: &Connection, n: i64) -> Result<i64, StoreError> {
        conn.execute(
            "INSERT INTO scimkit_tenants (id) VALUES (?1)",
            [format!("t{n}")],
        )
        .map_err(map_error)?;
        Ok(n)
    }

    fn insert(db: &SqliteDatabase, n: i64) -> Result<i64, StoreError> {
        db.write_inline(move |conn| add_tenant(conn, n))
    }

    #[test]
    fn a_failed_write_in_a_group_is_rolled_back_alone() {
        let db = db();
        // Four writes run as one batch, one of them for an id another takes.
        let writes: Vec<TestWrite<i64>> = (0..4)
            .map(|n| Box::new(move |c: &Connection| add_tenant(c, n % 3)) as TestWrite<i64>)
            .collect();
        let results = one_batch(&db, writes);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Uniqueness { .. })))
            .count();
        assert_eq!((ok, taken), (3, 1), "{results:?}");
        let rows: i64 = db
            .read(|c| {
                c.query_row("SELECT COUNT(*) FROM scimkit_tenants", [], |r| r.get(0))
                    .map_err(map_error)
            })
            .unwrap();
        assert_eq!(rows, 3, "the three other writes were committed together");
    }

    /// The ids of the tenants rows the tests below write, in the table's order.
    fn tenant_ids(db: &SqliteDatabase) -> Vec<String> {
        db.read(|c| {
            let mut st = c
                .prepare("SELECT id FROM scimkit_tenants")
                .map_err(map_error)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(map_error)?;
            rows.collect::<Result<_, _>>().map_err(map_error)
        })
        .unwrap()
    }

    /// Whether every idle read connection of `db` has ended its read transaction.
    fn readers_idle_outside_transactions(db: &SqliteDatabase) -> bool {
        lock(&db.inner.readers.idle)
            .iter()
            .all(|r| r.conn.is_autocommit() && r.open.is_none())
    }

    /// Reads, then checks with `kept` that the reader kept its snapshot: again while it
    /// did not (a snapshot is current for [`SNAPSHOT_REUSE`] only, which a test thread
    /// descheduled at the wrong moment overruns), at most 50 times.
    fn read_then_kept(db: &SqliteDatabase, kept: impl Fn() -> bool) -> bool {
        (0..50).any(|_| {
            tenant_ids(db);
            kept()
        })
    }

    fn write_on_thread(db: &SqliteDatabase, n: i64) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(db.write(move |conn| add_tenant(conn, n)))
            .unwrap();
    }

    #[test]
    fn a_read_connection_keeps_its_snapshot_until_this_process_writes() {
        let db = db();
        assert!(tenant_ids(&db).is_empty());
        // The read left its transaction open for the next read.
        assert!(read_then_kept(&db, || !readers_idle_outside_transactions(
            &db
        )));
        // A write of this process is seen by the next read at once, however young the
        // snapshot.
        write_on_thread(&db, 1);
        assert_eq!(tenant_ids(&db), ["t1"]);
        write_on_thread(&db, 2);
        assert_eq!(tenant_ids(&db).len(), 2);
    }

    #[test]
    fn a_commit_of_another_process_is_seen_once_the_snapshot_is_stale() {
        let ours = db();
        let path = ours.inner.path.clone().unwrap();
        let theirs = SqliteDatabase::open(&path).unwrap();
        assert!(tenant_ids(&ours).is_empty());
        write_on_thread(&theirs, 1);
        std::thread::sleep(SNAPSHOT_REUSE * 2);
        assert_eq!(tenant_ids(&ours), ["t1"]);
    }

    #[test]
    fn idle_readers_end_their_snapshots_once_stale() {
        let db = db();
        let batches = || db.inner.checkpointing.batches.load(Ordering::Acquire);
        // Current: kept.
        assert!(read_then_kept(&db, || {
            db.inner.readers.end_stale(batches());
            !readers_idle_outside_transactions(&db)
        }));
        write_on_thread(&db, 1);
        db.inner.readers.end_stale(batches());
        assert!(readers_idle_outside_transactions(&db));
        // The checkpoint thread ends them too, every LOG_FLUSH_EVERY: a snapshot older
        // than SNAPSHOT_REUSE with no write, and one a write made stale.
        for n in 2..4 {
            tenant_ids(&db);
            if n == 3 {
                write_on_thread(&db, n);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while !readers_idle_outside_transactions(&db) {
                assert!(
                    Instant::now() < deadline,
                    "an idle reader kept its snapshot"
                );
                std::thread::sleep(LOG_FLUSH_EVERY);
            }
        }
    }

    #[test]
    fn read_connections_refuse_writes_and_stay_usable() {
        let db = db();
        let wrote = db.read(|c| add_tenant(c, 1));
        assert!(wrote.is_err(), "{wrote:?}");
        assert!(readers_idle_outside_transactions(&db));
        assert!(tenant_ids(&db).is_empty());
        insert(&db, 2).unwrap();
        assert_eq!(tenant_ids(&db), ["t2"]);
    }

    /// A write of the tests below.
    type TestWrite<T> = Box<dyn FnMut(&Connection) -> Result<T, StoreError> + Send>;

    /// Runs the writes `writes` queued as one batch (each on a thread of its own, as
    /// callers that block), and returns their results in order: a batch is marked running
    /// so that they queue up, then run as one, as the caller that ends a batch would.
    fn one_batch<T: Send + 'static>(
        db: &SqliteDatabase,
        writes: Vec<TestWrite<T>>,
    ) -> Vec<Result<T, StoreError>> {
        lock(&db.inner.queue).running = true;
        let n = writes.len();
        let threads: Vec<_> = writes
            .into_iter()
            .map(|mut w| {
                let db = db.clone();
                std::thread::spawn(move || db.write_inline(move |c| w(c)))
            })
            .collect();
        while lock(&db.inner.queue).pending.len() < n {
            std::thread::yield_now();
        }
        let batch = std::mem::take(&mut lock(&db.inner.queue).pending);
        run_on_writer(db, batch);
        drop(Running(&db.inner));
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    #[test]
    fn a_write_that_fails_after_its_changes_is_rolled_back_alone() {
        let db = db();
        insert(&db, 9).unwrap();
        let add = |id: &'static str| {
            move |c: &Connection| {
                c.execute("INSERT INTO scimkit_tenants (id) VALUES (?1)", [id])
                    .map_err(map_error)?;
                Ok(id)
            }
        };
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let writes: Vec<TestWrite<&'static str>> = vec![
            Box::new(add("a")),
            // Changes a row, then fails (a taken id): only a savepoint can undo it alone.
            Box::new(move |c: &Connection| {
                counted.fetch_add(1, Ordering::SeqCst);
                c.execute("INSERT INTO scimkit_tenants (id) VALUES ('lost')", [])
                    .map_err(map_error)?;
                c.execute("INSERT INTO scimkit_tenants (id) VALUES ('t9')", [])
                    .map_err(map_error)?;
                Ok("never")
            }),
            // Fails without changing anything.
            Box::new(add("t9")),
            Box::new(add("b")),
        ];
        let results = one_batch(&db, writes);
        assert!(matches!(results[0], Ok("a")), "{results:?}");
        assert!(
            matches!(results[1], Err(StoreError::Uniqueness { .. })),
            "{results:?}"
        );
        assert!(
            matches!(results[2], Err(StoreError::Uniqueness { .. })),
            "{results:?}"
        );
        assert!(matches!(results[3], Ok("b")), "{results:?}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the batch ran again, with savepoints, once"
        );
        let mut rows = tenant_ids(&db);
        rows.sort();
        assert_eq!(rows, ["a", "b", "t9"], "the failed write left nothing");
    }

    #[test]
    fn writes_that_fail_without_changes_need_no_second_run() {
        let db = db();
        insert(&db, 1).unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writes: Vec<TestWrite<i64>> = (0..4i64)
            .map(|n| {
                let runs = runs.clone();
                Box::new(move |c: &Connection| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    add_tenant(c, n % 2)
                }) as TestWrite<i64>
            })
            .collect();
        let results = one_batch(&db, writes);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "only t0 was free: {results:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 4, "each write ran once");
    }

    #[test]
    fn a_lone_failed_write_leaves_the_writer_usable() {
        let db = db();
        insert(&db, 1).unwrap();
        assert!(matches!(insert(&db, 1), Err(StoreError::Uniqueness { .. })));
        assert_eq!(insert(&db, 2).unwrap(), 2);
    }

    #[test]
    fn durability_sets_synchronous_on_the_writer() {
        let dir = std::env::temp_dir().join(format!("scimkit-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        for (durability, expected) in [(Durability::Normal, 1), (Durability::Full, 2)] {
            let db = SqliteDatabase::open_with(
                dir.join(format!("{expected}.db")),
                SqliteOptions::default().durability(durability),
            )
            .unwrap();
            let synchronous: i64 = lock(&db.inner.writer)
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(synchronous, expected, "{durability:?}");
        }
    }

    #[test]
    fn connect_parses_sqlite_urls() {
        assert!(
            SqliteDatabase::connect("sqlite::memory:")
                .unwrap()
                .inner
                .path
                .is_none()
        );
        assert!(SqliteDatabase::connect("postgres://x").is_err());
        let dir = std::env::temp_dir().join(format!("scimkit-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("u.db");
        let db = SqliteDatabase::connect(&format!("sqlite://{}?mode=rwc", file.display())).unwrap();
        assert_eq!(db.inner.path.as_deref(), Some(file.as_path()));
    }

    /// The checkpoint thread copies the log into the database file in the background,
    /// well before the writer's own (rarer) automatic checkpoint would.
    #[test]
    fn the_checkpoint_thread_catches_up_then_asks_the_writer_to_finish() {
        let r = RESTART_PAGES;
        assert_eq!(after_pass((100, 100), (0, 0)), Pass::Wait, "a short log");
        assert_eq!(
            after_pass((r + 3_000, r + 3_000), (2_000, 2_000)),
            Pass::Again,
            "a long pass: more arrived meanwhile"
        );
        assert_eq!(
            after_pass((r + 3_600, r + 3_600), (r + 3_000, r + 3_000)),
            Pass::Again,
            "catching up"
        );
        assert_eq!(
            after_pass((r + 3_700, r + 3_700), (r + 3_600, r + 3_600)),
            Pass::Due,
            "a short pass: few arrived meanwhile"
        );
        assert_eq!(
            after_pass((r, r), (r - CATCH_UP_PAGES, r - CATCH_UP_PAGES)),
            Pass::Due,
            "a log that just crossed the mark, the rest copied before"
        );
        assert_eq!(
            after_pass((r, 1_000), (r, 1_000)),
            Pass::Wait,
            "no progress: no busy loop"
        );
        assert_eq!(
            after_pass((r + 900, 1_000), (r, 800)),
            Pass::Again,
            "a reader holds part of the log: the thread copies what it may"
        );
        assert_eq!(
            after_pass((r + 100, r + 100), (r + 9_000, r + 9_000)),
            Pass::Again,
            "the log restarted since the last pass: every page was new"
        );
        assert_eq!(
            after_pass((GIVE_UP_PAGES, GIVE_UP_PAGES), (GIVE_UP_PAGES - 3_000, 0)),
            Pass::Due,
            "writes outrun the thread: the writer finishes"
        );
    }

    /// A log past [`RESTART_PAGES`] restarts from its beginning while writes go on: the
    /// thread copies it, the writer finishes the checkpoint between two batches, and the
    /// next write starts the log again (it no longer waits for the writer's backstop).
    #[test]
    fn a_long_log_restarts_without_the_writers_backstop() {
        let db = db();
        let path = db.inner.path.clone().unwrap();
        let probe = open_file(&path, Durability::Normal).unwrap();
        // The log's length (this probe's own passive checkpoint may copy some of it too;
        // only the writer's can complete one under a stream of writes).
        let log = || -> i64 {
            probe
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .unwrap()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let write = |n: usize| {
            rt.block_on(db.write(move |conn| {
                conn.execute(
                    "INSERT INTO scimkit_tenants (id) VALUES (?1)",
                    [format!("{n:07}{}", "x".repeat(3000))],
                )
                .map_err(map_error)?;
                Ok(())
            }))
            .unwrap();
        };
        // Past the mark: each row takes a page of its own.
        for n in 0..(RESTART_PAGES as usize + 200) {
            write(n);
            if n == 200 {
                // A reader that reads once and sits idle since: its snapshot must not
                // hold the checkpoints back.
                assert_eq!(tenant_ids(&db).len(), 201);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut n = 1_000_000;
        loop {
            write(n);
            n += 1;
            if log() < RESTART_PAGES / 2 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the log never restarted (now {} pages)",
                log()
            );
        }
    }

    #[test]
    fn the_log_is_checkpointed_off_the_writer() {
        let db = db();
        let auto: i64 = lock(&db.inner.writer)
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            auto, WRITER_CHECKPOINT_PAGES,
            "the writer checkpoints rarely"
        );
        // The database file itself grows only when a checkpoint copies pages into it
        // (read without SQLite, which could checkpoint when a connection closes).
        let path = db.inner.path.clone().unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            for n in 0..50 {
                db.write(move |conn| {
                    conn.execute(
                        "INSERT INTO scimkit_tenants (id) VALUES (?1)",
                        [format!("{n:04}{}", "x".repeat(5000))],
                    )
                    .map_err(map_error)?;
                    Ok(())
                })
                .await
                .unwrap();
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 50 * 4096 {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpoint thread never copied the log into the database file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn the_writer_thread_answers_each_write_with_its_own_result() {
        let db = db();
        assert!(db.inner.thread.is_some(), "a file gets a writer thread");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let results = rt.block_on(async {
            let writes = (0..8).map(|n| {
                let db = db.clone();
                async move {
                    db.write(move |conn| {
                        conn.execute(
                            "INSERT INTO scimkit_tenants (id) VALUES (?1)",
                            [format!("t{}", n % 6)],
                        )
                        .map_err(map_error)?;
                        Ok(n)
                    })
                    .await
                }
            });
            futures_util::future::join_all(writes).await
        });
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let taken = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Uniqueness { .. })))
            .count();
        assert_eq!((ok, taken), (6, 2), "{results:?}");
    }

    #[test]
    fn a_panicking_write_is_answered_with_an_error_and_the_writer_goes_on() {
        let db = db();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let failed = rt.block_on(db.write(|conn| -> Result<(), StoreError> {
            conn.execute("INSERT INTO scimkit_tenants (id) VALUES ('lost')", [])
                .map_err(map_error)?;
            panic!("a write that panics")
        }));
        assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
        assert_eq!(insert(&db, 7).unwrap(), 7);
        let rows = tenant_ids(&db);
        assert_eq!(
            rows,
            vec!["t7".to_owned()],
            "the panicking write was rolled back"
        );
    }

    /// Runs `batch` as the writer does, on `db`'s writer connection.
    fn run_on_writer(db: &SqliteDatabase, batch: Vec<Box<dyn Write>>) {
        run_batch(
            &lock(&db.inner.writer),
            batch,
            &db.inner.checkpointing.batches,
        );
    }

    /// Counts the wake-ups of one caller.
    #[derive(Default)]
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Wakes {
        fn count(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// A caller of the writer thread: its reply, and how often it was woken.
    struct Caller {
        reply: Option<std::pin::Pin<Box<Reply<i64>>>>,
        wakes: Arc<Wakes>,
    }

    impl Caller {
        fn poll(&mut self) -> std::task::Poll<Result<i64, StoreError>> {
            let waker = Waker::from(Arc::clone(&self.wakes));
            let reply = self.reply.as_mut().expect("still waiting");
            reply
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
        }
    }

    /// `n` callers of one batch that have each polled their reply once (as a task
    /// awaiting it does), and the batch of their writes (tenant `t{i}` each).
    fn waiting_batch(n: i64) -> (Vec<Caller>, Vec<Box<dyn Write>>) {
        let mut callers = Vec::new();
        let mut batch: Vec<Box<dyn Write>> = Vec::new();
        for i in 0..n {
            let slot = Arc::new(Slot::new());
            batch.push(Box::new(Pending::new(
                move |conn: &Connection| add_tenant(conn, i),
                Arc::clone(&slot),
            )));
            let mut caller = Caller {
                reply: Some(Box::pin(Reply(slot))),
                wakes: Arc::default(),
            };
            assert!(caller.poll().is_pending());
            callers.push(caller);
        }
        (callers, batch)
    }

    fn woken(callers: &[Caller]) -> Vec<usize> {
        callers.iter().map(|c| c.wakes.count()).collect()
    }

    #[test]
    fn a_batch_wakes_one_caller_who_wakes_the_others() {
        let db = db();
        let (mut callers, batch) = waiting_batch(4);
        run_on_writer(&db, batch);
        let first = woken(&callers);
        assert_eq!(first.iter().sum::<usize>(), 1, "{first:?}");
        let carrier = first.iter().position(|w| *w == 1).unwrap();
        // The woken caller runs: it takes its answer and wakes the rest of its batch.
        assert!(matches!(
            callers[carrier].poll(),
            std::task::Poll::Ready(Ok(_))
        ));
        assert_eq!(woken(&callers), vec![1; 4]);
        for (i, caller) in callers.iter_mut().enumerate() {
            if i != carrier {
                let answer = caller.poll();
                assert!(
                    matches!(answer, std::task::Poll::Ready(Ok(n)) if n == i as i64),
                    "each caller gets its own answer: {answer:?}"
                );
            }
        }
        assert_eq!(woken(&callers), vec![1; 4], "no caller is woken twice");
    }

    #[test]
    fn a_woken_caller_that_stops_waiting_wakes_the_others() {
        let db = db();
        let (mut callers, batch) = waiting_batch(3);
        run_on_writer(&db, batch);
        let carrier = woken(&callers).iter().position(|w| *w == 1).unwrap();
        // Its request is dropped before it runs (a timeout, a closed connection).
        callers[carrier].reply = None;
        assert_eq!(woken(&callers), vec![1; 3]);
        assert_eq!(tenant_ids(&db).len(), 3, "the batch committed");
    }

    #[test]
    fn a_caller_gone_before_the_answer_is_not_the_one_woken() {
        let db = db();
        let (mut callers, batch) = waiting_batch(3);
        callers[2].reply = None;
        callers[0].reply = None;
        run_on_writer(&db, batch);
        assert_eq!(
            woken(&callers),
            vec![0, 1, 0],
            "the one still waiting is woken"
        );
        assert!(matches!(callers[1].poll(), std::task::Poll::Ready(Ok(1))));
    }

    #[test]
    fn a_caller_running_early_finds_its_answer_and_wakes_the_others() {
        let db = db();
        let (mut callers, batch) = waiting_batch(3);
        run_on_writer(&db, batch);
        let idle = woken(&callers).iter().position(|w| *w == 0).unwrap();
        // A caller woken for another reason (its task's other futures) runs first.
        assert!(matches!(
            callers[idle].poll(),
            std::task::Poll::Ready(Ok(_))
        ));
        assert!(
            woken(&callers).iter().all(|w| *w >= 1),
            "{:?}",
            woken(&callers)
        );
    }

    #[test]
    fn the_log_is_flushed_between_passes_only_after_writes() {
        let db = db();
        let path = db.inner.path.clone().unwrap();
        let mut log = LogFlusher::new(&path);
        assert!(!log.flush_if_written(0), "nothing written yet");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(db.write(|conn| add_tenant(conn, 1))).unwrap();
        let batches = db.inner.checkpointing.batches.load(Ordering::Acquire);
        assert!(batches >= 1, "the writer counts its batches");
        assert!(
            log.flush_if_written(batches),
            "a batch ran: the log is flushed"
        );
        assert!(log.file.is_some());
        assert!(!log.flush_if_written(batches), "no batch since: no sync");
        rt.block_on(db.write(|conn| add_tenant(conn, 2))).unwrap();
        let more = db.inner.checkpointing.batches.load(Ordering::Acquire);
        assert!(more > batches);
        assert!(log.flush_if_written(more));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_log_that_cannot_be_synced_is_left_to_the_checkpoints() {
        // Linux refuses to sync /dev/null (EINVAL).
        let mut log = LogFlusher {
            path: "/dev/null".into(),
            file: None,
            flushed: 0,
            failed: false,
        };
        assert!(!log.flush_if_written(1));
        assert!(log.failed);
        let tried = log.file.take();
        assert!(tried.is_some(), "it was opened and tried");
        assert!(!log.flush_if_written(2));
        assert!(log.file.is_none(), "not tried again");
    }

    #[test]
    fn a_log_that_is_not_there_yet_is_not_flushed() {
        let dir = std::env::temp_dir().join(format!("scimkit-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = LogFlusher::new(&dir.join("none.sqlite"));
        assert!(!log.flush_if_written(3));
        assert!(log.file.is_none());
    }

    #[test]
    fn the_thread_flushes_again_while_writes_arrived_during_its_flush() {
        // No checkpoint thread of the database's own: this test plays it.
        let dir = std::env::temp_dir().join(format!("scimkit-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let db = SqliteDatabase::open_with(&path, SqliteOptions::default().writer_thread(false))
            .unwrap();
        assert!(db.inner._checkpoints.is_none());
        let thread = open_file(&path, Durability::Normal).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        for n in 0..50 {
            insert(&db, n).unwrap();
        }
        let pass = passive_checkpoint(&thread).unwrap();
        assert_eq!(pass.0, pass.1, "all copied");
        // Nothing arrives during the flush: one flush, then the writer's turn.
        assert_eq!(finish_for_the_writer(&thread, &file, pass), 1);
        // Pages arrived after the pass the thread knows of (as during a flush): it
        // copies them and flushes again.
        for n in 0..2 * FINISH_PAGES {
            // A page each.
            db.write_inline(move |conn| {
                conn.execute(
                    "INSERT INTO scimkit_tenants (id) VALUES (?1)",
                    [format!("{n:07}{}", "x".repeat(3000))],
                )
                .map_err(map_error)
            })
            .unwrap();
        }
        assert_eq!(finish_for_the_writer(&thread, &file, pass), 2);
        let after = passive_checkpoint(&thread).unwrap();
        assert_eq!(after.0, after.1, "everything is copied for the writer");
    }
}
