//! Reservations for drops (`reserveOnPayment`): the cart's units of reserving SKUs are taken
//! off the shelf when its payment starts, before the provider is asked for anything, so that
//! whoever pays within the hold gets the order and nobody is charged for a unit that someone
//! else then gets.
//!
//! A reservation is given back (its units to their shards, its holds removed, the cart's
//! reservation cleared, in one write) when its payment fails or is cancelled, when a cart
//! edit changes a line it holds, and when its hold ends: by the sweeper, or at once by the
//! next buyer who finds the shelf short. The commit turns it into the sale (`CommitPlan::
//! converted`). Taking the units is one transaction of the cart, the holds and the shards it
//! takes from; the commit then writes no stock for the reserved lines, so a drop's commits
//! do not contend on its shards.

use std::collections::HashMap;

use crate::model::cart::Cart;
use crate::model::catalog::Product;
use crate::model::commit_plan::{Rejection, Reservation};
use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::reservation::{CartReservation, Hold};
use crate::model::values::{CartId, Sku};
use crate::ports::carts::CartStore;
use crate::ports::catalog::CatalogStore;
use crate::ports::metrics::Metric;
use crate::ports::reservations::ReservationStore;
use crate::ports::reservations::ReserveError;
use crate::usecases::checkout::Checkout;
use crate::usecases::commit::Commit;
use crate::usecases::commit::ShardProbes;
use crate::usecases::env::Env;

pub mod holds;

use holds::Holds;

/// How many times a reservation is tried afresh after the cart moved or a hold ended.
const REFRESHES: u32 = 5;

/// Reserving a drop's units when payment starts: over the carts and the catalog it reads, the
/// reservation store its holds go to, the commit path it takes stock through, the holds it
/// gives back and the checkout that prices a cart again.
pub struct Reservations<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) catalog: &'a dyn CatalogStore,
    pub(crate) reservations: &'a dyn ReservationStore,
    pub(crate) commit: Commit<'a>,
    pub(crate) holds: Holds<'a>,
    pub(crate) checkout: Checkout<'a>,
    pub(crate) env: &'a Env,
}

impl Reservations<'_> {
    /// Reserves the units of `cart`'s reserving SKUs for payment `payment_id`, unless its
    /// reservation already holds them. Returns the cart as it is now (its reservation on it).
    /// `OutOfStock` when the shelf does not have them; nothing is held then.
    pub(crate) async fn reserve_for_payment(
        &self,
        mut cart: Cart,
        payment_id: &str,
    ) -> Result<Cart, Error> {
        let mut refreshes = 0;
        let mut backoff = self.env.backoff();
        let mut probes = ShardProbes::default();
        let mut planned: Option<Vec<Reservation>> = None;
        loop {
            // Lines carry the flag as priced: a cart of products that do not reserve (most
            // payments) costs no catalog read here.
            if cart.reservation.is_none() && !cart.line_items.iter().any(|l| l.reserve_on_payment) {
                return Ok(cart);
            }
            let skus: Vec<Sku> = cart.skus().cloned().collect();
            let products = self.catalog.products_recent(&skus).await?;
            let reserving: HashMap<&Sku, &Product> = products
                .iter()
                .filter(|p| p.reserve_on_payment)
                .map(|p| (&p.sku, p))
                .collect();
            if reserving.is_empty() {
                return Ok(cart);
            }
            ensure_within_limits(&cart, &reserving)?;
            let now = self.env.now();
            if let Some(held) = &cart.reservation {
                let covers = cart
                    .line_items
                    .iter()
                    .filter(|l| reserving.contains_key(&l.sku))
                    .all(|l| held.held(&l.sku) == Some(l.quantity.get()));
                if !held.ended(now) && held.matches(&cart.line_items) && covers {
                    return Ok(cart);
                }
                // Edited since, or ended: given back before anything is taken anew.
                self.holds
                    .release_reservation(&cart.id, |_, _| true)
                    .await?;
                cart = self.fresh_cart(&cart.id).await?;
                planned = None;
                continue;
            }
            let takes = planned.get_or_insert_with(|| plan_takes(&cart, &reserving));
            // A SKU the last read found empty is read again before any write.
            let mut shortages = Vec::new();
            for take in takes.iter_mut().filter(|t| t.in_stock == 0) {
                shortages.extend(self.commit.take_from_all(take).await?);
            }
            if !shortages.is_empty() {
                self.env.count(Metric::SoldOut, 1);
                return Err(Error::OutOfStock(shortages));
            }
            let mut next = cart.clone();
            next.reservation = Some(CartReservation {
                payment_id: payment_id.to_string(),
                until: now + self.env.limits.reservation,
                holds: takes
                    .iter()
                    .map(|t| Hold {
                        sku: t.sku.clone(),
                        units: t.quantity,
                        takes: t.takes.clone(),
                    })
                    .collect(),
            });
            next.payment_revision += 1;
            let outcome = self
                .reservations
                .reserve(&next, cart.payment_revision, takes, cart.config_revision)
                .await;
            match outcome {
                Ok(()) => {
                    let units: u32 = takes.iter().map(|t| t.quantity).sum();
                    self.env.count(Metric::UnitsReserved, units.into());
                    return Ok(next);
                }
                Err(ReserveError::Store(e)) => return Err(Error::Store(e)),
                Err(ReserveError::Contended) => {
                    self.env.count(Metric::WriteConflicts, 1);
                    backoff.wait("the reservation").await?;
                }
                Err(ReserveError::ShardShort { sku, shard }) => {
                    let short = vec![Rejection::ShardShort {
                        sku,
                        shard,
                        available: 0,
                    }];
                    if let Some(shortages) = self
                        .commit
                        .take_elsewhere(takes, short, &mut probes)
                        .await?
                    {
                        return Err(Error::OutOfStock(shortages));
                    }
                }
                Err(ReserveError::OutOfStock(shortages)) => {
                    // Units of ended holds go to whoever asks now: given back, then tried
                    // again; only a shelf that is short without them refuses.
                    let mut freed = 0;
                    for take in takes
                        .iter()
                        .filter(|t| shortages.iter().any(|s| s.sku == t.sku.as_str()))
                    {
                        freed += self.holds.release_ended_holds(&take.sku).await?;
                    }
                    if freed == 0 || refreshes >= REFRESHES {
                        self.env.count(Metric::SoldOut, 1);
                        return Err(Error::OutOfStock(shortages));
                    }
                    refreshes += 1;
                }
                Err(ReserveError::HeldElsewhere { sku, cart: other }) => {
                    let freed = self
                        .holds
                        .release_reservation(&other, |_, r| r.ended(self.env.now()))
                        .await?;
                    if !freed || refreshes >= REFRESHES {
                        return Err(Error::AlreadyReserved {
                            sku: sku.to_string(),
                        });
                    }
                    refreshes += 1;
                }
                Err(ReserveError::ProductChanged(_) | ReserveError::Conflict) => {
                    if refreshes >= REFRESHES {
                        return Err(Error::Store(crate::StoreError::contended(
                            "the cart kept moving under its reservation",
                        )));
                    }
                    refreshes += 1;
                    // Priced again against today's catalog: a price the customer has not
                    // seen is refused with the new summary, as the commit would.
                    cart = self
                        .checkout
                        .priced_as_now(self.fresh_cart(&cart.id).await?)
                        .await?;
                    planned = None;
                }
            }
        }
    }

    async fn fresh_cart(&self, id: &CartId) -> Result<Cart, Error> {
        let cart = self.carts.cart(id).await?.ok_or(Error::NotFound)?;
        crate::usecases::carts::ensure_updatable(&cart, cart.version)?;
        Ok(cart)
    }
}

/// A cart's quantity of a reserving SKU within its product's `maxPerOrder`.
fn ensure_within_limits(cart: &Cart, reserving: &HashMap<&Sku, &Product>) -> Result<(), Error> {
    let mut errors = FieldErrors::new();
    for (index, line) in cart.line_items.iter().enumerate() {
        let Some(max) = reserving.get(&line.sku).and_then(|p| p.max_per_order) else {
            continue;
        };
        if line.quantity.get() > max {
            errors.push(FieldError::new(
                format!("/lineItems/{index}/quantity"),
                format!("at most {max} of '{}' per order", line.name),
            ));
        }
    }
    errors.finish(Some(()))
}

/// Each reserving line's units, from one shard that held stock at the cart's last pricing.
fn plan_takes(cart: &Cart, reserving: &HashMap<&Sku, &Product>) -> Vec<Reservation> {
    cart.line_items
        .iter()
        .filter(|l| reserving.contains_key(&l.sku))
        .map(|l| Reservation::for_line(l, cart.stock_hints.get(&l.sku)))
        .collect()
}
