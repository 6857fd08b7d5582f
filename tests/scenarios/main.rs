//! Every scenario test, one module per capability, in one test binary: the AWS SDK and the
//! whole workspace are linked once, not once per capability.
//!
//! A scenario's name is `capability::store::scenario`, or `capability::topic::store::scenario`
//! where a capability is a folder of topic files (`orders::keys::dynamodb::...`); run one
//! capability with `cargo nextest run -E 'test(/^orders::/)'`.

mod adyen;
mod bad_input;
mod carts;
mod catalog_admin;
mod contention;
mod contract;
mod gift_cards;
mod guest_checkout;
mod guest_claim;
mod holds;
mod identity;
mod interleaving;
mod merchant;
mod money;
mod order_events;
mod order_search;
mod orders;
mod outbox;
mod payments;
mod pricing;
mod programmatic_interleaving;
mod programmatic_orders;
mod providers;
mod refunds;
mod replica_reads;
mod replicate;
mod reservations;
mod secrets;
mod stripe;
mod sweeper;
