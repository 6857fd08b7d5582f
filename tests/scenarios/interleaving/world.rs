//! What the test knows: the carts, what the PSP did, every event and its answers; and
//! the world of one run, set up.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use checkout_domain::model::payment;
use checkout_tests::faults::FaultyStore;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_de, App, Backend, Client, TestResponse};
use http::StatusCode;

use super::rng::Rng;
use super::{owner_of, SKUS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PspSide {
    /// Created; maybe declined attempts so far.
    Open,
    /// Charged; `charge` is the charge's id.
    Captured { charge: String },
    /// Authorized (manual capture), not captured.
    Authorized,
}

#[derive(Debug, Clone)]
pub(super) struct IntentModel {
    pub(super) reference: String,
    pub(super) amount: i64,
    pub(super) side: PspSide,
    /// Ledger entries of this intent's events.
    pub(super) events: Vec<usize>,
    /// Created for a saved order (`POST /orders/{n}/payments`) rather than for the cart.
    pub(super) for_order: bool,
    /// An Adyen Checkout session (`reference` is its id) rather than a Stripe intent.
    pub(super) adyen: bool,
}

#[derive(Default)]
pub(super) struct SlotState {
    /// The version this client last saw.
    pub(super) version: u64,
    pub(super) intents: Vec<IntentModel>,
    /// Idempotency keys used for `POST /orders`, with their bodies.
    pub(super) keys: Vec<(String, Value)>,
    /// Every order number the API answered for this cart (commits and the webhook).
    pub(super) numbers: BTreeSet<String>,
}

pub(super) struct Slot {
    pub(super) id: String,
    pub(super) client: Client,
    pub(super) state: Mutex<SlotState>,
}

/// What an acknowledged event must have left on its cart or order.
#[derive(Debug, Clone)]
pub(super) enum Expect {
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
pub(super) struct Delivered {
    pub(super) cart: usize,
    pub(super) reference: String,
    pub(super) kind: String,
    pub(super) body: String,
    pub(super) expect: Expect,
    /// Some delivery got a 2xx.
    pub(super) acked: bool,
    pub(super) answers: Vec<String>,
}

#[derive(Default)]
pub(super) struct Ledger {
    pub(super) events: Vec<Delivered>,
    /// "operation → answer" counts, for the summary.
    pub(super) answers: BTreeMap<String, usize>,
    /// What the merchant refunded from the dashboard, per intent.
    pub(super) dashboard_refunds: HashMap<String, i64>,
}

pub(super) struct World {
    pub(super) app: App,
    pub(super) faults: Arc<FaultyStore>,
    pub(super) seed: u64,
    pub(super) slots: Vec<Slot>,
    pub(super) ledger: Mutex<Ledger>,
    pub(super) initial_stock: BTreeMap<String, u32>,
    pub(super) key_counter: std::sync::atomic::AtomicU64,
    /// Adyen's modifications reported on so far, and whether each succeeded.
    pub(super) adyen_reported: Mutex<HashMap<String, bool>>,
}

pub(super) fn answer_label(response: &TestResponse) -> String {
    match response.body["code"].as_str() {
        Some(code) => format!("{} {code}", response.status.as_u16()),
        None => response.status.as_u16().to_string(),
    }
}

impl World {
    pub(super) fn note(&self, operation: &str, label: &str) {
        *self
            .ledger
            .lock()
            .unwrap()
            .answers
            .entry(format!("{operation} → {label}"))
            .or_default() += 1;
    }

    pub(super) fn record(&self, operation: &str, response: &TestResponse) {
        self.note(operation, &answer_label(response));
    }

    pub(super) fn slot(&self, cart: usize) -> &Slot {
        &self.slots[cart]
    }

    pub(super) fn remember_order(&self, cart: usize, response: &TestResponse) {
        if let Some(number) = response.body["orderNumber"].as_str() {
            self.slot(cart)
                .state
                .lock()
                .unwrap()
                .numbers
                .insert(number.to_string());
        }
    }

    pub(super) async fn read_cart(&self, cart: usize) -> Option<Value> {
        let slot = self.slot(cart);
        let response = slot.client.get(&format!("/carts/{}", slot.id)).await;
        self.record("get_cart", &response);
        (response.status == StatusCode::OK).then_some(response.body)
    }
}

pub(super) async fn setup(backend: Backend, seed: u64, carts: usize, rng: &mut Rng) -> World {
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

pub(super) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
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
