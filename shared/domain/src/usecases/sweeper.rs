//! The sweeper: the scheduled housekeeping that makes "every captured payment ends in an
//! order or a reversal" hold by itself (rule 10).
//!
//! - A saved order whose hold ended unpaid (or only partly paid) is cancelled, giving back
//!   its stock, codes and open-order slot, and whatever it was paid is given back.
//! - A cancelled order that still holds money (a crash between cancelling and reversing) has
//!   it given back.
//! - An active cart holding money that is still not an order after the grace period has it
//!   given back.
//! - A reservation whose hold ended has its units put back on the shelf (a buyer who finds
//!   the shelf short does that at once too: `release_ended_holds`).
//! - A reversal recorded as pending (a crash between recording and asking the provider, or
//!   a provider that is still processing it) is settled: looked up by the provider's id, or
//!   asked again with the same key. One that failed (refused, or failed later at the
//!   provider) is asked for anew, with a backoff, up to `MAX_REVERSAL_ATTEMPTS` times.
//!
//! Everything it reads is paginated; everything it writes is conditioned on what it read.
//! Its two queues are read a page at a time in turn, so a flood of one (saved orders, say)
//! never starves the other (paid carts waiting for their money to go back), and it stops
//! starting new work once its time budget is spent: what is left is due next time. Its
//! failures and actions are counted (`Metric`), and an alarm watches the failures.

use std::time::Instant;

use time::{Duration, OffsetDateTime};

use crate::model::error::Error;
use crate::model::order::OrderState;
use crate::model::payment::Payment;
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::metrics::Metric;
use crate::ports::orders::OrderStore;
use crate::ports::sweep::SweepKind;
use crate::ports::sweep::SweepStore;
use crate::usecases::env::Env;
use crate::usecases::reservations::holds::Holds;
use crate::usecases::reversals::Reversals;

/// How long a paid cart may stay un-ordered before its money is given back.
pub type Grace = Duration;

pub const DEFAULT_PAYMENT_GRACE: Grace = Duration::seconds(1800);

/// Items read per page.
const PAGE: usize = 100;

/// How much one sweep may do: it starts no new page once `time` has passed or `pages` pages
/// were read (of `page_size` items each); what is left is due next time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepBudget {
    pub time: std::time::Duration,
    pub pages: usize,
    pub page_size: usize,
}

impl SweepBudget {
    /// As much as fits in `time`, a page of `PAGE` items at a time.
    pub fn time(time: std::time::Duration) -> Self {
        SweepBudget {
            time,
            pages: usize::MAX,
            page_size: PAGE,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Saved orders cancelled because their hold ended unpaid.
    pub orders_released: usize,
    /// Orders whose money was given back (or whose reversals were settled).
    pub orders_reversed: usize,
    /// Carts whose money was given back after the grace period.
    pub carts_reversed: usize,
    /// Reservations given back because their hold ended.
    pub holds_released: usize,
    /// Carts or orders that failed this time (logged and counted); the next sweep tries again.
    pub failures: usize,
    /// The time budget ran out before every queue was read to its end.
    pub out_of_time: bool,
}

/// Where one queue's reading stands.
struct Queue {
    kind: SweepKind,
    due_by: OffsetDateTime,
    cursor: Option<String>,
    done: bool,
}

/// The sweeper, over the sweep queues, the carts and orders it finds there, the reservations'
/// holds it gives back and the reversals it asks for.
pub struct Sweeper<'a> {
    pub(crate) sweep: &'a dyn SweepStore,
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) holds: Holds<'a>,
    pub(crate) reversals: Reversals<'a>,
    pub(crate) env: &'a Env,
}

impl Sweeper<'_> {
    /// One sweep over everything due now, within `budget`; `grace` is how long paid carts may
    /// wait.
    pub async fn sweep(&self, grace: Duration, budget: SweepBudget) -> Result<SweepReport, Error> {
        let started = Instant::now();
        let now = self.env.now();
        let mut report = SweepReport::default();
        let mut queues = [
            Queue {
                kind: SweepKind::Orders,
                due_by: now,
                cursor: None,
                done: false,
            },
            Queue {
                kind: SweepKind::Carts,
                due_by: now - grace,
                cursor: None,
                done: false,
            },
            Queue {
                kind: SweepKind::Holds,
                due_by: now,
                cursor: None,
                done: false,
            },
        ];
        let result = self
            .sweep_queues(&mut queues, now, started, budget, &mut report)
            .await;
        self.env
            .count(Metric::SweepFailures, report.failures as u64);
        self.env
            .count(Metric::SweepOrdersReleased, report.orders_released as u64);
        self.env
            .count(Metric::SweepOrdersReversed, report.orders_reversed as u64);
        self.env
            .count(Metric::SweepCartsReversed, report.carts_reversed as u64);
        self.env
            .count(Metric::SweepHoldsReleased, report.holds_released as u64);
        if let Err(error) = &result {
            // A queue that cannot be read is a failure of the whole sweep.
            self.env.count(Metric::SweepFailures, 1);
            tracing::error!(%error, "sweep could not read its queues");
        }
        result.map(|()| report)
    }

    /// Reads the queues a page at a time, in turn, until each is at its end or the budget is
    /// spent.
    async fn sweep_queues(
        &self,
        queues: &mut [Queue; 3],
        now: OffsetDateTime,
        started: Instant,
        budget: SweepBudget,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        let mut pages = 0;
        while queues.iter().any(|q| !q.done) {
            for queue in queues.iter_mut().filter(|q| !q.done) {
                if started.elapsed() >= budget.time || pages >= budget.pages {
                    report.out_of_time = true;
                    tracing::warn!(?report, "sweep budget spent; the rest is due next time");
                    return Ok(());
                }
                pages += 1;
                let page = self
                    .sweep
                    .due_for_sweep(
                        queue.kind,
                        queue.due_by,
                        queue.cursor.as_deref(),
                        budget.page_size,
                    )
                    .await?;
                for cart_id in &page.carts {
                    let outcome = match queue.kind {
                        SweepKind::Orders => self.sweep_order(cart_id, now, report).await,
                        SweepKind::Carts => self.sweep_cart(cart_id, queue.due_by, report).await,
                        SweepKind::Holds => self.sweep_holds(cart_id, now, report).await,
                    };
                    if let Err(error) = outcome {
                        tracing::error!(cart = %cart_id, %error, "sweep failed; next sweep retries");
                        report.failures += 1;
                    }
                }
                queue.cursor = page.next;
                queue.done = queue.cursor.is_none();
            }
        }
        Ok(())
    }

    /// Cancels saved orders whose hold ended unpaid, giving back stock, codes and any
    /// partial payment, reading `page` at a time. Returns how many it cancelled.
    pub async fn expire_saved_orders(&self, page: usize) -> Result<usize, Error> {
        let now = self.env.now();
        let mut report = SweepReport::default();
        let mut cursor: Option<String> = None;
        loop {
            let due = self
                .sweep
                .due_for_sweep(SweepKind::Orders, now, cursor.as_deref(), page)
                .await?;
            for cart_id in &due.carts {
                self.sweep_order(cart_id, now, &mut report).await?;
            }
            match due.next {
                Some(next) => cursor = Some(next),
                None => return Ok(report.orders_released),
            }
        }
    }

    pub(crate) async fn sweep_order(
        &self,
        cart_id: &CartId,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        let mut backoff = self.env.backoff();
        loop {
            let Some(order) = self.carts.cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            let expired = order.awaiting_payment() && order.expires_at.is_some_and(|at| at <= now);
            if expired {
                let mut cancelled = order.clone();
                cancelled.state = OrderState::Cancelled;
                cancelled.cancelled_at = Some(now);
                cancelled.moved_on(
                    now,
                    crate::model::fulfillment::SYSTEM,
                    "expired",
                    "the saved order's hold ended unpaid",
                );
                if !self
                    .orders
                    .release_order(&cancelled, order.revision)
                    .await?
                {
                    // A payment or a claim moved it meanwhile: decide again.
                    backoff.wait("the saved order's release").await?;
                    continue;
                }
                report.orders_released += 1;
                tracing::info!(order = %order.order_number, "saved order expired unpaid");
            } else if order.sweep_at().is_none_or(|at| at > now) {
                return Ok(());
            }
            // A cancelled order gives everything back; any other only what is owed back
            // (a payment that did not fit, whose reversal failed), settling what is pending.
            let cancelled = expired || order.state == OrderState::Cancelled;
            let (reason, which): (&str, &(dyn Fn(&Payment) -> bool + Sync)) = if cancelled {
                (
                    "the order was cancelled before it was paid in full",
                    &|_| true,
                )
            } else {
                (
                    "a payment the order could not keep",
                    &Payment::owes_reversal,
                )
            };
            if order.holds_money() {
                self.reversals
                    .give_back_order(cart_id, reason, which)
                    .await?;
                report.orders_reversed += 1;
            }
            return Ok(());
        }
    }

    /// Gives back the cart's reservation once its hold ended (and any hold of the cart's
    /// beside the stock that its cart no longer names: one whose cart was ordered without it).
    async fn sweep_holds(
        &self,
        cart_id: &CartId,
        now: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        if self
            .holds
            .release_reservation(cart_id, |_, r| r.ended(now))
            .await?
        {
            report.holds_released += 1;
            tracing::info!(cart = %cart_id, "reservation ended: its units are back on the shelf");
        }
        Ok(())
    }

    pub(crate) async fn sweep_cart(
        &self,
        cart_id: &CartId,
        due_by: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        let Some(cart) = self.carts.cart(cart_id).await? else {
            return Ok(());
        };
        if cart.holding_since().is_none_or(|since| since > due_by) {
            return Ok(());
        }
        self.reversals
            .give_back_cart(
                cart_id,
                "the cart was not ordered within the payment grace period",
            )
            .await?;
        report.carts_reversed += 1;
        tracing::info!(cart = %cart_id, "paid cart never ordered: payments given back");
        Ok(())
    }
}
