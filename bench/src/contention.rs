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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
use ddb_contention::{Emulator, HoldFrom, Settings};
use http::StatusCode;
use serde_json::Value;

use crate::shop::{ready_actions_for, Cart, Shop};
use crate::stats::{summarize, Summary};
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

    async fn race(
        &self,
        name: &str,
        shards: Option<u32>,
        carts: Vec<Cart>,
        concurrency: usize,
        hold: Duration,
        purchase: Purchase,
    ) -> Result<Outcome> {
        // Held from acceptance: DynamoDB Local's queue is not DynamoDB's hold (see HoldFrom).
        let settings = Settings::default()
            .hold(hold)
            .hold_from(HoldFrom::Acceptance);
        let emulator = Emulator::start(&self.upstream, settings)
            .await
            .map_err(|e| format!("start the contention emulator: {e}"))?;
        let metrics = Arc::new(Counted::default());
        let timing = Arc::new(Timing::default());
        let shop = self.racing(&emulator, metrics.clone(), timing.clone());
        let buyers = carts.len();
        let queue = Arc::new(Mutex::new(carts));
        let contended = Arc::new(AtomicU64::new(0));
        let answers = Arc::new(Mutex::new(Vec::new()));
        emulator.reset_stats();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency.min(buyers) {
            let (shop, queue, contended, answers) = (
                shop.clone(),
                queue.clone(),
                contended.clone(),
                answers.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(cart) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let answer = match purchase {
                        Purchase::Order => buy(&shop, &cart, &contended, started).await,
                        Purchase::ReserveAndPay => {
                            reserve_and_pay(&shop, &cart, &contended, started).await
                        }
                    };
                    answers.lock().unwrap().push(answer);
                }
            }));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())?;
        }
        let seconds = started.elapsed().as_secs_f64();
        let stats = emulator.stats();
        emulator.shutdown().await;
        let answers = std::mem::take(&mut *answers.lock().unwrap());
        let mut outcome = Outcome {
            name: name.to_string(),
            shards,
            buyers,
            concurrency: concurrency.min(buyers),
            stock: 0,
            created: 0,
            out_of_stock: 0,
            failed: 0,
            first_failure: None,
            contended: contended.load(Ordering::Relaxed),
            seconds,
            selling_seconds: answers
                .iter()
                .filter(|a| a.status == StatusCode::CREATED)
                .map(|a| a.at.as_secs_f64())
                .fold(0.0, f64::max),
            orders_per_second: 0.0,
            transactions: stats.transactions,
            conflicts: stats.transactions_cancelled_conflict,
            other_conflicts: stats.write_conflicts + stats.transact_gets_cancelled_conflict,
            conflicts_per_order: 0.0,
            commit_retries: metrics.get(Metric::CommitRetries),
            latency: summarize(&answers.iter().map(|a| a.elapsed).collect::<Vec<_>>()),
            transaction_round_trip: summarize(&timing.0.lock().unwrap()),
            units_taken: 0,
            oversold: 0,
            unsold: 0,
            hottest: stats
                .hottest(1)
                .first()
                .map(|item| (item.item.clone(), item.conflicts + item.throttles)),
            reserved: purchase == Purchase::ReserveAndPay,
            payments_started: answers.iter().filter(|a| a.started).count() as u64,
            refunded: answers.iter().filter(|a| a.code == "Reversed").count() as u64,
        };
        for answer in &answers {
            match (answer.status, answer.code.as_str()) {
                (StatusCode::CREATED, _) => outcome.created += 1,
                (StatusCode::CONFLICT, "OutOfStock") => outcome.out_of_stock += 1,
                // Counted apart: a buyer charged and refused (must not happen).
                (StatusCode::OK, "Reversed") => outcome.failed += 1,
                (status, _) => {
                    outcome.failed += 1;
                    outcome
                        .first_failure
                        .get_or_insert_with(|| format!("{status} {}", answer.body));
                }
            }
        }
        outcome.orders_per_second = if outcome.selling_seconds > 0.0 {
            outcome.created as f64 / outcome.selling_seconds
        } else {
            0.0
        };
        outcome.conflicts_per_order = outcome.conflicts as f64 / (outcome.created.max(1)) as f64;
        Ok(outcome)
    }
}

/// A buyer's final answer.
struct Final {
    status: StatusCode,
    code: String,
    body: Value,
    /// The buyer's first request to this answer.
    elapsed: Duration,
    /// The race's start to this answer.
    at: Duration,
    /// A payment was started for it (the reserving drop).
    started: bool,
}

/// A buyer gives up after this many `Contended` answers (a bench that never ends proves
/// nothing; such a buyer counts as a failure).
const MAX_TRIES: u32 = 20;

/// `POST /orders` until the answer is not 503 `Contended`, waiting its `Retry-After` in
/// between, with one `Idempotency-Key`.
async fn buy(shop: &Shop, cart: &Cart, contended: &AtomicU64, race: Instant) -> Final {
    let key = uuid::Uuid::new_v4().to_string();
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = shop.order(cart, &key).await;
        let code = answer.body["code"].as_str().unwrap_or_default().to_string();
        if answer.status == StatusCode::SERVICE_UNAVAILABLE
            && code == "Contended"
            && tries < MAX_TRIES
        {
            contended.fetch_add(1, Ordering::Relaxed);
            let wait = answer.retry_after.unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        return Final {
            status: answer.status,
            code,
            body: answer.body,
            elapsed: started.elapsed(),
            at: race.elapsed(),
            started: false,
        };
    }
}

/// Sends `send` until its answer is not 503 (`Contended`, or a webhook's 503 that the
/// provider redelivers), waiting `Retry-After` in between.
async fn until_taken<F, Fut>(send: F, contended: &AtomicU64) -> crate::shop::Answer
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::shop::Answer>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let answer = send().await;
        if answer.status != StatusCode::SERVICE_UNAVAILABLE || tries >= MAX_TRIES {
            return answer;
        }
        contended.fetch_add(1, Ordering::Relaxed);
        let wait = answer.retry_after.unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

/// Starts the cart's payment (which reserves its unit, or is refused `OutOfStock`), then pays
/// it: the webhook's commit answers `ordered` (201 here) or `reversed` (code `Reversed`).
async fn reserve_and_pay(shop: &Shop, cart: &Cart, contended: &AtomicU64, race: Instant) -> Final {
    let started = Instant::now();
    let payment = until_taken(|| shop.start_payment(cart), contended).await;
    let code = payment.body["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let done = |status, code: String, body: Value, paid: bool| Final {
        status,
        code,
        body,
        elapsed: started.elapsed(),
        at: race.elapsed(),
        started: paid,
    };
    if payment.status != StatusCode::CREATED {
        return done(payment.status, code, payment.body, false);
    }
    let reference = payment.body["pspReference"].as_str().unwrap_or_default();
    let Some((body, signature)) = shop.success_event(reference) else {
        return done(
            StatusCode::INTERNAL_SERVER_ERROR,
            "NoIntent".into(),
            payment.body,
            true,
        );
    };
    let delivered = until_taken(|| shop.deliver(&body, &signature), contended).await;
    let effect = &delivered.body["effect"];
    if effect["ordered"].is_string() {
        done(StatusCode::CREATED, String::new(), delivered.body, true)
    } else if effect == "reversed" {
        done(StatusCode::OK, "Reversed".into(), delivered.body, true)
    } else {
        done(delivered.status, format!("{effect}"), delivered.body, true)
    }
}
