//! The embedded store: the same semantics as the DynamoDB adapter, in process. Each call holds
//! one lock for its whole check-and-write, which is what a DynamoDB condition guarantees.
//!
//! Like the DynamoDB table's stream, the store has a change feed: every order write sends
//! the order before and after to [`MemoryStore::changes`] subscribers, from inside the lock,
//! so they see changes in commit order.
//!
//! Its files mirror the DynamoDB adapter's: one per port ([`catalog`], [`carts`], [`commit`]
//! and [`orders`], [`payments`], [`idempotency`], [`sweep`], [`claims`], [`gift_cards`]).

mod carts;
mod catalog;
mod claims;
mod commit;
mod gift_cards;
mod idempotency;
mod orders;
mod payments;
mod reservations;
mod sweep;

use std::collections::HashMap;
use std::sync::Mutex;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::catalog::Product;
use checkout_domain::model::claim::ClaimTicket;
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::gift_card::{GiftCard, GiftCardCode};
use checkout_domain::model::idempotency::IdempotencyRecord;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::pricing_config::PricingConfig;
use checkout_domain::model::values::{CartId, CustomerId, DiscountCode, SessionHash, Sku};

#[derive(Default)]
struct State {
    products: HashMap<Sku, Product>,
    discounts: HashMap<DiscountCode, DiscountDefinition>,
    config: PricingConfig,
    carts: HashMap<CartId, Cart>,
    /// Orders by cart: one per cart, as in DynamoDB.
    orders: HashMap<CartId, Order>,
    order_numbers: HashMap<OrderNumber, CartId>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// Customer records by normalized email: `Some(id)` once registered, `None` for guests
    /// only. Guests may not check out with a registered email.
    customers: HashMap<String, Option<CustomerId>>,
    /// Every payment interaction id ever recorded: unique across all transactions.
    interactions: std::collections::HashSet<String>,
    /// Guest claim tickets by token hash.
    claim_tickets: HashMap<SessionHash, StoredTicket>,
    gift_cards: HashMap<GiftCardCode, GiftCard>,
    /// Each customer's unpaid saved orders (their cart ids): the open-order slots taken.
    saved_orders: HashMap<CustomerId, std::collections::BTreeSet<CartId>>,
    /// Reservations' holds beside the stock, by SKU and owner (one each).
    holds: HashMap<(Sku, String), checkout_domain::model::reservation::StoredHold>,
    /// Each order's history entries (beside it, as in DynamoDB), oldest first.
    history: HashMap<CartId, Vec<checkout_domain::model::fulfillment::HistoryEntry>>,
}

impl State {
    /// Stores the history entry `order`'s change notes, if any.
    fn note(&mut self, order: &Order) {
        if let Some(entry) = &order.change {
            self.history
                .entry(order.cart_id.clone())
                .or_default()
                .push(entry.clone());
        }
    }
}

struct StoredTicket {
    ticket: ClaimTicket,
    used: bool,
}

/// One order write: the order before (`None` when it was created) and after.
pub type OrderChange = (Option<Order>, Option<Order>);

/// Changes a slow subscriber may fall behind by before it misses some (it is told).
const FEED_CAPACITY: usize = 4096;

pub struct MemoryStore {
    state: Mutex<State>,
    feed: tokio::sync::broadcast::Sender<OrderChange>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            state: Mutex::default(),
            feed: tokio::sync::broadcast::channel(FEED_CAPACITY).0,
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every order write from now on, in commit order: the embedded store's stream.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<OrderChange> {
        self.feed.subscribe()
    }

    /// Publishes a change; called with the lock held so the feed's order is commit order.
    fn publish(&self, old: Option<Order>, new: Option<Order>) {
        // No subscriber is fine: nobody is listening (the feed is not durable).
        let _ = self.feed.send((old, new));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a write: every write is one insert.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
