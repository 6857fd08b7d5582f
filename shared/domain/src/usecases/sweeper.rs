//! The sweeper: the scheduled housekeeping that makes "every captured payment ends in an
//! order or a reversal" hold by itself (rule 10).
//!
//! - A saved order whose hold ended unpaid (or only partly paid) is cancelled, giving back
//!   its stock and codes, and whatever it was paid is given back.
//! - A cancelled order that still holds money (a crash between cancelling and reversing) has
//!   it given back.
//! - An active cart holding money that is still not an order after the grace period has it
//!   given back.
//! - A reversal recorded as pending (a crash between recording and asking the provider, or
//!   a provider that is still processing it) is asked again with the same key.
//!
//! Everything it reads is paginated; everything it writes is conditioned on what it read.

use time::{Duration, OffsetDateTime};

use crate::model::error::Error;
use crate::model::order::OrderState;
use crate::model::values::CartId;
use crate::ports::sweep::SweepKind;
use crate::usecases::Storefront;

/// How long a paid cart may stay un-ordered before its money is given back.
pub type Grace = Duration;

pub const DEFAULT_PAYMENT_GRACE: Grace = Duration::seconds(1800);

/// Items read per page.
const PAGE: usize = 100;

/// Attempts at one cart or order when concurrent writers move it.
const ATTEMPTS: usize = 8;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Saved orders cancelled because their hold ended unpaid.
    pub orders_released: usize,
    /// Orders whose money was given back.
    pub orders_reversed: usize,
    /// Carts whose money was given back after the grace period.
    pub carts_reversed: usize,
    /// Carts or orders that failed this time (logged); the next sweep tries again.
    pub failures: usize,
}

impl Storefront {
    /// One sweep over everything due now; `grace` is how long paid carts may wait.
    pub async fn sweep(&self, grace: Duration) -> Result<SweepReport, Error> {
        let now = self.now();
        let mut report = SweepReport::default();
        for (kind, due_by) in [(SweepKind::Orders, now), (SweepKind::Carts, now - grace)] {
            let mut cursor: Option<String> = None;
            loop {
                let page = self
                    .store()
                    .due_for_sweep(kind, due_by, cursor.as_deref(), PAGE)
                    .await?;
                for cart_id in &page.carts {
                    let outcome = match kind {
                        SweepKind::Orders => self.sweep_order(cart_id, now, &mut report).await,
                        SweepKind::Carts => self.sweep_cart(cart_id, due_by, &mut report).await,
                    };
                    if let Err(error) = outcome {
                        tracing::warn!(cart = %cart_id, %error, "sweep failed; next sweep retries");
                        report.failures += 1;
                    }
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// Cancels saved orders whose hold ended unpaid, giving back stock, codes and any
    /// partial payment, reading `page` at a time. Returns how many it cancelled.
    pub async fn expire_saved_orders(&self, page: usize) -> Result<usize, Error> {
        let now = self.now();
        let mut report = SweepReport::default();
        let mut cursor: Option<String> = None;
        loop {
            let due = self
                .store()
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
        for _ in 0..ATTEMPTS {
            let Some(order) = self.store().cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            if order.awaiting_payment() && order.expires_at.is_some_and(|at| at <= now) {
                let mut cancelled = order.clone();
                cancelled.state = OrderState::Cancelled;
                cancelled.revision += 1;
                if !self
                    .store()
                    .release_order(&cancelled, order.revision)
                    .await?
                {
                    // A payment or a claim moved it meanwhile: decide again.
                    continue;
                }
                report.orders_released += 1;
                tracing::info!(order = %order.order_number, "saved order expired unpaid");
            } else if order.sweep_at().is_none() {
                return Ok(());
            }
            let holds = |o: &crate::model::order::Order| {
                crate::model::payment::secured(&o.payments, o.currency).cent_amount > 0
            };
            if holds(&order) {
                self.give_back_order(
                    cart_id,
                    "the order was cancelled before it was paid in full",
                )
                .await?;
                report.orders_reversed += 1;
            }
            return Ok(());
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    pub(crate) async fn sweep_cart(
        &self,
        cart_id: &CartId,
        due_by: OffsetDateTime,
        report: &mut SweepReport,
    ) -> Result<(), Error> {
        let Some(cart) = self.store().cart(cart_id).await? else {
            return Ok(());
        };
        if cart.holding_since().is_none_or(|since| since > due_by) {
            return Ok(());
        }
        self.give_back_cart(
            cart_id,
            "the cart was not ordered within the payment grace period",
        )
        .await?;
        report.carts_reversed += 1;
        tracing::info!(cart = %cart_id, "paid cart never ordered: payments given back");
        Ok(())
    }
}
