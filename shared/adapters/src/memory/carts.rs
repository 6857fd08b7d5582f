//! The cart port, in memory: contents under the version, payments left alone.

use async_trait::async_trait;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::order::Order;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::carts::{CartStore, CartWriteError};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl CartStore for MemoryStore {
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        let mut state = self.lock();
        if let Some(existing) = state.carts.get(&cart.id) {
            return Err(CartWriteError::Conflict(Some(Box::new(existing.clone()))));
        }
        state.carts.insert(cart.id.clone(), cart.clone());
        Ok(())
    }

    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        Ok(self.lock().carts.get(id).cloned())
    }

    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        let mut state = self.lock();
        match state.carts.get(&cart.id) {
            Some(current)
                if current.version == expected_version
                    && current.state == checkout_domain::model::cart::CartState::Active =>
            {
                // The contents only: payments recorded meanwhile stay (rule 9).
                let mut next = cart.clone();
                next.payments = current.payments.clone();
                next.payment_revision = current.payment_revision;
                next.reservation = current.reservation.clone();
                state.carts.insert(cart.id.clone(), next);
                Ok(())
            }
            current => Err(CartWriteError::Conflict(current.cloned().map(Box::new))),
        }
    }

    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        let state = self.lock();
        Ok((state.carts.get(id).cloned(), state.orders.get(id).cloned()))
    }
}
