//! The catalog port, in memory.

use async_trait::async_trait;

use checkout_domain::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
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
        let before = state.products.get(&terms.sku).cloned();
        let current = before.as_ref().map(|p| p.stock);
        let units = stock
            .apply(current)
            .ok_or(ProductWriteError::StockConflict { current })?;
        let mut product = Product::new(terms.clone(), units);
        let config_revision = state.config.revision;
        if let Some(before) = before {
            product.config_revision = before.config_revision;
            product.stock_revision = before.stock_revision;
            product.sold_out = before.sold_out;
        } else {
            product.config_revision = config_revision;
        }
        if stock != StockWrite::Keep {
            product.stock_revision += 1;
            product.sold_out = false;
        }
        state.products.insert(terms.sku.clone(), product.clone());
        Ok(product)
    }

    async fn write_sharded_product(
        &self,
        terms: &ProductTerms,
        write: &ShardedWrite,
    ) -> Result<Product, ProductWriteError> {
        let mut state = self.lock();
        let before = state.products.get(&terms.sku);
        let as_read = match before {
            None => write.read.is_empty(),
            Some(p) => p.shard_stock == write.read,
        };
        if !as_read {
            return Err(ProductWriteError::StockConflict {
                current: before.map(|p| p.stock),
            });
        }
        let mut product = Product::new(terms.clone(), write.stock.iter().sum());
        product.stock_shards = write.stock.len() as u32;
        product.shard_stock = write.stock.clone();
        product.config_revision = write.config_revision;
        product.stock_revision = write.stock_revision + 1;
        state.products.insert(terms.sku.clone(), product.clone());
        Ok(product)
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let state = self.lock();
        Ok(skus
            .iter()
            .filter_map(|s| state.products.get(s).cloned())
            .map(|mut p| {
                // As the DynamoDB adapter reads it: a SKU marked sold out is not read further.
                if p.sold_out {
                    p.shard_stock = vec![0; p.stock_shards as usize];
                    p.stock = 0;
                }
                p
            })
            .collect())
    }

    async fn restock(&self, sku: &Sku, units: u32) -> Result<(), StoreError> {
        if let Some(product) = self.lock().products.get_mut(sku) {
            if product.shard_stock.is_empty() {
                product.shard_stock = vec![0; product.stock_shards as usize];
            }
            product.shard_stock[0] += units;
            product.stock = product.shard_stock.iter().sum();
            product.sold_out = false;
        }
        Ok(())
    }

    async fn mark_sold_out(&self, sku: &Sku, stock_revision: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(product) = state.products.get_mut(sku) {
            if product
                .shard_stock
                .first()
                .copied()
                .unwrap_or(product.stock)
                == 0
                && product.stock_revision == stock_revision
            {
                product.sold_out = true;
            }
        }
        Ok(())
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

    async fn put_config(&self, config: &PricingConfig) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.config.revision + 1 != config.revision {
            return Ok(false);
        }
        state.config = config.clone();
        for product in state.products.values_mut() {
            product.config_revision = product.config_revision.max(config.revision);
        }
        Ok(true)
    }

    async fn config(&self) -> Result<PricingConfig, StoreError> {
        Ok(self.lock().config.clone())
    }
}
