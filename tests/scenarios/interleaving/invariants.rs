//! The invariants.

use std::collections::HashMap;

use checkout_domain::model::order::{Order, OrderState};
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::payment::{self, PaymentState};
use checkout_domain::model::values::{CartId, Sku};

use super::world::{Delivered, Expect, PspSide, World};
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
