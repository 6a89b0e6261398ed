//! [`FaultyStore`]: a [`UserStore`] wrapper that injects faults, for testing how a server
//! (or any other caller of a store) behaves when its storage misbehaves.
//!
//! Every call is classified as an [`Op`]; before it reaches the wrapped store, the
//! wrapper decides a [`Fault`] for it:
//!
//! 1. the first *rule* (added with [`FaultyStore::always`], [`FaultyStore::times`] or
//!    [`FaultyStore::once`], checked in the order added) that names the operation and has
//!    calls left;
//! 2. else the *hook* ([`FaultyStore::set_hook`]), a function of the operation and the
//!    [`RequestContext`] (for per-tenant faults, or faults decided by test code);
//! 3. else [`Fault::None`]: the call passes through.
//!
//! ```
//! # async fn demo() {
//! use std::sync::Arc;
//! use scimkit::testing::faults::{Fault, FaultyStore, Op};
//! use scimkit::{MemoryUserStore, RequestContext, StoreError, UserStore};
//!
//! let store = FaultyStore::new(MemoryUserStore::new());
//! store.once(Op::Create, Fault::Fail);
//! let ctx = RequestContext::system("acme");
//! let user = scimkit::testing::new_user("bjensen");
//! assert!(matches!(store.create(&ctx, user.clone()).await, Err(StoreError::Backend(_))));
//! assert!(store.inner().is_empty("acme"), "a failure before the write writes nothing");
//! assert!(store.create(&ctx, user).await.is_ok(), "the rule applied once");
//! assert_eq!(store.calls(Op::Create), 2);
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo());
//! ```
//!
//! Delays ([`Fault::Delay`]) need no async runtime: the wait is a small timer future
//! woken by a helper thread, so the executor thread is never blocked and any runtime
//! (or none, with a plain `block_on`) can drive it.
// The parent module allows these for its asserting checks; this module is library code.
#![warn(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::events::EventOutbox;
use crate::list::{ListPage, ListQuery};
use crate::resource::User;
use crate::store::{RequestContext, StoreError, UserStore};

/// A [`UserStore`] operation, as classified by a [`FaultyStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`UserStore::create`].
    Create,
    /// [`UserStore::get`].
    Get,
    /// [`UserStore::replace`].
    Replace,
    /// [`UserStore::delete`].
    Delete,
    /// [`UserStore::list`].
    List,
}

impl Op {
    /// Every operation, in trait order.
    pub const ALL: [Op; 5] = [Op::Create, Op::Get, Op::Replace, Op::Delete, Op::List];

    /// The name of the trait method (`"create"`, `"get"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Get => "get",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::List => "list",
        }
    }

    /// Whether the operation changes the store.
    pub fn is_write(self) -> bool {
        matches!(self, Self::Create | Self::Replace | Self::Delete)
    }

    fn index(self) -> usize {
        match self {
            Self::Create => 0,
            Self::Get => 1,
            Self::Replace => 2,
            Self::Delete => 3,
            Self::List => 4,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a [`FaultyStore`] does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Pass the call through to the wrapped store unchanged.
    None,
    /// Fail with [`StoreError::Backend`] (an [`InjectedFault`]) before the call reaches the
    /// wrapped store: nothing is read or written.
    Fail,
    /// Fail with [`StoreError::VersionMismatch`] before the call reaches the wrapped
    /// store, as if another writer had won a compare-and-swap race.
    VersionMismatch,
    /// Make the call, then report [`StoreError::Backend`] (an [`InjectedFault`] with
    /// `after_call: true`) although it succeeded: for a write, the change *is* stored but
    /// the caller is told it failed (a lost acknowledgement, a commit whose reply timed
    /// out). When the wrapped call itself fails, its own error is returned.
    FailAfter,
    /// Wait this long (without blocking the executor thread), then pass the call through.
    Delay(Duration),
    /// Panic before the call reaches the wrapped store (nothing is written, no lock of
    /// the wrapped store is held).
    Panic,
}

/// The error inside the [`StoreError::Backend`] of an injected failure. Its `Display`
/// names the operation, so tests can look for it in logs (and make sure it never reaches
/// a client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "injected store fault: {op} {}",
    if *after_call { "failed after the call completed" } else { "failed before the call" }
)]
pub struct InjectedFault {
    /// The operation that failed.
    pub op: Op,
    /// Whether the wrapped store was called (and, for a write, changed) before the failure.
    pub after_call: bool,
}

/// Decides the fault of a call that no rule covers; see [`FaultyStore::set_hook`].
pub type Hook = Arc<dyn Fn(Op, &RequestContext) -> Fault + Send + Sync>;

#[derive(Debug, Clone, Copy)]
struct Rule {
    op: Op,
    fault: Fault,
    /// Calls left; `None` for every call.
    remaining: Option<usize>,
}

#[derive(Default)]
struct Plan {
    rules: Vec<Rule>,
    hook: Option<Hook>,
}

/// A [`UserStore`] that wraps another and injects [`Fault`]s per operation; see the
/// [module documentation](self) for how a call's fault is chosen.
///
/// Faults can be changed at any time through `&self`, so a test can hand an
/// `Arc<FaultyStore<_>>` to a server ([`crate::ScimServerBuilder::shared_store`]) and keep
/// steering it. With no rule and no hook it behaves exactly like the wrapped store (it
/// passes [`crate::testing::check_user_store`]).
pub struct FaultyStore<S> {
    inner: Arc<S>,
    plan: Mutex<Plan>,
    calls: [AtomicUsize; 5],
}

impl<S> fmt::Debug for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.plan();
        f.debug_struct("FaultyStore")
            .field("rules", &plan.rules)
            .field("hook", &plan.hook.is_some())
            .field("calls", &self.calls)
            .finish_non_exhaustive()
    }
}

impl<S: UserStore> FaultyStore<S> {
    /// Wraps `inner`; no faults until some are set.
    pub fn new(inner: S) -> Self {
        Self::shared(Arc::new(inner))
    }

    /// Wraps a store the caller keeps a handle on (to inspect it directly, e.g.
    /// [`crate::MemoryUserStore::snapshot`]).
    pub fn shared(inner: Arc<S>) -> Self {
        Self {
            inner,
            plan: Mutex::new(Plan::default()),
            calls: Default::default(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Applies `fault` to every call of `op` (until [`FaultyStore::clear`]).
    pub fn always(&self, op: Op, fault: Fault) {
        self.push(op, fault, None);
    }

    /// Applies `fault` to the next `n` calls of `op`.
    pub fn times(&self, op: Op, fault: Fault, n: usize) {
        if n > 0 {
            self.push(op, fault, Some(n));
        }
    }

    /// Applies `fault` to the next call of `op`.
    pub fn once(&self, op: Op, fault: Fault) {
        self.times(op, fault, 1);
    }

    /// Decides the fault of every call that no rule covers. The hook runs outside the
    /// wrapper's lock, so it may itself use the wrapper.
    pub fn set_hook(&self, hook: impl Fn(Op, &RequestContext) -> Fault + Send + Sync + 'static) {
        self.plan().hook = Some(Arc::new(hook));
    }

    /// Removes every rule and the hook: calls pass through again.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.rules.clear();
        plan.hook = None;
    }

    /// How many calls of `op` the wrapper received, faulted or not.
    pub fn calls(&self, op: Op) -> usize {
        self.calls[op.index()].load(Ordering::SeqCst)
    }

    fn push(&self, op: Op, fault: Fault, remaining: Option<usize>) {
        self.plan().rules.push(Rule {
            op,
            fault,
            remaining,
        });
    }
}

impl<S> FaultyStore<S> {
    fn plan(&self) -> MutexGuard<'_, Plan> {
        // Nothing is left half-changed under this lock, so a poisoned one is usable.
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the call and picks its fault.
    fn decide(&self, op: Op, ctx: &RequestContext) -> Fault {
        self.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        let hook = {
            let mut plan = self.plan();
            if let Some(i) = plan
                .rules
                .iter()
                .position(|r| r.op == op && r.remaining != Some(0))
            {
                let rule = &mut plan.rules[i];
                let fault = rule.fault;
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        plan.rules.remove(i);
                    }
                }
                return fault;
            }
            plan.hook.clone()
        };
        hook.map_or(Fault::None, |h| h(op, ctx))
    }

    /// Runs the part of `fault` that comes before the call. `Ok(true)` means: make the
    /// call, then fail.
    async fn before(&self, op: Op, ctx: &RequestContext) -> Result<bool, StoreError> {
        match self.decide(op, ctx) {
            Fault::None => Ok(false),
            Fault::Fail => Err(StoreError::backend(InjectedFault {
                op,
                after_call: false,
            })),
            Fault::VersionMismatch => Err(StoreError::VersionMismatch),
            Fault::FailAfter => Ok(true),
            Fault::Delay(d) => {
                Sleep::new(d).await;
                Ok(false)
            }
            Fault::Panic => injected_panic(op),
        }
    }
}

#[allow(
    clippy::panic,
    reason = "Fault::Panic exists to test how callers survive a panicking store"
)]
fn injected_panic(op: Op) -> ! {
    panic!("injected store panic: {op} (scimkit::testing::faults)")
}

/// Turns a successful result into the injected after-the-call failure when asked to.
fn after<T>(op: Op, fail: bool, result: Result<T, StoreError>) -> Result<T, StoreError> {
    match result {
        Ok(_) if fail => Err(StoreError::backend(InjectedFault {
            op,
            after_call: true,
        })),
        other => other,
    }
}

/// The `UserStore` impl of [`FaultyStore`]: each listed call runs [`FaultyStore::before`],
/// the inner store's call, then [`after`].
macro_rules! fault_injected {
    ($($op:ident: fn $method:ident($($arg:ident: $ty:ty),*) -> $ok:ty;)*) => {
        #[async_trait]
        impl<S: UserStore> UserStore for FaultyStore<S> {
            $(
                async fn $method(
                    &self,
                    ctx: &RequestContext,
                    $($arg: $ty),*
                ) -> Result<$ok, StoreError> {
                    let fail = self.before(Op::$op, ctx).await?;
                    after(Op::$op, fail, self.inner.$method(ctx, $($arg),*).await)
                }
            )*

            // Not fault-injected: passed through so the wrapper changes nothing but the
            // faults.
            fn supports_cursors(&self) -> bool {
                self.inner.supports_cursors()
            }
        }
    };
}

fault_injected! {
    Create: fn create(user: User) -> Arc<User>;
    Get: fn get(id: &str) -> Option<Arc<User>>;
    Replace: fn replace(user: User, expected_version: Option<&str>) -> Arc<User>;
    Delete: fn delete(id: &str, expected_version: Option<&str>) -> ();
    List: fn list(query: &ListQuery) -> ListPage<Arc<User>>;
}

#[async_trait]
impl<S: EventOutbox> EventOutbox for FaultyStore<S> {
    async fn pending_events(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::events::ProvisioningEvent>, StoreError> {
        self.inner.pending_events(limit).await
    }

    async fn acknowledge_events(&self, through: u64) -> Result<(), StoreError> {
        self.inner.acknowledge_events(through).await
    }
}

/// A runtime-neutral timer: completes once `deadline` has passed. The first poll that
/// finds it pending starts a helper thread that sleeps until the deadline and wakes the
/// latest waker; the executor thread never blocks.
#[derive(Debug)]
struct Sleep {
    deadline: Instant,
    timer: Option<Arc<Mutex<TimerState>>>,
}

#[derive(Debug, Default)]
struct TimerState {
    fired: bool,
    waker: Option<Waker>,
}

impl Sleep {
    fn new(d: Duration) -> Self {
        Self {
            // A duration too long to represent waits "forever" (about 34 years).
            deadline: {
                let now = Instant::now();
                now.checked_add(d)
                    .or_else(|| now.checked_add(Duration::from_secs(1 << 30)))
                    .unwrap_or(now)
            },
            timer: None,
        }
    }
}

fn lock(state: &Mutex<TimerState>) -> MutexGuard<'_, TimerState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if let Some(timer) = &self.timer {
            let mut state = lock(timer);
            if state.fired {
                return Poll::Ready(());
            }
            state.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let timer = Arc::new(Mutex::new(TimerState {
            fired: false,
            waker: Some(cx.waker().clone()),
        }));
        let shared = Arc::clone(&timer);
        let deadline = self.deadline;
        let spawned = std::thread::Builder::new()
            .name("scimkit-fault-timer".into())
            .spawn(move || {
                let now = Instant::now();
                if deadline > now {
                    std::thread::sleep(deadline - now);
                }
                let waker = {
                    let mut state = lock(&shared);
                    state.fired = true;
                    state.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
        match spawned {
            Ok(_) => self.timer = Some(timer),
            // No thread to be had: poll again until the deadline (busy, but correct).
            Err(_) => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use crate::MemoryUserStore;
    use crate::testing::new_user;

    fn ctx(tenant: &str) -> RequestContext {
        RequestContext::system(tenant)
    }

    #[tokio::test]
    async fn rules_apply_in_order_and_run_out() {
        let store = FaultyStore::new(MemoryUserStore::new());
        store.times(Op::Get, Fault::Fail, 2);
        store.always(Op::Get, Fault::VersionMismatch);
        let c = ctx("t");
        for _ in 0..2 {
            assert!(matches!(
                store.get(&c, "x").await,
                Err(StoreError::Backend(_))
            ));
        }
        assert!(matches!(
            store.get(&c, "x").await,
            Err(StoreError::VersionMismatch)
        ));
        store.clear();
        assert!(store.get(&c, "x").await.unwrap().is_none());
        assert_eq!(store.calls(Op::Get), 4);
        assert_eq!(store.calls(Op::Create), 0);
    }

    #[tokio::test]
    async fn fail_after_writes_then_reports_failure() {
        let store = FaultyStore::new(MemoryUserStore::new());
        store.once(Op::Create, Fault::FailAfter);
        let c = ctx("t");
        let err = store.create(&c, new_user("a")).await.unwrap_err();
        let StoreError::Backend(cause) = err else {
            panic!("expected a backend error, got {err:?}");
        };
        assert_eq!(
            cause.to_string(),
            "injected store fault: create failed after the call completed"
        );
        assert_eq!(store.inner().len("t"), 1, "the write happened");
        // A failing inner call reports its own error, not the injected one.
        store.once(Op::Create, Fault::FailAfter);
        assert!(matches!(
            store.create(&c, new_user("A")).await,
            Err(StoreError::Uniqueness { .. })
        ));
    }

    #[tokio::test]
    async fn the_hook_decides_what_no_rule_covers() {
        let store = FaultyStore::new(MemoryUserStore::new());
        store.set_hook(|op, ctx| {
            if op == Op::List && &*ctx.tenant == "globex" {
                Fault::Fail
            } else {
                Fault::None
            }
        });
        let q = ListQuery::all(10);
        assert!(store.list(&ctx("acme"), &q).await.is_ok());
        assert!(store.list(&ctx("globex"), &q).await.is_err());
        store.once(Op::List, Fault::None);
        assert!(store.list(&ctx("globex"), &q).await.is_ok(), "rules first");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn delays_do_not_block_the_executor() {
        let store = Arc::new(FaultyStore::new(MemoryUserStore::new()));
        store.always(Op::Get, Fault::Delay(Duration::from_millis(200)));
        let start = Instant::now();
        let c = ctx("t");
        let (a, b, d) = tokio::join!(store.get(&c, "x"), store.get(&c, "y"), store.get(&c, "z"));
        assert!(a.is_ok() && b.is_ok() && d.is_ok());
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(
            took < Duration::from_millis(400),
            "three delays on one thread overlap: {took:?}"
        );
    }

    #[test]
    fn sleep_works_without_a_runtime() {
        // A minimal block_on: park the thread until woken.
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut sleep = Sleep::new(Duration::from_millis(20));
        let start = Instant::now();
        while Pin::new(&mut sleep).poll(&mut cx).is_pending() {
            std::thread::park_timeout(Duration::from_secs(1));
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
