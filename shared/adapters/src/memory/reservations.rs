//! The reservation port, in memory: the same conditions as the DynamoDB transaction's rows.

use async_trait::async_trait;

use checkout_domain::model::cart::{Cart, CartState};
use checkout_domain::model::commit_plan::Reservation;
use checkout_domain::model::error::StockShortage;
use checkout_domain::model::reservation::StoredHold;
use checkout_domain::model::values::Sku;
use checkout_domain::ports::reservations::{ReleaseError, ReservationStore, ReserveError};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl ReservationStore for MemoryStore {
    async fn reserve(
        &self,
        cart: &Cart,
        expected: u64,
        takes: &[Reservation],
        config_revision: u64,
    ) -> Result<(), ReserveError> {
        let mut state = self.lock();
        let ready = state.carts.get(&cart.id).is_some_and(|c| {
            c.state == CartState::Active
                && c.payment_revision == expected
                && c.reservation.is_none()
        });
        if !ready {
            return Err(ReserveError::Conflict);
        }
        let Some(reservation) = &cart.reservation else {
            return Err(ReserveError::Store(StoreError::new("nothing to reserve")));
        };
        let holds = reservation.stored(&cart.id, &cart.owner);
        for held in &holds {
            if let Some(other) = state
                .holds
                .get(&(held.hold.sku.clone(), held.owner.clone()))
            {
                return Err(ReserveError::HeldElsewhere {
                    sku: held.hold.sku.clone(),
                    cart: other.cart_id.clone(),
                });
            }
        }
        let mut shortages = Vec::new();
        for take in takes {
            let Some(p) = state.products.get(&take.sku) else {
                return Err(ReserveError::ProductChanged(take.sku.clone()));
            };
            for &(shard, units) in &take.takes {
                let Some(&available) = p.shard_stock.get(shard as usize) else {
                    return Err(ReserveError::ProductChanged(take.sku.clone()));
                };
                if available < units && take.shards > 1 {
                    return Err(ReserveError::ShardShort {
                        sku: take.sku.clone(),
                        shard,
                    });
                }
                if available < units {
                    shortages.push(StockShortage {
                        sku: take.sku.to_string(),
                        name: p.name.to_string(),
                        requested: units,
                        available,
                    });
                    continue;
                }
                let terms_hold = p.price(take.unit_price.currency()) == Some(take.unit_price)
                    && p.tax_category == take.tax_category
                    && p.config_revision <= config_revision;
                if !terms_hold {
                    return Err(ReserveError::ProductChanged(take.sku.clone()));
                }
            }
        }
        if !shortages.is_empty() {
            return Err(ReserveError::OutOfStock(shortages));
        }
        for take in takes {
            if let Some(product) = state.products.get_mut(&take.sku) {
                for &(shard, units) in &take.takes {
                    product.shard_stock[shard as usize] -= units;
                }
                product.stock = product.shard_stock.iter().sum();
            }
        }
        for held in holds {
            state
                .holds
                .insert((held.hold.sku.clone(), held.owner.clone()), held);
        }
        if let Some(stored) = state.carts.get_mut(&cart.id) {
            stored.reservation = cart.reservation.clone();
            stored.payment_revision = cart.payment_revision;
        }
        Ok(())
    }

    async fn release(
        &self,
        holds: &[StoredHold],
        cart: Option<(&Cart, u64)>,
    ) -> Result<(), ReleaseError> {
        let mut state = self.lock();
        if let Some((next, expected)) = cart {
            let payment = holds.first().map(|h| h.payment_id.as_str());
            let ready = state.carts.get(&next.id).is_some_and(|c| {
                c.state == CartState::Active
                    && c.payment_revision == expected
                    && c.reservation.as_ref().map(|r| r.payment_id.as_str()) == payment
            });
            if !ready {
                return Err(ReleaseError::Conflict);
            }
        }
        for held in holds {
            let key = (held.hold.sku.clone(), held.owner.clone());
            // A hold no longer this payment's was sold or given back by another: left alone.
            let ours = state
                .holds
                .get(&key)
                .is_some_and(|h| h.payment_id == held.payment_id && h.cart_id == held.cart_id);
            if !ours {
                continue;
            }
            state.holds.remove(&key);
            // Back to shard 0, the product's own item, which clears a sold-out mark.
            if let Some(product) = state.products.get_mut(&held.hold.sku) {
                if product.shard_stock.is_empty() {
                    product.shard_stock = vec![0; product.stock_shards as usize];
                }
                product.shard_stock[0] += held.hold.units;
                product.stock = product.shard_stock.iter().sum();
                product.sold_out = false;
            }
        }
        if let Some((next, _)) = cart {
            if let Some(stored) = state.carts.get_mut(&next.id) {
                stored.reservation = None;
                stored.payment_revision = next.payment_revision;
            }
        }
        Ok(())
    }

    async fn holds(&self, sku: &Sku) -> Result<Vec<StoredHold>, StoreError> {
        let state = self.lock();
        Ok(state
            .holds
            .values()
            .filter(|h| &h.hold.sku == sku)
            .cloned()
            .collect())
    }
}
