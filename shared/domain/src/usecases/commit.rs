//! One commit path. Every order is committed here — a cart's checkout or saved order, the
//! webhook's commit of a paid cart, a programmatic order and its draft — as one atomic write
//! (a `CommitPlan`) that the store applies whole or refuses with the conditions that failed.
//!
//! This use case owns the attempt: it builds the plan for an order number, commits it, tries
//! again after contention (another transaction held an item, or the store throttled) with
//! jittered exponential backoff within the commit budget, draws a new number when a generated
//! one is taken, and turns the failed conditions into one refusal by one precedence. The
//! callers decide what a refusal means to their client. A retried commit never takes
//! anything twice: a refused or contended transaction wrote nothing.

use crate::model::cart::Cart;
use crate::model::commit_plan::{CommitPlan, Rejection, Reservation};
use crate::model::error::{Error, StockShortage};
use crate::model::gift_card::GiftCardCode;
use crate::model::order::Order;
use crate::model::order_number::{self, OrderNumber};
use crate::model::values::Sku;
use crate::ports::catalog::CatalogStore;
use crate::ports::metrics::Metric;
use crate::ports::orders::CommitError;
use crate::ports::orders::OrderStore;
use crate::usecases::env::Env;
use crate::usecases::reservations::holds::Holds;

/// Whose order number an order gets.
#[derive(Debug, Clone)]
pub(crate) enum Number {
    /// The client's: honoured, or refused when taken.
    Requested(OrderNumber),
    /// A new one is drawn, and drawn again when it collides.
    Generated,
}

/// Why a commit did not happen: the first of these that applies.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// The cart (or the stored draft) is not as the plan expects, with what is there now.
    Moved {
        cart: Option<Box<Cart>>,
        order: Option<Box<Order>>,
    },
    /// The idempotency key is held: another request with it committed, or runs right now.
    KeyHeld,
    OutOfStock(Vec<StockShortage>),
    /// A gift card no longer holds what the order takes from it.
    GiftCardBalance(GiftCardCode),
    /// A price, tax rate, shipping term, minimum order value or code's terms moved since
    /// the plan was priced.
    TermsChanged,
    EmailRegistered,
    TooManyOpenOrders(u32),
    /// The client's own number is in use.
    NumberTaken,
}

impl Refusal {
    /// The one refusal a set of failed conditions comes to.
    fn of(rejections: Vec<Rejection>) -> Option<Refusal> {
        let mut refusals: Vec<Refusal> = Vec::new();
        let mut shortages = Vec::new();
        for rejection in rejections {
            refusals.push(match rejection {
                Rejection::Cart { current, order } => Refusal::Moved {
                    cart: current,
                    order,
                },
                Rejection::IdempotencyKeyHeld => Refusal::KeyHeld,
                Rejection::OutOfStock(items) => {
                    shortages.extend(items);
                    continue;
                }
                Rejection::GiftCardBalance(code) => Refusal::GiftCardBalance(code),
                Rejection::ProductChanged(_)
                | Rejection::DiscountUnavailable(_)
                | Rejection::PricingChanged => Refusal::TermsChanged,
                Rejection::EmailRegistered => Refusal::EmailRegistered,
                Rejection::TooManyOpenOrders(limit) => Refusal::TooManyOpenOrders(limit),
                Rejection::OrderNumberTaken => Refusal::NumberTaken,
                // Another shard may have the units: handled before a refusal is made.
                Rejection::ShardShort { .. } => continue,
                // The reservation was given back meanwhile (its cart moved too): read again.
                Rejection::HoldGone(_) => Refusal::Moved {
                    cart: None,
                    order: None,
                },
            });
        }
        if !shortages.is_empty() {
            refusals.push(Refusal::OutOfStock(shortages));
        }
        refusals.into_iter().min_by_key(Refusal::precedence)
    }

    /// Lower first: what the client must know before anything else.
    fn precedence(&self) -> u8 {
        match self {
            Refusal::Moved { .. } => 0,
            Refusal::KeyHeld => 1,
            Refusal::OutOfStock(_) => 2,
            Refusal::GiftCardBalance(_) => 3,
            Refusal::TermsChanged => 4,
            Refusal::EmailRegistered => 5,
            Refusal::TooManyOpenOrders(_) => 6,
            Refusal::NumberTaken => 7,
        }
    }
}

/// Most shards a commit tries one by one for a SKU before it reads them all.
const SHARD_PROBES: u32 = 3;

/// The shards a commit tried per SKU and how often, and the commits it took.
#[derive(Default)]
pub(crate) struct ShardProbes {
    tried: std::collections::HashMap<Sku, (u64, u32)>,
    rounds: u32,
}

/// The one commit path, over the catalog (stock, its shards and sold-out marks) and the order
/// store (the one transaction), with the holds a buyer short of stock gives back first.
pub struct Commit<'a> {
    pub(crate) catalog: &'a dyn CatalogStore,
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) holds: Holds<'a>,
    pub(crate) env: &'a Env,
}

impl Commit<'_> {
    /// After shards ran short: each such SKU takes from another shard that held stock at the
    /// last read, a few times at random, then from as many shards as it needs by a read of
    /// them all. `Some(OutOfStock)` when all of them together do not have the units (and the
    /// SKU is marked sold out when they have none).
    pub(crate) async fn take_elsewhere(
        &self,
        takes: &mut [Reservation],
        rejections: Vec<Rejection>,
        probes: &mut ShardProbes,
    ) -> Result<Option<Vec<StockShortage>>, Error> {
        let mut shortages = Vec::new();
        for rejection in rejections {
            let Rejection::ShardShort { sku, shard, .. } = rejection else {
                continue;
            };
            let Some(reservation) = takes.iter_mut().find(|r| r.sku == sku) else {
                continue;
            };
            let (tried, count) = probes.tried.entry(sku.clone()).or_default();
            *tried |= 1 << shard.min(63);
            *count += 1;
            if *count < SHARD_PROBES {
                reservation.take_from_one(*tried);
                continue;
            }
            if let Some(shortage) = self.take_from_all(reservation).await? {
                shortages.push(shortage);
            }
        }
        Ok((!shortages.is_empty()).then(|| {
            self.env.count(Metric::SoldOut, 1);
            shortages
        }))
    }

    /// A SKU whose shards all held nothing at the cart's last read (sold out, or marked so)
    /// is read again before any transaction: a buyer after the sell-out costs a read.
    async fn sold_out_before_commit(
        &self,
        plan: &mut CommitPlan,
    ) -> Result<Option<Refusal>, Error> {
        let mut shortages = Vec::new();
        for reservation in plan.reservations.iter_mut().filter(|r| r.in_stock == 0) {
            if let Some(shortage) = self.take_from_all(reservation).await? {
                shortages.push(shortage);
            }
        }
        Ok((!shortages.is_empty()).then(|| {
            self.env.count(Metric::SoldOut, 1);
            Refusal::OutOfStock(shortages)
        }))
    }

    /// Reads every shard of the reservation's SKU and takes the units from those that have
    /// them, or says how many there are. Units of reservations whose hold ended are given
    /// back first when the shelf is short without them.
    pub(crate) async fn take_from_all(
        &self,
        reservation: &mut Reservation,
    ) -> Result<Option<StockShortage>, Error> {
        let read = || async {
            self.catalog
                .products(std::slice::from_ref(&reservation.sku))
                .await
                .map(|mut found| found.pop())
        };
        let mut product = read().await?;
        // Only a SKU that reserves has holds: a sold-out drop without reservations costs its
        // late buyers no look at them.
        if let Some(p) = product
            .as_ref()
            .filter(|p| p.stock < reservation.quantity && p.reserve_on_payment)
        {
            if self.holds.release_ended_holds(&p.sku).await? > 0 {
                product = read().await?;
            }
        }
        let Some(product) = product else {
            return Ok(Some(StockShortage {
                sku: reservation.sku.to_string(),
                name: reservation.sku.to_string(),
                requested: reservation.quantity,
                available: 0,
            }));
        };
        reservation.shards = product.stock_shards;
        reservation.in_stock = product.shards_in_stock();
        if product.stock < reservation.quantity {
            if product.stock == 0 && !product.sold_out {
                // Buyers after this one learn it from the product's own item.
                if let Err(error) = self
                    .catalog
                    .mark_sold_out(&product.sku, product.stock_revision)
                    .await
                {
                    tracing::warn!(sku = %product.sku, %error, "could not mark the SKU sold out");
                }
            }
            return Ok(Some(StockShortage {
                sku: product.sku.to_string(),
                name: product.name.to_string(),
                requested: reservation.quantity,
                available: product.stock,
            }));
        }
        // From the shards with stock, starting at a random one, as many as it takes.
        let stocked: Vec<(u32, u32)> = product
            .shard_stock
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(k, &n)| (k as u32, n))
            .collect();
        let start = crate::model::random::below(stocked.len() as u64) as usize;
        let mut left = reservation.quantity;
        reservation.takes.clear();
        for &(shard, units) in stocked.iter().cycle().skip(start).take(stocked.len()) {
            if left == 0 {
                break;
            }
            let take = units.min(left);
            reservation.takes.push((shard, take));
            left -= take;
        }
        Ok(None)
    }

    /// Commits the plan `build` makes for an order number, as the module says: the plan
    /// committed, or the refusal it met.
    pub(crate) async fn commit_order(
        &self,
        number: Number,
        mut build: impl FnMut(OrderNumber) -> Result<CommitPlan, Error>,
    ) -> Result<Result<CommitPlan, Refusal>, Error> {
        let mut backoff = self.env.backoff();
        let (mut current, generated) = match number {
            Number::Requested(n) => (n, false),
            Number::Generated => (OrderNumber::generate(self.env.now()), true),
        };
        let mut draws = 1;
        let mut plan = build(current.clone())?;
        let mut probes = ShardProbes::default();
        if let Some(refusal) = self.sold_out_before_commit(&mut plan).await? {
            return Ok(Err(refusal));
        }
        loop {
            let refusal = match self.orders.commit(&plan).await {
                Ok(()) => {
                    self.env.count(Metric::OrdersCommitted, 1);
                    return Ok(Ok(plan));
                }
                Err(CommitError::Store(e)) if e.contended => {
                    self.env.count(Metric::CommitConflicts, 1);
                    if let Err(spent) = backoff.wait("the order's commit").await {
                        self.env.count(Metric::Contended, 1);
                        return Err(spent);
                    }
                    self.env.count(Metric::CommitRetries, 1);
                    continue;
                }
                Err(CommitError::Store(e)) => return Err(Error::Store(e)),
                Err(CommitError::Rejected(rejections)) => {
                    if rejections
                        .iter()
                        .all(|r| matches!(r, Rejection::ShardShort { .. }))
                    {
                        // Only shards that ran short: take from others and commit again
                        // (after a while, only after a wait: sellers race for the last ones).
                        probes.rounds += 1;
                        if probes.rounds > 2 * SHARD_PROBES {
                            backoff.wait("the order's stock").await?;
                        }
                        match self
                            .take_elsewhere(&mut plan.reservations, rejections, &mut probes)
                            .await?
                        {
                            None => continue,
                            Some(shortages) => Refusal::OutOfStock(shortages),
                        }
                    } else {
                        Refusal::of(rejections)
                            .ok_or_else(|| Error::internal("commit rejected without a reason"))?
                    }
                }
            };
            match refusal {
                Refusal::NumberTaken if generated && draws < order_number::DRAW_ATTEMPTS => {
                    draws += 1;
                    current = OrderNumber::generate(self.env.now());
                    plan = build(current.clone())?;
                }
                refusal => {
                    if matches!(refusal, Refusal::OutOfStock(_)) {
                        self.env.count(Metric::SoldOut, 1);
                    }
                    return Ok(Err(refusal));
                }
            }
        }
    }
}
