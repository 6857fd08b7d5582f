//! Contention (rule 12): orders raced through the contention emulator (`tools/ddb-contention`)
//! in front of the bench's DynamoDB Local, so DynamoDB's transaction-conflict rule applies.
//!
//! Each scenario sets its scene on DynamoDB Local directly (products, then paid guest carts,
//! each with an email of its own), then commits the carts with `POST /orders` through a
//! second shop over the same table whose store (the production adapter) talks to the
//! emulator, with the default retry budget (`Limits::default()`). The client is a buyer's: a
//! 503 `Contended` is sent again after its `Retry-After`, with the same `Idempotency-Key`, and
//! counted. Afterwards the stock is read with `GET /admin/products/{sku}`.
//!
//! * the store-wide mix: every order for a SKU of its own, from its own email, `concurrency`
//!   committers at once: nothing is shared, so nothing may conflict;
//! * a one-SKU drop: `buyers` carts of one unit of one SKU with less stock than buyers, its
//!   stock spread over 1, 8 or 64 shards, every buyer at once: every unit sold once, the
//!   others told `OutOfStock`;
//! * the same drop with `reserveOnPayment`: the buyers' carts are not paid yet; each starts
//!   its payment (the units are reserved then, or the buyer is told `OutOfStock` before any
//!   payment exists) and pays it, the webhook committing the order: how many started paying,
//!   got orders, and were refused after paying (refunded: must be 0).

mod race;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use checkout_adapters::DynamoStore;
use checkout_domain::model::limits::Limits;
use checkout_domain::ports::metrics::{Metric, Metrics};
use checkout_domain::usecases::Storefront;
use ddb_contention::Emulator;

use crate::shop::{ready_actions_for, Cart, Shop};
use crate::stats::Summary;
use crate::Result;

/// How big each scenario is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sizes {
    /// The store-wide mix: orders (one SKU each) and committers at once.
    pub store_orders: usize,
    pub store_concurrency: usize,
    /// The drop: buyers (all at once), units of stock, and the shard counts tried.
    pub drop_buyers: usize,
    pub drop_stock: u32,
    pub drop_shards: Vec<u32>,
    /// The emulator's hold: how long a transaction keeps its items from its acceptance.
    pub hold: Duration,
}

/// What one scenario did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub name: String,
    /// The drop's `stockShards` (none for the store-wide mix).
    pub shards: Option<u32>,
    pub buyers: usize,
    pub concurrency: usize,
    /// Units in stock before (all SKUs of the scenario).
    pub stock: u64,
    /// Answers: 201, 409 `OutOfStock`, anything else (after a buyer's retries).
    pub created: u64,
    pub out_of_stock: u64,
    pub failed: u64,
    pub first_failure: Option<String>,
    /// 503 `Contended` answers the buyers got and sent again.
    pub contended: u64,
    /// First request to last answer, and to the last order committed.
    pub seconds: f64,
    pub selling_seconds: f64,
    /// Orders committed a second while it sold: `created / selling_seconds`.
    pub orders_per_second: f64,
    /// The emulator's counters: `TransactWriteItems` requests, those it cancelled for a
    /// conflict, and plain-write or transactional-read conflicts.
    pub transactions: u64,
    pub conflicts: u64,
    pub other_conflicts: u64,
    /// `conflicts / created`.
    pub conflicts_per_order: f64,
    /// What the storefront counted: commit attempts retried after contention.
    pub commit_retries: u64,
    /// Per buyer: first request to final answer (retries after `Contended` included).
    pub latency: Summary,
    /// Committed `TransactWriteItems` through the emulator: request to answer (DynamoDB
    /// Local's time, its queue included, and the proxy's; not part of the hold).
    pub transaction_round_trip: Summary,
    /// Units the stock went down by (`GET /admin/products/{sku}` before minus after).
    pub units_taken: u64,
    /// Units sold beyond the stock, and units left while buyers were refused.
    pub oversold: u64,
    pub unsold: u64,
    /// The item refused most, and how often.
    pub hottest: Option<(String, u64)>,
    /// The reserving drop: buyers whose payment started, and those whose money went back.
    pub reserved: bool,
    pub payments_started: u64,
    pub refunded: u64,
}

/// What a buyer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purchase {
    /// `POST /orders` for a paid cart.
    Order,
    /// Start the payment (reserving), then pay it: the webhook commits.
    ReserveAndPay,
}

impl Outcome {
    /// Every unit sold exactly once: the stock went down by the orders, no order beyond the
    /// stock, no unit left while a buyer was refused, no answer but 201 and `OutOfStock`.
    pub fn sold_exactly_once(&self) -> bool {
        self.units_taken == self.created
            && self.oversold == 0
            && self.unsold == 0
            && self.failed == 0
            && self.refunded == 0
            && self.created + self.out_of_stock == self.buyers as u64
    }
}

/// Counts what the storefront reports for operators.
#[derive(Default)]
struct Counted(Mutex<BTreeMap<Metric, u64>>);

impl Counted {
    fn get(&self, metric: Metric) -> u64 {
        self.0.lock().unwrap().get(&metric).copied().unwrap_or(0)
    }
}

impl Metrics for Counted {
    fn count(&self, metric: Metric, n: u64) {
        *self.0.lock().unwrap().entry(metric).or_default() += n;
    }
}

/// Times committed `TransactWriteItems` requests (send to answer, per attempt).
#[derive(Debug, Default)]
struct Timing(Mutex<Vec<Duration>>);

#[derive(Debug, Clone)]
struct Sent(Instant);

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug, Clone)]
struct Timed(Arc<Timing>);

impl Intercept for Timed {
    fn name(&self) -> &'static str {
        "BenchTransactionTiming"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        if target.ends_with(".TransactWriteItems") {
            cfg.interceptor_state().store_put(Sent(Instant::now()));
        }
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        if let Some(Sent(at)) = cfg.load::<Sent>() {
            if context.response().status().is_success() {
                self.0 .0.lock().unwrap().push(at.elapsed());
            }
        }
        Ok(())
    }
}

/// The scene and the race: one table, one shop for the scene, a racing shop per scenario.
pub struct Contention {
    config: aws_config::SdkConfig,
    upstream: String,
    table: String,
    scene: Shop,
}

impl Contention {
    /// A new table on DynamoDB Local at `upstream`, with the demo catalog's configuration.
    pub async fn new(config: &aws_config::SdkConfig, upstream: &str, table: &str) -> Result<Self> {
        let store = crate::ddb::store(config, table, None);
        store.create_table().await.map_err(|e| e.to_string())?;
        let plain = Shop::new(Arc::new(store), true).await;
        let scene = Shop::over(plain.storefront.clone(), plain.psp.clone());
        Ok(Contention {
            config: config.clone(),
            upstream: upstream.to_string(),
            table: table.to_string(),
            scene,
        })
    }

    /// A shop over the same table whose store talks to `emulator`, with the default retry
    /// budget, counting the storefront's metrics into `metrics` and timing transactions.
    fn racing(&self, emulator: &Emulator, metrics: Arc<Counted>, timing: Arc<Timing>) -> Shop {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.config)
            .endpoint_url(emulator.endpoint())
            .interceptor(Timed(timing))
            .build();
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), &self.table);
        let storefront = Storefront::new(Arc::new(store))
            .with_psp(self.scene.psp.clone())
            .with_pause(Arc::new(checkout_adapters::bootstrap::TokioPause))
            .with_metrics(metrics)
            .with_limits(Limits::default());
        Shop::over(storefront, self.scene.psp.clone())
    }

    /// A paid guest cart of one `sku`, from an email of its own.
    async fn paid_cart(&self, sku: &str) -> Cart {
        let email = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
        self.scene
            .paid_cart_with(ready_actions_for(sku, 1, &email))
            .await
    }

    async fn stock(&self, sku: &str) -> Result<u64> {
        let product = self.scene.product(sku).await?;
        product["stock"]
            .as_u64()
            .ok_or_else(|| format!("{sku}: no stock in {product}"))
    }

    /// The store-wide mix: `orders` carts, each of a SKU of its own (5 in stock).
    pub async fn store_mix(
        &self,
        run: &str,
        orders: usize,
        concurrency: usize,
        hold: Duration,
    ) -> Result<Outcome> {
        let skus: Vec<String> = (0..orders).map(|i| format!("MIX-{run}-{i}")).collect();
        let mut carts = Vec::with_capacity(orders);
        for sku in &skus {
            self.scene.put_product(sku, 5, 1).await?;
            carts.push(self.paid_cart(sku).await);
        }
        let mut outcome = self
            .race(
                "store-wide mix (disjoint SKUs and emails)",
                None,
                carts,
                concurrency,
                hold,
                Purchase::Order,
            )
            .await?;
        outcome.stock = 5 * orders as u64;
        let mut after = 0;
        for sku in &skus {
            after += self.stock(sku).await?;
        }
        outcome.units_taken = outcome.stock.saturating_sub(after);
        outcome.oversold = 0;
        outcome.unsold = 0;
        Ok(outcome)
    }

    /// A one-SKU drop: `buyers` carts of one unit, `stock` units over `shards` items.
    pub async fn drop(
        &self,
        run: &str,
        buyers: usize,
        stock: u32,
        shards: u32,
        hold: Duration,
    ) -> Result<Outcome> {
        self.drop_as(run, buyers, stock, shards, hold, Purchase::Order)
            .await
    }

    /// The drop with `reserveOnPayment`: carts not yet paid, each buyer starting a payment
    /// (which reserves) and paying it.
    pub async fn reserved_drop(
        &self,
        run: &str,
        buyers: usize,
        stock: u32,
        shards: u32,
        hold: Duration,
    ) -> Result<Outcome> {
        self.drop_as(run, buyers, stock, shards, hold, Purchase::ReserveAndPay)
            .await
    }

    async fn drop_as(
        &self,
        run: &str,
        buyers: usize,
        stock: u32,
        shards: u32,
        hold: Duration,
        purchase: Purchase,
    ) -> Result<Outcome> {
        let reserve = purchase == Purchase::ReserveAndPay;
        let sku = format!("DROP-{run}-{shards}{}", if reserve { "-R" } else { "" });
        self.scene
            .put_product_reserving(&sku, stock, shards, reserve)
            .await?;
        let mut carts = Vec::with_capacity(buyers);
        for _ in 0..buyers {
            carts.push(match purchase {
                Purchase::Order => self.paid_cart(&sku).await,
                Purchase::ReserveAndPay => {
                    let email = format!("fan-{}@example.com", uuid::Uuid::new_v4().simple());
                    self.scene
                        .ready_cart_with(ready_actions_for(&sku, 1, &email))
                        .await
                }
            });
        }
        let before = self.stock(&sku).await?;
        if before != u64::from(stock) {
            return Err(format!(
                "{sku}: {before} in stock before the drop, not {stock}"
            ));
        }
        let name = format!(
            "one-SKU drop, {shards} shard{}{}",
            if shards == 1 { "" } else { "s" },
            if reserve { ", reserved on payment" } else { "" }
        );
        let mut outcome = self
            .race(&name, Some(shards), carts, buyers, hold, purchase)
            .await?;
        let after = self.stock(&sku).await?;
        outcome.stock = before;
        outcome.units_taken = before.saturating_sub(after);
        outcome.oversold = outcome.created.saturating_sub(before);
        // Demand beyond the stock: nothing may be left.
        outcome.unsold = if buyers as u64 >= before { after } else { 0 };
        Ok(outcome)
    }
}
