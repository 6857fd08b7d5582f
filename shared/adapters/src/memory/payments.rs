//! The payment port, in memory: payments under their own revision, each interaction id once.

use async_trait::async_trait;

use checkout_domain::model::cart::{Cart, CartState};
use checkout_domain::model::gift_card::GiftCardCredit;
use checkout_domain::model::order::Order;
use checkout_domain::ports::payments::{PaymentStore, PaymentWriteError};

use super::{MemoryStore, State};

impl State {
    pub(super) fn claim_interactions(
        &mut self,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let claimed: Vec<String> = interactions
            .iter()
            .filter(|i| self.interactions.contains(*i))
            .cloned()
            .collect();
        if !claimed.is_empty() {
            return Err(PaymentWriteError::DuplicateInteraction(claimed));
        }
        self.interactions.extend(interactions.iter().cloned());
        Ok(())
    }
}

#[async_trait]
impl PaymentStore for MemoryStore {
    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut state = self.lock();
        let current = state.carts.get(&cart.id);
        if !current.is_some_and(|c| {
            c.payment_revision == expected_payment_revision && c.state == CartState::Active
        }) {
            return Err(PaymentWriteError::Conflict);
        }
        state.claim_interactions(interactions)?;
        let stored = state.carts.get_mut(&cart.id).expect("checked above");
        stored.payments = cart.payments.clone();
        stored.payment_revision = cart.payment_revision;
        Ok(())
    }

    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
        credits: &[GiftCardCredit],
        frees_slot: bool,
    ) -> Result<(), PaymentWriteError> {
        let mut state = self.lock();
        if state
            .orders
            .get(&order.cart_id)
            .is_none_or(|o| o.revision != expected_revision)
        {
            return Err(PaymentWriteError::Conflict);
        }
        let cards_fit = credits.iter().all(|credit| {
            state
                .gift_cards
                .get(&credit.code)
                .is_some_and(|card| card.currency == credit.amount.currency())
        });
        if !cards_fit {
            return Err(PaymentWriteError::Conflict);
        }
        state.claim_interactions(interactions)?;
        if frees_slot {
            state.give_back_slot(order);
        }
        for credit in credits {
            let card = state
                .gift_cards
                .get_mut(&credit.code)
                .expect("checked above");
            card.balance += credit.amount.cent_amount;
        }
        state.note(order);
        // Only what payments own, so a concurrent claim or cancellation is never undone.
        let stored = state.orders.get_mut(&order.cart_id).expect("checked above");
        let before = stored.clone();
        stored.payments = order.payments.clone();
        stored.refunds = order.refunds.clone();
        stored.payment_state = order.payment_state;
        stored.expires_at = order.expires_at;
        stored.revision = order.revision;
        let after = stored.clone();
        self.publish(Some(before), Some(after));
        Ok(())
    }
}
