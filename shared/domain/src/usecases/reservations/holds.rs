//! Giving a reservation's units back: a cart's reservation, the ended holds of a SKU, and
//! what a product's holds keep off the shelf now.

use crate::model::cart::Cart;
use crate::model::catalog::Product;
use crate::model::error::Error;
use crate::model::reservation::{CartReservation, StoredHold};
use crate::model::values::{CartId, Sku};
use crate::ports::carts::CartStore;
use crate::ports::metrics::Metric;
use crate::ports::reservations::{ReleaseError, ReservationStore};
use crate::usecases::env::Env;

/// Reservations' holds, over the carts that name them and the reservation store.
pub struct Holds<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) reservations: &'a dyn ReservationStore,
    pub(crate) env: &'a Env,
}

impl Holds<'_> {
    /// Gives back the reservation of cart `cart_id` if `which` says so (releasing it,
    /// whichever payment made it, when it is its own). Returns whether anything was given back.
    pub(crate) async fn release_reservation(
        &self,
        cart_id: &CartId,
        which: impl Fn(&Cart, &CartReservation) -> bool,
    ) -> Result<bool, Error> {
        let mut backoff = self.env.backoff();
        loop {
            let Some(cart) = self.carts.cart(cart_id).await? else {
                return Ok(false);
            };
            let Some(reservation) = cart.reservation.as_ref().filter(|r| which(&cart, r)) else {
                return Ok(false);
            };
            let holds = reservation.stored(&cart.id, &cart.owner);
            let mut next = cart.clone();
            next.reservation = None;
            next.payment_revision += 1;
            // An ordered cart keeps what it says; only its holds go back.
            let cart_write = (cart.state == crate::model::cart::CartState::Active)
                .then_some((&next, cart.payment_revision));
            match self.reservations.release(&holds, cart_write).await {
                Ok(()) => {
                    self.env.count(
                        Metric::UnitsReleased,
                        holds.iter().map(|h| u64::from(h.hold.units)).sum(),
                    );
                    return Ok(true);
                }
                Err(ReleaseError::Store(e)) => return Err(Error::Store(e)),
                Err(ReleaseError::Conflict | ReleaseError::Contended) => {
                    backoff.wait("the reservation's release").await?
                }
            }
        }
    }

    /// Gives back every hold of `sku` whose time is up, so that its units go to whoever asks
    /// now rather than when the sweeper passes. Returns the units given back.
    pub(crate) async fn release_ended_holds(&self, sku: &Sku) -> Result<u32, Error> {
        let now = self.env.now();
        let ended: Vec<StoredHold> = self
            .reservations
            .holds(sku)
            .await?
            .into_iter()
            .filter(|h| h.until <= now)
            .collect();
        let mut freed = 0;
        for hold in ended {
            let released = self
                .release_reservation(&hold.cart_id, |_, r| {
                    r.payment_id == hold.payment_id && r.ended(now)
                })
                .await?;
            if released {
                freed += hold.hold.units;
                continue;
            }
            // Its cart no longer names it (a cart ordered without it): the hold alone.
            match self
                .reservations
                .release(std::slice::from_ref(&hold), None)
                .await
            {
                Ok(()) => freed += hold.hold.units,
                Err(ReleaseError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => {}
            }
        }
        Ok(freed)
    }

    /// Units of `product` held by reservations now (`GET /admin/products/{sku}`'s
    /// `reserved`): holds whose time is up count against nobody.
    pub async fn reserved(&self, product: &Product) -> Result<u32, Error> {
        let holds = self.reservations.holds(&product.sku).await?;
        Ok(crate::ports::reservations::reserved_units(
            &holds,
            self.env.now(),
        ))
    }
}
