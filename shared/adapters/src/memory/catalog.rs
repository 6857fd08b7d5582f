//! The catalog port, in memory.

use async_trait::async_trait;

use checkout_domain::model::catalog::{Product, ProductTerms, StockWrite};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::pricing_config::PricingConfig;
use checkout_domain::model::values::{DiscountCode, Sku};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        let mut state = self.lock();
        let current = state.products.get(&terms.sku).map(|p| p.stock);
        let stock = stock
            .apply(current)
            .ok_or(ProductWriteError::StockConflict { current })?;
        let product = Product::new(terms.clone(), stock);
        state.products.insert(terms.sku.clone(), product.clone());
        Ok(product)
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
}
