//! What the domain needs from the outside world. Adapters implement these; the domain never
//! names a database or a cloud.

use async_trait::async_trait;

use crate::cart::Cart;
use crate::catalog::{DiscountDefinition, PricingConfig, Product};
use crate::error::StoreError;
use crate::values::{CartId, DiscountCode, Sku};

/// Why a conditional cart write did not happen.
#[derive(Debug)]
pub enum CartWriteError {
    /// The condition failed; carries the cart as it is now (`None`: it does not exist).
    Conflict(Option<Box<Cart>>),
    Store(StoreError),
}

impl From<StoreError> for CartWriteError {
    fn from(error: StoreError) -> Self {
        CartWriteError::Store(error)
    }
}

/// Durable state. Every invariant is the store's condition, never a read followed by a write.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts or replaces a product.
    async fn put_product(&self, product: &Product) -> Result<(), StoreError>;
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

    /// Stores a new cart; its id must be unused.
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError>;
    /// Reads a cart, strongly consistent.
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError>;
    /// Replaces a cart iff it is still `Active` at `expected_version`.
    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError>;
}
