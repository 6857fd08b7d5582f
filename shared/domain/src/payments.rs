//! Payments: creating a payment intent for a cart, and recording what the provider reports.
//!
//! Each reported outcome is recorded once (its interaction id is claimed by a condition) on
//! the cart, or on the order once the cart is ordered. A successful payment that completes a
//! cart commits the order through the same path as `POST /orders`; a payment that does not
//! fit (wrong amount, more than owed, a second payment for an ordered cart) is reversed at the
//! provider and recorded as reversed.

use serde::{Deserialize, Serialize};

use crate::cart::{Cart, CartState};
use crate::commit::CreateOrderInput;
use crate::error::{Error, FieldErrors};
use crate::identity::Caller;
use crate::money::Money;
use crate::order::{CommitAction, Order, OrderState};
use crate::payment::{self, Payment, PaymentState, Transaction, TransactionKind, TransactionState};
use crate::ports::PaymentWriteError;
use crate::psp::{IntentRequest, PaymentEvent, PaymentOutcome, Reversal};
use crate::service::Storefront;

/// Attempts at recording one event when concurrent writers move the cart or order.
const RECORD_ATTEMPTS: usize = 8;

/// Payments a cart or an order takes at most.
pub const MAX_PAYMENTS: usize = 10;

/// Transactions one payment records at most; reports beyond are logged, not stored, so an
/// item never outgrows DynamoDB's 400 KB.
pub const MAX_TRANSACTIONS: usize = 50;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePaymentInput {
    /// Minor units; default: what the cart still owes.
    #[serde(default)]
    pub amount: Option<i64>,
    /// A label for the payment method (`card`, `gift_card`, ...).
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPayment {
    pub id: String,
    pub amount_planned: Money,
    pub psp: String,
    pub psp_reference: String,
    pub client_secret: String,
}

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

/// Reversals already asked of the provider in this piece of work, by idempotency key, so a
/// write conflict never sends the same request twice.
type Asked = std::collections::HashMap<String, Reversal>;

/// What a payment needs from its cart or order to be planned.
struct PlanFor<'a> {
    payments: &'a [Payment],
    total: Money,
    cart_id: &'a crate::values::CartId,
    cart_version: u64,
}

impl Storefront {
    /// `POST /carts/{id}/payments`: a payment intent for (part of) what the cart owes.
    pub async fn create_payment(
        &self,
        caller: &Caller,
        cart_id: &str,
        input: &CreatePaymentInput,
    ) -> Result<CreatedPayment, Error> {
        let mut cart = self.cart(caller, cart_id).await?;
        if cart.state != CartState::Active {
            return Err(crate::service::conflict(&cart, cart.version));
        }
        let (payment, intent) = self
            .plan_payment(
                caller,
                input,
                PlanFor {
                    payments: &cart.payments,
                    total: cart.totals.total,
                    cart_id: &cart.id,
                    cart_version: cart.version,
                },
                "the cart is paid in full",
            )
            .await?;
        for _ in 0..RECORD_ATTEMPTS {
            let mut next = cart.clone();
            next.payments.push(payment.clone());
            next.payment_revision += 1;
            match self
                .store()
                .record_cart_payments(&next, cart.payment_revision, &[])
                .await
            {
                Ok(()) => return Ok(created(payment, intent)),
                Err(PaymentWriteError::Conflict | PaymentWriteError::DuplicateInteraction) => {
                    cart = self.cart(caller, cart_id).await?
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
            }
            if cart.state != CartState::Active {
                return Err(crate::service::conflict(&cart, cart.version));
            }
            ensure_room(&cart.payments)?;
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// `POST /orders/{orderNumber}/payments`: a payment intent for what a saved order still
    /// owes (or part of it). Its success makes the order `Paid`.
    pub async fn create_order_payment(
        &self,
        caller: &Caller,
        order_number: &str,
        input: &CreatePaymentInput,
    ) -> Result<CreatedPayment, Error> {
        let mut order = self.order(caller, order_number).await?;
        ensure_owes(&order)?;
        let (payment, intent) = self
            .plan_payment(
                caller,
                input,
                PlanFor {
                    payments: &order.payments,
                    total: order.totals.total,
                    cart_id: &order.cart_id,
                    cart_version: order.cart_version,
                },
                "the order is paid in full",
            )
            .await?;
        for _ in 0..RECORD_ATTEMPTS {
            let mut next = order.clone();
            next.payments.push(payment.clone());
            next.revision += 1;
            match self
                .store()
                .record_order_payments(&next, order.revision, &[])
                .await
            {
                Ok(()) => return Ok(created(payment, intent)),
                Err(PaymentWriteError::Conflict | PaymentWriteError::DuplicateInteraction) => {
                    order = self.order(caller, order_number).await?
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
            }
            ensure_owes(&order)?;
            ensure_room(&order.payments)?;
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// Checks the amount against what is owed and creates the provider's intent.
    async fn plan_payment(
        &self,
        caller: &Caller,
        input: &CreatePaymentInput,
        plan: PlanFor<'_>,
        paid_in_full: &str,
    ) -> Result<(Payment, crate::psp::Intent), Error> {
        ensure_room(plan.payments)?;
        let currency = plan.total.currency();
        let owed = plan.total.cent_amount - payment::secured(plan.payments, currency).cent_amount;
        let mut errors = FieldErrors::new();
        if owed <= 0 {
            errors.push(crate::error::FieldError::new("", paid_in_full));
        }
        let amount = match input.amount {
            None => Some(owed),
            Some(amount) => errors.check(
                "/amount",
                if (1..=owed).contains(&amount) {
                    Ok(amount)
                } else {
                    Err(format!("must be between 1 and {owed}, what is still owed"))
                },
            ),
        };
        if let Some(method) = &input.method {
            errors.check("/method", crate::values::Name::parse(method));
        }
        let amount = Money::new(errors.finish(amount)?, currency);
        let payment_id = uuid::Uuid::new_v4().to_string();
        let intent = self
            .psp()
            .create_intent(&IntentRequest {
                amount,
                cart_id: plan.cart_id.clone(),
                cart_version: plan.cart_version,
                customer_id: caller.customer.clone(),
                idempotency_key: format!("intent:{}:{payment_id}", plan.cart_id),
            })
            .await
            .map_err(Error::internal)?;
        let payment = Payment {
            id: payment_id,
            amount_planned: amount,
            psp: self.psp().name().to_string(),
            psp_reference: intent.reference.clone(),
            planned_for_total: Some(plan.total),
            transactions: Vec::new(),
        };
        Ok((payment, intent))
    }

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

    async fn on_cart(
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
                if let Some(reason) = misfit {
                    // Nobody relies on money not yet recorded: give it back before recording.
                    match self
                        .give_back(&mut next.payments[index], next.currency, reason, asked)
                        .await
                    {
                        Ok(id) => claimed.extend(id),
                        Err(e) => return Ok(Err(e)),
                    }
                    effect = EventEffect::Reversed;
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
    async fn order_paid_cart(
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
            Ok(answer) => Ok(EventEffect::Ordered(
                answer.order_number.unwrap_or_default(),
            )),
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

    async fn on_order(
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
                if let Some(reason) = misfit {
                    match self
                        .give_back(&mut next.payments[index], next.currency, reason, asked)
                        .await
                    {
                        Ok(id) => claimed.extend(id),
                        Err(e) => return Ok(Err(e)),
                    }
                    effect = EventEffect::Reversed;
                } else if order.awaiting_payment() {
                    next.payment_state = payment::payment_state(&next.payments, total);
                    if next.payment_state == PaymentState::Paid {
                        next.expires_at = None;
                        effect = EventEffect::OrderPaid(order.order_number.to_string());
                    }
                }
            }
            outcome => {
                record_other(&mut next.payments[index], event, outcome);
                // A refund or cancellation can take the order below its total: it is no
                // longer `Paid` then (a partial refund leaves a balance, a full one `Refunded`).
                next.payment_state = payment::payment_state(&next.payments, total);
            }
        }
        next.revision += 1;
        self.store()
            .record_order_payments(&next, order.revision, &claimed)
            .await?;
        Ok(Ok(effect))
    }

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
        cart_id: &crate::values::CartId,
        reason: &str,
    ) -> Result<(), Error> {
        self.give_back_from_cart(cart_id, reason, |_| true).await
    }

    /// Money already recorded as secured is given back in two writes, so nobody can order
    /// with it meanwhile: first each reversal is recorded as pending (which takes the
    /// payment out of what can pay, and moves the payment revision a commit is conditioned
    /// on), then the provider is asked and the outcome recorded. A crash in between leaves a
    /// pending reversal that `settle_reversals` (the sweeper) finishes with the same key.
    async fn give_back_from_cart(
        &self,
        cart_id: &crate::values::CartId,
        reason: &str,
        which: impl Fn(&Payment) -> bool,
    ) -> Result<(), Error> {
        for _ in 0..RECORD_ATTEMPTS {
            let Some(cart) = self.store().cart(cart_id).await? else {
                return Ok(());
            };
            if cart.state != CartState::Active {
                return Ok(());
            }
            let mut next = cart.clone();
            let claimed = mark_reversals(&mut next.payments, reason, self.now(), &which);
            if claimed.is_empty() {
                return self.settle_cart_reversals(cart_id).await;
            }
            next.payment_revision += 1;
            match self
                .store()
                .record_cart_payments(&next, cart.payment_revision, &claimed)
                .await
            {
                Ok(()) => return self.settle_cart_reversals(cart_id).await,
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => continue,
            }
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// Asks the provider for every reversal a cart has recorded as pending and records what
    /// it answered.
    pub(crate) async fn settle_cart_reversals(
        &self,
        cart_id: &crate::values::CartId,
    ) -> Result<(), Error> {
        let mut asked = Asked::new();
        for _ in 0..RECORD_ATTEMPTS {
            let Some(cart) = self.store().cart(cart_id).await? else {
                return Ok(());
            };
            let mut next = cart.clone();
            if !self.settle(&mut next.payments, &mut asked).await? {
                return Ok(());
            }
            next.payment_revision += 1;
            match self
                .store()
                .record_cart_payments(&next, cart.payment_revision, &[])
                .await
            {
                Ok(()) => return Ok(()),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => continue,
            }
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// Gives back every payment of an order (a cancelled one), in the same two writes as a
    /// cart's, then settles what the provider answered.
    pub(crate) async fn give_back_order(
        &self,
        cart_id: &crate::values::CartId,
        reason: &str,
    ) -> Result<(), Error> {
        let mut asked = Asked::new();
        for _ in 0..RECORD_ATTEMPTS * 2 {
            let Some(order) = self.store().cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            let mut next = order.clone();
            let claimed = mark_reversals(&mut next.payments, reason, self.now(), &|_| true);
            let settled = claimed.is_empty() && self.settle(&mut next.payments, &mut asked).await?;
            if claimed.is_empty() && !settled {
                return Ok(());
            }
            next.payment_state = payment::payment_state(&next.payments, next.totals.total);
            next.revision += 1;
            match self
                .store()
                .record_order_payments(&next, order.revision, &claimed)
                .await
            {
                Ok(()) => continue,
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => continue,
            }
        }
        Err(Error::RequestInProgress { retry_after: 1 })
    }

    /// Asks the provider for each pending reversal this system requested (by its key, so the
    /// provider answers with the reversal it made) and records the outcome. Returns whether
    /// anything changed.
    async fn settle(&self, payments: &mut [Payment], asked: &mut Asked) -> Result<bool, Error> {
        let mut changed = false;
        for payment in payments.iter_mut() {
            let reference = payment.psp_reference.clone();
            for t in payment.transactions.iter_mut() {
                if !(t.kind.is_reversal()
                    && t.state == TransactionState::Pending
                    && payment::is_reversal_key(&t.interaction_id))
                {
                    continue;
                }
                let reversal = self
                    .ask_reversal(t.kind, &reference, t.amount, &t.interaction_id, asked)
                    .await?;
                if reversal.state != t.state {
                    t.state = reversal.state;
                    changed = true;
                }
            }
        }
        Ok(changed)
    }

    /// Refunds a charge or cancels an authorization at the provider, once per key.
    async fn ask_reversal(
        &self,
        kind: TransactionKind,
        reference: &str,
        amount: Money,
        key: &str,
        asked: &mut Asked,
    ) -> Result<Reversal, Error> {
        if let Some(done) = asked.get(key) {
            return Ok(done.clone());
        }
        let reversal = match kind {
            TransactionKind::CancelAuthorization => self.psp().cancel(reference, key).await,
            _ => self.psp().refund(reference, amount, key).await,
        }
        .map_err(Error::internal)?;
        asked.insert(key.to_string(), reversal.clone());
        Ok(reversal)
    }

    /// Gives back money not yet recorded (a payment that does not fit), at the provider
    /// first, and records the reversal on the payment; returns the interaction to claim.
    async fn give_back(
        &self,
        payment: &mut Payment,
        currency: crate::money::Currency,
        reason: &str,
        asked: &mut Asked,
    ) -> Result<Option<String>, Error> {
        let Some(mut reversal) = planned_reversal(payment, currency, reason, self.now()) else {
            return Ok(None);
        };
        let answer = self
            .ask_reversal(
                reversal.kind,
                &payment.psp_reference,
                reversal.amount,
                &reversal.interaction_id,
                asked,
            )
            .await?;
        reversal.state = answer.state;
        let id = reversal.interaction_id.clone();
        payment.transactions.push(reversal);
        Ok(Some(id))
    }
}

fn created(payment: Payment, intent: crate::psp::Intent) -> CreatedPayment {
    CreatedPayment {
        id: payment.id,
        amount_planned: payment.amount_planned,
        psp: payment.psp,
        psp_reference: intent.reference,
        client_secret: intent.client_secret,
    }
}

/// At most `MAX_PAYMENTS` per cart or order, so an item never outgrows DynamoDB's 400 KB.
fn ensure_room(payments: &[Payment]) -> Result<(), Error> {
    if payments.len() >= MAX_PAYMENTS {
        return Err(Error::TooManyPayments {
            limit: MAX_PAYMENTS,
        });
    }
    Ok(())
}

fn ensure_owes(order: &Order) -> Result<(), Error> {
    if !order.awaiting_payment() {
        return Err(Error::NothingOwed {
            order_number: order.order_number.to_string(),
        });
    }
    Ok(())
}

/// The reversal that gives back what `payment` secures (pending until the provider
/// answers), unless it secures nothing or is being given back already.
fn planned_reversal(
    payment: &Payment,
    currency: crate::money::Currency,
    reason: &str,
    at: time::OffsetDateTime,
) -> Option<Transaction> {
    if payment.secured() == 0 || payment.reversal_in_progress() {
        return None;
    }
    let kind = if payment.charged() {
        TransactionKind::Refund
    } else {
        TransactionKind::CancelAuthorization
    };
    Some(Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state: TransactionState::Pending,
        amount: Money::new(payment.secured(), currency),
        // The provider's idempotency key: the same request however often it is retried.
        interaction_id: payment.reversal_key(kind),
        timestamp: at,
        reason: Some(reason.to_string()),
    })
}

/// Records a pending reversal on every payment `which` selects that still secures money;
/// returns the interactions to claim.
fn mark_reversals(
    payments: &mut [Payment],
    reason: &str,
    at: time::OffsetDateTime,
    which: &dyn Fn(&Payment) -> bool,
) -> Vec<String> {
    let currency_of = |p: &Payment| p.amount_planned.currency();
    let mut claimed = Vec::new();
    for payment in payments.iter_mut().filter(|p| which(p)) {
        if let Some(reversal) = planned_reversal(payment, currency_of(payment), reason, at) {
            claimed.push(reversal.interaction_id.clone());
            payment.transactions.push(reversal);
        }
    }
    claimed
}

/// The payment an event is about (added if the provider knows it and we do not yet), or
/// `None` when the event's interaction is recorded on it already.
fn unrecorded_payment(
    payments: &mut Vec<Payment>,
    event: &PaymentEvent,
    psp: &str,
) -> Option<usize> {
    if let Some(index) = payments
        .iter()
        .position(|p| p.psp_reference == event.reference)
    {
        let recorded = payments[index]
            .transactions
            .iter()
            .any(|t| t.interaction_id == event.interaction_id);
        return (!recorded).then_some(index);
    }
    let amount = match &event.outcome {
        PaymentOutcome::Charged { amount }
        | PaymentOutcome::Authorized { amount }
        | PaymentOutcome::Failed { amount, .. }
        | PaymentOutcome::Canceled { amount } => *amount,
        PaymentOutcome::Refunded { total_refunded } => *total_refunded,
    };
    payments.push(Payment {
        id: uuid::Uuid::new_v4().to_string(),
        amount_planned: amount,
        psp: psp.to_string(),
        psp_reference: event.reference.clone(),
        planned_for_total: None,
        transactions: Vec::new(),
    });
    Some(payments.len() - 1)
}

fn transaction(event: &PaymentEvent, amount: Money) -> Transaction {
    let (kind, state) = match event.outcome {
        PaymentOutcome::Charged { .. } => (TransactionKind::Charge, TransactionState::Success),
        PaymentOutcome::Authorized { .. } => {
            (TransactionKind::Authorization, TransactionState::Success)
        }
        PaymentOutcome::Failed { .. } => (TransactionKind::Charge, TransactionState::Failure),
        PaymentOutcome::Canceled { .. } => (
            TransactionKind::CancelAuthorization,
            TransactionState::Success,
        ),
        PaymentOutcome::Refunded { .. } => (TransactionKind::Refund, TransactionState::Success),
    };
    Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state,
        amount,
        interaction_id: event.interaction_id.clone(),
        timestamp: event.occurred_at,
        reason: None,
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
