//! The items of an order's change: the update of the order's own item (its revision and
//! sweep mark moved on) and the put of the history entry the change notes.

use aws_sdk_dynamodb::types::TransactWriteItem;

use checkout_domain::model::order::Order;
use checkout_domain::StoreError;

use crate::dynamodb::codec::to_item;
use crate::dynamodb::expr::{put, update, update_expression, Expr};
use crate::dynamodb::schema::{history_entry_key, order_key, sweep_mark, SWEEP_ORDERS};

/// The update of an order's item to `order.revision` with `sets`, `removes` and its sweep
/// mark (`Order::sweep_at`), iff the stored order is at `expected_revision` and `condition`
/// (if not empty) holds. Every order change moves the revision on: it is the change's event
/// id and sequence.
pub(crate) fn order_update(
    table: &str,
    order: &Order,
    expected_revision: u64,
    mut e: Expr,
    mut sets: Vec<String>,
    mut removes: Vec<String>,
    condition: &str,
) -> Result<TransactWriteItem, StoreError> {
    let revision = e.name("revision");
    let (next, expected) = (e.number(order.revision), e.number(expected_revision));
    sets.push(format!("{revision} = {next}"));
    sweep_mark(
        &mut e,
        &mut sets,
        &mut removes,
        (SWEEP_ORDERS, &order.cart_id),
        order.sweep_at(),
    );
    let mut conditions = format!("{revision} = {expected}");
    if !condition.is_empty() {
        conditions.push_str(" AND ");
        conditions.push_str(condition);
    }
    update(
        table,
        order_key(&order.cart_id),
        &update_expression(&sets, &removes),
        &conditions,
        e,
    )
}

/// The put of the history entry `order`'s change made, if it notes one: its own item beside
/// the order, written in the same transaction as the change.
pub(crate) fn history_put(
    table: &str,
    order: &Order,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let Some(entry) = &order.change else {
        return Ok(None);
    };
    let mut e = Expr::default();
    let sk = e.name("sk");
    let item = to_item(history_entry_key(&order.cart_id, entry.revision), entry)?;
    put(table, item, &format!("attribute_not_exists({sk})"), e).map(Some)
}
