//! The order port, in memory: the commit (its conditions in `commit`), lookups, history, guest claims, release.

use async_trait::async_trait;
use time::OffsetDateTime;

use checkout_domain::model::cart::CartOwner;
use checkout_domain::model::cart::CartState;
use checkout_domain::model::commit_plan::CommitPlan;
use checkout_domain::model::fulfillment::HistoryEntry;
use checkout_domain::model::order::{Order, OrderState};
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::values::{CartId, CustomerId, Email, SessionHash};
use checkout_domain::ports::orders::{
    history_key, CommitError, CommitRead, KeyRange, OrderFilter, OrderPage, OrderStore,
};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl OrderStore for MemoryStore {
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        let mut state = self.lock();
        let rejections = state.rejections(plan);
        if !rejections.is_empty() {
            return Err(CommitError::Rejected(rejections));
        }
        let order = &plan.order;
        for r in &plan.reservations {
            if let Some(product) = state.products.get_mut(&r.sku) {
                for &(shard, units) in &r.takes {
                    product.shard_stock[shard as usize] -= units;
                }
                product.stock = product.shard_stock.iter().sum();
            }
        }
        // Only a limited code counts its redemptions (an unlimited one is not written).
        for terms in plan
            .redemptions
            .iter()
            .filter(|t| t.max_redemptions.is_some())
        {
            if let Some(discount) = state.discounts.get_mut(&terms.code) {
                discount.redemptions += 1;
            }
        }
        for redemption in &plan.gift_cards {
            if let Some(card) = state.gift_cards.get_mut(&redemption.code) {
                card.balance -= redemption.amount.cent_amount;
            }
        }
        // The reservation's units left the shelf when the payment started: its holds go.
        for held in &plan.converted {
            state
                .holds
                .remove(&(held.hold.sku.clone(), held.owner.clone()));
        }
        if let Some(cart) = state.carts.get_mut(&order.cart_id) {
            if !plan.converted.is_empty() {
                cart.reservation = None;
            }
            cart.state = CartState::Ordered;
            cart.order_number = Some(order.order_number.to_string());
            cart.version += 1;
            cart.updated_at = plan.now;
        }
        state
            .order_numbers
            .insert(order.order_number.clone(), order.cart_id.clone());
        let draft = state.orders.insert(order.cart_id.clone(), order.clone());
        if let Some(record) = &plan.idempotency {
            state.idempotency.insert(record.key.clone(), record.clone());
        }
        if let Some(slot) = &plan.saved_order_slot {
            state
                .saved_orders
                .entry(slot.customer.clone())
                .or_default()
                .insert(order.cart_id.clone());
        }
        self.publish(draft, Some(order.clone()));
        Ok(())
    }

    async fn commit_read(&self, cart: &CartId, key: &str) -> Result<CommitRead, StoreError> {
        let state = self.lock();
        Ok(CommitRead {
            cart: state.carts.get(cart).cloned(),
            order: state.orders.get(cart).cloned(),
            record: state.idempotency.get(key).cloned(),
        })
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
        let orders: Vec<(String, &Order)> = state
            .orders
            .values()
            .filter(|o| matches!(&o.owner, checkout_domain::model::cart::CartOwner::Customer { customer_id } if customer_id == customer))
            .map(|o| (history_key(o), o))
            .filter(|(key, _)| after.is_none_or(|after| key.as_str() < after))
            .collect();
        Ok(newest_first(orders, limit))
    }

    /// Every order, filtered, in the history key's order: what DynamoDB's index gives, with
    /// no read budget to stop at.
    async fn search_orders(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        let state = self.lock();
        let orders: Vec<(String, &Order)> = state
            .orders
            .values()
            .map(|o| (history_key(o), o))
            .filter(|(key, o)| range.contains(key) && filter.matches(o))
            .collect();
        Ok(newest_first(orders, limit))
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
        // Back to shard 0, the product's own item, which clears a sold-out mark.
        for (sku, units) in cancelled.units_held() {
            if let Some(product) = state.products.get_mut(&sku) {
                if product.shard_stock.is_empty() {
                    product.shard_stock = vec![0; product.stock_shards as usize];
                }
                product.shard_stock[0] += units;
                product.stock = product.shard_stock.iter().sum();
                product.sold_out = false;
            }
        }
        for code in cancelled
            .discount_codes
            .iter()
            .filter(|c| c.terms.max_redemptions.is_some())
        {
            if let Some(discount) = state.discounts.get_mut(&code.code) {
                discount.redemptions = discount.redemptions.saturating_sub(1);
            }
        }
        state.give_back_slot(cancelled);
        state.note(cancelled);
        if let Some(stored) = state.orders.get_mut(&cancelled.cart_id) {
            let before = stored.clone();
            stored.state = cancelled.state;
            stored.cancelled_at = cancelled.cancelled_at;
            stored.revision = cancelled.revision;
            let after = stored.clone();
            self.publish(Some(before), Some(after));
        }
        Ok(true)
    }

    async fn write_fulfillments(
        &self,
        order: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let writable = state
            .orders
            .get(&order.cart_id)
            .is_some_and(|o| o.revision == expected_revision && o.state != OrderState::Cancelled);
        if !writable {
            return Ok(false);
        }
        state.note(order);
        let stored = state.orders.get_mut(&order.cart_id).expect("checked above");
        let before = stored.clone();
        stored.state = order.state;
        stored.shipment_state = order.shipment_state;
        stored.fulfillments = order.fulfillments.clone();
        stored.revision = order.revision;
        let after = stored.clone();
        self.publish(Some(before), Some(after));
        Ok(true)
    }

    async fn order_history(&self, cart: &CartId) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self.lock().history.get(cart).cloned().unwrap_or_default())
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
            state.note(order);
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
}

/// A page of `orders` by their history keys, newest first, with the cursor of its last one
/// when more follow: what both of the history index's readings answer.
fn newest_first(mut orders: Vec<(String, &Order)>, limit: usize) -> OrderPage {
    orders.sort_by(|a, b| b.0.cmp(&a.0));
    let next = (orders.len() > limit).then(|| orders[limit - 1].0.clone());
    OrderPage {
        orders: orders
            .into_iter()
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect(),
        next,
    }
}
