//! An event for a cart that is ordered, or for an order: the order paid for, or the order's
//! payments recorded.

use super::*;

impl PaymentEvents<'_> {
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
        if total.is_zero() || payment::fitting(&cart.payments, total) != total {
            return Ok(otherwise);
        }
        let input = CreateOrderInput {
            cart_id: cart.id.to_string(),
            cart_version: cart.version,
            order_number: None,
            action: Some(CommitAction::Checkout),
        };
        let cart_id = cart.id.clone();
        match self.checkout.commit_loaded(cart, &input, None, None).await {
            Ok(answer) => Ok(EventEffect::Ordered(answer.order.order_number.to_string())),
            Err(refusal) if refusal.changes_the_total() => {
                tracing::info!(cart = %cart_id, %refusal, "paid cart cannot be ordered; giving the money back");
                self.reversals
                    .give_back_cart(&cart_id, &refusal.to_string())
                    .await?;
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
        psp: &str,
        order: Order,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<EventEffect, NotRecorded> {
        let mut next = order.clone();
        // Whether this payment already secured money for the order (an authorization now
        // captured, say), rather than being another tab's that never did.
        let counted = next
            .payments
            .iter()
            .any(|p| p.is_reported_as(psp, &event.reference) && p.secured() > 0);
        let Some(index) = unrecorded_payment(&mut next.payments, event, psp) else {
            return Ok(EventEffect::Duplicate);
        };
        let mut claimed = vec![event.interaction_id.clone()];
        let mut credits = Vec::new();
        let mut effect = EventEffect::Recorded;
        let total = order.totals.total;
        let payment = &mut next.payments[index];
        if let Some(unstorable) = self.record_report(payment, event, asked).await? {
            return Ok(unstorable);
        }
        match &event.outcome {
            PaymentOutcome::Charged { .. } | PaymentOutcome::Authorized { .. } => {
                let misfit = if order.awaiting_payment() {
                    (payment::fitting(&next.payments, total).cent_amount > total.cent_amount)
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
                let cart_id = &event.cart_id;
                self.reverse_misfit(cart_id, payment, misfit, asked, &mut claimed, &mut effect)
                    .await?;
                if effect == EventEffect::Recorded && order.awaiting_payment() {
                    next.payment_state = payment::awaiting_state(&next.payments, total);
                    if next.payment_state == PaymentState::Paid {
                        next.expires_at = None;
                        effect = EventEffect::OrderPaid(order.order_number.to_string());
                    }
                }
            }
            _ => {
                // The provider gave back all it took (refunded, or the authorization ended):
                // the order's gift card share goes back to its cards, in this same write.
                if !order.awaiting_payment() && payment::only_gift_cards_hold(&next.payments) {
                    let reason = "the order's card payments were refunded or cancelled";
                    let marked = mark_reversals(
                        &mut next.payments,
                        reason,
                        self.env.now(),
                        &Payment::is_gift_card,
                    );
                    claimed.extend(marked.claimed.iter().cloned());
                    credits = self
                        .reversals
                        .credits_that_land(&mut next.payments, marked)
                        .await?;
                }
                // A refund or cancellation can take the order below its total: it is no
                // longer `Paid` then (a partial refund leaves a balance, a full one `Refunded`).
                // An order still awaiting payment counts only the money that fits it.
                next.payment_state = if order.awaiting_payment() {
                    payment::awaiting_state(&next.payments, total)
                } else {
                    payment::payment_state(&next.payments, total)
                };
            }
        }
        next.revision += 1;
        let action = match (&effect, &event.outcome) {
            (EventEffect::OrderPaid(_), _) => "paid",
            // The order is flagged: its history says so, and its view lists the chargeback.
            (_, PaymentOutcome::Chargeback { .. }) => "chargeback",
            _ => "payment",
        };
        next.note(self.env.now(), SYSTEM, action, describe(event));
        let frees_slot = order.awaiting_payment() && !next.awaiting_payment();
        self.payments
            .record_order_payments(&next, order.revision, &claimed, &credits, frees_slot)
            .await?;
        self.count_failed_reversals(&order.payments, &next.payments);
        Ok(effect)
    }
}
