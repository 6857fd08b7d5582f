//! The cart store: carts created once, their contents replaced under their version.

use async_trait::async_trait;

use crate::model::cart::Cart;
use crate::model::error::StoreError;
use crate::model::order::Order;
use crate::model::values::CartId;

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

/// Carts: created once, their contents replaced under their version.
#[async_trait]
pub trait CartStore: Send + Sync + 'static {
    /// Stores a new cart; its id must be unused.
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError>;
    /// Reads a cart, strongly consistent.
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError>;
    /// Writes a cart's contents (everything but its payments, payment revision and sweep
    /// mark, which only payment writes change) iff it is still `Active` at
    /// `expected_version`. A payment recorded meanwhile is kept.
    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError>;
    /// A cart and, once it is ordered, its order: one strongly consistent read.
    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError>;
}
