//! What the API can be asked to do, one file (or folder) per capability, each a small struct
//! over the ports it uses: `CatalogAdmin`, `GiftCards`, `Carts`, `Checkout` and the one
//! `Commit` path, `Reservations` and their `Holds`, `Payments`, `PaymentEvents`,
//! `PaymentWebhook`, `Reversals`, `OrderQueries`, `OrderSearch`, `Claims`, `MerchantOrders`,
//! `ProgrammaticOrders`, `OrderReplication`, `Sweeper`. A use case that needs another holds it
//! (a `Checkout` holds the `Carts` it prices with and the `Commit` it commits through), so its
//! struct lists everything it can touch. `Storefront` is the wiring: it holds the store (every
//! narrow port), the payment `Providers` and `Env` (clock, limits, metrics, the pause between
//! contended retries), and makes each use case (`storefront.checkout()`, `.sweeper()`, ...);
//! a Lambda calls the use cases it serves.

pub mod carts;
pub mod catalog_admin;
pub mod checkout;
pub mod claims;
pub mod commit;
pub mod env;
pub mod gift_cards;
pub mod idempotency;
pub mod merchant_orders;
pub mod order_queries;
pub mod order_search;
pub mod payment_events;
pub mod payment_webhook;
pub mod payments;
pub mod programmatic;
pub mod providers;
pub mod replicate;
pub mod reservations;
pub mod retry;
pub mod reversals;
pub mod storefront;
pub mod sweeper;

pub use carts::conflict;
pub use storefront::Storefront;
