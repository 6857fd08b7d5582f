//! The order store: the commit, lookups, history (with its cursor format), guest claims and
//! the release of an expired order.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::model::cart::Cart;
use crate::model::cart::CartOwner;
use crate::model::commit_plan::{CommitPlan, Rejection};
use crate::model::error::StoreError;
use crate::model::fulfillment::{HistoryEntry, ShipmentState};
use crate::model::idempotency::IdempotencyRecord;
use crate::model::order::{Order, OrderState};
use crate::model::order_number::OrderNumber;
use crate::model::payment::PaymentState;
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

/// A position in the order of history keys, inside a cursor this API issued: an order's
/// history key, or a time alone (`{:020}` unix nanoseconds: every key of an earlier
/// nanosecond sorts below it, every key of that nanosecond above). The next page lists the
/// keys below it.
pub fn decode_position(cursor: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let key = String::from_utf8(raw).ok()?;
    let nanos = key.get(..20)?;
    let valid = nanos.bytes().all(|b| b.is_ascii_digit())
        && match &key[20..] {
            "" => true,
            rest => rest
                .strip_prefix('#')
                .is_some_and(|number| OrderNumber::parse(number).is_ok()),
        };
    valid.then_some(key)
}

/// What a merchant's search (`GET /admin/orders`) asks of each order: every filter given
/// holds. Drafts (programmatic orders not yet processed) are listed only when `state` asks
/// for `Draft`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// The order's `customerEmail`, compared normalized: guests' and customers' orders alike.
    pub email: Option<Email>,
    /// The owning customer (a guest order once claimed included).
    pub customer: Option<CustomerId>,
    pub state: Option<OrderState>,
    pub payment_state: Option<PaymentState>,
    pub shipment_state: Option<ShipmentState>,
}

impl OrderFilter {
    /// Whether the search lists drafts (and only drafts).
    pub fn drafts(&self) -> bool {
        self.state == Some(OrderState::Draft)
    }

    pub fn matches(&self, order: &Order) -> bool {
        let state = match self.state {
            Some(state) => order.state == state,
            None => order.state != OrderState::Draft,
        };
        let email = self.email.as_ref().is_none_or(|email| {
            order.customer_email.as_ref().map(Email::normalized) == Some(email.normalized())
        });
        let customer = self.customer.as_ref().is_none_or(|customer| {
            matches!(&order.owner, CartOwner::Customer { customer_id } if customer_id == customer)
        });
        state
            && email
            && customer
            && self.payment_state.is_none_or(|s| order.payment_state == s)
            && self
                .shipment_state
                .is_none_or(|s| order.shipment_state == s)
    }
}

/// A span of history keys (`history_key`): from `from` (inclusive) to `before` (exclusive),
/// each a position as `decode_position` reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub from: String,
    pub before: String,
}

impl KeyRange {
    pub fn contains(&self, key: &str) -> bool {
        self.from.as_str() <= key && key < self.before.as_str()
    }

    pub fn is_empty(&self) -> bool {
        self.from >= self.before
    }

    /// The earliest creation time (unix nanoseconds) a key in the range can have.
    pub fn first_nanos(&self) -> i128 {
        nanos_of(&self.from)
    }

    /// The latest creation time (unix nanoseconds) a key in the range can have: `before`'s
    /// own nanosecond when it is an order's key, the one before when it is a time alone.
    pub fn last_nanos(&self) -> i128 {
        match self.before.len() > 20 {
            true => nanos_of(&self.before),
            false => nanos_of(&self.before) - 1,
        }
    }
}

/// The unix nanoseconds at the head of a position.
fn nanos_of(position: &str) -> i128 {
    position
        .get(..20)
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
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
    /// A merchant's search: the orders that match `filter` whose history key lies in
    /// `range`, newest first, at most `limit`. `next` is the position the next page lists
    /// below (its range's new `before`), `None` once the range is exhausted. A page is short
    /// of `limit` only at the end of the range, or when a store stopped at its per-request
    /// read budget (DynamoDB), `next` then saying where it stopped.
    async fn search_orders(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
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
