//! What the domain needs from the outside world. Adapters implement these; the domain never
//! names a database or a cloud.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::cart::Cart;
use crate::catalog::{DiscountDefinition, PricingConfig, Product, ProductTerms, StockWrite};
use crate::commit::{CommitPlan, Rejection};
use crate::error::StoreError;
use crate::events::OrderEvent;
use crate::idempotency::IdempotencyRecord;
use crate::order::Order;
use crate::order_number::OrderNumber;
use crate::values::{CartId, DiscountCode, Sku};
use crate::values::{CustomerId, Email, SessionHash};

/// Why a conditional cart write did not happen.
#[derive(Debug)]
pub enum CartWriteError {
    /// The condition failed; carries the cart as it is now (`None`: it does not exist).
    Conflict(Option<Box<Cart>>),
    Store(StoreError),
}

impl From<StoreError> for CartWriteError {
    fn from(error: StoreError) -> Self {
        CartWriteError::Store(error)
    }
}

/// Why a product write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ProductWriteError {
    /// The stock condition failed: the product's stock now (`None`: it does not exist).
    #[error("the stock condition failed; current stock {current:?}")]
    StockConflict { current: Option<u32> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

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

/// Why a payment write did not happen.
#[derive(Debug)]
pub enum PaymentWriteError {
    /// The cart or order moved on (or is no longer where the payment belongs): read again.
    Conflict,
    /// An interaction id was already recorded: the event was seen before.
    DuplicateInteraction,
    Store(StoreError),
}

impl From<StoreError> for PaymentWriteError {
    fn from(error: StoreError) -> Self {
        PaymentWriteError::Store(error)
    }
}

/// The sweeper's two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepKind {
    /// Saved orders whose hold ended, and cancelled orders still holding money.
    Orders,
    /// Active carts holding money that never became an order.
    Carts,
}

/// One page of the sweeper's work.
#[derive(Debug, Clone, Default)]
pub struct SweepPage {
    pub carts: Vec<CartId>,
    /// Where the next page starts; `None` at the end.
    pub next: Option<String>,
}

/// One page of a customer's orders, newest first.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    /// Where the next page starts (a history key; clients see it encoded); `None` at the end.
    pub next: Option<String>,
}

/// Durable state. Every invariant is the store's condition, never a read followed by a write.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Sets a product's terms attribute by attribute and applies `stock` under its condition
    /// (see `StockWrite`), in one conditional write; returns the product as stored.
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError>;
    /// The products that exist among `skus`, in any order.
    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError>;

    /// Inserts or replaces a discount code's terms, keeping its redemption count; returns the
    /// stored definition.
    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError>;
    /// The discount codes that exist among `codes`, in any order.
    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError>;

    async fn put_config(&self, config: &PricingConfig) -> Result<(), StoreError>;
    /// The pricing configuration; empty until one is stored.
    async fn config(&self) -> Result<PricingConfig, StoreError>;

    /// Stores a new cart; its id must be unused.
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError>;
    /// Reads a cart, strongly consistent.
    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError>;
    /// Writes a cart's contents (everything but its payments, payment revision and sweep
    /// mark, which only payment writes change) iff it is still `Active` at
    /// `expected_version`. A payment recorded meanwhile is kept.
    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError>;

    /// A cart and, once it is ordered, its order: one strongly consistent read.
    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError>;
    /// Applies a commit plan atomically, or reports every condition that failed.
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError>;
    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError>;
    /// A customer's orders, newest first, after the cursor `after`.
    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError>;
    /// The carts whose order (`SweepKind::Orders`: `Order::sweep_at`) or whose own payments
    /// (`SweepKind::Carts`: `Cart::holding_since`) are due at or before `due_by`, a page at a
    /// time from `cursor` (an opaque `SweepPage::next`).
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError>;
    /// Writes `cancelled` (a saved order, now `Cancelled`, at revision `expected + 1`): its
    /// state, revision and sweep mark, and gives back its stock and code redemptions, iff the
    /// stored order is still open at `expected_revision`. Returns whether it did.
    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError>;

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
    /// interaction id. Leaves everything else (owner, lines, state) alone.
    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError>;

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

    /// Takes an idempotency key unless a live record holds it; returns that record if so.
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<(), StoreError>;
    /// Frees a key this request holds (by fingerprint), so it can be used again.
    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError>;
}

/// One message for a consumer's queue: `id` is unique within one `send` call, `body` is what
/// the consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
}

/// A consumer's queue (SQS in AWS, a channel in the local server).
#[async_trait]
pub trait EventQueue: Send + Sync + 'static {
    /// Sends up to ten messages; returns the ids of those that were not accepted, so the
    /// caller retries exactly those. `Err` means none is known to have been accepted.
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError>;
}

/// An email ready to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Sends email (SES in AWS, a mailbox in the local server).
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError>;
}

/// How the ERP took an order event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErpReceipt {
    Created,
    /// It had the event already (a redelivery after a crash, or a replay from a DLQ).
    AlreadySynced,
}

/// The ERP system. It hears every order event (creation, payment, cancellation, refund),
/// keyed by order number and sequence so a repeated push is recognized there too.
#[async_trait]
pub trait Erp: Send + Sync + 'static {
    async fn push(&self, event: &OrderEvent) -> Result<ErpReceipt, DeliveryError>;
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

/// Which side effects consumers have performed, per consumer and event id, so a redelivered
/// message does nothing twice. Records are written after the effect succeeded.
/// Whether a delivery may perform an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectClaim {
    /// This delivery holds the lease: perform, then record (or release).
    Claimed,
    /// Performed and recorded before: nothing to do.
    Done,
    /// Another delivery is performing it right now: try again later.
    Held,
}

#[async_trait]
pub trait EffectLog: Send + Sync + 'static {
    /// Takes a lease on performing an effect until `lease_until`, unless the effect is done or
    /// another delivery holds a live lease on it.
    async fn claim_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<EffectClaim, StoreError>;
    /// Gives a lease back after an attempt that did nothing, so a redelivery may try again.
    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError>;
    /// Records the effect done; `false` if it was recorded already.
    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
