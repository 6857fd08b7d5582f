//! The invariants, one function each (the module docs of `interleaving` say when each must
//! hold). [`World::check`] reads the store once ([`World::observe`]), then runs them in this
//! order, each flagging what it finds:
//!
//! - per cart: (1) [`orders::one_order_per_cart`], (3) [`orders::paid_order_fully_captured`];
//! - (6) [`orders::saved_orders_owned_and_limited`];
//! - (1) again, on DynamoDB: [`orders::table_holds_only_known_orders`];
//! - (2) [`events::events_recorded`];
//! - (10) [`stock::holds_match_reservations`];
//! - (4) [`stock::stock_conserved`];
//! - per order: (7) [`money::refunds_within_capture`], (9) [`money::shipped_never_cancelled`],
//!   (8) [`money::cancelled_holds_no_money`];
//! - (5) [`money::payments_kept_or_reversed`].

mod events;
mod money;
mod orders;
mod stock;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::catalog::Product;
use checkout_domain::model::order::Order;
use checkout_domain::model::reservation::StoredHold;
use checkout_domain::model::values::{CartId, Sku};

use super::world::World;
use super::SKUS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    /// The concurrent phase has drained; nothing redelivered, no housekeeping yet.
    Drained,
    Settled,
}

pub(super) struct Violation {
    pub(super) invariant: u8,
    pub(super) phase: Phase,
    pub(super) cart: Option<String>,
    pub(super) what: String,
    /// Settling did not mend it (for violations found when drained).
    pub(super) persists: bool,
}

impl Violation {
    /// The same finding in both checks has the same key (answers may have grown meanwhile).
    pub(super) fn key(&self) -> String {
        let what = self.what.split(" was answered").next().unwrap_or_default();
        format!("{}|{:?}|{what}", self.invariant, self.cart)
    }
}

/// The violations one check finds, in the order found, each of that check's phase.
struct Flags {
    phase: Phase,
    found: Vec<Violation>,
}

impl Flags {
    fn flag(&mut self, invariant: u8, cart: Option<&str>, what: String) {
        self.found.push(Violation {
            invariant,
            phase: self.phase,
            cart: cart.map(str::to_string),
            what,
            persists: false,
        })
    }
}

/// What the store holds, read once per check (faults off, nothing running).
struct Observed {
    /// Per slot, in the slots' order: its cart (every cart of the test exists).
    carts: Vec<Cart>,
    /// Per slot, in the slots' order: its cart's order, if it has one.
    orders: Vec<Option<Order>>,
    /// Per SKU of [`SKUS`], in that order: the holds stored beside its stock.
    holds: Vec<(Sku, Vec<StoredHold>)>,
    /// The products of [`SKUS`].
    products: Vec<Product>,
    /// On DynamoDB: how many order items the table holds.
    order_items: Option<usize>,
}

impl Observed {
    /// The units of `sku` the stored holds hold.
    fn held(&self, sku: &Sku) -> u64 {
        self.holds
            .iter()
            .filter(|(held, _)| held == sku)
            .flat_map(|(_, holds)| holds)
            .map(|hold| u64::from(hold.hold.units))
            .sum()
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
    pub(super) async fn check(&self, phase: Phase) -> Vec<Violation> {
        let observed = self.observe().await;
        let mut flags = Flags {
            phase,
            found: Vec::new(),
        };
        for index in 0..self.slots.len() {
            orders::one_order_per_cart(self, &observed, index, &mut flags).await;
            orders::paid_order_fully_captured(self, &observed, index, &mut flags);
        }
        orders::saved_orders_owned_and_limited(&observed, &mut flags);
        orders::table_holds_only_known_orders(&observed, &mut flags);
        events::events_recorded(self, &observed, &mut flags).await;
        stock::holds_match_reservations(self, &observed, phase, &mut flags).await;
        stock::stock_conserved(self, &observed, &mut flags);
        for order in observed.orders.iter().flatten() {
            money::refunds_within_capture(order, &mut flags);
            money::shipped_never_cancelled(order, &mut flags);
            money::cancelled_holds_no_money(order, phase, &mut flags);
        }
        money::payments_kept_or_reversed(self, &observed, phase, &mut flags);
        flags.found
    }

    /// Reads what the checks look at: every slot's cart and order, the holds and products of
    /// [`SKUS`], and on DynamoDB the number of order items in the table.
    async fn observe(&self) -> Observed {
        let store = self.app.store.clone();
        let mut orders: Vec<Option<Order>> = Vec::new();
        let mut carts = Vec::new();
        for slot in &self.slots {
            let id = CartId::parse(&slot.id).unwrap();
            let (cart, order) = store
                .cart_and_order(&id)
                .await
                .expect("read with faults off");
            let cart = cart.expect("every cart of the test exists");
            carts.push(cart);
            orders.push(order);
        }

        let skus: Vec<Sku> = SKUS.iter().map(|s| Sku::parse(s).unwrap()).collect();
        let mut holds = Vec::new();
        for sku in &skus {
            holds.push((
                sku.clone(),
                store.holds(sku).await.expect("read with faults off"),
            ));
        }
        let products = store.products(&skus).await.expect("read with faults off");

        let order_items = match &self.app.dynamo {
            Some(dynamo) => {
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
                Some(items)
            }
            None => None,
        };

        Observed {
            carts,
            orders,
            holds,
            products,
            order_items,
        }
    }
}
