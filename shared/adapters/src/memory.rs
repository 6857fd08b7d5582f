//! The embedded store: the same semantics as the DynamoDB adapter, in process. Each call holds
//! one lock for its whole check-and-write, which is what a DynamoDB condition guarantees.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

use checkout_domain::cart::Cart;
use checkout_domain::catalog::{DiscountDefinition, PricingConfig, Product};
use checkout_domain::ports::{CartWriteError, Store};
use checkout_domain::values::{CartId, DiscountCode, Sku};
use checkout_domain::StoreError;

#[derive(Default)]
struct State {
    products: HashMap<Sku, Product>,
    discounts: HashMap<DiscountCode, DiscountDefinition>,
    config: PricingConfig,
    carts: HashMap<CartId, Cart>,
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a write: every write is one insert.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.lock()
            .products
            .insert(product.sku.clone(), product.clone());
        Ok(())
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let state = self.lock();
        Ok(skus
            .iter()
            .filter_map(|s| state.products.get(s).cloned())
            .collect())
    }

    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        let mut state = self.lock();
        let redemptions = state
            .discounts
            .get(&discount.code)
            .map_or(0, |d| d.redemptions);
        let stored = DiscountDefinition {
            redemptions,
            ..discount.clone()
        };
        state
            .discounts
            .insert(discount.code.clone(), stored.clone());
        Ok(stored)
    }

    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        let state = self.lock();
        Ok(codes
            .iter()
            .filter_map(|c| state.discounts.get(c).cloned())
            .collect())
    }

    async fn put_config(&self, config: &PricingConfig) -> Result<(), StoreError> {
        self.lock().config = config.clone();
        Ok(())
    }

    async fn config(&self) -> Result<PricingConfig, StoreError> {
        Ok(self.lock().config.clone())
    }

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
                    && current.state == checkout_domain::cart::CartState::Active =>
            {
                state.carts.insert(cart.id.clone(), cart.clone());
                Ok(())
            }
            current => Err(CartWriteError::Conflict(current.cloned().map(Box::new))),
        }
    }
}
