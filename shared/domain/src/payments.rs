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
        let owed = cart.totals.total.cent_amount
            - payment::secured(&cart.payments, cart.currency).cent_amount;
        let mut errors = FieldErrors::new();
        if owed <= 0 {
            errors.push(crate::error::FieldError::new(
                "",
                "the cart is paid in full",
            ));
        }
        let amount = match input.amount {
            None => Some(owed),
            Some(amount) => errors.check(
                "/amount",
                if (1..=owed).contains(&amount) {
                    Ok(amount)
                } else {
                    Err(format!(
                        "must be between 1 and {owed}, what the cart still owes"
                    ))
                },
            ),
        };
        if let Some(method) = &input.method {
            errors.check("/method", crate::values::Name::parse(method));
        }
        let amount = Money::new(errors.finish(amount)?, cart.currency);
        let payment_id = uuid::Uuid::new_v4().to_string();
        let intent = self
            .psp()
            .create_intent(&IntentRequest {
                amount,
                cart_id: cart.id.clone(),
                cart_version: cart.version,
                customer_id: caller.customer.clone(),
                idempotency_key: format!("intent:{}:{payment_id}", cart.id),
            })
            .await
            .map_err(Error::internal)?;
        loop {
            let expected = cart.payment_revision;
            let mut next = cart.clone();
            next.payments.push(Payment {
                id: payment_id.clone(),
                amount_planned: amount,
                psp: self.psp().name().to_string(),
                psp_reference: intent.reference.clone(),
                planned_for_total: Some(cart.totals.total),
                transactions: Vec::new(),
            });
            next.payment_revision += 1;
            match self
                .store()
                .record_cart_payments(&next, expected, &[])
                .await
            {
                Ok(()) => break,
                Err(PaymentWriteError::Conflict) => cart = self.cart(caller, cart_id).await?,
                Err(PaymentWriteError::DuplicateInteraction) => {
                    return Err(Error::internal("no interactions claimed"))
                }
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
            }
            if cart.state != CartState::Active {
                return Err(crate::service::conflict(&cart, cart.version));
            }
        }
        Ok(CreatedPayment {
            id: payment_id,
            amount_planned: amount,
            psp: self.psp().name().to_string(),
            psp_reference: intent.reference,
            client_secret: intent.client_secret,
        })
    }

    /// Records a provider's report about a payment, once, wherever the money now belongs.
    pub async fn handle_payment_event(&self, event: &PaymentEvent) -> Result<EventEffect, Error> {
        // A reversal made in one attempt is reused by the next, so a write conflict never
        // asks the provider twice.
        let mut reversal = None;
        for _ in 0..RECORD_ATTEMPTS {
            let (cart, order) = self.store().cart_and_order(&event.cart_id).await?;
            let attempt = match (cart, order) {
                (_, Some(order)) => self.on_order(order, event, &mut reversal).await,
                (Some(cart), None) if cart.state == CartState::Active => {
                    self.on_cart(cart, event, &mut reversal).await
                }
                (Some(_), None) => return Ok(EventEffect::Ignored("cart is not active")),
                (None, None) => return Ok(EventEffect::Ignored("unknown cart")),
            };
            match attempt {
                Err(PaymentWriteError::Conflict) => continue,
                Err(PaymentWriteError::DuplicateInteraction) => return Ok(EventEffect::Duplicate),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Ok(effect) => return effect,
            }
        }
        Err(Error::internal(
            "payment event kept conflicting with other writers",
        ))
    }

    async fn on_cart(
        &self,
        cart: Cart,
        event: &PaymentEvent,
        reversal: &mut Option<Transaction>,
    ) -> Result<Result<EventEffect, Error>, PaymentWriteError> {
        let mut next = cart.clone();
        let Some(index) = unrecorded_payment(&mut next.payments, event, self.psp().name()) else {
            return Ok(Ok(EventEffect::Duplicate));
        };
        let mut claimed = vec![event.interaction_id.clone()];
        let mut effect = EventEffect::Recorded;
        match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                next.payments[index]
                    .transactions
                    .push(transaction(event, *amount));
                let planned = next.payments[index].amount_planned;
                // Planned against another total: the cart changed after paying started.
                let stale = next.payments[index]
                    .planned_for_total
                    .is_some_and(|t| t != next.totals.total);
                let over = payment::secured(&next.payments, next.currency).cent_amount
                    > next.totals.total.cent_amount;
                if *amount != planned || stale || over {
                    match self
                        .reverse(&mut next.payments[index], event, *amount, reversal)
                        .await
                    {
                        Ok(id) => claimed.push(id),
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
        let covered = payment::secured(&next.payments, next.currency) == next.totals.total;
        if effect != EventEffect::Recorded || !covered {
            return Ok(Ok(effect));
        }
        // The redirect may never come back: the payment commits the order itself.
        let input = CreateOrderInput {
            cart_id: next.id.to_string(),
            cart_version: next.version,
            order_number: None,
            action: Some(CommitAction::Checkout),
        };
        Ok(match self.commit_loaded(next, &input, None, None).await {
            Ok(answer) => Ok(EventEffect::Ordered(order_number_of(&answer.body))),
            // Not orderable yet (an address missing, prices moved): the storefront orders later.
            Err(refusal) if refusal.problem().status < 500 => {
                tracing::info!(cart = %event.cart_id, code = refusal.problem().code, "paid cart not committed");
                Ok(EventEffect::Recorded)
            }
            Err(e) => Err(e),
        })
    }

    async fn on_order(
        &self,
        order: Order,
        event: &PaymentEvent,
        reversal: &mut Option<Transaction>,
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
        let mut claimed = vec![event.interaction_id.clone()];
        let mut effect = EventEffect::Recorded;
        match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                next.payments[index]
                    .transactions
                    .push(transaction(event, *amount));
                let awaiting = order.action == CommitAction::SaveOrder
                    && order.state == OrderState::Open
                    && order.payment_state == PaymentState::Pending;
                if awaiting && *amount == order.totals.total {
                    next.payment_state = PaymentState::Paid;
                    next.expires_at = None;
                    effect = EventEffect::OrderPaid(order.order_number.to_string());
                } else if !counted || awaiting {
                    // A second payment (two tabs), or one that does not fit: give it back.
                    match self
                        .reverse(&mut next.payments[index], event, *amount, reversal)
                        .await
                    {
                        Ok(id) => claimed.push(id),
                        Err(e) => return Ok(Err(e)),
                    }
                    effect = EventEffect::Reversed;
                }
            }
            outcome => {
                record_other(&mut next.payments[index], event, outcome);
                if payment::secured(&next.payments, next.currency).is_zero()
                    && next.payments.iter().any(|p| p.refunded() > 0)
                {
                    next.payment_state = PaymentState::Refunded;
                }
            }
        }
        next.revision += 1;
        self.store()
            .record_order_payments(&next, order.revision, &claimed)
            .await?;
        Ok(Ok(effect))
    }

    /// After a cart's total changed: authorizations and charges secured for the old total no
    /// longer fit. Each is cancelled (or refunded) at the provider and recorded, and the
    /// customer pays the new amount. Runs after the cart write, so a refused update moves no
    /// money; if it fails, the commit still refuses the mismatch (`PaymentAmountMismatch`).
    pub(crate) async fn release_stale_payments(&self, cart: &Cart) -> Result<(), Error> {
        let mut cart = cart.clone();
        for _ in 0..RECORD_ATTEMPTS {
            let stale: Vec<usize> = (0..cart.payments.len())
                .filter(|&i| cart.payments[i].secured() > 0)
                .collect();
            if stale.is_empty() {
                return Ok(());
            }
            let mut next = cart.clone();
            let mut claimed = Vec::new();
            for index in stale {
                let payment = &mut next.payments[index];
                let authorized_only = !payment.transactions.iter().any(|t| {
                    t.kind == TransactionKind::Charge && t.state == TransactionState::Success
                });
                let (kind, reversal) = if authorized_only {
                    let key = format!("cancel:{}", payment.psp_reference);
                    (
                        TransactionKind::CancelAuthorization,
                        self.psp().cancel(&payment.psp_reference, &key).await,
                    )
                } else {
                    let key = format!("refund:{}", payment.psp_reference);
                    let amount = Money::new(payment.secured(), cart.currency);
                    (
                        TransactionKind::Refund,
                        self.psp()
                            .refund(&payment.psp_reference, amount, &key)
                            .await,
                    )
                };
                let reversal = reversal.map_err(Error::internal)?;
                let amount = Money::new(payment.secured(), cart.currency);
                let transaction = reversal_transaction(kind, &reversal, amount, self.now());
                claimed.push(transaction.interaction_id.clone());
                payment.transactions.push(transaction);
            }
            next.payment_revision += 1;
            match self
                .store()
                .record_cart_payments(&next, cart.payment_revision, &claimed)
                .await
            {
                Ok(()) | Err(PaymentWriteError::DuplicateInteraction) => return Ok(()),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(PaymentWriteError::Conflict) => match self.store().cart(&cart.id).await? {
                    Some(fresh) if fresh.state == CartState::Active => cart = fresh,
                    _ => return Ok(()),
                },
            }
        }
        Err(Error::internal("releasing stale payments kept conflicting"))
    }

    /// Refunds a charge or cancels an authorization at the provider, recording it on the
    /// payment; returns the reversal's interaction id. The provider sees one request per
    /// payment however often this runs, by its idempotency key.
    async fn reverse(
        &self,
        payment: &mut Payment,
        event: &PaymentEvent,
        amount: Money,
        memo: &mut Option<Transaction>,
    ) -> Result<String, Error> {
        if let Some(done) = memo.clone() {
            let id = done.interaction_id.clone();
            payment.transactions.push(done);
            return Ok(id);
        }
        let (kind, reversal) = match event.outcome {
            PaymentOutcome::Authorized { .. } => (
                TransactionKind::CancelAuthorization,
                self.psp()
                    .cancel(&event.reference, &format!("cancel:{}", event.reference))
                    .await,
            ),
            _ => (
                TransactionKind::Refund,
                self.psp()
                    .refund(
                        &event.reference,
                        amount,
                        &format!("refund:{}", event.reference),
                    )
                    .await,
            ),
        };
        let reversal = reversal.map_err(Error::internal)?;
        let transaction = reversal_transaction(kind, &reversal, amount, self.now());
        let interaction_id = transaction.interaction_id.clone();
        *memo = Some(transaction.clone());
        payment.transactions.push(transaction);
        Ok(interaction_id)
    }
}

/// The transaction that records a reversal the provider accepted.
fn reversal_transaction(
    kind: TransactionKind,
    reversal: &Reversal,
    amount: Money,
    at: time::OffsetDateTime,
) -> Transaction {
    Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state: if reversal.pending {
            TransactionState::Pending
        } else {
            TransactionState::Success
        },
        amount,
        interaction_id: format!("{}:{}", kind_tag(kind), reversal.interaction_id),
        timestamp: at,
    }
}

fn kind_tag(kind: TransactionKind) -> &'static str {
    match kind {
        TransactionKind::Authorization => "authorization",
        TransactionKind::Charge => "charge",
        TransactionKind::CancelAuthorization => "cancel",
        TransactionKind::Refund => "refund",
    }
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

fn order_number_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["orderNumber"].as_str().map(str::to_string))
        .unwrap_or_default()
}
