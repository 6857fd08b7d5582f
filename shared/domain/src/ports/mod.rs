//! What the domain needs from the outside world. Adapters implement these; the domain never
//! names a database or a cloud.
//!
//! Stores are narrow traits by aggregate (catalog, carts, orders, payments, idempotency,
//! sweep); `Store` is all of them, as every store provides them. The rest are the outside
//! world's services: clock, payment provider, queue, mailer, ERP, claim tickets.

pub mod carts;
pub mod catalog;
pub mod claims;
pub mod clock;
pub mod erp;
pub mod gift_cards;
pub mod idempotency;
pub mod mailer;
pub mod metrics;
pub mod orders;
pub mod pause;
pub mod payments;
pub mod psp;
pub mod queue;
pub mod reservations;
pub mod sweep;

use crate::ports::carts::CartStore;
use crate::ports::catalog::CatalogStore;
use crate::ports::gift_cards::GiftCardStore;
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::orders::OrderStore;
use crate::ports::payments::PaymentStore;
use crate::ports::reservations::ReservationStore;
use crate::ports::sweep::SweepStore;

/// Durable state, as every store provides it: the narrow ports below, together. Every
/// invariant is the store's condition, never a read followed by a write. Use cases name the
/// narrow port they need; wiring hands them one store.
pub trait Store:
    CatalogStore
    + CartStore
    + OrderStore
    + PaymentStore
    + IdempotencyStore
    + SweepStore
    + GiftCardStore
    + ReservationStore
{
}

impl<
        T: CatalogStore
            + CartStore
            + OrderStore
            + PaymentStore
            + IdempotencyStore
            + SweepStore
            + GiftCardStore
            + ReservationStore,
    > Store for T
{
}

/// Why a side effect did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: an outage, a timeout, throttling.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Retrying the same message cannot help (it is refused as it is).
    #[error("permanent failure: {0}")]
    Permanent(String),
}
