//! Carts: created for their owner, read by their owner only, updated under their version.

use std::collections::HashMap;

use crate::model::cart::{Cart, CartOwner, CartState, CatalogView, CreateCartInput};
use crate::model::cart_actions::{CartAction, UpdateCartInput};
use crate::model::error::Error;
use crate::model::identity::Caller;
use crate::model::values::{CartId, DiscountCode, SessionToken, Sku};
use crate::ports::carts::CartStore;
use crate::ports::carts::CartWriteError;
use crate::ports::catalog::CatalogStore;
use crate::ports::metrics::Metric;
use crate::usecases::env::Env;
use crate::usecases::reservations::holds::Holds;
use crate::usecases::reversals::Reversals;

/// Carts: made, read and edited by their owner, priced against the catalog, over the cart
/// and catalog stores, with the holds a cart edit gives back and the reversals of payments
/// that no longer fit.
pub struct Carts<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) catalog: &'a dyn CatalogStore,
    pub(crate) holds: Holds<'a>,
    pub(crate) reversals: Reversals<'a>,
    pub(crate) env: &'a Env,
}

impl Carts<'_> {
    /// Creates a cart for the caller. A guest gets a fresh session token, returned only here.
    pub async fn create_cart(
        &self,
        caller: &Caller,
        input: &CreateCartInput,
    ) -> Result<(Cart, Option<SessionToken>), Error> {
        let (owner, token) = match &caller.customer {
            Some(customer_id) => (
                CartOwner::Customer {
                    customer_id: customer_id.clone(),
                },
                None,
            ),
            None => {
                let token = SessionToken::generate();
                (
                    CartOwner::Guest {
                        session_hash: token.hash(),
                    },
                    Some(token),
                )
            }
        };
        let config = self.catalog.config().await?;
        let cart = Cart::create(input, owner, &config, self.env.clock.now())?;
        self.carts.insert_cart(&cart).await.map_err(|e| match e {
            CartWriteError::Store(e) => Error::Store(e),
            CartWriteError::Conflict(_) => Error::internal("cart id collision"),
        })?;
        Ok((cart, token))
    }

    /// The caller's cart; anyone else's is `NotFound`.
    pub async fn cart(&self, caller: &Caller, id: &str) -> Result<Cart, Error> {
        let id = CartId::parse(id).map_err(|_| Error::NotFound)?;
        match self.carts.cart(&id).await? {
            Some(cart) if caller.owns(&cart.owner) => Ok(cart),
            _ => Err(Error::NotFound),
        }
    }

    /// Applies a client's actions atomically to the version it saw.
    pub async fn update_cart(
        &self,
        caller: &Caller,
        id: &str,
        input: &UpdateCartInput,
    ) -> Result<Cart, Error> {
        let actions = CartAction::parse_all(&input.actions)?;
        let cart = self.cart(caller, id).await?;
        ensure_updatable(&cart, input.version)?;
        let catalog_read = |freshness| {
            self.read_catalog_for(
                &cart,
                actions.iter().filter_map(CartAction::sku),
                actions.iter().filter_map(CartAction::code),
                freshness,
            )
        };
        // Priced on a recent read (every buyer of a sale reads the SKU: rule 12); the commit
        // checks price, tax and stock again. A refusal is decided on the latest catalog,
        // never on a replica's lag (a product just created or restocked), and so is a
        // recalculation: the customer confirms the total a refused commit showed them.
        let freshness = if actions.contains(&CartAction::Recalculate) {
            Freshness::Latest
        } else {
            Freshness::Recent
        };
        let first = catalog_read(freshness).await?;
        let mut applied = cart.apply(&actions, &first, self.env.clock.now());
        if matches!(applied, Err(Error::OutOfStock(_) | Error::Invalid(_)))
            && freshness == Freshness::Recent
        {
            let latest = catalog_read(Freshness::Latest).await?;
            applied = cart.apply(&actions, &latest, self.env.clock.now());
        }
        if let Err(Error::OutOfStock(short)) = &applied {
            // Units of reservations whose hold ended are anyone's now: given back, then the
            // shelf is looked at again.
            let mut freed = 0;
            let reserving = short
                .iter()
                .filter_map(|s| Sku::parse(&s.sku).ok())
                .filter(|sku| {
                    first
                        .products
                        .get(sku)
                        .is_some_and(|p| p.reserve_on_payment)
                });
            for sku in reserving {
                freed += self.holds.release_ended_holds(&sku).await?;
            }
            if freed > 0 {
                let latest = catalog_read(Freshness::Latest).await?;
                applied = cart.apply(&actions, &latest, self.env.clock.now());
            }
        }
        let next = applied?;
        // The same write again while other writers hold the cart (a payment being recorded):
        // nothing was written, and the version condition still guards it.
        let mut backoff = self.env.backoff();
        let written = loop {
            match self.carts.replace_cart(&next, input.version).await {
                Err(CartWriteError::Store(e)) if e.contended => {
                    self.env.count(Metric::WriteConflicts, 1);
                    backoff.wait("the cart").await?;
                }
                written => break written,
            }
        };
        match written {
            Ok(()) => {
                // A line the reservation holds was dropped or changed: its units go back.
                if let Some(held) = cart.reservation.as_ref() {
                    if !held.matches(&next.line_items) {
                        // The edit is written: a release that fails now happens when the
                        // hold ends.
                        let released = self
                            .holds
                            .release_reservation(&next.id, |now, r| !r.matches(&now.line_items))
                            .await;
                        if let Err(error) = released {
                            tracing::warn!(cart = %next.id, %error, "reservation not given back yet");
                        }
                    }
                }
                if next.totals.total != cart.totals.total {
                    self.reversals.release_stale_payments(&next).await?;
                    // The cart as stored now, with any reversals recorded.
                    return Ok(self.carts.cart(&next.id).await?.unwrap_or(next));
                }
                Ok(next)
            }
            Err(CartWriteError::Store(e)) => Err(Error::Store(e)),
            Err(CartWriteError::Conflict(current)) => Err(match current {
                Some(current) => conflict(&current, input.version),
                None => Error::NotFound,
            }),
        }
    }

    /// Loads what pricing `cart` (plus the SKUs and codes about to be added) needs, as it
    /// stands now.
    pub async fn catalog_for<'a>(
        &self,
        cart: &Cart,
        extra_skus: impl Iterator<Item = &'a Sku>,
        extra_codes: impl Iterator<Item = &'a DiscountCode>,
    ) -> Result<CatalogView, Error> {
        self.read_catalog_for(cart, extra_skus, extra_codes, Freshness::Latest)
            .await
    }

    async fn read_catalog_for<'a>(
        &self,
        cart: &Cart,
        extra_skus: impl Iterator<Item = &'a Sku>,
        extra_codes: impl Iterator<Item = &'a DiscountCode>,
        freshness: Freshness,
    ) -> Result<CatalogView, Error> {
        let skus = cart.skus().cloned().chain(extra_skus.cloned()).collect();
        let codes = cart.codes().cloned().chain(extra_codes.cloned()).collect();
        self.read_catalog(skus, codes, freshness).await
    }

    /// Loads the products `skus`, the discount codes `codes` and the pricing configuration,
    /// side by side, as they stand now.
    pub(crate) async fn load_catalog(
        &self,
        skus: Vec<Sku>,
        codes: Vec<DiscountCode>,
    ) -> Result<CatalogView, Error> {
        self.read_catalog(skus, codes, Freshness::Latest).await
    }

    async fn read_catalog(
        &self,
        mut skus: Vec<Sku>,
        mut codes: Vec<DiscountCode>,
        freshness: Freshness,
    ) -> Result<CatalogView, Error> {
        skus.sort();
        skus.dedup();
        codes.sort();
        codes.dedup();
        let products = async {
            match freshness {
                Freshness::Latest => self.catalog.products(&skus).await,
                Freshness::Recent => self.catalog.products_recent(&skus).await,
            }
        };
        let (products, discounts, config) = futures_join(
            products,
            self.catalog.discounts(&codes),
            self.catalog.config(),
        )
        .await;
        Ok(CatalogView {
            products: products?
                .into_iter()
                .map(|p| (p.sku.clone(), p))
                .collect::<HashMap<_, _>>(),
            discounts: discounts?
                .into_iter()
                .map(|d| (d.code.clone(), d))
                .collect(),
            config: config?,
        })
    }
}

/// How fresh the products a use case prices with must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Strongly consistent: what a refusal or a write is decided on.
    Latest,
    /// Eventually consistent (half the cost, any replica): what the commit checks again.
    Recent,
}

/// Runs three independent reads concurrently without pulling in an executor-specific join.
async fn futures_join<A, B, C>(
    a: impl std::future::Future<Output = A>,
    b: impl std::future::Future<Output = B>,
    c: impl std::future::Future<Output = C>,
) -> (A, B, C) {
    let (mut a, mut b, mut c) = (std::pin::pin!(a), std::pin::pin!(b), std::pin::pin!(c));
    let (mut ra, mut rb, mut rc) = (None, None, None);
    std::future::poll_fn(|cx| {
        use std::task::Poll;
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if rc.is_none() {
            if let Poll::Ready(v) = c.as_mut().poll(cx) {
                rc = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() && rc.is_some() {
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap(), rc.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Refuses a cart that is not `Active` at version `expected`.
pub(crate) fn ensure_updatable(cart: &Cart, expected: u64) -> Result<(), Error> {
    if cart.state != CartState::Active || cart.version != expected {
        return Err(conflict(cart, expected));
    }
    Ok(())
}

/// The refusal for a cart that is not (or no longer) at `expected` and `Active`.
pub fn conflict(current: &Cart, expected: u64) -> Error {
    match (&current.state, &current.order_number) {
        (CartState::Ordered, Some(number)) => Error::CartAlreadyOrdered {
            order_number: number.clone(),
        },
        _ => Error::ConcurrentModification {
            expected,
            current_version: current.version,
        },
    }
}
