//! Reservations: units of reserving SKUs taken off the shelf when a payment starts, held
//! beside the stock (one hold per owner and SKU) and on the cart, given back or sold.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::model::cart::Cart;
use crate::model::commit_plan::Reservation;
use crate::model::error::{StockShortage, StoreError};
use crate::model::reservation::StoredHold;
use crate::model::values::{CartId, Sku};

/// Why a reservation was not made.
#[derive(Debug)]
pub enum ReserveError {
    /// The cart moved on (its payments, its state, or it holds a reservation now): read again.
    Conflict,
    /// One shard of a sharded SKU had fewer units than taken from it (others may have more).
    ShardShort {
        sku: Sku,
        shard: u32,
    },
    /// A SKU kept on one item has fewer units than the cart's line.
    OutOfStock(Vec<StockShortage>),
    /// A product's price, tax category or configuration moved since the cart was priced.
    ProductChanged(Sku),
    /// The cart's owner holds the SKU for another cart.
    HeldElsewhere {
        sku: Sku,
        cart: CartId,
    },
    /// Other writes held an item (or the store throttled): try again after a wait.
    Contended,
    Store(StoreError),
}

impl From<StoreError> for ReserveError {
    fn from(error: StoreError) -> Self {
        if error.contended {
            ReserveError::Contended
        } else {
            ReserveError::Store(error)
        }
    }
}

/// Why a release did not happen.
#[derive(Debug)]
pub enum ReleaseError {
    /// A hold is no longer this payment's (sold, or given back by another), or the cart moved
    /// on: read again.
    Conflict,
    Contended,
    Store(StoreError),
}

impl From<StoreError> for ReleaseError {
    fn from(error: StoreError) -> Self {
        if error.contended {
            ReleaseError::Contended
        } else {
            ReleaseError::Store(error)
        }
    }
}

#[async_trait]
pub trait ReservationStore: Send + Sync + 'static {
    /// Takes each of `takes` off its shards (each shard's stock suffices; its price, tax
    /// category and `config_revision` are as the cart was priced), stores `cart`'s reservation
    /// on the cart and each of its holds beside the stock (the owner holds no other cart's
    /// hold of that SKU), iff the cart is `Active` at payment revision `expected` without a
    /// reservation. `cart` carries the reservation and its next payment revision. All or
    /// nothing.
    async fn reserve(
        &self,
        cart: &Cart,
        expected: u64,
        takes: &[Reservation],
        config_revision: u64,
    ) -> Result<(), ReserveError>;

    /// Gives `holds` back: each hold item still this payment's is removed and its units go
    /// back to their shards; with `cart` (the cart with its reservation cleared and the next
    /// payment revision), the cart's reservation is cleared too, iff it is at payment revision
    /// `expected`. All or nothing.
    async fn release(
        &self,
        holds: &[StoredHold],
        cart: Option<(&Cart, u64)>,
    ) -> Result<(), ReleaseError>;

    /// Every hold of `sku` stored now, live or ended.
    async fn holds(&self, sku: &Sku) -> Result<Vec<StoredHold>, StoreError>;
}

/// The units of `holds` still held at `now`.
pub fn reserved_units(holds: &[StoredHold], now: OffsetDateTime) -> u32 {
    holds
        .iter()
        .filter(|h| h.until > now)
        .map(|h| h.hold.units)
        .sum()
}
