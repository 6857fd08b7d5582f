//! The payment port: a cart's or an order's payments are written under their own revision,
//! with one put per payment interaction id claiming it across all transactions and, for an
//! order, one update per gift card credit, in one transaction. Nothing else of the cart or
//! order is touched (rule 9).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::gift_card::GiftCardCredit;
use checkout_domain::model::order::Order;
use checkout_domain::ports::payments::{PaymentStore, PaymentWriteError};
use checkout_domain::StoreError;

use super::codec::{encode, time_rfc3339};
use super::expr::{
    cancelled_by_contention, put, reason_is_condition, update, update_expression, Expr,
};
use super::gift_cards::{balance_update, Movement};
use super::orders::{history_put, order_update};
use super::saved_orders;
use super::schema::{cart_key, interaction_key, serde_names, sweep_mark, SWEEP_CARTS};
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
    /// Sends a payment write: `first` (the cart or order, conditioned on its revision), the
    /// interaction claims after it, then `rest`.
    async fn send_payment_write(
        &self,
        first: TransactWriteItem,
        interactions: &[String],
        rest: Vec<TransactWriteItem>,
    ) -> Result<(), PaymentWriteError> {
        let mut items = vec![first];
        items.extend(interaction_claims(self.table(), interactions)?);
        items.extend(rest);
        match self.transact(items).await? {
            Ok(_) => Ok(()),
            Err(reasons) => {
                let claimed: Vec<String> = reasons
                    .iter()
                    .skip(1)
                    .zip(interactions)
                    .filter(|(reason, _)| reason_is_condition(reason))
                    .map(|(_, id)| id.clone())
                    .collect();
                if claimed.is_empty() && cancelled_by_contention(&reasons) {
                    Err(PaymentWriteError::Contended)
                } else if claimed.is_empty() {
                    // The revision moved, or a gift card changed: read again.
                    Err(PaymentWriteError::Conflict)
                } else {
                    Err(PaymentWriteError::DuplicateInteraction(claimed))
                }
            }
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
            (SWEEP_CARTS, &cart.id),
            cart.holding_since(),
        );
        let item = update(
            self.table(),
            cart_key(&cart.id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected} AND {state} = {active}"),
            e,
        )?;
        self.send_payment_write(item, interactions, Vec::new())
            .await
    }

    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
        credits: &[GiftCardCredit],
        frees_slot: bool,
    ) -> Result<(), PaymentWriteError> {
        // Only what payments own, so a concurrent claim or cancellation is never undone.
        let mut e = Expr::default();
        let (payments, payment_state, expires) = (
            e.name("payments"),
            e.name("paymentState"),
            e.name("expiresAt"),
        );
        let (payments_value, state_value) = (
            e.value(encode(&order.payments)?),
            e.value(encode(&order.payment_state)?),
        );
        let refunds = e.name("refunds");
        let refunds_value = e.value(encode(&order.refunds)?);
        let mut sets = vec![
            format!("{payments} = {payments_value}"),
            format!("{payment_state} = {state_value}"),
            format!("{refunds} = {refunds_value}"),
        ];
        let mut removes = Vec::new();
        match order.expires_at {
            Some(at) => {
                let at = e.value(encode(&time_rfc3339(at))?);
                sets.push(format!("{expires} = {at}"));
            }
            None => removes.push(expires),
        }
        let item = order_update(self.table(), order, expected_revision, e, sets, removes, "")?;
        let mut rest = credits
            .iter()
            .map(|credit| {
                balance_update(self.table(), &credit.code, credit.amount, Movement::Credit)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(customer) = order.slot_owner().filter(|_| frees_slot) {
            rest.push(saved_orders::give_back(
                self.table(),
                customer,
                &order.cart_id,
            )?);
        }
        rest.extend(history_put(self.table(), order)?);
        self.send_payment_write(item, interactions, rest).await
    }
}
