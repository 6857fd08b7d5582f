//! A payment provider's reports (webhook events): recorded once, wherever the money now
//! belongs; a report that completes a ready cart commits it.

use std::borrow::Cow;

use crate::model::cart::{Cart, CartState};
use crate::model::error::{Error, StoreError};
use crate::model::fulfillment::SYSTEM;
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState};
use crate::model::payment::{self, Payment, PaymentState};
use crate::model::payment::{TransactionKind, TransactionState, TransactionsFull};
use crate::model::payment_event::{transaction, unrecorded_payment, PaymentEvent, PaymentOutcome};
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::metrics::Metric;
use crate::ports::payments::PaymentStore;
use crate::ports::payments::PaymentWriteError;
use crate::usecases::checkout::Checkout;
use crate::usecases::checkout::CreateOrderInput;
use crate::usecases::env::Env;
use crate::usecases::providers::Providers;
use crate::usecases::reservations::holds::Holds;
use crate::usecases::reversals::Reversals;
use crate::usecases::reversals::{mark_reversals, Asked, PaymentAt};

mod misfits;
mod on_order;

/// What recording an event did, for the logs and the webhook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    Recorded,
    /// The payment completed the cart, and this order was committed.
    Ordered(String),
    /// The payment did not fit and was reversed at the provider.
    Reversed,
    /// A saved order awaiting payment is paid now.
    OrderPaid(String),
    Duplicate,
    Ignored(&'static str),
}

/// Why an attempt to record a report did not end: its write was refused (decide again on
/// what is stored now), or it failed.
pub(crate) enum NotRecorded {
    Write(PaymentWriteError),
    Failed(Error),
}

impl From<PaymentWriteError> for NotRecorded {
    fn from(refused: PaymentWriteError) -> Self {
        NotRecorded::Write(refused)
    }
}

impl From<StoreError> for NotRecorded {
    fn from(error: StoreError) -> Self {
        NotRecorded::Write(PaymentWriteError::Store(error))
    }
}

impl From<Error> for NotRecorded {
    fn from(error: Error) -> Self {
        NotRecorded::Failed(error)
    }
}

/// A provider's report about a payment, recorded wherever the money now belongs: over the carts
/// and payments stores, the providers it asks, the holds and reversals it gives back and the
/// checkout that orders a paid cart.
pub struct PaymentEvents<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) payments: &'a dyn PaymentStore,
    pub(crate) psps: &'a Providers,
    pub(crate) holds: Holds<'a>,
    pub(crate) reversals: Reversals<'a>,
    pub(crate) checkout: Checkout<'a>,
    pub(crate) env: &'a Env,
}

impl PaymentEvents<'_> {
    /// Records a provider's report about a payment, once, wherever the money now belongs.
    /// A payment that completes a ready cart commits it; a commit that failed for a passing
    /// reason is tried again on every later report for the cart.
    /// `psp` is the provider that reported it (`stripe`, `adyen`).
    pub async fn handle_payment_event(
        &self,
        psp: &str,
        event: &PaymentEvent,
    ) -> Result<EventEffect, Error> {
        let mut asked = Asked::new();
        let mut backoff = self.env.backoff();
        // The provider's own figure, once asked: a retry after a conflict does not ask again.
        let mut provider_total = None;
        loop {
            let (cart, order) = self.carts.cart_and_order(&event.cart_id).await?;
            let payments: &[Payment] = match (&cart, &order) {
                (_, Some(order)) => &order.payments,
                (Some(cart), None) => &cart.payments,
                (None, None) => &[],
            };
            let event = &self
                .running_total_now(psp, payments, event, &mut provider_total)
                .await?;
            let attempt = match (cart, order) {
                (_, Some(order)) => self.on_order(psp, order, event, &mut asked).await,
                (Some(cart), None) if cart.state == CartState::Active => {
                    self.on_cart(psp, cart, event, &mut asked).await
                }
                (Some(_), None) => return Ok(EventEffect::Ignored("cart is not active")),
                (None, None) => return Ok(EventEffect::Ignored("unknown cart")),
            };
            match attempt {
                Ok(effect) => return Ok(effect),
                Err(NotRecorded::Failed(e)) => return Err(e),
                // This very report was recorded already (a redelivery whose effect left no
                // transaction of its own: a compacted failure, a refund's status applied).
                Err(NotRecorded::Write(PaymentWriteError::DuplicateInteraction(ids)))
                    if ids.contains(&event.interaction_id) =>
                {
                    return Ok(EventEffect::Duplicate)
                }
                Err(NotRecorded::Write(PaymentWriteError::Store(e))) => {
                    return Err(Error::Store(e))
                }
                // Moved on, another writer claimed a reversal first, or contention: decide
                // again on what is stored now.
                Err(NotRecorded::Write(_)) => backoff.wait("the payment's report").await?,
            }
        }
    }

    /// A running total (Stripe's `charge.refunded`) is the provider's figure when its event
    /// was made, and webhooks come in any order: one made while a refund was pending can
    /// arrive after that refund's failure was recorded, and would count it as money given
    /// back. While the payment has a refund that failed at the provider, the total is asked
    /// of the provider as it stands now instead (once: `asked` keeps its answer).
    async fn running_total_now<'e>(
        &self,
        psp: &str,
        payments: &[Payment],
        event: &'e PaymentEvent,
        asked: &mut Option<i64>,
    ) -> Result<Cow<'e, PaymentEvent>, Error> {
        let PaymentOutcome::Refunded {
            total_refunded,
            refunds,
        } = &event.outcome
        else {
            return Ok(Cow::Borrowed(event));
        };
        let Some(payment) = payments
            .iter()
            .find(|p| p.is_reported_as(psp, &event.reference))
        else {
            return Ok(Cow::Borrowed(event));
        };
        let failed_at_provider = payment.transactions.iter().any(|t| {
            t.kind == TransactionKind::Refund
                && t.state == TransactionState::Failure
                && t.provider_id.is_some()
        });
        if !failed_at_provider {
            return Ok(Cow::Borrowed(event));
        }
        let now = match *asked {
            Some(now) => now,
            None => {
                let now = self
                    .psps
                    .recorded(psp)?
                    .refunded_now(payment.modification_reference())
                    .await
                    .map_err(Error::internal)?;
                *asked.insert(now)
            }
        };
        if now != total_refunded.cent_amount {
            tracing::info!(cart = %event.cart_id, payment = %event.reference, reported = total_refunded.cent_amount, now, "a running total older than a refund's failure: counting the provider's figure now");
        }
        let mut current = event.clone();
        current.outcome = PaymentOutcome::Refunded {
            total_refunded: Money::new(now, total_refunded.currency()),
            refunds: refunds.clone(),
        };
        Ok(Cow::Owned(current))
    }

    pub(crate) async fn on_cart(
        &self,
        psp: &str,
        cart: Cart,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<EventEffect, NotRecorded> {
        let mut next = cart.clone();
        let Some(index) = unrecorded_payment(&mut next.payments, event, psp) else {
            // Seen before; the commit it should have led to may not have happened.
            return Ok(self.order_paid_cart(cart, EventEffect::Duplicate).await?);
        };
        let mut claimed = vec![event.interaction_id.clone()];
        let mut effect = EventEffect::Recorded;
        let payment = &mut next.payments[index];
        if let Some(unstorable) = self.record_report(payment, event, asked).await? {
            return Ok(unstorable);
        }
        match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                let planned = next.payments[index].amount_planned;
                let misfit = if *amount != planned {
                    Some("the amount paid is not the amount planned")
                } else if next.payments[index]
                    .planned_for_total
                    .is_some_and(|t| t != next.totals.total)
                {
                    Some("the cart's total changed after this payment was started")
                } else if payment::fitting(&next.payments, next.totals.total).cent_amount
                    > next.totals.total.cent_amount
                {
                    Some("the cart was already paid")
                } else {
                    None
                };
                let payment = &mut next.payments[index];
                let cart_id = &event.cart_id;
                self.reverse_misfit(cart_id, payment, misfit, asked, &mut claimed, &mut effect)
                    .await?;
            }
            _ => {}
        }
        next.payment_revision += 1;
        self.payments
            .record_cart_payments(&next, cart.payment_revision, &claimed)
            .await?;
        self.count_failed_reversals(&cart.payments, &next.payments);
        if crate::model::reservation::unpayable(&next) {
            // Its units go back now; if this fails, they do when the hold ends.
            if let Err(error) = self
                .holds
                .release_reservation(&next.id, |now, _| crate::model::reservation::unpayable(now))
                .await
            {
                tracing::warn!(cart = %next.id, %error, "reservation not given back yet");
            }
        }
        if effect != EventEffect::Recorded {
            return Ok(effect);
        }
        Ok(self.order_paid_cart(next, effect).await?)
    }
}

/// A provider's report in a line of the order's history.
fn describe(event: &PaymentEvent) -> String {
    let what = match &event.outcome {
        PaymentOutcome::Charged { amount } => format!("charged {amount}"),
        PaymentOutcome::Authorized { amount } => format!("authorized {amount}"),
        PaymentOutcome::Failed { amount, reason } => format!(
            "declined {amount}{}",
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        PaymentOutcome::Canceled { amount, .. } => format!("authorization of {amount} cancelled"),
        PaymentOutcome::Chargeback { amount, reason } => format!(
            "chargeback of {amount}{}: the shopper's bank took it back; defend it at the provider",
            reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
        PaymentOutcome::Refunded { total_refunded, .. } => {
            format!("refunded {total_refunded} in all")
        }
        PaymentOutcome::RefundUpdated(refund) => {
            format!(
                "refund {} of {} is {:?}",
                refund.id, refund.amount, refund.state
            )
        }
    };
    format!("{what} ({})", event.reference)
}

/// Failures, cancellations and refunds: recorded as reported. An older failure never undoes
/// a newer success, because a payment's standing is the sum of its successful transactions;
/// a refund is matched to the one already recorded by the provider's id, never counted twice.
fn record_other(
    payment: &mut Payment,
    event: &PaymentEvent,
    outcome: &PaymentOutcome,
) -> Result<(), TransactionsFull> {
    match outcome {
        PaymentOutcome::Canceled {
            amount,
            reversal: Some(id),
        } => {
            // The cancellation this system asked for (by the provider's id of it) is
            // settled; one recorded already is left; any other is recorded as it came.
            let asked = payment
                .transactions
                .iter()
                .position(|t| t.kind.is_reversal() && t.provider_id.as_deref() == Some(id));
            match asked {
                Some(index) => {
                    let asked = &mut payment.transactions[index];
                    if asked.state == TransactionState::Pending {
                        asked.state = TransactionState::Success;
                    }
                    Ok(())
                }
                None => payment.record(transaction(event, *amount)),
            }
        }
        PaymentOutcome::Failed { amount, .. }
        | PaymentOutcome::Canceled { amount, .. }
        | PaymentOutcome::Chargeback { amount, .. } => payment.record(transaction(event, *amount)),
        PaymentOutcome::Refunded {
            total_refunded,
            refunds,
        } => {
            for refund in refunds {
                payment.apply_refund(refund, event.occurred_at)?;
            }
            payment.apply_refund_total(*total_refunded, &event.interaction_id, event.occurred_at)
        }
        PaymentOutcome::RefundUpdated(refund) => payment.apply_refund(refund, event.occurred_at),
        PaymentOutcome::Charged { .. } | PaymentOutcome::Authorized { .. } => Ok(()),
    }
}
