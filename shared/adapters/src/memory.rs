//! The embedded store: the same semantics as the DynamoDB adapter, in process. Each call holds
//! one lock for its whole check-and-write, which is what a DynamoDB condition guarantees.
//!
//! Like the DynamoDB table's stream, the store has a change feed: every order write sends
//! the order before and after to [`MemoryStore::changes`] subscribers, from inside the lock,
//! so they see changes in commit order.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use checkout_domain::cart::CartOwner;
use checkout_domain::cart::{Cart, CartState};
use checkout_domain::catalog::{
    DiscountDefinition, PricingConfig, Product, ProductTerms, StockWrite,
};
use checkout_domain::claim::{ClaimTicket, ClaimTickets};
use checkout_domain::commit::{CommitPlan, Rejection};
use checkout_domain::error::StockShortage;
use checkout_domain::idempotency::{IdempotencyRecord, RecordState};
use checkout_domain::order::{Order, OrderState};
use checkout_domain::order_number::OrderNumber;
use checkout_domain::ports::{
    history_key, CartWriteError, CommitError, EffectClaim, EffectLog, OrderPage, PaymentWriteError,
    ProductWriteError, Store, SweepKind, SweepPage,
};
use checkout_domain::values::{CartId, CustomerId, DiscountCode, Email, SessionHash, Sku};
use checkout_domain::StoreError;

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
    /// Side effects by `(consumer, event id)`: `Some(lease end)` while being performed,
    /// `None` once done.
    effects: HashMap<(String, String), Option<OffsetDateTime>>,
    /// Every payment interaction id ever recorded: unique across all transactions.
    interactions: std::collections::HashSet<String>,
    /// Guest claim tickets by token hash.
    claim_tickets: HashMap<SessionHash, StoredTicket>,
}

struct StoredTicket {
    ticket: ClaimTicket,
    used: bool,
}

impl State {
    /// Every condition of `plan`, checked as the DynamoDB transaction checks them.
    fn rejections(&self, plan: &CommitPlan) -> Vec<Rejection> {
        let mut rejections = Vec::new();
        let order = &plan.order;
        let cart = self.carts.get(&order.cart_id);
        if !cart.is_some_and(|c| {
            c.version == plan.expected_cart_version
                && c.payment_revision == plan.expected_payment_revision
                && c.state == CartState::Active
        }) || self.orders.contains_key(&order.cart_id)
        {
            rejections.push(Rejection::Cart {
                current: cart.cloned().map(Box::new),
                order: self.orders.get(&order.cart_id).cloned().map(Box::new),
            });
        }
        if self.order_numbers.contains_key(&order.order_number) {
            rejections.push(Rejection::OrderNumberTaken);
        }
        let mut shortages = Vec::new();
        for r in &plan.reservations {
            match self.products.get(&r.sku) {
                Some(p) if p.stock < r.quantity => shortages.push(StockShortage {
                    sku: r.sku.to_string(),
                    name: p.name.to_string(),
                    requested: r.quantity,
                    available: p.stock,
                }),
                Some(p)
                    if p.price(r.unit_price.currency()) == Some(r.unit_price)
                        && p.tax_category == r.tax_category => {}
                _ => rejections.push(Rejection::ProductChanged(r.sku.clone())),
            }
        }
        if !shortages.is_empty() {
            rejections.push(Rejection::OutOfStock(shortages));
        }
        for terms in &plan.redemptions {
            let usable = self.discounts.get(&terms.code).is_some_and(|d| {
                d.kind == terms.kind
                    && d.min_order_value == terms.min_order_value
                    && d.max_redemptions == terms.max_redemptions
                    && d.valid_until == terms.valid_until
                    && d.valid_until.is_none_or(|until| plan.now <= until)
                    && d.has_redemptions_left()
            });
            if !usable {
                rejections.push(Rejection::DiscountUnavailable(terms.code.to_string()));
            }
        }
        if !pricing_holds(&self.config, plan) {
            rejections.push(Rejection::PricingChanged);
        }
        if let Some(email) = &plan.guest_email {
            if self
                .customers
                .get(&email.normalized())
                .is_some_and(Option::is_some)
            {
                rejections.push(Rejection::EmailRegistered);
            }
        }
        if let Some(record) = &plan.idempotency {
            let held = self.idempotency.get(&record.key).is_some_and(|r| {
                r.fingerprint == record.fingerprint
                    && matches!(r.state, RecordState::InFlight { .. })
            });
            if !held {
                rejections.push(Rejection::IdempotencyLost);
            }
        }
        rejections
    }
}

impl State {
    fn claim_interactions(&mut self, interactions: &[String]) -> Result<(), PaymentWriteError> {
        if interactions.iter().any(|i| self.interactions.contains(i)) {
            return Err(PaymentWriteError::DuplicateInteraction);
        }
        self.interactions.extend(interactions.iter().cloned());
        Ok(())
    }
}

fn pricing_holds(config: &PricingConfig, plan: &CommitPlan) -> bool {
    let p = &plan.pricing;
    let currency = p.shipping_price.currency();
    let rates = p
        .tax_rates
        .iter()
        .all(|(category, rate)| config.tax_rate(&p.country, category) == Some(*rate));
    let shipping = config.shipping_method(&p.shipping_method).is_some_and(|m| {
        m.countries.contains(&p.country)
            && m.prices.get(&currency) == Some(&p.shipping_price.cent_amount)
            && m.free_above.get(&currency) == p.shipping_free_above.map(|f| f.cent_amount).as_ref()
    });
    let minimum = config
        .min_order_value
        .get(&currency)
        .is_none_or(|&min| p.goods_value.cent_amount >= min);
    rates && shipping && minimum
}

fn is_live(record: &IdempotencyRecord, now: OffsetDateTime) -> bool {
    record.expires_at > now.unix_timestamp()
        && match record.state {
            RecordState::InFlight { locked_until } => locked_until > now,
            RecordState::Done { .. } => true,
        }
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

#[async_trait]
impl Store for MemoryStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        let mut state = self.lock();
        let current = state.products.get(&terms.sku).map(|p| p.stock);
        let stock = stock
            .apply(current)
            .ok_or(ProductWriteError::StockConflict { current })?;
        let product = Product::new(terms.clone(), stock);
        state.products.insert(terms.sku.clone(), product.clone());
        Ok(product)
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        let state = self.lock();
        Ok(skus
            .iter()
            .filter_map(|s| state.products.get(s).cloned())
            .collect())
    }

    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        let mut state = self.lock();
        let redemptions = state
            .discounts
            .get(&discount.code)
            .map_or(0, |d| d.redemptions);
        let stored = DiscountDefinition {
            redemptions,
            ..discount.clone()
        };
        state
            .discounts
            .insert(discount.code.clone(), stored.clone());
        Ok(stored)
    }

    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        let state = self.lock();
        Ok(codes
            .iter()
            .filter_map(|c| state.discounts.get(c).cloned())
            .collect())
    }

    async fn put_config(&self, config: &PricingConfig) -> Result<(), StoreError> {
        self.lock().config = config.clone();
        Ok(())
    }

    async fn config(&self) -> Result<PricingConfig, StoreError> {
        Ok(self.lock().config.clone())
    }

    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        let mut state = self.lock();
        if let Some(existing) = state.carts.get(&cart.id) {
            return Err(CartWriteError::Conflict(Some(Box::new(existing.clone()))));
        }
        state.carts.insert(cart.id.clone(), cart.clone());
        Ok(())
    }

    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        Ok(self.lock().carts.get(id).cloned())
    }

    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        let mut state = self.lock();
        match state.carts.get(&cart.id) {
            Some(current)
                if current.version == expected_version
                    && current.state == checkout_domain::cart::CartState::Active =>
            {
                // The contents only: payments recorded meanwhile stay (rule 9).
                let mut next = cart.clone();
                next.payments = current.payments.clone();
                next.payment_revision = current.payment_revision;
                state.carts.insert(cart.id.clone(), next);
                Ok(())
            }
            current => Err(CartWriteError::Conflict(current.cloned().map(Box::new))),
        }
    }

    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        let state = self.lock();
        Ok((state.carts.get(id).cloned(), state.orders.get(id).cloned()))
    }

    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        let mut state = self.lock();
        let rejections = state.rejections(plan);
        if !rejections.is_empty() {
            return Err(CommitError::Rejected(rejections));
        }
        let order = &plan.order;
        for r in &plan.reservations {
            if let Some(product) = state.products.get_mut(&r.sku) {
                product.stock -= r.quantity;
            }
        }
        for terms in &plan.redemptions {
            if let Some(discount) = state.discounts.get_mut(&terms.code) {
                discount.redemptions += 1;
            }
        }
        if let Some(cart) = state.carts.get_mut(&order.cart_id) {
            cart.state = CartState::Ordered;
            cart.order_number = Some(order.order_number.to_string());
            cart.version += 1;
            cart.updated_at = plan.now;
        }
        state
            .order_numbers
            .insert(order.order_number.clone(), order.cart_id.clone());
        state.orders.insert(order.cart_id.clone(), order.clone());
        if let Some(record) = &plan.idempotency {
            state.idempotency.insert(record.key.clone(), record.clone());
        }
        self.publish(None, Some(order.clone()));
        Ok(())
    }

    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError> {
        let state = self.lock();
        Ok(state
            .order_numbers
            .get(number)
            .and_then(|cart| state.orders.get(cart))
            .cloned())
    }

    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        let state = self.lock();
        let mut orders: Vec<(String, &Order)> = state
            .orders
            .values()
            .filter(|o| matches!(&o.owner, checkout_domain::cart::CartOwner::Customer { customer_id } if customer_id == customer))
            .map(|o| (history_key(o), o))
            .filter(|(key, _)| after.is_none_or(|after| key.as_str() < after))
            .collect();
        orders.sort_by(|a, b| b.0.cmp(&a.0));
        let next = (orders.len() > limit).then(|| orders[limit - 1].0.clone());
        Ok(OrderPage {
            orders: orders
                .into_iter()
                .take(limit)
                .map(|(_, o)| o.clone())
                .collect(),
            next,
        })
    }

    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        let state = self.lock();
        let mut due: Vec<(String, CartId)> = match kind {
            SweepKind::Orders => state
                .orders
                .values()
                .filter_map(|o| Some((o.sweep_at()?, o.cart_id.clone())))
                .collect::<Vec<_>>(),
            SweepKind::Carts => state
                .carts
                .values()
                .filter_map(|c| Some((c.holding_since()?, c.id.clone())))
                .collect::<Vec<_>>(),
        }
        .into_iter()
        .filter(|(at, _)| *at <= due_by)
        .map(|(at, id)| (format!("{:020}#{id}", at.unix_timestamp().max(0)), id))
        .filter(|(key, _)| cursor.is_none_or(|after| key.as_str() > after))
        .collect();
        due.sort();
        let next = (due.len() > limit).then(|| due[limit - 1].0.clone());
        Ok(SweepPage {
            carts: due.into_iter().take(limit).map(|(_, id)| id).collect(),
            next,
        })
    }

    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let still_open = state
            .orders
            .get(&cancelled.cart_id)
            .is_some_and(|o| o.revision == expected_revision && o.state == OrderState::Open);
        if !still_open {
            return Ok(false);
        }
        for line in &cancelled.line_items {
            if let Some(product) = state.products.get_mut(&line.sku) {
                product.stock += line.quantity.get();
            }
        }
        for code in &cancelled.discount_codes {
            if let Some(discount) = state.discounts.get_mut(&code.code) {
                discount.redemptions = discount.redemptions.saturating_sub(1);
            }
        }
        if let Some(stored) = state.orders.get_mut(&cancelled.cart_id) {
            let before = stored.clone();
            stored.state = cancelled.state;
            stored.revision = cancelled.revision;
            let after = stored.clone();
            self.publish(Some(before), Some(after));
        }
        Ok(true)
    }

    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut state = self.lock();
        let current = state.carts.get(&cart.id);
        if !current.is_some_and(|c| {
            c.payment_revision == expected_payment_revision && c.state == CartState::Active
        }) {
            return Err(PaymentWriteError::Conflict);
        }
        state.claim_interactions(interactions)?;
        let stored = state.carts.get_mut(&cart.id).expect("checked above");
        stored.payments = cart.payments.clone();
        stored.payment_revision = cart.payment_revision;
        Ok(())
    }

    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut state = self.lock();
        if state
            .orders
            .get(&order.cart_id)
            .is_none_or(|o| o.revision != expected_revision)
        {
            return Err(PaymentWriteError::Conflict);
        }
        state.claim_interactions(interactions)?;
        // Only what payments own, so a concurrent claim or cancellation is never undone.
        let stored = state.orders.get_mut(&order.cart_id).expect("checked above");
        let before = stored.clone();
        stored.payments = order.payments.clone();
        stored.payment_state = order.payment_state;
        stored.expires_at = order.expires_at;
        stored.revision = order.revision;
        let after = stored.clone();
        self.publish(Some(before), Some(after));
        Ok(())
    }

    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        let state = self.lock();
        Ok(state
            .orders
            .values()
            .filter(|o| {
                o.is_guest()
                    && o.customer_email.as_ref().map(Email::normalized) == Some(email.normalized())
            })
            .cloned()
            .collect())
    }

    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError> {
        let mut state = self.lock();
        match state.customers.get(&email.normalized()) {
            Some(Some(owner)) if owner != customer => return Ok(None),
            _ => {}
        }
        state
            .customers
            .insert(email.normalized(), Some(customer.clone()));
        let mut moved = Vec::new();
        for order in orders {
            // Only the owner and the revision change, as DynamoDB's attribute-level update
            // does, and only while the order is a guest's at the revision read.
            let Some(stored) = state.orders.get_mut(&order.cart_id) else {
                continue;
            };
            if !stored.is_guest() || stored.revision != order.revision {
                continue;
            }
            let before = stored.clone();
            stored.owner = CartOwner::Customer {
                customer_id: customer.clone(),
            };
            stored.revision += 1;
            let after = stored.clone();
            moved.push(after.order_number.clone());
            self.publish(Some(before), Some(after));
        }
        Ok(Some(moved))
    }

    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        _customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        match state.claim_tickets.get_mut(token_hash) {
            Some(ticket)
                if !ticket.used
                    && ticket.ticket.email.normalized() == email.normalized()
                    && ticket.ticket.expires_at > now =>
            {
                ticket.used = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut state = self.lock();
        match state.idempotency.get(&record.key) {
            Some(existing) if is_live(existing, now) => Ok(Some(existing.clone())),
            _ => {
                state.idempotency.insert(record.key.clone(), record.clone());
                Ok(None)
            }
        }
    }

    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        self.lock()
            .idempotency
            .insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.idempotency.get(key).is_some_and(|r| {
            r.fingerprint == fingerprint && matches!(r.state, RecordState::InFlight { .. })
        }) {
            state.idempotency.remove(key);
        }
        Ok(())
    }
}

#[async_trait]
impl EffectLog for MemoryStore {
    async fn claim_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<EffectClaim, StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        match state.effects.get(&key) {
            Some(None) => Ok(EffectClaim::Done),
            Some(Some(lease)) if *lease > now => Ok(EffectClaim::Held),
            _ => {
                state.effects.insert(key, Some(lease_until));
                Ok(EffectClaim::Claimed)
            }
        }
    }

    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        if matches!(state.effects.get(&key), Some(Some(_))) {
            state.effects.remove(&key);
        }
        Ok(())
    }

    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        let first = !matches!(state.effects.get(&key), Some(None));
        state.effects.insert(key, None);
        Ok(first)
    }
}

#[async_trait]
impl ClaimTickets for MemoryStore {
    async fn save_claim_ticket(&self, ticket: &ClaimTicket) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.claim_tickets.contains_key(&ticket.token_hash) {
            return Err(StoreError("claim ticket exists".into()));
        }
        state.claim_tickets.insert(
            ticket.token_hash.clone(),
            StoredTicket {
                ticket: ticket.clone(),
                used: false,
            },
        );
        Ok(())
    }
}
