//! Payment writes of carts and orders, under their own revision.

use async_trait::async_trait;

use crate::model::cart::Cart;
use crate::model::error::StoreError;
use crate::model::gift_card::GiftCardCredit;
use crate::model::order::Order;

/// Why a payment write did not happen.
#[derive(Debug)]
pub enum PaymentWriteError {
    /// The cart or order moved on (or is no longer where the payment belongs): read again.
    Conflict,
    /// These interaction ids were already claimed: an event seen before, or a reversal
    /// another writer recorded first.
    DuplicateInteraction(Vec<String>),
    /// Other writes held the cart or order (or the store throttled): try again after a wait.
    Contended,
    Store(StoreError),
}

impl From<StoreError> for PaymentWriteError {
    fn from(error: StoreError) -> Self {
        PaymentWriteError::Store(error)
    }
}

/// Payments of a cart or an order: written under their own revision, each interaction id claimed once.
#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// Stores the cart's payments, payment revision and sweep mark (`Cart::holding_since`) iff
    /// it is `Active` at payment revision `expected`, claiming each interaction id (unique
    /// across all transactions). Leaves the cart's contents alone.
    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError>;
    /// Stores the order's payment attributes (payments, payment state, hold and sweep mark)
    /// and its revision iff the stored order is at revision `expected`, claiming each
    /// interaction id and adding each credit to its gift card (which must exist in the
    /// credit's currency, else `Conflict`), all or nothing. `frees_slot`: the order no longer
    /// awaits payment, so its customer's open-order slot (`Order::slot_owner`) is given back
    /// in the same write. Leaves everything else (owner, lines, state) alone.
    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
        credits: &[GiftCardCredit],
        frees_slot: bool,
    ) -> Result<(), PaymentWriteError>;
}
