//! A customer's open-order slots (rule 13): the set of their unpaid saved orders' cart ids on
//! one item of their own, taken by the commit under a condition on its size and given back
//! in the write that pays or releases the order. A set, so giving back twice is harmless.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use checkout_domain::model::commit_plan::SavedOrderSlot;
use checkout_domain::model::values::{CartId, CustomerId};
use checkout_domain::StoreError;

use super::expr::{unconditional_update, update, Expr};
use super::schema::saved_orders_key;

const OPEN_ORDERS: &str = "openOrders";

fn cart_set(e: &mut Expr, cart: &CartId) -> String {
    e.value(AttributeValue::Ss(vec![cart.to_string()]))
}

/// Takes a slot for `cart`'s order iff the customer holds fewer than the limit.
pub(super) fn take(
    table: &str,
    slot: &SavedOrderSlot,
    cart: &CartId,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let open = e.name(OPEN_ORDERS);
    let ids = cart_set(&mut e, cart);
    let limit = e.number(slot.limit);
    update(
        table,
        saved_orders_key(&slot.customer),
        &format!("ADD {open} {ids}"),
        &format!("attribute_not_exists({open}) OR size({open}) < {limit}"),
        e,
    )
}

/// Gives `cart`'s slot back (whether or not it is still taken).
pub(super) fn give_back(
    table: &str,
    customer: &CustomerId,
    cart: &CartId,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let open = e.name(OPEN_ORDERS);
    let ids = cart_set(&mut e, cart);
    unconditional_update(
        table,
        saved_orders_key(customer),
        &format!("DELETE {open} {ids}"),
        e,
    )
}
