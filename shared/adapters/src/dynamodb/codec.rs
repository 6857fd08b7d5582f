//! Items: the domain's serde forms (via `serde_dynamo`) under a `pk`/`sk` key, an order with
//! its index attributes, and an order read back from a stream image.
//!
//! The table's stream (new and old images) is the outbox: `order_from_image` reads an order
//! back from a stream image, and the relay turns each change into an event.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use checkout_domain::model::cart::CartOwner;
use checkout_domain::model::order::Order;
use checkout_domain::ports::orders::history_key;
use checkout_domain::StoreError;

use super::expr::Item;
use super::schema::{
    customer_history, guest_history, order_key, order_search_partition, sweep_partition,
    sweep_sort_key, SK_ORDER, SWEEP_ORDERS,
};

/// A domain value stored under its key. `flatten` keeps the value's fields top-level, so
/// conditions can name them (`version`, `state`, `stock`).
#[derive(Serialize, Deserialize)]
struct Keyed<T> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    value: T,
}

/// A value's attributes, without a key.
pub(crate) fn fields<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::new(format!("encode: {e}")))
}

/// A value's attributes under `key`.
pub(crate) fn to_item<T: Serialize>(key: Item, value: &T) -> Result<Item, StoreError> {
    let mut item = fields(value)?;
    item.extend(key);
    Ok(item)
}

/// The value stored in an item, its key left aside.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item::<_, Keyed<T>>(item)
        .map(|keyed| keyed.value)
        .map_err(|e| StoreError::new(format!("decode: {e}")))
}

/// One value as an attribute.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::new(format!("encode: {e}")))
}

/// A time as the domain's serde writes it (RFC 3339).
pub(crate) fn time_rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A time as unix seconds, the form conditions and the TTL compare.
pub(crate) fn epoch(at: OffsetDateTime) -> AttributeValue {
    AttributeValue::N(at.unix_timestamp().to_string())
}

/// An order with its index keys: history (customers), by email (guests), the sweeper's
/// queue (saved, unpaid orders and cancelled ones still holding money, so it stays small),
/// and merchants' search (every order, by month and shard; keys that never change after the
/// commit, so no later update of the order writes that index again).
pub(crate) fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item = to_item(order_key(&order.cart_id), order)?;
    item.insert(
        "gsi3pk".into(),
        AttributeValue::S(order_search_partition(order)),
    );
    item.insert("gsi3sk".into(), AttributeValue::S(history_key(order)));
    let owner_key = match &order.owner {
        CartOwner::Customer { customer_id } => Some(customer_history(customer_id)),
        CartOwner::Guest { .. } => order.customer_email.as_ref().map(guest_history),
    };
    if let Some(owner_key) = owner_key {
        item.insert("gsi1pk".into(), AttributeValue::S(owner_key));
        item.insert("gsi1sk".into(), AttributeValue::S(history_key(order)));
    }
    if let Some(at) = order.sweep_at() {
        item.insert(
            "gsi2pk".into(),
            AttributeValue::S(sweep_partition(SWEEP_ORDERS, &order.cart_id)),
        );
        item.insert("gsi2sk".into(), AttributeValue::S(sweep_sort_key(at)));
    }
    Ok(item)
}

/// The order in a stream image, if the image is an order item (`None` for every other item:
/// carts, products, effect records). `image` is in DynamoDB's JSON form, as Lambda's stream
/// events carry it. The relay takes this as its decoder.
pub fn order_from_image(image: serde_dynamo::Item) -> Result<Option<Order>, StoreError> {
    let is_order =
        matches!(image.get("sk"), Some(serde_dynamo::AttributeValue::S(sk)) if sk == SK_ORDER);
    if !is_order {
        return Ok(None);
    }
    serde_dynamo::from_item::<_, Keyed<Order>>(image)
        .map(|keyed| Some(keyed.value))
        .map_err(|e| StoreError::new(format!("decode order image: {e}")))
}
