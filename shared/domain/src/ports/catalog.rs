//! The catalog store: products (terms and stock), discount codes, pricing configuration.

use async_trait::async_trait;

use crate::model::catalog::{Product, ProductTerms, StockWrite};
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
    /// The products that exist among `skus`, in any order.
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;
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
    async fn put_config(&self, config: &PricingConfig) -> Result<(), StoreError>;
    /// The pricing configuration; empty until one is stored.
    async fn config(&self) -> Result<PricingConfig, StoreError>;
}
