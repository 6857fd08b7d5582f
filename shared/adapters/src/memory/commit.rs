//! The commit's conditions, checked as the DynamoDB transaction checks them.

use checkout_domain::model::cart::CartState;
use checkout_domain::model::commit_plan::{CommitPlan, Origin, Rejection};
use checkout_domain::model::error::StockShortage;
use checkout_domain::model::order::OrderState;

use super::State;

impl State {
    /// Every condition of `plan`, checked as the DynamoDB transaction checks them.
    pub(super) fn rejections(&self, plan: &CommitPlan) -> Vec<Rejection> {
        let mut rejections = Vec::new();
        let order = &plan.order;
        let cart = self.carts.get(&order.cart_id);
        let stored = self.orders.get(&order.cart_id);
        let refused = match plan.origin {
            Origin::Cart => {
                !cart.is_some_and(|c| {
                    c.version == plan.expected_cart_version
                        && c.payment_revision == plan.expected_payment_revision
                        && c.state == CartState::Active
                }) || stored.is_some()
            }
            Origin::Programmatic {
                draft_revision: None,
            } => stored.is_some(),
            Origin::Programmatic {
                draft_revision: Some(revision),
            } => !stored.is_some_and(|o| o.state == OrderState::Draft && o.revision == revision),
        };
        if refused {
            rejections.push(Rejection::Cart {
                current: cart.cloned().map(Box::new),
                order: self.orders.get(&order.cart_id).cloned().map(Box::new),
            });
        }
        let number_claimed = matches!(
            plan.origin,
            Origin::Programmatic {
                draft_revision: Some(_)
            }
        );
        if !number_claimed && self.order_numbers.contains_key(&order.order_number) {
            rejections.push(Rejection::OrderNumberTaken);
        }
        for held in &plan.converted {
            let ours = self
                .holds
                .get(&(held.hold.sku.clone(), held.owner.clone()))
                .is_some_and(|h| h.payment_id == held.payment_id && h.cart_id == held.cart_id);
            if !ours {
                rejections.push(Rejection::HoldGone(held.hold.sku.clone()));
            }
        }
        let mut shortages = Vec::new();
        let revision = plan.pricing.as_ref().map(|p| p.revision);
        for r in &plan.reservations {
            let Some(p) = self.products.get(&r.sku) else {
                rejections.push(Rejection::PricingChanged);
                continue;
            };
            for &(shard, quantity) in &r.takes {
                // As the DynamoDB items' conditions: this shard's stock, the terms on it.
                let Some(&units) = p.shard_stock.get(shard as usize) else {
                    rejections.push(Rejection::ProductChanged(r.sku.clone()));
                    continue;
                };
                let terms_hold = p.price(r.unit_price.currency()) == Some(r.unit_price)
                    && p.tax_category == r.tax_category
                    && revision.is_none_or(|priced| p.config_revision <= priced);
                if units < quantity && r.shards > 1 {
                    rejections.push(Rejection::ShardShort {
                        sku: r.sku.clone(),
                        shard,
                        available: units,
                    });
                } else if units < quantity {
                    shortages.push(StockShortage {
                        sku: r.sku.to_string(),
                        name: p.name.to_string(),
                        requested: quantity,
                        available: units,
                    });
                } else if !terms_hold {
                    rejections.push(Rejection::ProductChanged(r.sku.clone()));
                }
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
        for redemption in &plan.gift_cards {
            let holds = self.gift_cards.get(&redemption.code).is_some_and(|card| {
                card.currency == redemption.amount.currency()
                    && card.balance >= redemption.amount.cent_amount
            });
            if !holds {
                rejections.push(Rejection::GiftCardBalance(redemption.code.clone()));
            }
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
        if let Some(slot) = &plan.saved_order_slot {
            let taken = self.saved_orders.get(&slot.customer).map_or(0, |s| s.len());
            if taken >= slot.limit as usize {
                rejections.push(Rejection::TooManyOpenOrders(slot.limit));
            }
        }
        if let Some(record) = &plan.idempotency {
            if self
                .idempotency
                .get(&record.key)
                .is_some_and(|r| r.is_live(plan.now))
            {
                rejections.push(Rejection::IdempotencyKeyHeld);
            }
        }
        rejections
    }
}

impl State {
    /// Gives the open-order slot of `order` back (whether or not it is still taken).
    pub(super) fn give_back_slot(&mut self, order: &checkout_domain::model::order::Order) {
        if let Some(customer) = order.slot_owner() {
            if let Some(slots) = self.saved_orders.get_mut(customer) {
                slots.remove(&order.cart_id);
            }
        }
    }
}
