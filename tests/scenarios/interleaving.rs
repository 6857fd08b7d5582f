//! Rule 11, proof by interleaving: a seeded randomized test that runs many concurrent
//! operations against the real router — cart edits, payment intents (full, partial, two
//! tabs), the PSP's success / failure / authorization / refund events delivered up to 3× and
//! reordered, storefront commits with and without `Idempotency-Key`, saved orders and their
//! payments, signed-in customers claiming guests' orders with the emailed link, expiry with a
//! moved clock, and store faults injected between writes — on both
//! stores, then checks the invariants of rule 11 and reports every violation. Rule 13's
//! abuse runs among them: guests try to save orders (holding stock unpaid), a few customers
//! own many carts and meet the cap on unpaid saved orders, card testing piles declines on one
//! payment beyond what it keeps in full, and in half the runs refunds stay pending at the
//! PSP while its reports race the system's own, and refunds fail later (even after they
//! succeeded). Payments go through both providers: two in five are Adyen Checkout sessions,
//! whose notifications (authorised, refused) race Stripe's events on the same carts, and
//! whose captures, cancels and refunds stay pending until Adyen reports on them (now and
//! then a failure, which the system asks for anew).
//!
//! Run it (DynamoDB Local must be up: `scripts/backends.sh start && source
//! .tools/run/backends.env`):
//!
//! ```sh
//! cargo nextest run -p checkout-tests -E 'test(/^interleaving::/)'
//! # reproduce a failure: the seed is printed with every report
//! INTERLEAVING_SEED=1234 cargo nextest run -p checkout-tests -E 'test(/^interleaving::/)'
//! # the longer run: 20 seeds in a row, 10,000 operations over 300 carts each
//! INTERLEAVING_RUNS=20 INTERLEAVING_OPS=10000 INTERLEAVING_CARTS=300 \
//!   cargo nextest run -p checkout-tests -E 'test(/^interleaving::/)' --no-capture
//! # through DynamoDB's transaction-conflict rule (400 operations in CI)
//! INTERLEAVING_RUNS=5 INTERLEAVING_CONTENDED_OPS=3000 \
//!   cargo nextest run -p checkout-tests -E 'test(/^interleaving::contended/)' --no-capture
//! ```
//!
//! Defaults: a fresh seed per run (from the clock), 2,000 operations, 100 carts, 1 run.
//! The seed fixes every operation, its parameters and its injected fault; how concurrent
//! tasks interleave is up to the scheduler, so a seed replays the same workload, not the
//! same schedule (run it a few times if a violation does not show at once).
//!
//! The invariants, and when they must hold:
//!
//! - (1) at most one order per cart, every order number unique, and every order number the
//!   API answered for a cart is that cart's one order — at every moment;
//! - (2) no recorded transaction lost: every PSP event the webhook answered with 2xx appears
//!   on its cart or that cart's order (its interaction id; a decline may be compacted into
//!   the payment's count; for `charge.refunded`, the refunded running total; for
//!   `charge.refund.updated`, the refund's id at that state or later) — at every moment after
//!   the 2xx, since Stripe does not redeliver an acknowledged event;
//! - (3) every `Paid` order's net capture (Σ secured over its payments that fit it: not
//!   on their way back) equals its total — at every moment (a payment write records the
//!   money and the state together);
//! - (4) stock conserved: per SKU, initial stock = stock now + Σ quantities of orders that
//!   are not `Cancelled` + units held by reservations (stock is unsigned and never written
//!   below zero) — at every moment (each commit, reservation and release is one transaction);
//! - (5) every payment that succeeded at the PSP (charged or authorized) is counted in a
//!   non-cancelled `Paid` order of its cart, or fully reversed at the PSP (refunded or, for
//!   an authorization, cancelled) — only after settling: until then a payment may be in
//!   flight, a commit may wait for the redirect, a sweeper may not have run yet;
//! - (6) holds have an owner and a limit: no guest order was saved unpaid, and no customer
//!   holds more unpaid saved orders than `MAX_OPEN_SAVED_ORDERS` — at every moment;
//! - (10) reservations (`DROP` reserves when a payment starts): every hold stored beside the
//!   stock is named by its cart's reservation and every reservation's holds are stored — at
//!   every moment; after settling (every hold ended) none is left. With (4) and (5): a unit
//!   is reserved, sold or on the shelf, never two of them, and a payment for a unit nobody
//!   held for it ends in an order only if the shelf had it at the commit, else it is given
//!   back.
//!
//! Checks (1)–(4), (6) and (10) run twice: when the concurrent phase has drained (before anything is
//! redelivered, so a lost acknowledged event is not masked), and after settling. Settling:
//! faults off; the PSP finishes every pending refund (and says so); every event the PSP
//! produced is delivered again until it is acknowledged
//! (Stripe's retries), plus the events the PSP sends for the refunds and cancellations the
//! system asked for; the clock moves past every hold and grace period and housekeeping
//! (expiry, the sweeper) runs; then (1)–(6) and (10) are checked.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use checkout_adapters::adyen;
use checkout_adapters::stripe::{self, Interpretation};
use checkout_domain::model::order::{Order, OrderState};
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::payment::{self, PaymentState};
use checkout_domain::model::payment_event::PaymentOutcome;
use checkout_domain::model::values::{CartId, Sku};
use checkout_tests::faults::{FaultPoint, FaultSpec, FaultyStore};
use checkout_tests::serde_json::{self, json, Value};
use checkout_tests::{address_de, on_both_stores, App, Backend, Client, TestResponse};
use http::StatusCode;

/// The SKUs carts buy: the catalog's, plus `LAST`, of which only a few units exist, and
/// `DROP`, a few units reserved when a payment starts (`reserveOnPayment`).
const SKUS: &[&str] = &["MUG", "BOOK", "PEN", "LAMP", "LAST", "DROP"];
/// Order numbers clients choose from this small pool collide across carts.
const SHARED_NUMBERS: u64 = 8;
/// The signed-in customer who owns cart `cart` (of three), or `None` for a guest's: two carts
/// in five are customers', each customer owning many, so their saved orders meet the cap.
fn owner_of(cart: usize) -> Option<usize> {
    (cart % 5 < 2).then_some(cart % 3)
}

/// Far enough past every saved-order hold and payment grace period.
const SETTLE_ADVANCE: time::Duration = time::Duration::hours(6);

// ---------------------------------------------------------------------------------------
// The seeded generator.

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    fn range(&mut self, low: u64, high_inclusive: u64) -> u64 {
        low + self.below(high_inclusive - low + 1)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

pub(crate) fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
    })
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    seed: u64,
    ops: usize,
    carts: usize,
    runs: u64,
}

/// The seed in `variable`, or a fresh one from the clock.
pub(crate) fn seed_from(variable: &str) -> u64 {
    env_u64(variable).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos).next() % 1_000_000_000
    })
}

fn settings() -> Settings {
    let seed = seed_from("INTERLEAVING_SEED");
    Settings {
        seed,
        ops: env_u64("INTERLEAVING_OPS").unwrap_or(2_000) as usize,
        carts: env_u64("INTERLEAVING_CARTS").unwrap_or(100).max(2) as usize,
        runs: env_u64("INTERLEAVING_RUNS").unwrap_or(1).max(1),
    }
}

// ---------------------------------------------------------------------------------------
// The operations, generated up front from the seed.

#[derive(Debug, Clone)]
enum Edit {
    Add { sku: usize, quantity: u64 },
    Change { pick: u64, quantity: u64 },
    Remove { pick: u64 },
    Email { which: u64 },
    Guest { which: u64 },
    Shipping,
    ShippingMethod { express: bool },
    Billing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PspKind {
    /// The customer pays: `payment_intent.succeeded`.
    Succeed,
    /// A declined attempt: `payment_intent.payment_failed`.
    Fail,
    /// Manual capture: `payment_intent.amount_capturable_updated`.
    Authorize,
    /// The merchant refunds the whole charge from the dashboard: `charge.refunded`.
    Refund,
}

#[derive(Debug, Clone)]
enum Key {
    None,
    Fresh,
    /// Reuse a key this cart used before, with the same body or a different one.
    Reuse {
        pick: u64,
        same: bool,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Edit {
        cart: usize,
        edit: Edit,
        /// Use the version this client last saw instead of reading the cart first.
        stale: bool,
    },
    Pay {
        cart: usize,
        /// Per mille of the total (a partial payment); `None`: what the cart owes.
        part: Option<u64>,
        /// 2: two tabs start a payment at once.
        tabs: u64,
        /// Through Adyen (a Checkout session) rather than the default, Stripe.
        adyen: bool,
    },
    Psp {
        cart: usize,
        pick: u64,
        kind: PspKind,
        copies: u64,
    },
    Redeliver {
        pick: u64,
        copies: u64,
    },
    Commit {
        cart: usize,
        key: Key,
        save: bool,
        stale: bool,
        number: Option<u64>,
        /// Retry once on 5xx or `RequestInProgress`, as a browser would.
        retry: bool,
    },
    PayOrder {
        cart: usize,
        part: Option<u64>,
        adyen: bool,
    },
    /// A signed-in customer claims the guest orders of the cart's email with a fresh link.
    Claim {
        cart: usize,
    },
    Expire {
        minutes: i64,
    },
    /// Card testing: a run of declined attempts at one of the cart's open intents, more than
    /// a payment keeps in full.
    Declines {
        cart: usize,
        pick: u64,
        count: u64,
    },
    /// The PSP settles one of the refunds it made: a pending one succeeds (or fails), or one
    /// that succeeded fails later; it tells the webhook.
    RefundOutcome {
        pick: u64,
        fail: bool,
    },
    /// Support cancels an order (of this cart, or the next one that has an order).
    MerchantCancel {
        cart: usize,
    },
    /// Support refunds part of an order (`per mille` of what it still holds), or all of it.
    MerchantRefund {
        cart: usize,
        part: Option<u64>,
    },
    /// The warehouse ships an order's unshipped lines.
    Ship {
        cart: usize,
    },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Edit { .. } => "edit",
            Op::Pay { .. } => "pay",
            Op::Psp { kind, .. } => match kind {
                PspKind::Succeed => "webhook:succeeded",
                PspKind::Fail => "webhook:failed",
                PspKind::Authorize => "webhook:authorized",
                PspKind::Refund => "webhook:refunded",
            },
            Op::Redeliver { .. } => "webhook:redeliver",
            Op::Commit { save: true, .. } => "save_order",
            Op::Commit { .. } => "commit",
            Op::PayOrder { .. } => "pay_order",
            Op::Claim { .. } => "claim",
            Op::Expire { .. } => "expire",
            Op::Declines { .. } => "webhook:declines",
            Op::RefundOutcome { .. } => "webhook:refund_updated",
            Op::MerchantCancel { .. } => "merchant:cancel",
            Op::MerchantRefund { .. } => "merchant:refund",
            Op::Ship { .. } => "merchant:ship",
        }
    }
}

#[derive(Debug, Clone)]
struct Planned {
    op: Op,
    fault: Option<FaultSpec>,
}

/// The whole workload of one seed: batches of concurrent operations.
fn plan(rng: &mut Rng, ops: usize, carts: usize) -> Vec<Vec<Planned>> {
    let mut batches = Vec::new();
    let mut made = 0;
    while made < ops {
        let size = (rng.range(4, 16) as usize).min(ops - made);
        // Most of a batch works on a few carts, so operations on one cart race each other.
        let focus: Vec<usize> = (0..rng.range(1, 3))
            .map(|_| rng.below(carts as u64) as usize)
            .collect();
        let mut batch = Vec::with_capacity(size);
        for _ in 0..size {
            let cart = if rng.chance(650) {
                focus[rng.below(focus.len() as u64) as usize]
            } else {
                rng.below(carts as u64) as usize
            };
            let roll = rng.below(125);
            let op = match roll {
                0..=21 => Op::Edit {
                    cart,
                    stale: rng.chance(150),
                    edit: match rng.below(10) {
                        0..=2 => Edit::Add {
                            sku: rng.below(SKUS.len() as u64) as usize,
                            quantity: rng.range(1, 2),
                        },
                        3 => Edit::Change {
                            pick: rng.next(),
                            quantity: rng.range(1, 3),
                        },
                        4 => Edit::Remove { pick: rng.next() },
                        5 => Edit::Email {
                            which: rng.below(2),
                        },
                        6 => Edit::Guest {
                            which: rng.below(2),
                        },
                        7 => Edit::Shipping,
                        8 => Edit::ShippingMethod {
                            express: rng.chance(500),
                        },
                        _ => Edit::Billing,
                    },
                },
                22..=35 => Op::Pay {
                    cart,
                    part: rng.chance(250).then(|| rng.range(200, 800)),
                    tabs: if rng.chance(150) { 2 } else { 1 },
                    adyen: rng.chance(400),
                },
                36..=59 => Op::Psp {
                    cart,
                    pick: rng.next(),
                    kind: match rng.below(20) {
                        0..=11 => PspKind::Succeed,
                        12..=15 => PspKind::Fail,
                        16..=18 => PspKind::Authorize,
                        _ => PspKind::Refund,
                    },
                    copies: rng.range(1, 3),
                },
                60..=68 => Op::Redeliver {
                    pick: rng.next(),
                    copies: rng.range(1, 3),
                },
                69..=89 => Op::Commit {
                    cart,
                    key: match rng.below(10) {
                        0..=3 => Key::None,
                        4..=7 => Key::Fresh,
                        _ => Key::Reuse {
                            pick: rng.next(),
                            same: rng.chance(750),
                        },
                    },
                    // Customers save orders often (and meet their cap); guests try now and
                    // then (and are refused).
                    save: rng.chance(if owner_of(cart).is_some() { 450 } else { 100 }),
                    stale: rng.chance(150),
                    number: rng.chance(150).then(|| rng.below(2 * SHARED_NUMBERS)),
                    retry: rng.chance(500),
                },
                92..=97 => Op::PayOrder {
                    cart,
                    part: rng.chance(300).then(|| rng.range(200, 800)),
                    adyen: rng.chance(400),
                },
                90..=91 => Op::Claim { cart },
                98..=99 => Op::Expire {
                    minutes: rng.range(1, 40) as i64,
                },
                100..=104 => Op::Declines {
                    cart,
                    pick: rng.next(),
                    count: rng.range(3, 9),
                },
                105..=109 => Op::RefundOutcome {
                    pick: rng.next(),
                    fail: rng.chance(400),
                },
                110..=114 => Op::MerchantCancel { cart },
                115..=119 => Op::MerchantRefund {
                    cart,
                    part: rng.chance(600).then(|| rng.range(100, 700)),
                },
                _ => Op::Ship { cart },
            };
            // Before: the nth store call of the operation fails unwritten; After: its nth
            // write happens and then fails (a crash or timeout between write and answer).
            let fault = rng.chance(150).then(|| {
                if rng.chance(500) {
                    FaultSpec {
                        nth: rng.range(1, 4) as u32,
                        point: FaultPoint::After,
                    }
                } else {
                    FaultSpec {
                        nth: rng.range(1, 8) as u32,
                        point: FaultPoint::Before,
                    }
                }
            });
            batch.push(Planned { op, fault });
        }
        made += batch.len();
        batches.push(batch);
    }
    batches
}

// ---------------------------------------------------------------------------------------
// What the test knows: the carts, what the PSP did, every event and its answers.

#[derive(Debug, Clone, PartialEq, Eq)]
enum PspSide {
    /// Created; maybe declined attempts so far.
    Open,
    /// Charged; `charge` is the charge's id.
    Captured { charge: String },
    /// Authorized (manual capture), not captured.
    Authorized,
}

#[derive(Debug, Clone)]
struct IntentModel {
    reference: String,
    amount: i64,
    side: PspSide,
    /// Ledger entries of this intent's events.
    events: Vec<usize>,
    /// Created for a saved order (`POST /orders/{n}/payments`) rather than for the cart.
    for_order: bool,
    /// An Adyen Checkout session (`reference` is its id) rather than a Stripe intent.
    adyen: bool,
}

#[derive(Default)]
struct SlotState {
    /// The version this client last saw.
    version: u64,
    intents: Vec<IntentModel>,
    /// Idempotency keys used for `POST /orders`, with their bodies.
    keys: Vec<(String, Value)>,
    /// Every order number the API answered for this cart (commits and the webhook).
    numbers: BTreeSet<String>,
}

struct Slot {
    id: String,
    client: Client,
    state: Mutex<SlotState>,
}

/// What an acknowledged event must have left on its cart or order.
#[derive(Debug, Clone)]
enum Expect {
    Interaction(String),
    /// A declined attempt: recorded, or compacted into the payment's count of older ones.
    Failure(String),
    /// `charge.refunded`: the payment's refunds (whatever became of them since) reach at
    /// least this running total.
    RefundedAtLeast(i64),
    /// `charge.refund.updated`: the refund with this provider id has reached this state (or
    /// a later one).
    RefundState(String, payment::TransactionState),
}

#[derive(Debug, Clone)]
struct Delivered {
    cart: usize,
    reference: String,
    kind: String,
    body: String,
    expect: Expect,
    /// Some delivery got a 2xx.
    acked: bool,
    answers: Vec<String>,
}

#[derive(Default)]
struct Ledger {
    events: Vec<Delivered>,
    /// "operation → answer" counts, for the summary.
    answers: BTreeMap<String, usize>,
    /// What the merchant refunded from the dashboard, per intent.
    dashboard_refunds: HashMap<String, i64>,
}

struct World {
    app: App,
    faults: Arc<FaultyStore>,
    seed: u64,
    slots: Vec<Slot>,
    ledger: Mutex<Ledger>,
    initial_stock: BTreeMap<String, u32>,
    key_counter: std::sync::atomic::AtomicU64,
    /// Adyen's modifications reported on so far, and whether each succeeded.
    adyen_reported: Mutex<HashMap<String, bool>>,
}

fn answer_label(response: &TestResponse) -> String {
    match response.body["code"].as_str() {
        Some(code) => format!("{} {code}", response.status.as_u16()),
        None => response.status.as_u16().to_string(),
    }
}

impl World {
    fn note(&self, operation: &str, label: &str) {
        *self
            .ledger
            .lock()
            .unwrap()
            .answers
            .entry(format!("{operation} → {label}"))
            .or_default() += 1;
    }

    fn record(&self, operation: &str, response: &TestResponse) {
        self.note(operation, &answer_label(response));
    }

    fn slot(&self, cart: usize) -> &Slot {
        &self.slots[cart]
    }

    fn remember_order(&self, cart: usize, response: &TestResponse) {
        if let Some(number) = response.body["orderNumber"].as_str() {
            self.slot(cart)
                .state
                .lock()
                .unwrap()
                .numbers
                .insert(number.to_string());
        }
    }

    async fn read_cart(&self, cart: usize) -> Option<Value> {
        let slot = self.slot(cart);
        let response = slot.client.get(&format!("/carts/{}", slot.id)).await;
        self.record("get_cart", &response);
        (response.status == StatusCode::OK).then_some(response.body)
    }

    // --- operations -----------------------------------------------------------------

    async fn run(&self, op: Op) {
        match op {
            Op::Edit { cart, edit, stale } => self.edit(cart, edit, stale).await,
            Op::Pay {
                cart,
                part,
                tabs,
                adyen,
            } => {
                let tabs: Vec<_> = (0..tabs).map(|_| self.pay(cart, part, adyen)).collect();
                join_all(tabs).await;
            }
            Op::Psp {
                cart,
                pick,
                kind,
                copies,
            } => self.psp_event(cart, pick, kind, copies).await,
            Op::Redeliver { pick, copies } => {
                let count = self.ledger.lock().unwrap().events.len();
                if count > 0 {
                    self.deliver_copies((pick % count as u64) as usize, copies)
                        .await;
                }
            }
            Op::Commit {
                cart,
                key,
                save,
                stale,
                number,
                retry,
            } => self.commit(cart, key, save, stale, number, retry).await,
            Op::PayOrder { cart, part, adyen } => self.pay_order(cart, part, adyen).await,
            Op::Claim { cart } => self.claim(cart).await,
            Op::Declines { cart, pick, count } => self.declines(cart, pick, count).await,
            Op::RefundOutcome { pick, fail } => self.refund_outcome(pick, fail).await,
            Op::MerchantCancel { cart } => self.merchant("cancel", cart, None).await,
            Op::MerchantRefund { cart, part } => self.merchant("refund", cart, part).await,
            Op::Ship { cart } => self.merchant("ship", cart, None).await,
            Op::Expire { minutes } => {
                self.app.advance(time::Duration::minutes(minutes));
                let label = match housekeeping(&self.app).await {
                    Ok(_) => "ok".to_string(),
                    Err(e) => format!("error {}", checkout_http::problem::problem(&e).code),
                };
                self.note("expire", &label);
            }
        }
    }

    async fn edit(&self, cart: usize, edit: Edit, stale: bool) {
        let slot = self.slot(cart);
        let Some(current) = self.read_cart(cart).await else {
            return;
        };
        let version = if stale {
            slot.state.lock().unwrap().version
        } else {
            current["version"].as_u64().unwrap_or_default()
        };
        let lines: Vec<String> = current["lineItems"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let email = |which: u64| format!("cart{cart}-{which}@example.com");
        let action = match edit {
            Edit::Add { sku, quantity } => {
                json!({"action": "addLineItem", "sku": SKUS[sku], "quantity": quantity})
            }
            Edit::Change { pick, quantity } if !lines.is_empty() => json!({
                "action": "changeLineItemQuantity",
                "lineItemId": lines[(pick % lines.len() as u64) as usize],
                "quantity": quantity,
            }),
            Edit::Remove { pick } if lines.len() > 1 => json!({
                "action": "removeLineItem",
                "lineItemId": lines[(pick % lines.len() as u64) as usize],
            }),
            Edit::Change { .. } | Edit::Remove { .. } => {
                json!({"action": "addLineItem", "sku": "PEN", "quantity": 1})
            }
            Edit::Email { which } => json!({"action": "setCustomerEmail", "email": email(which)}),
            Edit::Guest { which } => json!({
                "action": "setGuestDetails", "email": email(which),
                "name": "Ada Lovelace", "phone": "+49 30 1234567",
            }),
            Edit::Shipping => json!({"action": "setShippingAddress", "address": address_de()}),
            Edit::ShippingMethod { express } => json!({
                "action": "setShippingMethod",
                "shippingMethodId": if express { "express" } else { "standard" },
            }),
            Edit::Billing => json!({"action": "setBillingAddress", "address": address_de()}),
        };
        let response = slot
            .client
            .post(
                &format!("/carts/{}", slot.id),
                json!({"version": version, "actions": [action]}),
            )
            .await;
        self.record(
            &format!("edit:{}", action["action"].as_str().unwrap()),
            &response,
        );
        if response.status == StatusCode::OK {
            let mut state = slot.state.lock().unwrap();
            state.version = state
                .version
                .max(response.body["version"].as_u64().unwrap_or_default());
        }
    }

    async fn pay(&self, cart: usize, part: Option<u64>, adyen: bool) {
        let slot = self.slot(cart);
        let mut body = match part {
            None => json!({}),
            Some(per_mille) => {
                let Some(current) = self.read_cart(cart).await else {
                    return;
                };
                let total = current["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or_default();
                json!({"amount": (total * per_mille as i64 / 1000).max(1)})
            }
        };
        if adyen {
            body["psp"] = json!("adyen");
        }
        let response = slot
            .client
            .post(&format!("/carts/{}/payments", slot.id), body)
            .await;
        self.record("pay", &response);
        self.remember_intent(cart, &response, false);
    }

    async fn pay_order(&self, cart: usize, part: Option<u64>, adyen: bool) {
        let cart = self.ordered_cart(cart);
        let slot = self.slot(cart);
        let known = slot.state.lock().unwrap().numbers.iter().next().cloned();
        let number = match known {
            Some(number) => number,
            None => match self
                .read_cart(cart)
                .await
                .and_then(|c| c["orderNumber"].as_str().map(str::to_string))
            {
                Some(number) => number,
                None => return self.note("pay_order", "no order"),
            },
        };
        let mut body = match part {
            None => json!({}),
            Some(per_mille) => {
                let order = slot.client.get(&format!("/orders/{number}")).await;
                let total = order.body["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or(1000);
                json!({"amount": (total * per_mille as i64 / 1000).max(1)})
            }
        };
        if adyen {
            body["psp"] = json!("adyen");
        }
        let response = slot
            .client
            .post(&format!("/orders/{number}/payments"), body)
            .await;
        self.record("pay_order", &response);
        self.remember_intent(cart, &response, true);
    }

    /// Support at work on an order: `cancel` it, `refund` part of it (or all), or `ship` its
    /// unshipped lines; each with a fresh idempotency key, sometimes sent twice at once (a
    /// retry racing the first).
    async fn merchant(&self, what: &str, cart: usize, part: Option<u64>) {
        let cart = self.ordered_cart(cart);
        let Some(number) = self
            .slot(cart)
            .state
            .lock()
            .unwrap()
            .numbers
            .iter()
            .next()
            .cloned()
        else {
            return self.note(&format!("merchant:{what}"), "no order");
        };
        let support = self.app.with_scope("support", "orders:read orders:write");
        let key = format!(
            "m-{}-{}",
            self.seed,
            self.key_counter
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let (path, body) = match what {
            "cancel" => (
                format!("/admin/orders/{number}/cancel"),
                json!({"idempotencyKey": key, "reason": "support"}),
            ),
            "refund" => {
                let order = support.get(&format!("/admin/orders/{number}")).await;
                let held = order.body["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or(0)
                    - order.body["refundedAmount"]["centAmount"]
                        .as_i64()
                        .unwrap_or(0);
                let mut body = json!({"idempotencyKey": key, "reason": "goodwill"});
                if let Some(per_mille) = part {
                    body["amount"] = json!((held * per_mille as i64 / 1000).max(1));
                }
                (format!("/admin/orders/{number}/refunds"), body)
            }
            _ => (
                format!("/admin/orders/{number}/fulfillments"),
                json!({"idempotencyKey": key, "carrier": "DHL", "trackingNumber": "IL1"}),
            ),
        };
        let twice = part.is_some_and(|p| p % 2 == 0);
        let copies = if twice { 2 } else { 1 };
        let answers = join_all(
            (0..copies)
                .map(|_| support.post(&path, body.clone()))
                .collect(),
        )
        .await;
        for answer in &answers {
            self.record(&format!("merchant:{what}"), answer);
        }
    }

    /// A cart with an order: the planned one, or the next that the API answered one for.
    fn ordered_cart(&self, cart: usize) -> usize {
        (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .find(|&c| !self.slot(c).state.lock().unwrap().numbers.is_empty())
            .unwrap_or(cart)
    }

    /// The emailed link, as the email subscriber mints it, used by one of three customers
    /// (so one customer may claim several emails, and a claimed email stays claimed).
    async fn claim(&self, cart: usize) {
        // A guest's order: among the next carts the API answered an order for.
        let mut guest_order = None;
        let ordered = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .filter(|&c| !self.slot(c).state.lock().unwrap().numbers.is_empty())
            .take(10);
        for candidate in ordered {
            let id = CartId::parse(&self.slot(candidate).id).expect("a cart id");
            if let Ok((_, Some(order))) = self.app.store.cart_and_order(&id).await {
                if order.is_guest() {
                    guest_order = Some(order);
                    break;
                }
            }
        }
        let Some(order) = guest_order else {
            return self.note("claim", "no guest order");
        };
        let Some(email) = order.customer_email.clone() else {
            return self.note("claim", "no email");
        };
        let (token, ticket) =
            checkout_domain::model::claim::ClaimTicket::mint(&email, self.app.storefront.now());
        if self
            .app
            .claim_tickets()
            .save_claim_ticket(&ticket)
            .await
            .is_err()
        {
            return self.note("claim", "ticket not saved");
        }
        let response = self
            .app
            .customer(&format!("claimer-{}", cart % 3))
            .post(
                "/customers/claim",
                json!({"email": email.as_str(), "token": token.expose()}),
            )
            .await;
        self.record("claim", &response);
    }

    fn remember_intent(&self, cart: usize, response: &TestResponse, for_order: bool) {
        if response.status != StatusCode::CREATED {
            return;
        }
        let (Some(reference), Some(amount)) = (
            response.body["pspReference"].as_str(),
            response.body["amountPlanned"]["centAmount"].as_i64(),
        ) else {
            return;
        };
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .push(IntentModel {
                reference: reference.to_string(),
                amount,
                side: PspSide::Open,
                events: Vec::new(),
                for_order,
                adyen: response.body["psp"] == "adyen",
            });
    }

    /// The PSP does something to one of the cart's intents and tells the webhook, `copies`
    /// times at once; an outcome the PSP cannot produce any more (a new failure after a
    /// success, say) becomes a redelivery of an earlier event of that intent.
    async fn psp_event(&self, cart: usize, pick: u64, kind: PspKind, copies: u64) {
        // The PSP acts on payments that exist: the planned cart's, or the next cart's that has any.
        let Some(cart) = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .find(|&c| !self.slot(c).state.lock().unwrap().intents.is_empty())
        else {
            return self.note("psp", "no intent anywhere");
        };
        let entry = {
            let mut state = self.slot(cart).state.lock().unwrap();
            let index = (pick % state.intents.len() as u64) as usize;
            let intent = &mut state.intents[index];
            let new_body = match (&intent.side, kind) {
                // Adyen: the session's payment authorised (its default: captured by Adyen
                // itself), or refused; no dashboard refunds.
                (PspSide::Open, PspKind::Succeed | PspKind::Authorize) if intent.adyen => {
                    intent.side = PspSide::Authorized;
                    Some(self.app.adyen_notification(&intent.reference, true))
                }
                (PspSide::Open, PspKind::Fail) if intent.adyen => {
                    Some(self.app.adyen_notification(&intent.reference, false))
                }
                (_, _) if intent.adyen => None,
                (PspSide::Open, PspKind::Succeed) => {
                    let body = self.app.payment_event(&intent.reference, true);
                    let charge = serde_json::from_str::<Value>(&body).unwrap()["data"]["object"]
                        ["latest_charge"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    intent.side = PspSide::Captured { charge };
                    Some(body)
                }
                (PspSide::Open, PspKind::Fail) => {
                    Some(self.app.payment_event(&intent.reference, false))
                }
                (PspSide::Open, PspKind::Authorize) => {
                    intent.side = PspSide::Authorized;
                    Some(authorization(&self.app, &intent.reference))
                }
                // The merchant refunds it all in Stripe's dashboard, if nothing was refunded
                // yet (Stripe refuses more than the charge has left, whoever asks).
                (PspSide::Captured { charge }, PspKind::Refund) => {
                    let nothing_refunded = self.app.psp.reversed(&intent.reference).refunded == 0;
                    nothing_refunded
                        .then(|| {
                            self.app
                                .psp
                                .refund_from_dashboard(&intent.reference, intent.amount)
                        })
                        .flatten()
                        .map(|_| {
                            self.ledger
                                .lock()
                                .unwrap()
                                .dashboard_refunds
                                .insert(intent.reference.clone(), intent.amount);
                            self.app.refunded_event(
                                &intent.reference,
                                charge,
                                intent.amount,
                                &format!("evt_dashboard_{}", intent.reference),
                            )
                        })
                }
                _ => None,
            };
            match new_body {
                Some(body) => {
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    Some(entry)
                }
                None if intent.events.is_empty() => None,
                None => Some(intent.events[(pick as usize / 7) % intent.events.len()]),
            }
        };
        match entry {
            Some(entry) => self.deliver_copies(entry, copies).await,
            None => self.note("psp", "nothing to report"),
        }
    }

    /// Card testing: `count` declined attempts at one of the cart's intents still open at the
    /// PSP, each its own event, delivered one after another.
    async fn declines(&self, cart: usize, pick: u64, count: u64) {
        // An intent still open at the PSP: the planned cart's, or the next cart's that has one.
        let open_in = |c: usize| -> Vec<usize> {
            let state = self.slot(c).state.lock().unwrap();
            (0..state.intents.len())
                .filter(|&i| state.intents[i].side == PspSide::Open)
                .collect()
        };
        let Some((cart, open)) = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .map(|c| (c, open_in(c)))
            .find(|(_, open)| !open.is_empty())
        else {
            return self.note("declines", "no open intent");
        };
        let entries: Vec<usize> = {
            let mut state = self.slot(cart).state.lock().unwrap();
            let index = open[(pick % open.len() as u64) as usize];
            let intent = &mut state.intents[index];
            (0..count)
                .map(|_| {
                    let body = if intent.adyen {
                        self.app.adyen_notification(&intent.reference, false)
                    } else {
                        self.app.payment_event(&intent.reference, false)
                    };
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    entry
                })
                .collect()
        };
        for entry in entries {
            self.deliver(entry, 3).await;
        }
    }

    /// The PSP settles one of its refunds (a pending one succeeds, or fails when `fail`; one
    /// that succeeded fails later when `fail`) and sends `charge.refund.updated`.
    async fn refund_outcome(&self, pick: u64, fail: bool) {
        if pick % 2 == 1 && self.adyen_outcome(pick / 2, fail).await {
            return;
        }
        let mut candidates = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            for intent in &slot.state.lock().unwrap().intents {
                for id in self.app.psp.refund_ids(&intent.reference) {
                    candidates.push((cart, intent.reference.clone(), id));
                }
            }
        }
        if candidates.is_empty() {
            return self.note("refund outcome", "no refund");
        }
        let (cart, reference, id) = candidates[(pick % candidates.len() as u64) as usize].clone();
        // A bank refuses a refund now and then, not every attempt: at most two per payment
        // fail, so the system's retries (five) always end in the money given back.
        let failed_before = self
            .app
            .psp
            .refund_ids(&reference)
            .iter()
            .filter(|id| self.app.psp.refund_state(id) == Some(payment::TransactionState::Failure))
            .count();
        let fail = fail && failed_before < 2;
        let next = match (self.app.psp.refund_state(&id), fail) {
            (Some(payment::TransactionState::Pending), false) => payment::TransactionState::Success,
            (
                Some(payment::TransactionState::Pending | payment::TransactionState::Success),
                true,
            ) => payment::TransactionState::Failure,
            _ => return self.note("refund outcome", "already settled"),
        };
        let Some(body) = self.app.psp.settle_refund(&id, next) else {
            return self.note("refund outcome", "unknown refund");
        };
        let entry = self.add_event(cart, &reference, body);
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .iter_mut()
            .filter(|i| i.reference == reference)
            .for_each(|i| i.events.push(entry));
        self.deliver(entry, 3).await;
    }

    /// The Adyen modifications (captures, cancels, refunds) the system asked for that Adyen
    /// has not reported on (`reported`) yet: cart, session, modification.
    fn unreported_modifications(
        &self,
        reported: &HashMap<String, bool>,
    ) -> Vec<(usize, String, String)> {
        let mut found = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            let intents = slot.state.lock().unwrap().intents.clone();
            for intent in intents.iter().filter(|i| i.adyen) {
                let Some(payment) = self.app.adyen.payment_of(&intent.reference) else {
                    continue;
                };
                for modification in self.app.adyen.modifications_of(&payment) {
                    if !reported.contains_key(&modification) {
                        found.push((cart, intent.reference.clone(), modification));
                    }
                }
            }
        }
        found
    }

    /// Adyen reports the outcome of one modification it received (a failure at most twice per
    /// payment, so the system's retries end in the money given back). Returns whether there
    /// was one to report.
    async fn adyen_outcome(&self, pick: u64, fail: bool) -> bool {
        // Adyen reports each modification's outcome once: which one, and how it ended, is
        // decided under the lock, so two concurrent reports never tell one both ways.
        let decided = {
            let mut reported = self.adyen_reported.lock().unwrap();
            let candidates = self.unreported_modifications(&reported);
            if candidates.is_empty() {
                None
            } else {
                let (cart, session, modification) =
                    candidates[(pick % candidates.len() as u64) as usize].clone();
                let payment = self.app.adyen.payment_of(&session).unwrap_or_default();
                let failed_before = self
                    .app
                    .adyen
                    .modifications_of(&payment)
                    .iter()
                    .filter(|m| reported.get(*m) == Some(&false))
                    .count();
                let succeeded = !(fail && failed_before < 2);
                reported.insert(modification.clone(), succeeded);
                Some((cart, session, modification, succeeded))
            }
        };
        let Some((cart, session, modification, succeeded)) = decided else {
            return false;
        };
        self.report_modification(cart, &session, &modification, succeeded)
            .await;
        true
    }

    /// Adyen's notification of `modification`'s outcome (already in `adyen_reported`),
    /// delivered.
    async fn report_modification(
        &self,
        cart: usize,
        session: &str,
        modification: &str,
        succeeded: bool,
    ) -> usize {
        let body = self.app.adyen_notification(modification, succeeded);
        let entry = self.add_event(cart, session, body);
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .iter_mut()
            .filter(|i| i.reference == session)
            .for_each(|i| i.events.push(entry));
        self.deliver(entry, 3).await;
        entry
    }

    /// What Adyen gave back of the session's payment: minor units refunded, and whether a
    /// reversal (cancel or refund of it all) succeeded.
    fn adyen_given_back(&self, session: &str) -> (i64, bool) {
        let Some(payment) = self.app.adyen.payment_of(session) else {
            return (0, false);
        };
        let reported = self.adyen_reported.lock().unwrap();
        let mut refunded = 0;
        let mut reversed = false;
        for modification in self.app.adyen.modifications_of(&payment) {
            if reported.get(&modification) != Some(&true) {
                continue;
            }
            match self.app.adyen.modification(&modification) {
                Some(("refunds", _, amount)) => refunded += amount.cent_amount,
                Some(("reversals", _, _)) => reversed = true,
                _ => {}
            }
        }
        (refunded, reversed)
    }

    /// Adds an event to the ledger (what its acknowledgment must leave behind included).
    fn add_event(&self, cart: usize, reference: &str, body: String) -> usize {
        if let Ok(notification) = adyen::notification::Notification::parse(body.as_bytes()) {
            return self.add_adyen_event(cart, reference, body, &notification);
        }
        let event: stripe::Event = serde_json::from_str(&body).expect("a Stripe event");
        let cart_id = CartId::parse(&self.slot(cart).id).unwrap();
        let expect = match stripe::interpret_for(&event, Some(cart_id)) {
            Ok(Interpretation::Payment(payment)) => match payment.outcome {
                PaymentOutcome::Refunded { total_refunded, .. } => {
                    Expect::RefundedAtLeast(total_refunded.cent_amount)
                }
                PaymentOutcome::RefundUpdated(refund) => {
                    Expect::RefundState(refund.id, refund.state)
                }
                PaymentOutcome::Failed { .. } => Expect::Failure(payment.interaction_id),
                _ => Expect::Interaction(payment.interaction_id),
            },
            other => panic!("the test builds only payment events, got {other:?}"),
        };
        let mut ledger = self.ledger.lock().unwrap();
        ledger.events.push(Delivered {
            cart,
            reference: reference.to_string(),
            kind: event.kind.clone(),
            body,
            expect,
            acked: false,
            answers: Vec::new(),
        });
        ledger.events.len() - 1
    }

    /// Adds an Adyen notification (one item) to the ledger.
    fn add_adyen_event(
        &self,
        cart: usize,
        reference: &str,
        body: String,
        notification: &adyen::notification::Notification,
    ) -> usize {
        let item = notification.items().next().expect("one item");
        let expect = match item.meaning() {
            Ok(adyen::notification::Meaning::Payment(payment)) => match payment.outcome {
                PaymentOutcome::RefundUpdated(refund) => {
                    Expect::RefundState(refund.id, refund.state)
                }
                PaymentOutcome::Canceled {
                    reversal: Some(id), ..
                } => Expect::RefundState(id, payment::TransactionState::Success),
                PaymentOutcome::Failed { .. } => Expect::Failure(payment.interaction_id),
                _ => Expect::Interaction(payment.interaction_id),
            },
            other => panic!("the test builds only payment notifications, got {other:?}"),
        };
        let mut ledger = self.ledger.lock().unwrap();
        ledger.events.push(Delivered {
            cart,
            reference: reference.to_string(),
            kind: format!("adyen:{}", item.event_code),
            body,
            expect,
            acked: false,
            answers: Vec::new(),
        });
        ledger.events.len() - 1
    }

    async fn deliver_copies(&self, entry: usize, copies: u64) {
        let deliveries: Vec<_> = (0..copies).map(|_| self.deliver(entry, 3)).collect();
        join_all(deliveries).await;
    }

    /// Delivers a ledger event as Stripe does: again while the answer is not 2xx, up to
    /// `attempts` times.
    async fn deliver(&self, entry: usize, attempts: usize) -> bool {
        let (body, kind) = {
            let ledger = self.ledger.lock().unwrap();
            let event = &ledger.events[entry];
            (event.body.clone(), event.kind.clone())
        };
        let adyen = kind.starts_with("adyen:");
        for _ in 0..attempts {
            let response = if adyen {
                self.app.deliver_adyen(&body).await
            } else {
                self.app.deliver(&body).await
            };
            let mut label = answer_label(&response);
            if adyen && response.status.is_success() {
                label = "200 [accepted]".to_string();
            } else if response.status.is_success() {
                label = match (&response.body["effect"], &response.body["ignored"]) {
                    (Value::Null, Value::Null) if response.body["duplicate"] == true => {
                        "200 duplicate(in flight or seen)".to_string()
                    }
                    (Value::String(effect), _) => format!("200 {effect}"),
                    (Value::Object(effect), _) => format!(
                        "200 {}",
                        effect.keys().next().map(String::as_str).unwrap_or("?")
                    ),
                    (_, Value::String(why)) => format!("200 ignored: {why}"),
                    _ => "200".to_string(),
                };
            }
            self.note(&format!("webhook {kind}"), &label);
            let cart = {
                let mut ledger = self.ledger.lock().unwrap();
                let event = &mut ledger.events[entry];
                event.answers.push(label);
                event.acked |= response.status.is_success();
                event.cart
            };
            if response.status.is_success() {
                if let Some(number) = response.body["effect"]["ordered"].as_str() {
                    self.slot(cart)
                        .state
                        .lock()
                        .unwrap()
                        .numbers
                        .insert(number.to_string());
                }
                return true;
            }
            tokio::task::yield_now().await;
        }
        false
    }

    async fn commit(
        &self,
        cart: usize,
        key: Key,
        save: bool,
        stale: bool,
        number: Option<u64>,
        retry: bool,
    ) {
        let slot = self.slot(cart);
        let version = if stale {
            slot.state.lock().unwrap().version
        } else {
            match self.read_cart(cart).await {
                Some(current) => current["version"].as_u64().unwrap_or_default(),
                None => return,
            }
        };
        let mut body = json!({"cartId": slot.id, "cartVersion": version});
        if save {
            body["action"] = json!("save_order");
        }
        if let Some(n) = number {
            body["orderNumber"] = json!(if n < SHARED_NUMBERS {
                format!("IL{}-{n}", self.seed)
            } else {
                format!("IL{}-c{cart}-{n}", self.seed)
            });
        }
        let key = match key {
            Key::None => None,
            Key::Fresh => {
                let n = self
                    .key_counter
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let key = format!("il-{}-{cart}-{n}", self.seed);
                slot.state
                    .lock()
                    .unwrap()
                    .keys
                    .push((key.clone(), body.clone()));
                Some(key)
            }
            Key::Reuse { pick, same } => {
                let state = slot.state.lock().unwrap();
                if state.keys.is_empty() {
                    None
                } else {
                    let (key, first) = &state.keys[(pick % state.keys.len() as u64) as usize];
                    body = first.clone();
                    if !same {
                        body["cartVersion"] = json!(version + 1);
                    }
                    Some(key.clone())
                }
            }
        };
        let operation = if save { "save_order" } else { "commit" };
        let operation = format!("{operation}{}", if key.is_some() { "+key" } else { "" });
        for attempt in 0..(if retry { 2 } else { 1 }) {
            let response = match &key {
                Some(key) => {
                    slot.client
                        .post_with_key("/orders", key, body.clone())
                        .await
                }
                None => slot.client.post("/orders", body.clone()).await,
            };
            self.record(
                &format!("{operation}{}", if attempt > 0 { " (retry)" } else { "" }),
                &response,
            );
            if response.status.is_success() {
                self.remember_order(cart, &response);
            }
            let again = response.status.is_server_error()
                || response.body["code"].as_str() == Some("RequestInProgress");
            if !again {
                break;
            }
            tokio::task::yield_now().await;
        }
    }

    // --- settling -------------------------------------------------------------------

    /// Adyen reports the success of every modification it has not reported on yet; returns
    /// how many reports were never acknowledged.
    async fn report_adyen_modifications(&self) -> usize {
        let mut unacked = 0;
        let unreported = {
            let mut reported = self.adyen_reported.lock().unwrap();
            let unreported = self.unreported_modifications(&reported);
            for (_, _, modification) in &unreported {
                reported.insert(modification.clone(), true);
            }
            unreported
        };
        for (cart, session, modification) in unreported {
            let entry = self
                .report_modification(cart, &session, &modification, true)
                .await;
            if !self.ledger.lock().unwrap().events[entry].acked {
                unacked += usize::from(!self.deliver(entry, 5).await);
            }
        }
        unacked
    }

    async fn settle(&self, rng: &mut Rng) -> usize {
        self.faults.set_enabled(false);
        // The PSP finishes every refund still pending (and makes new ones at once), and says
        // so; a refund that failed is for the sweeper to ask anew.
        self.app.psp.answer_refunds_pending(false);
        let pending: Vec<(usize, String)> = self
            .slots
            .iter()
            .enumerate()
            .flat_map(|(cart, slot)| {
                let intents = slot.state.lock().unwrap().intents.clone();
                intents
                    .into_iter()
                    .map(move |intent| (cart, intent.reference))
            })
            .collect();
        for (cart, reference) in pending {
            for id in self.app.psp.refund_ids(&reference) {
                if self.app.psp.refund_state(&id) != Some(payment::TransactionState::Pending) {
                    continue;
                }
                if let Some(body) = self
                    .app
                    .psp
                    .settle_refund(&id, payment::TransactionState::Success)
                {
                    let entry = self.add_event(cart, &reference, body);
                    self.slot(cart)
                        .state
                        .lock()
                        .unwrap()
                        .intents
                        .iter_mut()
                        .filter(|i| i.reference == reference)
                        .for_each(|i| i.events.push(entry));
                }
            }
        }
        // Stripe retries every event until it is acknowledged; here every event the PSP
        // produced is delivered once more (retried while the answer is not 2xx).
        let mut order: Vec<usize> = (0..self.ledger.lock().unwrap().events.len()).collect();
        rng.shuffle(&mut order);
        let mut unacked = 0;
        for chunk in order.chunks(16) {
            let deliveries: Vec<_> = chunk.iter().map(|&e| self.deliver(e, 5)).collect();
            unacked += join_all(deliveries).await.iter().filter(|ok| !**ok).count();
        }
        // The PSP's own events for the reversals the system asked for.
        let mut echoes = Vec::new();
        for (cart, slot) in self.slots.iter().enumerate() {
            let mut state = slot.state.lock().unwrap();
            for intent in state.intents.iter_mut() {
                // What Stripe refunded, the dashboard's refunds included.
                let reversed = self.app.psp.reversed(&intent.reference);
                let body = match &intent.side {
                    PspSide::Captured { charge } if reversed.refunded > 0 => {
                        Some(self.app.refunded_event(
                            &intent.reference,
                            charge,
                            reversed.refunded,
                            &format!("evt_refund_echo_{}", intent.reference),
                        ))
                    }
                    PspSide::Authorized | PspSide::Open if reversed.cancelled => {
                        Some(self.app.canceled_event(&intent.reference))
                    }
                    _ => None,
                };
                if let Some(body) = body {
                    let entry = self.add_event(cart, &intent.reference, body);
                    intent.events.push(entry);
                    echoes.push(entry);
                }
            }
        }
        for chunk in echoes.chunks(16) {
            let deliveries: Vec<_> = chunk.iter().map(|&e| self.deliver(e, 5)).collect();
            unacked += join_all(deliveries).await.iter().filter(|ok| !**ok).count();
        }
        // Adyen reports every modification it received: each succeeds now.
        unacked += self.report_adyen_modifications().await;
        // Past every hold and grace period; housekeeping runs (twice: a second pass finds
        // what the first left, if anything).
        self.app.advance(SETTLE_ADVANCE);
        for _ in 0..2 {
            if let Err(e) = housekeeping(&self.app).await {
                self.note(
                    "settle housekeeping",
                    checkout_http::problem::problem(&e).code,
                );
            }
        }
        // And the ones housekeeping asked for (a reversal asked anew after one failed).
        unacked += self.report_adyen_modifications().await;
        unacked
    }
}

/// The scheduled housekeeping, as the deployment runs it: the sweeper (expiry of unpaid
/// saved orders, reversal of paid carts never ordered after the grace period, reversals a
/// crash left half done).
async fn housekeeping(
    app: &App,
) -> Result<checkout_domain::usecases::sweeper::SweepReport, checkout_domain::Error> {
    app.storefront
        .sweep(
            checkout_domain::usecases::sweeper::DEFAULT_PAYMENT_GRACE,
            checkout_domain::usecases::sweeper::SweepBudget::time(std::time::Duration::from_secs(
                60,
            )),
        )
        .await
}

/// The authorization event of the simulator's intent `reference` (manual capture).
fn authorization(app: &App, reference: &str) -> String {
    let mut event: Value = serde_json::from_str(&app.payment_event(reference, true)).unwrap();
    event["type"] = json!("payment_intent.amount_capturable_updated");
    event["data"]["object"]["amount_capturable"] = event["data"]["object"]["amount"].clone();
    event["data"]["object"]["amount_received"] = json!(0);
    event["data"]["object"]["status"] = json!("requires_capture");
    event.to_string()
}

async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    // Polled together in this task (so a fault scope covers all of them).
    let mut set = Vec::with_capacity(futures.len());
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut results: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, future) in set.iter_mut().enumerate() {
            if results[i].is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

// ---------------------------------------------------------------------------------------
// The invariants.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// The concurrent phase has drained; nothing redelivered, no housekeeping yet.
    Drained,
    Settled,
}

struct Violation {
    invariant: u8,
    phase: Phase,
    cart: Option<String>,
    what: String,
    /// Settling did not mend it (for violations found when drained).
    persists: bool,
}

impl Violation {
    /// The same finding in both checks has the same key (answers may have grown meanwhile).
    fn key(&self) -> String {
        let what = self.what.split(" was answered").next().unwrap_or_default();
        format!("{}|{:?}|{what}", self.invariant, self.cart)
    }
}

fn describe_payments(payments: &[checkout_domain::model::payment::Payment]) -> String {
    payments
        .iter()
        .map(|p| {
            let txs: Vec<String> = p
                .transactions
                .iter()
                .map(|t| {
                    format!(
                        "{:?}/{:?}/{} {}→{}",
                        t.kind,
                        t.state,
                        t.amount.cent_amount,
                        t.interaction_id,
                        t.provider_id.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            format!(
                "{}{}(planned {}: [{}])",
                p.psp_reference,
                p.provider_payment
                    .as_deref()
                    .map_or(String::new(), |r| format!("→{r}")),
                p.amount_planned.cent_amount,
                txs.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl World {
    async fn check(&self, phase: Phase) -> Vec<Violation> {
        let mut violations = Vec::new();
        let mut flag = |invariant: u8, cart: Option<&str>, what: String| {
            violations.push(Violation {
                invariant,
                phase,
                cart: cart.map(str::to_string),
                what,
                persists: false,
            })
        };
        let store = self.app.store.clone();
        let mut orders: Vec<Option<Order>> = Vec::new();
        let mut numbers: HashMap<String, String> = HashMap::new();
        let mut carts = Vec::new();
        for slot in &self.slots {
            let id = CartId::parse(&slot.id).unwrap();
            let (cart, order) = store
                .cart_and_order(&id)
                .await
                .expect("read with faults off");
            let cart = cart.expect("every cart of the test exists");

            // (1) at most one order per cart; numbers unique; answers agree with the store.
            let answered = slot.state.lock().unwrap().numbers.clone();
            match &order {
                Some(order) => {
                    let number = order.order_number.to_string();
                    if cart.order_number.as_deref() != Some(number.as_str()) {
                        flag(
                            1,
                            Some(&slot.id),
                            format!(
                                "order {number} exists but the cart (state {:?}) names {:?}",
                                cart.state, cart.order_number
                            ),
                        );
                    }
                    if let Some(other) = numbers.insert(number.clone(), slot.id.clone()) {
                        flag(
                            1,
                            Some(&slot.id),
                            format!("order number {number} is also cart {other}'s"),
                        );
                    }
                    for extra in answered.iter().filter(|n| **n != number) {
                        flag(1, Some(&slot.id), format!(
                            "the API answered order {extra} for this cart, but its order is {number}"
                        ));
                    }
                }
                None => {
                    if cart.order_number.is_some() {
                        flag(
                            1,
                            Some(&slot.id),
                            format!(
                                "the cart names order {:?} (state {:?}) but no order is stored",
                                cart.order_number, cart.state
                            ),
                        );
                    }
                    for extra in &answered {
                        flag(
                            1,
                            Some(&slot.id),
                            format!(
                                "the API answered order {extra} for this cart, but it has no order"
                            ),
                        );
                    }
                }
            }
            for number in &answered {
                let stored = store
                    .order(&OrderNumber::parse(number).unwrap())
                    .await
                    .expect("read with faults off");
                match stored {
                    Some(o) if o.cart_id.to_string() == slot.id => {}
                    Some(o) => flag(
                        1,
                        Some(&slot.id),
                        format!(
                            "order number {number} answered for this cart belongs to cart {}",
                            o.cart_id
                        ),
                    ),
                    None => flag(
                        1,
                        Some(&slot.id),
                        format!("order number {number} answered for this cart is not stored"),
                    ),
                }
            }

            // (3) a Paid order's net capture equals its total (money on its way back, or
            // owed back after a refund that failed, is not the order's).
            if let Some(order) = &order {
                if order.payment_state == PaymentState::Paid {
                    let secured = payment::fitting(&order.payments, order.totals.total);
                    if secured != order.totals.total {
                        flag(
                            3,
                            Some(&slot.id),
                            format!(
                            "order {} is Paid (state {:?}) with {} secured for a total of {}: {}",
                            order.order_number,
                            order.state,
                            secured.cent_amount,
                            order.totals.total.cent_amount,
                            describe_payments(&order.payments)
                        ),
                        );
                    }
                }
            }
            carts.push(cart);
            orders.push(order);
        }

        // (6) holds have an owner and a limit: no guest holds a saved order, and no customer
        // holds more unpaid saved orders than the limit.
        let mut open_saved: HashMap<String, usize> = HashMap::new();
        for order in orders.iter().flatten() {
            if order.action == checkout_domain::model::order::CommitAction::SaveOrder
                && order.is_guest()
                && order.programmatic.is_none()
            {
                flag(
                    6,
                    Some(order.cart_id.as_str()),
                    format!("guest order {} was saved unpaid", order.order_number),
                );
            }
            if let Some(customer) = order.slot_owner().filter(|_| order.awaiting_payment()) {
                *open_saved.entry(customer.to_string()).or_default() += 1;
            }
        }
        let limit = checkout_domain::model::limits::DEFAULT_MAX_OPEN_SAVED_ORDERS as usize;
        for (customer, open) in open_saved.into_iter().filter(|(_, n)| *n > limit) {
            flag(
                6,
                None,
                format!("customer {customer} holds {open} unpaid saved orders (limit {limit})"),
            );
        }

        // (1) again, on DynamoDB: every order item in the table is one of these.
        if let Some(dynamo) = &self.app.dynamo {
            let mut start = None;
            let mut items = 0usize;
            loop {
                let page = dynamo
                    .client()
                    .scan()
                    .table_name(dynamo.table())
                    .filter_expression("sk = :order")
                    .expression_attribute_values(
                        ":order",
                        aws_sdk_dynamodb::types::AttributeValue::S("ORDER".into()),
                    )
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .expect("scan the table");
                items += page.items().len();
                start = page.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
            let known = orders.iter().filter(|o| o.is_some()).count();
            if items != known {
                flag(
                    1,
                    None,
                    format!("the table holds {items} order items, the carts know {known} orders"),
                );
            }
        }

        // (2) every acknowledged event is recorded on its cart or order.
        let events: Vec<Delivered> = self.ledger.lock().unwrap().events.clone();
        for event in events.iter().filter(|e| e.acked) {
            let cart = &carts[event.cart];
            // Adyen names a session's money by its own payment reference: a notification
            // delivered while the session's payment was still being recorded is recorded on
            // a payment of that name (and given back if it does not fit).
            let adyen_payment = self.app.adyen.payment_of(&event.reference);
            let payments: Vec<_> = cart
                .payments
                .iter()
                .chain(orders[event.cart].iter().flat_map(|o| o.payments.iter()))
                .filter(|p| {
                    p.psp_reference == event.reference
                        || adyen_payment
                            .as_deref()
                            .is_some_and(|a| p.is_reported_as("adyen", a))
                })
                .collect();
            let has = |p: &&payment::Payment, id: &str| {
                p.transactions.iter().any(|t| t.interaction_id == id)
            };
            let rank = |s: payment::TransactionState| match s {
                payment::TransactionState::Pending => 0,
                payment::TransactionState::Success => 1,
                payment::TransactionState::Failure => 2,
            };
            let recorded = match &event.expect {
                Expect::Interaction(id) => payments.iter().any(|p| has(p, id)),
                Expect::Failure(id) => payments
                    .iter()
                    .any(|p| has(p, id) || p.failures_compacted > 0),
                Expect::RefundedAtLeast(total) => payments.iter().any(|p| {
                    let reported: i64 = p
                        .transactions
                        .iter()
                        .filter(|t| t.kind == payment::TransactionKind::Refund)
                        .map(|t| t.amount.cent_amount)
                        .sum();
                    reported >= *total
                }),
                Expect::RefundState(id, state) => payments.iter().any(|p| {
                    p.transactions.iter().any(|t| {
                        t.provider_id.as_deref() == Some(id.as_str())
                            && rank(t.state) >= rank(*state)
                    })
                }),
            };
            if !recorded {
                let history = match &orders[event.cart] {
                    Some(order) => store
                        .order_history(&order.cart_id)
                        .await
                        .unwrap_or_default()
                        .iter()
                        .map(|h| format!("r{} {}: {}", h.revision, h.action, h.detail))
                        .collect::<Vec<_>>()
                        .join("; "),
                    None => String::new(),
                };
                flag(2, Some(cart.id.as_str()), format!(
                    "{} for {} ({:?}) was answered {:?}, but neither the cart (state {:?}) nor its order ({}) records it; payments: {}; order history: [{history}]",
                    event.kind,
                    event.reference,
                    event.expect,
                    event.answers,
                    cart.state,
                    orders[event.cart]
                        .as_ref()
                        .map_or("none".to_string(), |o| format!("{} {:?}/{:?} at revision {}", o.order_number, o.state, o.payment_state, o.revision)),
                    describe_payments(
                        &cart
                            .payments
                            .iter()
                            .chain(orders[event.cart].iter().flat_map(|o| o.payments.iter()))
                            .cloned()
                            .collect::<Vec<_>>()
                    ),
                ));
            }
        }

        // (10) reservations: every hold stored beside the stock is its cart's reservation's,
        // and every reservation's holds are stored; after settling, none is left.
        let skus: Vec<Sku> = SKUS.iter().map(|s| Sku::parse(s).unwrap()).collect();
        let mut held: HashMap<Sku, u64> = HashMap::new();
        for sku in &skus {
            for hold in store.holds(sku).await.expect("read with faults off") {
                *held.entry(sku.clone()).or_default() += u64::from(hold.hold.units);
                let named = carts
                    .iter()
                    .find(|c: &&checkout_domain::model::cart::Cart| c.id == hold.cart_id)
                    .and_then(|c| c.reservation.as_ref())
                    .is_some_and(|r| r.payment_id == hold.payment_id && r.held(sku).is_some());
                if !named {
                    flag(
                        10,
                        Some(hold.cart_id.as_str()),
                        format!(
                            "a hold of {} {sku} its cart's reservation does not name",
                            hold.hold.units
                        ),
                    );
                }
                if phase == Phase::Settled {
                    flag(
                        10,
                        Some(hold.cart_id.as_str()),
                        format!(
                            "a hold of {} {sku} left after every hold ended",
                            hold.hold.units
                        ),
                    );
                }
            }
        }
        for cart in &carts {
            let Some(reservation) = &cart.reservation else {
                continue;
            };
            for hold in &reservation.holds {
                let stored = store
                    .holds(&hold.sku)
                    .await
                    .expect("read with faults off")
                    .into_iter()
                    .any(|h| h.cart_id == cart.id && h.payment_id == reservation.payment_id);
                if !stored {
                    flag(
                        10,
                        Some(cart.id.as_str()),
                        format!("its reservation's hold of {} is not stored", hold.sku),
                    );
                }
            }
        }

        // (4) stock conserved: on the shelf, sold, or held by a reservation.
        let products = store.products(&skus).await.expect("read with faults off");
        for product in products {
            let sku = product.sku.to_string();
            let reserved = held.get(&product.sku).copied().unwrap_or(0);
            // What live orders hold: their lines less the units refunds put back on sale.
            let ordered: u64 = orders
                .iter()
                .flatten()
                .filter(|o| o.state != OrderState::Cancelled)
                .flat_map(|o| o.units_held())
                .filter(|(sku, _)| *sku == product.sku)
                .map(|(_, units)| u64::from(units))
                .sum();
            let initial = u64::from(self.initial_stock[&sku]);
            if initial != u64::from(product.stock) + ordered + reserved {
                flag(
                    4,
                    None,
                    format!(
                        "{sku}: initial stock {initial} ≠ stock now {} + {ordered} in live orders + {reserved} reserved",
                        product.stock
                    ),
                );
            }
        }

        // (7) refunds never exceed what was captured; (9) a shipped order is never
        // cancelled; (8) after settling, a cancelled order holds no money.
        for order in orders.iter().flatten() {
            for p in &order.payments {
                let refunded: i64 = p
                    .transactions
                    .iter()
                    .filter(|t| {
                        t.kind == payment::TransactionKind::Refund
                            && t.state != payment::TransactionState::Failure
                    })
                    .map(|t| t.amount.cent_amount)
                    .sum();
                if refunded > p.captured() {
                    flag(
                        7,
                        Some(order.cart_id.as_str()),
                        format!(
                            "order {} payment {} refunds {refunded} of {} captured: {}",
                            order.order_number,
                            p.psp_reference,
                            p.captured(),
                            describe_payments(std::slice::from_ref(p))
                        ),
                    );
                }
            }
            if order.refunded_amount().cent_amount > order.totals.total.cent_amount {
                flag(
                    7,
                    Some(order.cart_id.as_str()),
                    format!(
                        "order {} refunded {} of a {} total",
                        order.order_number,
                        order.refunded_amount(),
                        order.totals.total
                    ),
                );
            }
            if order.state == OrderState::Cancelled && !order.fulfillments.is_empty() {
                flag(
                    9,
                    Some(order.cart_id.as_str()),
                    format!("order {} shipped and was cancelled", order.order_number),
                );
            }
            if phase == Phase::Settled
                && order.state == OrderState::Cancelled
                && payment::secured(&order.payments, order.currency).cent_amount > 0
            {
                flag(
                    8,
                    Some(order.cart_id.as_str()),
                    format!(
                        "cancelled order {} still holds money: {}",
                        order.order_number,
                        describe_payments(&order.payments)
                    ),
                );
            }
        }

        // (5) every successful payment is in a Paid order or reversed (after settling).
        if phase == Phase::Settled {
            let dashboard = self.ledger.lock().unwrap().dashboard_refunds.clone();
            for (index, slot) in self.slots.iter().enumerate() {
                let intents = slot.state.lock().unwrap().intents.clone();
                for intent in intents {
                    let reversed = if intent.adyen {
                        let (refunded, cancelled) = self.adyen_given_back(&intent.reference);
                        checkout_adapters::psp_simulator::Reversed {
                            refunded,
                            cancelled,
                        }
                    } else {
                        self.app.psp.reversed(&intent.reference)
                    };
                    // The dashboard's refunds included (Stripe made them).
                    let refunded = reversed.refunded;
                    let given_back = match intent.side {
                        PspSide::Open => continue,
                        PspSide::Captured { .. } => refunded >= intent.amount,
                        PspSide::Authorized => reversed.cancelled || refunded >= intent.amount,
                    };
                    if given_back {
                        continue;
                    }
                    let order = orders[index].as_ref();
                    // In an order that is paid; or was paid in full until the merchant gave
                    // part of it back from the dashboard (then it shows a balance, not `Paid`).
                    let kept = order.is_some_and(|o| {
                        let merchant_refunded: i64 = o
                            .payments
                            .iter()
                            .filter_map(|p| dashboard.get(&p.psp_reference))
                            .sum();
                        let paid_before_the_merchant_refunded = merchant_refunded > 0
                            && checkout_domain::model::payment::secured(&o.payments, o.currency)
                                .cent_amount
                                + merchant_refunded
                                >= o.totals.total.cent_amount;
                        // Support's refunds keep the rest of the payment in the order.
                        let support_refunded = !o.refunds.is_empty()
                            && matches!(
                                o.payment_state,
                                PaymentState::PartiallyRefunded | PaymentState::Refunded
                            );
                        o.state != OrderState::Cancelled
                            && (o.payment_state == PaymentState::Paid
                                || paid_before_the_merchant_refunded
                                || support_refunded)
                            && o.payments
                                .iter()
                                .any(|p| p.psp_reference == intent.reference && p.secured() > 0)
                    });
                    if !kept {
                        let cart = &carts[index];
                        let lines: Vec<String> = cart
                            .line_items
                            .iter()
                            .map(|l| format!("{}×{}", l.sku, l.quantity.get()))
                            .collect();
                        let missing: Vec<&str> = [
                            (cart.billing_address.is_none(), "billingAddress"),
                            (cart.shipping_method.is_none(), "shippingMethod"),
                            (cart.shipping_address.is_none(), "shippingAddress"),
                        ]
                        .into_iter()
                        .filter_map(|(gone, name)| gone.then_some(name))
                        .collect();
                        flag(5, Some(&slot.id), format!(
                            "{} {} of {} (for {}) is neither in a Paid order nor reversed \
                             (refunded {refunded}, cancelled {}); cart {:?} total {} lines {lines:?} missing {missing:?}, order {}; cart payments: {}; order payments: {}",
                            match intent.side {
                                PspSide::Authorized => "authorization",
                                _ => "charge",
                            },
                            intent.reference,
                            intent.amount,
                            if intent.for_order { "a saved order" } else { "the cart" },
                            reversed.cancelled,
                            cart.state,
                            cart.totals.total.cent_amount,
                            order.map_or("none".to_string(), |o| format!(
                                "{} {:?}/{:?} total {}",
                                o.order_number, o.state, o.payment_state, o.totals.total.cent_amount
                            )),
                            describe_payments(&cart.payments),
                            order.map_or(String::new(), |o| describe_payments(&o.payments)),
                        ));
                    }
                }
            }
        }
        violations
    }
}

// ---------------------------------------------------------------------------------------
// One run.

async fn setup(backend: Backend, seed: u64, carts: usize, rng: &mut Rng) -> World {
    let (app, faults) = FaultyStore::app(backend).await;
    faults.set_enabled(false);
    // In half the runs refunds stay pending at the PSP until it settles them (or fails them),
    // so reports of them race the system's own.
    if rng.chance(500) {
        app.psp.answer_refunds_pending(true);
    }
    // A product of which only a few units exist, so carts race for the last ones.
    app.admin()
        .put(
            "/admin/products/LAST",
            json!({"name": "Last units", "prices": {"EUR": 2000}, "stock": 3, "taxCategory": "standard"}),
        )
        .await
        .assert_status(StatusCode::OK);
    // A drop: its units are reserved when a payment starts, over two shards.
    app.admin()
        .put(
            "/admin/products/DROP",
            json!({"name": "Drop", "prices": {"EUR": 3000}, "stock": 4, "taxCategory": "standard",
                "stockShards": 2, "reserveOnPayment": true, "maxPerOrder": 3}),
        )
        .await
        .assert_status(StatusCode::OK);
    let mut initial_stock = BTreeMap::new();
    for sku in SKUS {
        initial_stock.insert(sku.to_string(), app.stock(sku).await);
    }

    // The carts: guests and signed-in customers, most ready to order, some missing a billing
    // address or shipping method (so a payment alone cannot commit them).
    let mut plans = Vec::new();
    for i in 0..carts {
        let customer = owner_of(i).map(|c| format!("il{seed}-customer-{c}"));
        let mut actions = vec![
            json!({"action": "addLineItem", "sku": SKUS[rng.below(SKUS.len() as u64) as usize], "quantity": rng.range(1, 2)}),
        ];
        if rng.chance(300) {
            actions.push(json!({"action": "addLineItem", "sku": SKUS[rng.below(SKUS.len() as u64) as usize], "quantity": 1}));
        }
        actions.push(json!({"action": "setShippingAddress", "address": address_de()}));
        if rng.chance(800) {
            actions.push(json!({"action": "setBillingAddress", "address": address_de()}));
        }
        if rng.chance(850) {
            actions.push(json!({"action": "setShippingMethod", "shippingMethodId": if rng.chance(200) { "express" } else { "standard" }}));
        }
        actions.push(json!({"action": "setGuestDetails", "email": format!("cart{i}-0@example.com"), "name": "Ada Lovelace", "phone": "+49 30 1234567"}));
        plans.push((customer, actions));
    }
    let mut slots = Vec::new();
    for chunk in plans.chunks(16) {
        let made = join_all(
            chunk
                .iter()
                .map(|(customer, actions)| {
                    let app = app.clone();
                    async move {
                        let client = match customer {
                            Some(sub) => app.customer(sub),
                            None => app.anonymous(),
                        };
                        let created = client
                            .post("/carts", json!({"currency": "EUR", "country": "DE"}))
                            .await;
                        created.assert_status(StatusCode::CREATED);
                        let id = created.body["id"].as_str().unwrap().to_string();
                        let client = match created.body["sessionToken"].as_str() {
                            Some(token) => client.with_header("x-session-id", token),
                            None => client,
                        };
                        let updated = client
                            .post(
                                &format!("/carts/{id}"),
                                json!({"version": created.body["version"], "actions": actions}),
                            )
                            .await;
                        updated.assert_status(StatusCode::OK);
                        Slot {
                            id,
                            client,
                            state: Mutex::new(SlotState {
                                version: updated.body["version"].as_u64().unwrap(),
                                ..SlotState::default()
                            }),
                        }
                    }
                })
                .collect(),
        )
        .await;
        slots.extend(made);
    }
    faults.set_yields(true);
    faults.set_enabled(true);
    World {
        app,
        faults,
        seed,
        slots,
        ledger: Mutex::new(Ledger::default()),
        initial_stock,
        key_counter: std::sync::atomic::AtomicU64::new(0),
        adyen_reported: Mutex::new(HashMap::new()),
    }
}

async fn run_once(backend: Backend, seed: u64, settings: Settings) -> Result<(), String> {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let batches = plan(&mut rng, settings.ops, settings.carts);
    let world = Arc::new(setup(backend, seed, settings.carts, &mut rng).await);
    let mut planned_ops: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut planned_faults = 0;
    for batch in &batches {
        for planned in batch {
            *planned_ops.entry(planned.op.name()).or_default() += 1;
            planned_faults += usize::from(planned.fault.is_some());
        }
    }

    for batch in batches {
        let mut tasks = tokio::task::JoinSet::new();
        for Planned { op, fault } in batch {
            let world = world.clone();
            tasks.spawn(async move { FaultyStore::scoped(fault, world.run(op)).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(panic) = done {
                std::panic::resume_unwind(panic.into_panic());
            }
        }
    }
    let ran = started.elapsed();

    world.faults.set_enabled(false);
    let mut violations = world.check(Phase::Drained).await;
    let unacked = world.settle(&mut rng).await;
    let settled = world.check(Phase::Settled).await;
    let still: std::collections::HashSet<String> = settled.iter().map(Violation::key).collect();
    let drained: std::collections::HashSet<String> =
        violations.iter().map(Violation::key).collect();
    for v in &mut violations {
        v.persists = still.contains(&v.key());
    }
    violations.extend(settled.into_iter().filter(|v| !drained.contains(&v.key())));

    let ledger = world.ledger.lock().unwrap();
    let injected = world.faults.injected();
    let mut summary = format!(
        "interleaving on {backend:?}: seed {seed}, {} operations ({planned_ops:?}), {} carts, \
         {planned_faults} faults planned, {} injected ({} after writing), {} distinct PSP events, \
         {unacked} never acknowledged; concurrent phase {:.1?}, total {:.1?}\nanswers:\n",
        settings.ops,
        settings.carts,
        injected.len(),
        injected.iter().filter(|f| f.written).count(),
        ledger.events.len(),
        ran,
        started.elapsed(),
    );
    for (answer, count) in &ledger.answers {
        summary.push_str(&format!("  {count:>5}  {answer}\n"));
    }
    drop(ledger);
    eprintln!("{summary}");
    if violations.is_empty() {
        return Ok(());
    }
    let mut per_invariant: BTreeMap<u8, usize> = BTreeMap::new();
    let mut report = String::new();
    for v in &violations {
        *per_invariant.entry(v.invariant).or_default() += 1;
        report.push_str(&format!(
            "  [{}] ({:?}{}) cart {}: {}\n",
            v.invariant,
            v.phase,
            if v.persists {
                ", still after settling"
            } else {
                ""
            },
            v.cart.as_deref().unwrap_or("-"),
            v.what
        ));
    }
    Err(format!(
        "{} invariant violations on {backend:?} (per invariant: {per_invariant:?}); reproduce with \
         INTERLEAVING_SEED={seed} INTERLEAVING_OPS={} INTERLEAVING_CARTS={}\n{report}",
        violations.len(),
        settings.ops,
        settings.carts
    ))
}

async fn interleaving(backend: Backend) {
    let mut settings = settings();
    if backend == Backend::DynamoDbContended {
        // Bounded in CI (each conflict costs retries); INTERLEAVING_CONTENDED_OPS for more.
        settings.ops = env_u64("INTERLEAVING_CONTENDED_OPS").unwrap_or(400) as usize;
    }
    eprintln!(
        "interleaving on {backend:?}: INTERLEAVING_SEED={} INTERLEAVING_OPS={} INTERLEAVING_CARTS={} INTERLEAVING_RUNS={}",
        settings.seed, settings.ops, settings.carts, settings.runs
    );
    let mut failures = Vec::new();
    for run in 0..settings.runs {
        let seed = settings.seed + run;
        if let Err(report) = run_once(backend, seed, settings).await {
            eprintln!("{report}");
            failures.push(seed);
        }
    }
    assert!(
        failures.is_empty(),
        "invariants of rule 11 violated on {backend:?}; failing seeds: {}",
        failures
            .iter()
            .map(|s| format!("INTERLEAVING_SEED={s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

on_both_stores!(multi_thread: interleaving);

/// The same through DynamoDB's transaction-conflict rule (the contention emulator in front of
/// DynamoDB Local): every conflict a concurrent operation meets is retried or answered, and
/// the invariants still hold.
mod contended {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn interleaving() {
        super::interleaving(checkout_tests::Backend::DynamoDbContended).await
    }
}
