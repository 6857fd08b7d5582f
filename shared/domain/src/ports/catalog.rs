//! The catalog store: products (terms and stock), discount codes, pricing configuration.

use async_trait::async_trait;

use crate::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
use crate::model::discount::DiscountDefinition;
use crate::model::error::StoreError;
use crate::model::pricing_config::PricingConfig;
use crate::model::values::{DiscountCode, Sku};

/// Why a product write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ProductWriteError {
    /// The stock condition failed: the product's stock now (`None`: it does not exist).
    #[error("the stock condition failed; current stock {current:?}")]
    StockConflict { current: Option<u32> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The catalog: products (terms and stock), discount codes, the pricing configuration.
#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Sets a product's terms attribute by attribute and applies `stock` under its condition
    /// (see `StockWrite`), in one conditional write; returns the product as stored.
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError>;
    /// Writes a product whose stock is (or is to be) spread over shards: its terms on every
    /// shard, each shard's stock iff it is still as read (`StockConflict` otherwise), shards
    /// beyond the new count removed, the sold-out mark cleared; all or nothing.
    async fn write_sharded_product(
        &self,
        terms: &ProductTerms,
        write: &ShardedWrite,
    ) -> Result<Product, ProductWriteError>;
    /// The products that exist among `skus`, in any order, read consistently: `stock` is the
    /// sum over the SKU's shards, `shard_stock` each shard's (all 0, unread, when it is marked
    /// sold out).
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;
    /// The same, read eventually consistently: half the read units, from any replica, so a
    /// SKU every buyer of a sale reads takes twice the buyers (rule 12). For what a commit's
    /// conditions check again (price, tax, each shard's stock): never for a decision that
    /// refuses a buyer or writes what was read. A store that is always consistent reads as
    /// `products` does.
    async fn products_recent(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.products(skus).await
    }
    /// Puts `units` of `sku` back on sale (on its own item, clearing a sold-out mark).
    async fn restock(&self, sku: &Sku, units: u32) -> Result<(), StoreError>;
    /// Marks `sku` sold out iff its own item's stock is 0 and no administrator wrote its
    /// stock since `stock_revision` (a release, a restock clear it).
    async fn mark_sold_out(&self, sku: &Sku, stock_revision: u64) -> Result<(), StoreError>;
    /// Inserts or replaces a discount code's terms, keeping its redemption count; returns the
    /// stored definition.
    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError>;
    /// The discount codes that exist among `codes`, in any order.
    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError>;
    /// Stores the configuration (its `revision` one past the stored one's, else `Ok(false)`:
    /// another write came first), then stamps that revision on every product's items, so
    /// commits priced with an older configuration are refused there.
    async fn put_config(&self, config: &PricingConfig) -> Result<bool, StoreError>;
    /// The pricing configuration; empty until one is stored.
    async fn config(&self) -> Result<PricingConfig, StoreError>;
}
