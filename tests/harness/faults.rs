//! A store that fails on purpose: [`FaultyStore`] wraps any [`Store`] and, when told to,
//! answers a call with a `StoreError` either *before* the inner call (nothing was written)
//! or, for a write, *after* the inner call succeeded (it was written, but the caller sees an
//! error: a crash or timeout between the write and its answer).
//!
//! Which call fails is chosen in one of two ways:
//! - per task, deterministically: [`FaultyStore::scoped`] runs a future in which the `nth`
//!   store call made by that task fails before it runs, or its `nth` write fails after
//!   writing (calls of other tasks are not counted), so a seeded test fixes "the 2nd write
//!   of this operation happens, and then its caller sees an error";
//! - globally: [`FaultyStore::fail_nth`] fails the `nth` call from now on, whoever makes it,
//!   and [`FaultyStore::fail_randomly`] fails calls with a probability, drawn from a seeded
//!   generator (which calls those are depends on how tasks interleave).
//!
//! Calls made outside a scope, with no global mode set, never fail;
//! [`FaultyStore::set_enabled`]`(false)` switches every fault off at once (a settle phase).
//! The wrapper can also yield to the scheduler before every call, so the in-process store
//! interleaves its callers the way a store across a network does.
//!
//! The delegation is mechanical: each port method (the `Store`'s narrow traits) is one line
//! that names the method and says whether it writes; a method added to a port is added the
//! same way to the port impls (the `ports` submodule).

mod ports;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use checkout_domain::model::catalog::Product;
use checkout_domain::model::error::StoreError;
use checkout_domain::model::values::Sku;
use checkout_domain::ports::Store;

/// Where an injected fault strikes, relative to the inner call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The call fails before reaching the store: nothing is written.
    Before,
    /// The write happens, then the caller gets an error. On a read this is the same as
    /// `Before` (a read that answered and then failed is just a failed read).
    After,
}

/// "The `nth` store call (1-based) fails before it runs", or, with `FaultPoint::After`,
/// "the `nth` write succeeds, then its caller gets an error" (writes counted alone, so the
/// fault lands on a write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultSpec {
    pub nth: u32,
    pub point: FaultPoint,
}

/// A fault that was injected: which method, where, and in which mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    pub method: &'static str,
    pub point: FaultPoint,
    /// The inner call had written when the error was returned.
    pub written: bool,
}

/// One task's fault: counts the calls the task makes, fires once.
struct Scope {
    spec: FaultSpec,
    calls: AtomicU64,
    writes: AtomicU64,
    fired: AtomicBool,
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Off,
    /// Fail the call numbered `at` (counting every call since it was set).
    Nth {
        at: u64,
        point: FaultPoint,
    },
    /// Fail each call with probability `per_mille`/1000; a write fails after writing with
    /// probability `after_per_mille`/1000 of those.
    Random {
        per_mille: u32,
        after_per_mille: u32,
    },
}

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    enabled: AtomicBool,
    yields: AtomicBool,
    global: Mutex<Global>,
    calls: AtomicU64,
    rng: Mutex<u64>,
    injected: Mutex<Vec<InjectedFault>>,
    /// A replica that lags: eventually consistent product reads answer these (as they were
    /// when frozen) until thawed.
    lagging: Mutex<Option<Vec<Product>>>,
}

/// Why a call should fail, decided before it runs.
enum Decision {
    Proceed,
    FailBefore,
    FailAfter,
}

impl FaultyStore {
    /// An app (catalog seeded) whose store is wrapped in a `FaultyStore`, and the wrapper.
    pub async fn app(backend: crate::Backend) -> (crate::App, Arc<FaultyStore>) {
        let mut faults = None;
        let app = crate::App::start_with_store(backend, |store| {
            let wrapped = Arc::new(FaultyStore::new(store));
            faults = Some(wrapped.clone());
            wrapped
        })
        .await;
        (app, faults.expect("the store was wrapped"))
    }

    /// A wrapper that fails nothing until told to.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        FaultyStore {
            inner,
            enabled: AtomicBool::new(true),
            yields: AtomicBool::new(false),
            global: Mutex::new(Global::Off),
            calls: AtomicU64::new(0),
            rng: Mutex::new(0x853c_49e6_748f_ea9b),
            injected: Mutex::new(Vec::new()),
            lagging: Mutex::new(None),
        }
    }

    /// From now on eventually consistent reads of `skus` answer them as they stand now (a
    /// replica that has not caught up), however they change, until [`FaultyStore::thaw`].
    pub async fn freeze_replicas(&self, skus: &[Sku]) {
        let products = self.inner.products(skus).await.expect("read the products");
        *self.lagging.lock().unwrap() = Some(products);
    }

    /// The replicas catch up.
    pub fn thaw(&self) {
        *self.lagging.lock().unwrap() = None;
    }

    /// Runs `work` with `spec` as this task's fault (`None`: no fault, but the calls are still
    /// made inside a scope). Returns what `work` returned.
    pub async fn scoped<F: Future>(spec: Option<FaultSpec>, work: F) -> F::Output {
        match spec {
            None => work.await,
            Some(spec) => {
                let scope = Arc::new(Scope {
                    spec,
                    calls: AtomicU64::new(0),
                    writes: AtomicU64::new(0),
                    fired: AtomicBool::new(false),
                });
                SCOPE.scope(scope, work).await
            }
        }
    }

    /// Fails the `nth` call (1-based) from now on, whoever makes it, once.
    pub fn fail_nth(&self, nth: u64, point: FaultPoint) {
        let now = self.calls.load(Ordering::SeqCst);
        *self.global.lock().unwrap() = Global::Nth {
            at: now + nth,
            point,
        };
    }

    /// Fails calls at random with probability `per_mille`/1000 (drawn from `seed`); of the
    /// failing writes, `after_per_mille`/1000 fail after writing.
    pub fn fail_randomly(&self, seed: u64, per_mille: u32, after_per_mille: u32) {
        *self.rng.lock().unwrap() = seed;
        *self.global.lock().unwrap() = Global::Random {
            per_mille,
            after_per_mille,
        };
    }

    /// Switches every fault on or off (scoped and global); off, the wrapper only delegates.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
    }

    /// Yield to the scheduler before every call (and after every write), so an in-process
    /// store interleaves concurrent callers as a remote one would.
    pub fn set_yields(&self, yields: bool) {
        self.yields.store(yields, Ordering::SeqCst);
    }

    /// Every fault injected so far.
    pub fn injected(&self) -> Vec<InjectedFault> {
        self.injected.lock().unwrap().clone()
    }

    fn next_random(&self) -> u64 {
        let mut state = self.rng.lock().unwrap();
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn decide(&self, write: bool) -> Decision {
        let number = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.enabled.load(Ordering::SeqCst) {
            return Decision::Proceed;
        }
        let point = |p: FaultPoint| match (p, write) {
            (FaultPoint::After, true) => Decision::FailAfter,
            _ => Decision::FailBefore,
        };
        let scoped = SCOPE
            .try_with(|scope| {
                let call = scope.calls.fetch_add(1, Ordering::SeqCst) + 1;
                let writes = if write {
                    scope.writes.fetch_add(1, Ordering::SeqCst) + 1
                } else {
                    scope.writes.load(Ordering::SeqCst)
                };
                let due = match scope.spec.point {
                    FaultPoint::Before => call == u64::from(scope.spec.nth),
                    FaultPoint::After => write && writes == u64::from(scope.spec.nth),
                };
                (due && !scope.fired.swap(true, Ordering::SeqCst)).then_some(scope.spec.point)
            })
            .ok()
            .flatten();
        if let Some(p) = scoped {
            return point(p);
        }
        let mut global = self.global.lock().unwrap();
        match *global {
            Global::Off => Decision::Proceed,
            Global::Nth { at, point: p } if at == number => {
                *global = Global::Off;
                point(p)
            }
            Global::Nth { .. } => Decision::Proceed,
            Global::Random {
                per_mille,
                after_per_mille,
            } => {
                drop(global);
                if self.next_random() % 1000 >= u64::from(per_mille) {
                    Decision::Proceed
                } else if write && self.next_random() % 1000 < u64::from(after_per_mille) {
                    Decision::FailAfter
                } else {
                    Decision::FailBefore
                }
            }
        }
    }

    fn fault(&self, method: &'static str, point: FaultPoint, written: bool) -> StoreError {
        self.injected.lock().unwrap().push(InjectedFault {
            method,
            point,
            written,
        });
        StoreError::new(format!(
            "injected fault {} {method}",
            if written { "after" } else { "before" }
        ))
    }

    async fn pause(&self) {
        if self.yields.load(Ordering::Relaxed) {
            tokio::task::yield_now().await;
        }
    }

    /// A call that only reads: it may fail before it runs.
    async fn read<T, E: From<StoreError>>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.pause().await;
        match self.decide(false) {
            Decision::Proceed => call.await,
            _ => Err(self.fault(method, FaultPoint::Before, false).into()),
        }
    }

    /// A call that writes: it may fail before it runs, or after it succeeded.
    async fn write<T, E: From<StoreError>>(
        &self,
        method: &'static str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.pause().await;
        let decision = self.decide(true);
        if matches!(decision, Decision::FailBefore) {
            return Err(self.fault(method, FaultPoint::Before, false).into());
        }
        let result = call.await;
        self.pause().await;
        match (decision, result) {
            (Decision::FailAfter, Ok(_)) => Err(self.fault(method, FaultPoint::After, true).into()),
            (_, result) => result,
        }
    }
}
