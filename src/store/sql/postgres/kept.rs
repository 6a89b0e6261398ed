//! Connections kept between statements, without sqlx's test on every release.
//!
//! sqlx 0.8 tests every pooled connection when it goes back to its pool (a `Sync` and its
//! answer, in a task of its own), whether or not anything went wrong, and cannot be told
//! not to. That is a second round trip per request: PostgreSQL's backend and the server
//! each wake for it, and under load it cost 7–26 % of the PostgreSQL store's requests per
//! second (see BENCHMARKS.md). So the store keeps the connections it checked out of the
//! pool, and hands them to its next statements directly, for as long as they are healthy:
//!
//! - Statements take their turn for a connection first, one turn per connection the pool
//!   may open, handed out first come, first served: a connection kept on one's return is
//!   the next waiting statement's, so none waits behind others that keep arriving (the
//!   pool's own queue is fair in the same way).
//! - A connection goes back to the kept ones only through [`Held::done`], called once its
//!   statements completed, answers read to the end. A [`Held`] dropped before that (an
//!   error, or a request dropped in the middle of a statement: the client went away, a
//!   timeout) goes back to the pool instead, which tests and repairs it or closes it, as
//!   before.
//! - At most [`Kept::keep`] connections (three quarters of the pool's maximum; none for a
//!   pool of one) are kept idle; the others go back to the pool, where its other users
//!   (the key and tenant stores, a host's own queries) find them. While a statement of
//!   the store waits in the pool's own queue (the pool's connections all out, some with
//!   those other users), every connection coming back goes to the pool, for it.
//! - A connection kept idle for longer than [`IDLE_FOR`], or checked out of the pool
//!   longer than [`KEEP_FOR`] ago, goes back to the pool when next met: the pool then tests
//!   it (a connection the server closed meanwhile is not used) and applies its own
//!   lifetime and idle rules.
//! - When the pool closes ([`PgPool::close`]), the kept connections go back to it at once
//!   (a task waits for that), so that closing does not wait for the store to be dropped.
//! - A read that meets a kept connection the server closed while it sat idle runs again,
//!   once, on a connection of the pool, and every kept connection goes back to the pool
//!   ([`Kept::read_rows`]); a write that meets one fails, as it would on the pool's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{Pool, Postgres};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::store::StoreError;
use crate::store::sql::driver::{PgQuery, fetch_one};
use crate::store::sql::{lock, map_db_error};

/// How long a connection may stay kept idle before it goes back to the pool (which tests
/// it before it is used again).
pub(super) const IDLE_FOR: Duration = Duration::from_secs(10);

/// How long after it was checked out of the pool a connection goes back to it, so that
/// the pool's lifetime rules still apply.
pub(super) const KEEP_FOR: Duration = Duration::from_secs(60);

/// A connection checked out of the pool and kept.
struct Idle {
    conn: PoolConnection<Postgres>,
    /// When it was checked out of the pool.
    since: Instant,
    /// When its last statements completed.
    used: Instant,
}

/// The connections of a store, over its pool (see the module documentation).
pub(super) struct Kept {
    pool: PgPool,
    /// How many connections to keep idle at most.
    keep: usize,
    idle: Mutex<Vec<Idle>>,
    /// The turns: as many as the pool's connections, handed out in order of arrival.
    turns: Semaphore,
    /// Statements of this store waiting in the pool's own queue (the pool's connections
    /// were all out, some with its other users): a connection coming back goes to the
    /// pool for them rather than to the kept ones.
    queued: AtomicUsize,
    /// [`IDLE_FOR`] and [`KEEP_FOR`] (shorter in tests).
    idle_for: Duration,
    keep_for: Duration,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("keep", &self.keep)
            .field("idle", &lock(&self.idle).len())
            .finish_non_exhaustive()
    }
}

impl Kept {
    /// Keeps up to three quarters of `pool`'s maximum connections.
    pub(super) fn new(pool: PgPool) -> Arc<Self> {
        let max = pool.options().get_max_connections() as usize;
        Self::keeping(pool, max * 3 / 4)
    }

    /// Keeps up to `keep` connections of `pool` idle (0: every connection goes back to the
    /// pool after its statements, as sqlx's pool does by itself).
    pub(super) fn keeping(pool: PgPool, keep: usize) -> Arc<Self> {
        Self::timed(pool, keep, IDLE_FOR, KEEP_FOR)
    }

    /// [`Kept::keeping`], with connections going back to the pool after `idle_for` idle
    /// or `keep_for` out of it.
    pub(super) fn timed(
        pool: PgPool,
        keep: usize,
        idle_for: Duration,
        keep_for: Duration,
    ) -> Arc<Self> {
        let turns = Semaphore::new(pool.options().get_max_connections() as usize);
        let kept = Arc::new(Self {
            pool,
            keep,
            idle: Mutex::new(Vec::new()),
            turns,
            queued: AtomicUsize::new(0),
            idle_for,
            keep_for,
        });
        // sqlx runs its pools on tokio: outside a runtime there is no pool to close.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let closed = kept.pool.close_event();
            let weak = Arc::downgrade(&kept);
            // Ends when the pool closes, or is dropped (after the last store).
            runtime.spawn(async move {
                closed.await;
                if let Some(kept) = weak.upgrade() {
                    kept.release();
                }
            });
        }
        kept
    }

    /// Hands every kept connection back to the pool, and wakes the statements waiting for
    /// a turn (their pool is closed).
    fn release(&self) {
        self.turns.close();
        self.forget_idle();
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many connections are kept idle now.
    pub(super) fn idle(&self) -> usize {
        lock(&self.idle).len()
    }

    /// A connection: the most recently used kept one that is still fresh, else one of
    /// the pool. Stale kept connections met on the way go back to the pool.
    pub(super) async fn get(&self) -> Result<Held<'_>, StoreError> {
        if self.pool.is_closed() {
            self.release();
        }
        // Closed with the pool: then go to the pool, which answers that it is closed.
        let turn = self.turns.acquire().await.ok();
        let now = Instant::now();
        let kept = {
            let mut idle = lock(&self.idle);
            let mut gone = Vec::new();
            if idle.iter().any(|c| self.stale(c, now)) {
                let (old, fresh) = std::mem::take(&mut *idle)
                    .into_iter()
                    .partition(|c| self.stale(c, now));
                *idle = fresh;
                gone = old;
            }
            // The most recently used (last): the others age out when fewer are needed.
            let kept = idle.pop();
            drop(idle);
            // Outside the lock: each goes back to the pool (tested there).
            drop(gone);
            kept
        };
        let (conn, since, reused) = match kept {
            Some(Idle { conn, since, .. }) => (conn, since, true),
            None => {
                let _queued = Queued::new(&self.queued);
                let conn = Pool::acquire(&self.pool).await.map_err(map_db_error)?;
                (conn, Instant::now(), false)
            }
        };
        Ok(Held {
            kept: self,
            conn,
            since,
            reused,
            turn,
        })
    }
}

impl Kept {
    /// [`fetch_one`] on a connection of these, kept again once read (writes: see
    /// [`Kept::read_rows`] for reads).
    pub(super) async fn fetch_one<T>(
        &self,
        q: PgQuery<'_>,
        read: impl FnOnce(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut conn = self.get().await?;
        let row = fetch_one(q, &mut *conn, read).await?;
        conn.done();
        Ok(row)
    }

    /// Runs the read `q()` on a connection of these, kept again once read, and returns
    /// its rows. A kept connection that the server closed while it sat idle (a restart,
    /// a terminated backend, an idle-session timeout) fails no read: every kept
    /// connection goes back to the pool (they likely went the same way), and the read
    /// runs again, once, on a connection of the pool. Reads only: a write that met a
    /// closed connection is not run again, since whether it ran may be unknown.
    pub(super) async fn read_rows<'q>(
        &self,
        q: impl Fn() -> PgQuery<'q>,
    ) -> Result<Vec<PgRow>, StoreError> {
        let mut conn = self.get().await?;
        let rows = match q().fetch_all(&mut *conn).await {
            Err(e) if conn.reused && connection_gone(&e) => {
                drop(conn);
                self.forget_idle();
                conn = self.get().await?;
                q().fetch_all(&mut *conn).await
            }
            rows => rows,
        }
        .map_err(map_db_error)?;
        conn.done();
        Ok(rows)
    }

    /// [`Kept::read_rows`], the first row read with `read`.
    pub(super) async fn read_one<'q, T>(
        &self,
        q: impl Fn() -> PgQuery<'q>,
        read: impl FnOnce(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.read_rows(q).await?.first().map(read).transpose()
    }

    /// [`Kept::read_rows`], each row read with `read`.
    pub(super) async fn read_all<'q, T>(
        &self,
        q: impl Fn() -> PgQuery<'q>,
        read: impl FnMut(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.read_rows(q).await?.iter().map(read).collect()
    }

    /// Sends every kept connection back to the pool (which tests it).
    fn forget_idle(&self) {
        let idle = std::mem::take(&mut *lock(&self.idle));
        drop(idle);
    }

    /// Whether a kept connection goes back to the pool rather than being used.
    fn stale(&self, c: &Idle, now: Instant) -> bool {
        now.duration_since(c.used) > self.idle_for || now.duration_since(c.since) > self.keep_for
    }
}

/// Counts a statement waiting in the pool's queue while it exists (dropped with the
/// statement's future, too).
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether `e` says the connection is gone: its socket failed or closed, or the server
/// ended the session (SQLSTATE class 57P: shutdown, terminated backend, idle timeout).
fn connection_gone(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("57P")),
        _ => false,
    }
}

/// A connection of [`Kept`] in use. [`Held::done`] keeps it for the next statements;
/// dropped without it, it goes back to the pool, which tests it.
pub(super) struct Held<'a> {
    kept: &'a Kept,
    conn: PoolConnection<Postgres>,
    since: Instant,
    /// Whether it was kept (used before), not fresh from the pool.
    reused: bool,
    /// Given back after the connection (dropped last): the next statement finds it.
    turn: Option<SemaphorePermit<'a>>,
}

impl Held<'_> {
    /// When the connection was checked out of the pool.
    #[cfg(test)]
    pub(super) fn checked_out(&self) -> Instant {
        self.since
    }

    /// Its statements completed (their answers read to the end): kept for the next ones,
    /// unless enough are kept or it is due back in the pool.
    pub(super) fn done(self) {
        let Self {
            kept,
            conn,
            since,
            turn,
            ..
        } = self;
        let now = Instant::now();
        let back = Idle {
            conn,
            since,
            used: now,
        };
        if kept.stale(&back, now) {
            return;
        }
        let mut idle = lock(&kept.idle);
        // Asked under the lock: a pool closing now has its kept connections released
        // after this (under the lock too), or is seen closed here.
        let extra = if idle.len() < kept.keep
            && !kept.pool.is_closed()
            && kept.queued.load(Ordering::Acquire) == 0
        {
            idle.push(back);
            None
        } else {
            Some(back)
        };
        drop(idle);
        // Back to the pool, outside the lock; then the turn.
        drop(extra);
        drop(turn);
    }
}

impl std::ops::Deref for Held<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}
