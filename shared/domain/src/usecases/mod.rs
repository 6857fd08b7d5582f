//! What the API can be asked to do, one file (or folder) per capability. `Storefront` is the
//! wiring: it holds the store (every narrow port), the payment providers and `Env` (clock,
//! limits, metrics, the pause between contended retries), and makes the use cases that are
//! small structs over the ports they use: `CatalogAdmin`, `GiftCards`, `OrderQueries`,
//! `OrderSearch`, `Claims`, `MerchantOrders`, `Reversals`. The rest (carts, checkout and the
//! commit, reservations, payments and their events, the webhook, programmatic orders,
//! replication, the sweeper) are still its methods; each names the narrow port it calls
//! (`cart_store()`, `order_store()`, …), so what it touches shows in its file.

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
