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
//! Calls made outside a scope, with no global mode set, never fail; [`FaultyStore::disable`]
//! switches every fault off at once (a settle phase). The wrapper can also yield to the
//! scheduler before every call, so the in-process store interleaves its callers the way a
//! store across a network does.
//!
//! The delegation is mechanical: each port method (the `Store`'s narrow traits) is one line
//! that names the method and says whether it writes; a method added to a port is added here
//! the same way.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::OffsetDateTime;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
use checkout_domain::model::commit_plan::{CommitPlan, Reservation};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::error::StoreError;
use checkout_domain::model::fulfillment::HistoryEntry;
use checkout_domain::model::gift_card::{GiftCard, GiftCardCode, GiftCardCredit};
use checkout_domain::model::idempotency::IdempotencyRecord;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::pricing_config::PricingConfig;
use checkout_domain::model::reservation::StoredHold;
use checkout_domain::model::values::{CartId, CustomerId, DiscountCode, Email, SessionHash, Sku};
use checkout_domain::ports::carts::{CartStore, CartWriteError};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::ports::gift_cards::GiftCardStore;
use checkout_domain::ports::idempotency::IdempotencyStore;
use checkout_domain::ports::orders::{
    CommitError, CommitRead, KeyRange, OrderFilter, OrderPage, OrderStore,
};
use checkout_domain::ports::payments::{PaymentStore, PaymentWriteError};
use checkout_domain::ports::reservations::{ReleaseError, ReservationStore, ReserveError};
use checkout_domain::ports::sweep::{SweepKind, SweepPage, SweepStore};
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

#[async_trait]
impl GiftCardStore for FaultyStore {
    async fn gift_card(&self, code: &GiftCardCode) -> Result<Option<GiftCard>, StoreError> {
        self.read("gift_card", self.inner.gift_card(code)).await
    }
    async fn write_gift_card(
        &self,
        card: &GiftCard,
        expected: Option<&GiftCard>,
    ) -> Result<bool, StoreError> {
        self.write(
            "write_gift_card",
            self.inner.write_gift_card(card, expected),
        )
        .await
    }
}

#[async_trait]
impl CatalogStore for FaultyStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        self.write("write_product", self.inner.write_product(terms, stock))
            .await
    }
    async fn write_sharded_product(
        &self,
        terms: &ProductTerms,
        write: &ShardedWrite,
    ) -> Result<Product, ProductWriteError> {
        self.write(
            "write_sharded_product",
            self.inner.write_sharded_product(terms, write),
        )
        .await
    }
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.read("products", self.inner.products(skus)).await
    }
    async fn products_recent(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let lagging = self.lagging.lock().unwrap().clone();
        match lagging {
            Some(frozen) => Ok(frozen
                .into_iter()
                .filter(|p| skus.contains(&p.sku))
                .collect()),
            None => {
                self.read("products_recent", self.inner.products_recent(skus))
                    .await
            }
        }
    }
    async fn restock(&self, sku: &Sku, units: u32) -> Result<(), StoreError> {
        self.write("restock", self.inner.restock(sku, units)).await
    }
    async fn mark_sold_out(&self, sku: &Sku, stock_revision: u64) -> Result<(), StoreError> {
        self.write(
            "mark_sold_out",
            self.inner.mark_sold_out(sku, stock_revision),
        )
        .await
    }
    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        self.write("put_discount", self.inner.put_discount(discount))
            .await
    }
    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        self.read("discounts", self.inner.discounts(codes)).await
    }
    async fn put_config(&self, config: &PricingConfig) -> Result<bool, StoreError> {
        self.write("put_config", self.inner.put_config(config))
            .await
    }
    async fn config(&self) -> Result<PricingConfig, StoreError> {
        self.read("config", self.inner.config()).await
    }
}

#[async_trait]
impl CartStore for FaultyStore {
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        self.write("insert_cart", self.inner.insert_cart(cart))
            .await
    }
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        self.read("cart", self.inner.cart(id)).await
    }
    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        self.write(
            "replace_cart",
            self.inner.replace_cart(cart, expected_version),
        )
        .await
    }
    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        self.read("cart_and_order", self.inner.cart_and_order(id))
            .await
    }
}

#[async_trait]
impl OrderStore for FaultyStore {
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        self.write("commit", self.inner.commit(plan)).await
    }
    async fn commit_read(&self, cart: &CartId, key: &str) -> Result<CommitRead, StoreError> {
        self.read("commit_read", self.inner.commit_read(cart, key))
            .await
    }
    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError> {
        self.read("order", self.inner.order(number)).await
    }
    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.read(
            "customer_orders",
            self.inner.customer_orders(customer, after, limit),
        )
        .await
    }
    async fn search_orders(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.read(
            "search_orders",
            self.inner.search_orders(filter, range, limit),
        )
        .await
    }
    async fn write_fulfillments(
        &self,
        order: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            "write_fulfillments",
            self.inner.write_fulfillments(order, expected_revision),
        )
        .await
    }
    async fn order_history(&self, cart: &CartId) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read("order_history", self.inner.order_history(cart))
            .await
    }
    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        self.write(
            "release_order",
            self.inner.release_order(cancelled, expected_revision),
        )
        .await
    }
    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        self.read("guest_orders", self.inner.guest_orders(email))
            .await
    }
    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError> {
        self.write(
            "claim_guest_orders",
            self.inner.claim_guest_orders(customer, email, orders),
        )
        .await
    }
    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.write(
            "redeem_claim_ticket",
            self.inner
                .redeem_claim_ticket(token_hash, email, customer, now),
        )
        .await
    }
}

#[async_trait]
impl PaymentStore for FaultyStore {
    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        self.write(
            "record_cart_payments",
            self.inner
                .record_cart_payments(cart, expected_payment_revision, interactions),
        )
        .await
    }
    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
        credits: &[GiftCardCredit],
        frees_slot: bool,
    ) -> Result<(), PaymentWriteError> {
        self.write(
            "record_order_payments",
            self.inner.record_order_payments(
                order,
                expected_revision,
                interactions,
                credits,
                frees_slot,
            ),
        )
        .await
    }
}

#[async_trait]
impl IdempotencyStore for FaultyStore {
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.write(
            "claim_idempotency",
            self.inner.claim_idempotency(record, now),
        )
        .await
    }
    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<bool, StoreError> {
        self.write(
            "complete_idempotency",
            self.inner.complete_idempotency(record),
        )
        .await
    }
    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        self.write(
            "release_idempotency",
            self.inner.release_idempotency(key, fingerprint),
        )
        .await
    }
}

#[async_trait]
impl SweepStore for FaultyStore {
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        self.read(
            "due_for_sweep",
            self.inner.due_for_sweep(kind, due_by, cursor, limit),
        )
        .await
    }
}

#[async_trait]
impl ReservationStore for FaultyStore {
    async fn reserve(
        &self,
        cart: &Cart,
        expected: u64,
        takes: &[Reservation],
        config_revision: u64,
    ) -> Result<(), ReserveError> {
        self.write(
            "reserve",
            self.inner.reserve(cart, expected, takes, config_revision),
        )
        .await
    }

    async fn release(
        &self,
        holds: &[StoredHold],
        cart: Option<(&Cart, u64)>,
    ) -> Result<(), ReleaseError> {
        self.write("release", self.inner.release(holds, cart)).await
    }

    async fn holds(&self, sku: &Sku) -> Result<Vec<StoredHold>, StoreError> {
        self.read("holds", self.inner.holds(sku)).await
    }
}
