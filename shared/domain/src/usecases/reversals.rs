//! Giving money back: two-phase reversals (recorded as pending under the provider's
//! idempotency key, then settled with the provider's answer), for carts and orders. A gift
//! card's share is given back in one phase: its credit to the card rides in the write that
//! records the reversal and claims its key.

use crate::model::cart::{Cart, CartState};
use crate::model::error::{Error, StoreError};
use crate::model::gift_card::{GiftCardCode, GiftCardCredit};
use crate::model::money::Money;
use crate::model::payment::{Payment, Transaction, TransactionKind, TransactionState};
use crate::model::values::CartId;
use crate::ports::carts::CartStore;
use crate::ports::gift_cards::GiftCardStore;
use crate::ports::metrics::Metric;
use crate::ports::payments::PaymentStore;
use crate::ports::payments::PaymentWriteError;
use crate::ports::psp::Reversal;
use crate::usecases::env::Env;
use crate::usecases::providers::Providers;

mod marking;

use marking::planned_reversal;
pub(crate) use marking::{mark_reversals, Marked};

/// Reversals already asked of the provider in this piece of work, by idempotency key, so a
/// write conflict never sends the same request twice.
pub(crate) type Asked = std::collections::HashMap<String, Reversal>;

/// A payment as its provider knows it: which provider, the cart it pays, and the reference
/// its captures, cancels and refunds are addressed to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaymentAt<'a> {
    pub psp: &'a str,
    pub cart_id: &'a CartId,
    pub reference: &'a str,
}

impl<'a> PaymentAt<'a> {
    pub fn of(payment: &'a Payment, cart_id: &'a CartId) -> Self {
        PaymentAt {
            psp: &payment.psp,
            cart_id,
            reference: payment.modification_reference(),
        }
    }
}

/// Giving money back, over the stores of the carts and orders whose payments it records and
/// of the gift cards it credits, and the providers it asks.
pub(crate) struct Reversals<'a> {
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) payments: &'a dyn PaymentStore,
    pub(crate) gift_cards: &'a dyn GiftCardStore,
    pub(crate) psps: &'a Providers,
    pub(crate) env: &'a Env,
}

impl Reversals<'_> {
    /// After a cart's total changed: payments secured for another total no longer fit. Each
    /// is cancelled (or refunded) at the provider and recorded, and the customer pays the
    /// new amount. Runs after the cart write, so a refused update moves no money.
    pub(crate) async fn release_stale_payments(&self, cart: &Cart) -> Result<(), Error> {
        let total = cart.totals.total;
        self.give_back_from_cart(
            &cart.id,
            "the cart's total changed after this payment",
            |p| p.planned_for_total != Some(total),
        )
        .await
    }

    /// Gives back every payment an active cart holds (a refused commit, the sweeper).
    pub(crate) async fn give_back_cart(
        &self,
        cart_id: &crate::model::values::CartId,
        reason: &str,
    ) -> Result<(), Error> {
        self.give_back_from_cart(cart_id, reason, |_| true).await
    }

    /// Money already recorded as secured is given back in two writes, so nobody can order
    /// with it meanwhile: first each reversal is recorded as pending (which takes the
    /// payment out of what can pay, and moves the payment revision a commit is conditioned
    /// on), then the provider is asked and the outcome recorded. A crash in between leaves a
    /// pending reversal that `settle_reversals` (the sweeper) finishes with the same key.
    pub(crate) async fn give_back_from_cart(
        &self,
        cart_id: &crate::model::values::CartId,
        reason: &str,
        which: impl Fn(&Payment) -> bool,
    ) -> Result<(), Error> {
        let mut backoff = self.env.backoff();
        loop {
            let Some(cart) = self.carts.cart(cart_id).await? else {
                return Ok(());
            };
            if cart.state != CartState::Active {
                return Ok(());
            }
            let mut next = cart.clone();
            // Carts hold no gift card payments (only programmatic orders take them).
            let which = |p: &Payment| which(p) && !p.is_gift_card();
            let claimed =
                mark_reversals(&mut next.payments, reason, self.env.now(), &which).claimed;
            if claimed.is_empty() {
                return self.settle_cart_reversals(cart_id).await;
            }
            next.payment_revision += 1;
            match self
                .payments
                .record_cart_payments(&next, cart.payment_revision, &claimed)
                .await
            {
                Ok(()) => return self.settle_cart_reversals(cart_id).await,
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the cart's reversals").await?,
            }
        }
    }

    /// Asks the provider for every reversal a cart has recorded as pending and records what
    /// it answered.
    pub(crate) async fn settle_cart_reversals(
        &self,
        cart_id: &crate::model::values::CartId,
    ) -> Result<(), Error> {
        let mut asked = Asked::new();
        let mut backoff = self.env.backoff();
        loop {
            let Some(cart) = self.carts.cart(cart_id).await? else {
                return Ok(());
            };
            let mut next = cart.clone();
            if !self.settle(cart_id, &mut next.payments, &mut asked).await? {
                return Ok(());
            }
            next.payment_revision += 1;
            match self
                .payments
                .record_cart_payments(&next, cart.payment_revision, &[])
                .await
            {
                Ok(()) => return Ok(()),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the cart's reversals").await?,
            }
        }
    }

    /// Gives back the payments of an order that `which` selects (all of a cancelled one; those
    /// owed back of any other), in the same two writes as a cart's, then settles what the
    /// provider answered (every pending reversal of the order); gift cards get theirs in the
    /// first.
    pub(crate) async fn give_back_order(
        &self,
        cart_id: &crate::model::values::CartId,
        reason: &str,
        which: &(dyn Fn(&Payment) -> bool + Sync),
    ) -> Result<(), Error> {
        let mut asked = Asked::new();
        let mut backoff = self.env.backoff();
        loop {
            let Some(order) = self.carts.cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            let mut next = order.clone();
            let marked = mark_reversals(&mut next.payments, reason, self.env.now(), which);
            let claimed = marked.claimed.clone();
            let credits = self.credits_that_land(&mut next.payments, marked).await?;
            let settled =
                claimed.is_empty() && self.settle(cart_id, &mut next.payments, &mut asked).await?;
            if claimed.is_empty() && !settled {
                return Ok(());
            }
            next.payments_changed(
                self.env.now(),
                crate::model::fulfillment::SYSTEM,
                "reversal",
                if claimed.is_empty() {
                    "the provider answered"
                } else {
                    reason
                },
            );
            match self
                .payments
                .record_order_payments(&next, order.revision, &claimed, &credits, false)
                .await
            {
                // Recorded: settle what the provider answered, or finish.
                Ok(()) => continue,
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the order's reversals").await?,
            }
        }
    }

    /// The gift card credits of `marked` that can land: each card must still exist in the
    /// credit's currency (an administrator may have rewritten it). A credit that cannot is
    /// recorded as a failed reversal, logged for a person to settle, so the rest of the
    /// write (a refund being recorded, say) is never blocked by it.
    pub(crate) async fn credits_that_land(
        &self,
        payments: &mut [Payment],
        marked: Marked,
    ) -> Result<Vec<GiftCardCredit>, StoreError> {
        let mut landing = Vec::new();
        for (key, credit) in marked.credits {
            let card = self.gift_cards.gift_card(&credit.code).await?;
            if card.is_some_and(|c| c.currency == credit.amount.currency()) {
                landing.push(credit);
                continue;
            }
            tracing::error!(gift_card = %credit.code, amount = %credit.amount, "gift card gone or in another currency; its share was not given back");
            let reversal = payments
                .iter_mut()
                .flat_map(|p| p.transactions.iter_mut())
                .find(|t| t.interaction_id == key);
            if let Some(t) = reversal {
                t.state = TransactionState::Failure;
                t.reason = Some(format!(
                    "{}; the gift card no longer exists in {}",
                    t.reason.as_deref().unwrap_or("given back"),
                    credit.amount.currency().code()
                ));
            }
        }
        Ok(landing)
    }

    /// Asks the provider for each pending reversal this system requested and records the
    /// outcome: by the provider's refund id once known (a status lookup, which never moves
    /// money), else by its key (so the provider answers with the reversal it made). A failed
    /// one is counted (`ReversalFailed`): the money is outstanding again and the sweeper asks
    /// anew. Returns whether anything changed.
    pub(crate) async fn settle(
        &self,
        cart_id: &CartId,
        payments: &mut [Payment],
        asked: &mut Asked,
    ) -> Result<bool, Error> {
        let mut changed = false;
        // A gift card's reversal is done when recorded (its credit rides in that write).
        for payment in payments.iter_mut().filter(|p| !p.is_gift_card()) {
            let (psp, reference) = (
                payment.psp.clone(),
                payment.modification_reference().to_string(),
            );
            for t in payment.transactions.iter_mut() {
                if !(t.is_asked_reversal() && t.state == TransactionState::Pending) {
                    continue;
                }
                let reversal = match (t.kind, t.provider_id.as_deref()) {
                    (TransactionKind::Refund, Some(refund_id)) => {
                        self.refund_status(&psp, refund_id, &t.interaction_id, asked)
                            .await?
                    }
                    _ => {
                        let target = PaymentAt {
                            psp: &psp,
                            cart_id,
                            reference: &reference,
                        };
                        self.ask_reversal(target, t.kind, t.amount, &t.interaction_id, asked)
                            .await?
                    }
                };
                changed |= self.settle_one(t, &reversal);
            }
            // Its report may have come while it was being asked for (before its id was here).
            changed |= payment.fold_early_reports();
        }
        Ok(changed)
    }

    /// Records the provider's answer on the reversal `t` asked for; returns whether it moved.
    fn settle_one(&self, t: &mut Transaction, answer: &Reversal) -> bool {
        let mut changed = false;
        if t.provider_id.is_none() {
            t.provider_id = Some(answer.interaction_id.clone());
            changed = true;
        }
        if answer.state != t.state {
            t.state = answer.state;
            changed = true;
            if answer.state == TransactionState::Failure {
                self.env.count(Metric::ReversalFailed, 1);
                tracing::error!(key = %t.interaction_id, provider_id = ?t.provider_id, "the provider did not give the money back; it is outstanding again");
            }
        }
        changed
    }

    /// A refund's state at the provider, looked up once per piece of work.
    async fn refund_status(
        &self,
        psp: &str,
        refund_id: &str,
        key: &str,
        asked: &mut Asked,
    ) -> Result<Reversal, Error> {
        if let Some(done) = asked.get(key) {
            return Ok(done.clone());
        }
        let reversal = self
            .psps
            .recorded(psp)?
            .refund_status(refund_id)
            .await
            .map_err(Error::internal)?;
        asked.insert(key.to_string(), reversal.clone());
        Ok(reversal)
    }

    /// Refunds a charge or cancels an authorization at the provider `psp` (the payment's),
    /// once per key.
    pub(crate) async fn ask_reversal(
        &self,
        PaymentAt {
            psp,
            cart_id,
            reference,
        }: PaymentAt<'_>,
        kind: TransactionKind,
        amount: Money,
        key: &str,
        asked: &mut Asked,
    ) -> Result<Reversal, Error> {
        if let Some(done) = asked.get(key) {
            return Ok(done.clone());
        }
        let provider = self.psps.recorded(psp)?;
        let reversal = match kind {
            TransactionKind::CancelAuthorization => provider.cancel(reference, cart_id, key).await,
            _ => provider.refund(reference, cart_id, amount, key).await,
        }
        .map_err(Error::internal)?;
        asked.insert(key.to_string(), reversal.clone());
        Ok(reversal)
    }

    /// Gives back money not yet recorded (a payment that does not fit), at the provider
    /// first, and records the reversal on the payment, adding its interaction to `claimed`.
    pub(crate) async fn give_back(
        &self,
        cart_id: &CartId,
        payment: &mut Payment,
        reason: &str,
        asked: &mut Asked,
        claimed: &mut Vec<String>,
    ) -> Result<(), Error> {
        let currency = payment.amount_planned.currency();
        let Some(mut reversal) = planned_reversal(payment, currency, reason, self.env.now()) else {
            return Ok(());
        };
        let answer = self
            .ask_reversal(
                PaymentAt::of(payment, cart_id),
                reversal.kind,
                reversal.amount,
                &reversal.interaction_id,
                asked,
            )
            .await?;
        // Its report may have come first (a crash before this write, then the provider's
        // webhook): the refund is recorded under its id already, never twice.
        if payment
            .transactions
            .iter()
            .any(|t| t.provider_id.as_deref() == Some(answer.interaction_id.as_str()))
        {
            return Ok(());
        }
        reversal.state = TransactionState::Pending;
        self.settle_one(&mut reversal, &answer);
        claimed.push(reversal.interaction_id.clone());
        payment.transactions.push(reversal);
        Ok(())
    }
}
