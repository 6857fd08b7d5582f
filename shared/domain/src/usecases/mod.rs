//! What the API can be asked to do, one file per capability, each over the narrow ports it
//! needs. `Storefront` holds the ports; each use case is a method on it.

pub mod carts;
pub mod catalog_admin;
pub mod checkout;
pub mod claims;
pub mod commit;
pub mod gift_cards;
pub mod idempotency;
pub mod merchant_orders;
pub mod order_queries;
pub mod order_search;
pub mod payment_events;
pub mod payment_webhook;
pub mod payments;
pub mod programmatic;
pub mod replicate;
pub mod reservations;
pub mod retry;
pub mod reversals;
pub mod storefront;
pub mod sweeper;

pub use storefront::{conflict, Storefront};
