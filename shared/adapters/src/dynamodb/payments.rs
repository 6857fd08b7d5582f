//! The payment port: a cart's or an order's payments are written under their own revision,
//! with one put per payment interaction id claiming it across all transactions, in one
//! transaction. Nothing else of the cart or order is touched (rule 9).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::order::Order;
use checkout_domain::ports::payments::{PaymentStore, PaymentWriteError};
use checkout_domain::StoreError;

use super::codec::{encode, time_rfc3339};
use super::expr::{put, reason_is_condition, transaction, update, update_expression, Expr};
use super::schema::{
    cart_key, interaction_key, order_key, serde_names, sweep_mark, SWEEP_CARTS, SWEEP_ORDERS,
};
use super::DynamoStore;

/// The puts that claim payment interaction ids: each unique across all transactions.
fn interaction_claims(
    table: &str,
    interactions: &[String],
) -> Result<Vec<TransactWriteItem>, StoreError> {
    interactions
        .iter()
        .map(|id| {
            let mut e = Expr::default();
            let pk = e.name("pk");
            put(
                table,
                interaction_key(id),
                &format!("attribute_not_exists({pk})"),
                e,
            )
        })
        .collect()
}

impl DynamoStore {
    /// Sends a payment write: `first` (the cart or order, conditioned on its revision) and the
    /// interaction claims after it.
    async fn send_payment_write(
        &self,
        first: TransactWriteItem,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut items = vec![first];
        items.extend(interaction_claims(self.table(), interactions)?);
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match transaction(result)? {
            Ok(_) => Ok(()),
            Err(reasons) if reasons.iter().skip(1).any(reason_is_condition) => {
                Err(PaymentWriteError::DuplicateInteraction)
            }
            // The revision moved, or contention: either way, read again.
            Err(_) => Err(PaymentWriteError::Conflict),
        }
    }
}

#[async_trait]
impl PaymentStore for DynamoStore {
    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut e = Expr::default();
        let (payments, revision, state) = (
            e.name("payments"),
            e.name("paymentRevision"),
            e.name("state"),
        );
        let (payments_value, next, expected, active) = (
            e.value(encode(&cart.payments)?),
            e.number(cart.payment_revision),
            e.number(expected_payment_revision),
            e.string(serde_names::CART_ACTIVE),
        );
        let mut sets = vec![
            format!("{payments} = {payments_value}"),
            format!("{revision} = {next}"),
        ];
        let mut removes = Vec::new();
        sweep_mark(
            &mut e,
            &mut sets,
            &mut removes,
            SWEEP_CARTS,
            cart.holding_since(),
        );
        let item = update(
            self.table(),
            cart_key(&cart.id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected} AND {state} = {active}"),
            e,
        )?;
        self.send_payment_write(item, interactions).await
    }

    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        // Only what payments own, so a concurrent claim or cancellation is never undone.
        let mut e = Expr::default();
        let (payments, payment_state, expires, revision) = (
            e.name("payments"),
            e.name("paymentState"),
            e.name("expiresAt"),
            e.name("revision"),
        );
        let (payments_value, state_value, next, expected) = (
            e.value(encode(&order.payments)?),
            e.value(encode(&order.payment_state)?),
            e.number(order.revision),
            e.number(expected_revision),
        );
        let mut sets = vec![
            format!("{payments} = {payments_value}"),
            format!("{payment_state} = {state_value}"),
            format!("{revision} = {next}"),
        ];
        let mut removes = Vec::new();
        match order.expires_at {
            Some(at) => {
                let at = e.value(encode(&time_rfc3339(at))?);
                sets.push(format!("{expires} = {at}"));
            }
            None => removes.push(expires),
        }
        sweep_mark(
            &mut e,
            &mut sets,
            &mut removes,
            SWEEP_ORDERS,
            order.sweep_at(),
        );
        let item = update(
            self.table(),
            order_key(&order.cart_id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected}"),
            e,
        )?;
        self.send_payment_write(item, interactions).await
    }
}
