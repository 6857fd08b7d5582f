//! The invariants of orders themselves: (1) one order per cart, (3) a `Paid` order's capture,
//! (6) saved orders' owners and limit.

use std::collections::HashMap;

use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::payment::{self, PaymentState};

use super::super::world::World;
use super::{describe_payments, Flags, Observed};

/// (1) at most one order per cart; numbers unique; answers agree with the store.
///
/// For the cart of slot `index`; a number is flagged as another cart's when a cart before
/// this one has an order of that number (the last such cart is named).
pub(super) async fn one_order_per_cart(
    world: &World,
    observed: &Observed,
    index: usize,
    flags: &mut Flags,
) {
    let store = &world.app.store;
    let slot = &world.slots[index];
    let cart = &observed.carts[index];
    let answered = slot.state.lock().unwrap().numbers.clone();
    match &observed.orders[index] {
        Some(order) => {
            let number = order.order_number.to_string();
            if cart.order_number.as_deref() != Some(number.as_str()) {
                flags.flag(
                    1,
                    Some(&slot.id),
                    format!(
                        "order {number} exists but the cart (state {:?}) names {:?}",
                        cart.state, cart.order_number
                    ),
                );
            }
            let earlier = observed.orders[..index].iter().rposition(|o| {
                o.as_ref()
                    .is_some_and(|o| o.order_number.to_string() == number)
            });
            if let Some(other) = earlier.map(|j| &world.slots[j].id) {
                flags.flag(
                    1,
                    Some(&slot.id),
                    format!("order number {number} is also cart {other}'s"),
                );
            }
            for extra in answered.iter().filter(|n| **n != number) {
                flags.flag(
                    1,
                    Some(&slot.id),
                    format!(
                        "the API answered order {extra} for this cart, but its order is {number}"
                    ),
                );
            }
        }
        None => {
            if cart.order_number.is_some() {
                flags.flag(
                    1,
                    Some(&slot.id),
                    format!(
                        "the cart names order {:?} (state {:?}) but no order is stored",
                        cart.order_number, cart.state
                    ),
                );
            }
            for extra in &answered {
                flags.flag(
                    1,
                    Some(&slot.id),
                    format!("the API answered order {extra} for this cart, but it has no order"),
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
            Some(o) => flags.flag(
                1,
                Some(&slot.id),
                format!(
                    "order number {number} answered for this cart belongs to cart {}",
                    o.cart_id
                ),
            ),
            None => flags.flag(
                1,
                Some(&slot.id),
                format!("order number {number} answered for this cart is not stored"),
            ),
        }
    }
}

/// (3) a Paid order's net capture equals its total (money on its way back, or
/// owed back after a refund that failed, is not the order's).
///
/// For the order of slot `index`, if it has one.
pub(super) fn paid_order_fully_captured(
    world: &World,
    observed: &Observed,
    index: usize,
    flags: &mut Flags,
) {
    let slot = &world.slots[index];
    if let Some(order) = &observed.orders[index] {
        if order.payment_state == PaymentState::Paid {
            let secured = payment::fitting(&order.payments, order.totals.total);
            if secured != order.totals.total {
                flags.flag(
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
}

/// (6) holds have an owner and a limit: no guest holds a saved order, and no customer
/// holds more unpaid saved orders than the limit.
pub(super) fn saved_orders_owned_and_limited(observed: &Observed, flags: &mut Flags) {
    let mut open_saved: HashMap<String, usize> = HashMap::new();
    for order in observed.orders.iter().flatten() {
        if order.action == checkout_domain::model::order::CommitAction::SaveOrder
            && order.is_guest()
            && order.programmatic.is_none()
        {
            flags.flag(
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
        flags.flag(
            6,
            None,
            format!("customer {customer} holds {open} unpaid saved orders (limit {limit})"),
        );
    }
}

/// (1) again, on DynamoDB: every order item in the table is one of these.
pub(super) fn table_holds_only_known_orders(observed: &Observed, flags: &mut Flags) {
    let Some(items) = observed.order_items else {
        return;
    };
    let known = observed.orders.iter().filter(|o| o.is_some()).count();
    if items != known {
        flags.flag(
            1,
            None,
            format!("the table holds {items} order items, the carts know {known} orders"),
        );
    }
}
