//! A payment provider's reports (webhook events): recorded once, wherever the money now
//! belongs; a report that completes a ready cart commits it.

use crate::model::cart::{Cart, CartState};
use crate::model::error::Error;
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState};
use crate::model::payment::{self, Payment, PaymentState};
use crate::model::payment::{MAX_TRANSACTIONS, RECORD_ATTEMPTS};
use crate::model::payment_event::{transaction, unrecorded_payment, PaymentEvent, PaymentOutcome};
use crate::ports::payments::PaymentWriteError;
use crate::usecases::checkout::CreateOrderInput;
use crate::usecases::reversals::{mark_reversals, Asked};
use crate::usecases::Storefront;

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

impl Storefront {
    /// Records a provider's report about a payment, once, wherever the money now belongs.
    /// A payment that completes a ready cart commits it; a commit that failed for a passing
    /// reason is tried again on every later report for the cart.
    pub async fn handle_payment_event(&self, event: &PaymentEvent) -> Result<EventEffect, Error> {
        let mut asked = Asked::new();
        for _ in 0..RECORD_ATTEMPTS {
            let (cart, order) = self.store().cart_and_order(&event.cart_id).await?;
            let attempt = match (cart, order) {
                (_, Some(order)) => self.on_order(order, event, &mut asked).await,
                (Some(cart), None) if cart.state == CartState::Active => {
                    self.on_cart(cart, event, &mut asked).await
                }
                (Some(_), None) => return Ok(EventEffect::Ignored("cart is not active")),
                (None, None) => return Ok(EventEffect::Ignored("unknown cart")),
            };
            match attempt {
                // Moved on, or another delivery recorded it first: decide again on what is
                // stored now.
                Err(PaymentWriteError::Conflict | PaymentWriteError::DuplicateInteraction) => {
                    continue
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Ok(effect) => return effect,
            }
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    pub(crate) async fn on_cart(
        &self,
        cart: Cart,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<Result<EventEffect, Error>, PaymentWriteError> {
        let mut next = cart.clone();
        let Some(index) = unrecorded_payment(&mut next.payments, event, self.psp().name()) else {
            // Seen before; the commit it should have led to may not have happened.
            return Ok(self.order_paid_cart(cart, EventEffect::Duplicate).await);
        };
        if next.payments[index].transactions.len() >= MAX_TRANSACTIONS {
            tracing::error!(cart = %cart.id, payment = %event.reference, "transaction limit reached; event not recorded");
            return Ok(Ok(EventEffect::Ignored("transaction limit reached")));
        }
        let mut claimed = vec![event.interaction_id.clone()];
        let mut effect = EventEffect::Recorded;
        match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                next.payments[index]
                    .transactions
                    .push(transaction(event, *amount));
                let planned = next.payments[index].amount_planned;
                let misfit = if *amount != planned {
                    Some("the amount paid is not the amount planned")
                } else if next.payments[index]
                    .planned_for_total
                    .is_some_and(|t| t != next.totals.total)
                {
                    Some("the cart's total changed after this payment was started")
                } else if payment::secured(&next.payments, next.currency).cent_amount
                    > next.totals.total.cent_amount
                {
                    Some("the cart was already paid")
                } else {
                    None
                };
                // Nobody relies on money not yet recorded: give it back before recording.
                let payment = &mut next.payments[index];
                let reversal = self.reverse_misfit(payment, misfit, asked, &mut claimed);
                match reversal.await {
                    Ok(true) => effect = EventEffect::Reversed,
                    Ok(false) => {}
                    Err(e) => return Ok(Err(e)),
                }
            }
            outcome => record_other(&mut next.payments[index], event, outcome),
        }
        next.payment_revision += 1;
        self.store()
            .record_cart_payments(&next, cart.payment_revision, &claimed)
            .await?;
        if effect != EventEffect::Recorded {
            return Ok(Ok(effect));
        }
        Ok(self.order_paid_cart(next, effect).await)
    }

    /// The redirect may never come back: a cart its payments cover is committed here. A
    /// refusal no fix can mend without changing the total (stock, price, tax, a discount)
    /// gives the money back at once; any other refusal leaves it to the storefront, and the
    /// sweeper after the grace period.
    pub(crate) async fn order_paid_cart(
        &self,
        cart: Cart,
        otherwise: EventEffect,
    ) -> Result<EventEffect, Error> {
        let total = cart.totals.total;
        if total.is_zero() || payment::available(&cart.payments, cart.currency) != total {
            return Ok(otherwise);
        }
        let input = CreateOrderInput {
            cart_id: cart.id.to_string(),
            cart_version: cart.version,
            order_number: None,
            action: Some(CommitAction::Checkout),
        };
        let cart_id = cart.id.clone();
        match self.commit_loaded(cart, &input, None, None).await {
            Ok(answer) => Ok(EventEffect::Ordered(answer.order.order_number.to_string())),
            Err(refusal) if refusal.changes_the_total() => {
                tracing::info!(cart = %cart_id, %refusal, "paid cart cannot be ordered; giving the money back");
                self.give_back_cart(&cart_id, &refusal.to_string()).await?;
                Ok(EventEffect::Reversed)
            }
            Err(refusal) if !refusal.is_unavailable() => {
                tracing::info!(cart = %cart_id, %refusal, "paid cart not committed");
                Ok(otherwise)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn on_order(
        &self,
        order: Order,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<Result<EventEffect, Error>, PaymentWriteError> {
        let mut next = order.clone();
        // Whether this payment already secured money for the order (an authorization now
        // captured, say), rather than being another tab's that never did.
        let counted = next
            .payments
            .iter()
            .any(|p| p.psp_reference == event.reference && p.secured() > 0);
        let Some(index) = unrecorded_payment(&mut next.payments, event, self.psp().name()) else {
            return Ok(Ok(EventEffect::Duplicate));
        };
        if next.payments[index].transactions.len() >= MAX_TRANSACTIONS {
            tracing::error!(order = %order.order_number, payment = %event.reference, "transaction limit reached; event not recorded");
            return Ok(Ok(EventEffect::Ignored("transaction limit reached")));
        }
        let mut claimed = vec![event.interaction_id.clone()];
        let mut credits = Vec::new();
        let mut effect = EventEffect::Recorded;
        let total = order.totals.total;
        match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                next.payments[index]
                    .transactions
                    .push(transaction(event, *amount));
                let misfit = if order.awaiting_payment() {
                    (payment::secured(&next.payments, next.currency).cent_amount
                        > total.cent_amount)
                        .then_some("the order was already paid")
                } else if !counted {
                    Some(if order.state == OrderState::Cancelled {
                        "the order was cancelled"
                    } else {
                        "the order was already paid"
                    })
                } else {
                    None
                };
                let payment = &mut next.payments[index];
                let reversal = self.reverse_misfit(payment, misfit, asked, &mut claimed);
                match reversal.await {
                    Ok(true) => effect = EventEffect::Reversed,
                    Ok(false) => {}
                    Err(e) => return Ok(Err(e)),
                }
                if effect == EventEffect::Recorded && order.awaiting_payment() {
                    next.payment_state = payment::payment_state(&next.payments, total);
                    if next.payment_state == PaymentState::Paid {
                        next.expires_at = None;
                        effect = EventEffect::OrderPaid(order.order_number.to_string());
                    }
                }
            }
            outcome => {
                record_other(&mut next.payments[index], event, outcome);
                // The provider gave back all it took (refunded, or the authorization ended):
                // the order's gift card share goes back to its cards, in this same write.
                if !order.awaiting_payment() && payment::only_gift_cards_hold(&next.payments) {
                    let reason = "the order's card payments were refunded or cancelled";
                    let marked = mark_reversals(
                        &mut next.payments,
                        reason,
                        self.now(),
                        &Payment::is_gift_card,
                    );
                    claimed.extend(marked.claimed.iter().cloned());
                    credits = self.credits_that_land(&mut next.payments, marked).await?;
                }
                // A refund or cancellation can take the order below its total: it is no
                // longer `Paid` then (a partial refund leaves a balance, a full one `Refunded`).
                next.payment_state = payment::payment_state(&next.payments, total);
            }
        }
        next.revision += 1;
        self.store()
            .record_order_payments(&next, order.revision, &claimed, &credits)
            .await?;
        Ok(Ok(effect))
    }
}

impl Storefront {
    /// Gives back a payment that does not fit (`misfit` says why; `None`: it fits) before it
    /// is recorded. Returns whether it did.
    async fn reverse_misfit(
        &self,
        payment: &mut Payment,
        misfit: Option<&str>,
        asked: &mut Asked,
        claimed: &mut Vec<String>,
    ) -> Result<bool, Error> {
        let Some(reason) = misfit else {
            return Ok(false);
        };
        self.give_back(payment, reason, asked, claimed).await?;
        Ok(true)
    }
}

/// Failures, cancellations and refunds: recorded as reported. An older failure never undoes
/// a newer success, because a payment's standing is the sum of its successful transactions.
fn record_other(payment: &mut Payment, event: &PaymentEvent, outcome: &PaymentOutcome) {
    match outcome {
        PaymentOutcome::Failed { amount, .. } | PaymentOutcome::Canceled { amount } => {
            payment.transactions.push(transaction(event, *amount));
        }
        PaymentOutcome::Refunded { total_refunded } => {
            let delta = total_refunded.cent_amount - payment.refunded();
            if delta > 0 {
                payment.transactions.push(transaction(
                    event,
                    Money::new(delta, total_refunded.currency()),
                ));
            }
        }
        PaymentOutcome::Charged { .. } | PaymentOutcome::Authorized { .. } => {}
    }
}
