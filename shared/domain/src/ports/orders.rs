//! The order store: the commit, lookups, history (with its cursor format), guest claims and
//! the release of an expired order.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::model::cart::Cart;
use crate::model::commit_plan::{CommitPlan, Rejection};
use crate::model::error::StoreError;
use crate::model::fulfillment::HistoryEntry;
use crate::model::idempotency::IdempotencyRecord;
use crate::model::order::Order;
use crate::model::order_number::OrderNumber;
use crate::model::values::{CartId, CustomerId, Email, SessionHash};

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Conditions failed; nothing was written.
    Rejected(Vec<Rejection>),
    Store(StoreError),
}

impl From<StoreError> for CommitError {
    fn from(error: StoreError) -> Self {
        CommitError::Store(error)
    }
}

/// The sort key of an order in a customer's history, and the pagination cursor: creation
/// time in zero-padded unix nanoseconds, then the order number. Lexical order is time order.
pub fn history_key(order: &Order) -> String {
    format!(
        "{:020}#{}",
        order.created_at.unix_timestamp_nanos(),
        order.order_number
    )
}

/// The client's opaque form of a history key (URL-safe, no `#`).
pub fn encode_cursor(history_key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(history_key)
}

/// The history key inside a client's cursor, if it is one this API issued.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let key = String::from_utf8(raw).ok()?;
    let (nanos, number) = key.split_once('#')?;
    (nanos.len() == 20
        && nanos.bytes().all(|b| b.is_ascii_digit())
        && OrderNumber::parse(number).is_ok())
    .then_some(key)
}

/// What a keyed commit reads first.
#[derive(Debug, Clone, Default)]
pub struct CommitRead {
    pub cart: Option<Cart>,
    pub order: Option<Order>,
    pub record: Option<IdempotencyRecord>,
}

/// One page of a customer's orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Where the next page starts (a history key; clients see it encoded); `None` at the end.
    pub next: Option<String>,
}

/// Orders: the commit, lookups, history, guest claims, and the release of an expired one.
#[async_trait]
pub trait OrderStore: Send + Sync + 'static {
    /// Applies a commit plan atomically, or reports every condition that failed.
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError>;
    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError>;
    /// A keyed commit's one read: the cart, its order (once ordered) and the idempotency
    /// record under `key`, strongly consistent, in one round trip.
    async fn commit_read(&self, cart: &CartId, key: &str) -> Result<CommitRead, StoreError>;
    /// A customer's orders, newest first, after the cursor `after`.
    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError>;
    /// Writes `cancelled` (now `Cancelled`, at revision `expected + 1`): its state,
    /// cancellation time, revision, sweep mark and history entry, and gives back the stock it
    /// holds (`Order::units_held`), its limited codes' redemptions and its customer's
    /// open-order slot, iff the stored order is still open at `expected_revision`. Returns
    /// whether it did.
    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError>;
    /// Writes an order's shipment attributes (state, shipment state, fulfilments) and its
    /// history entry iff the stored order is at `expected_revision` and not cancelled.
    /// Returns whether it did.
    async fn write_fulfillments(
        &self,
        order: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError>;
    /// The history entries stored beside the order of `cart`, oldest first (its creation is
    /// the order's own `created_at`).
    async fn order_history(&self, cart: &CartId) -> Result<Vec<HistoryEntry>, StoreError>;
    /// Guest orders placed with `email` (normalized match), any order.
    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError>;
    /// Marks the claim ticket with `token_hash` used by `customer`, iff it exists, was sent
    /// to `email`, has not expired at `now` and was never used: one conditional write.
    /// Returns whether it did.
    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Makes `customer` the owner of `orders` (guest orders of `email`) and registers the
    /// email to them, so guests can no longer check out with it. Each order changes by an
    /// attribute-level update of its owner fields, conditioned on the revision it was read
    /// at and on still being a guest's, and bumps that revision; an order that moved on in
    /// between is left as it is. Returns the numbers of the orders it moved, or `None` if the
    /// email already belongs to another customer.
    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError>;
}
