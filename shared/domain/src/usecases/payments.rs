//! Payments: creating a payment intent for a cart, and recording what the provider reports.
//!
//! Each reported outcome is recorded once (its interaction id is claimed by a condition) on
//! the cart, or on the order once the cart is ordered. A successful payment that completes a
//! cart commits the order through the same path as `POST /orders`; a payment that does not
//! fit (wrong amount, more than owed, a second payment for an ordered cart) is reversed at the
//! provider and recorded as reversed.

use serde::{Deserialize, Serialize};

use crate::model::cart::Cart;
use crate::model::error::{Error, FieldErrors};
use crate::model::identity::Caller;
use crate::model::money::Money;
use crate::model::order::Order;
use crate::model::payment::{self, Payment, MAX_PAYMENTS};
use crate::ports::payments::PaymentStore;
use crate::ports::payments::PaymentWriteError;
use crate::ports::psp::{IntentRequest, PaymentProvider};
use crate::usecases::carts::ensure_updatable;
use crate::usecases::carts::Carts;
use crate::usecases::env::Env;
use crate::usecases::order_queries::OrderQueries;
use crate::usecases::providers::Providers;
use crate::usecases::reservations::holds::Holds;
use crate::usecases::reservations::Reservations;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePaymentInput {
    /// Minor units; default: what the cart still owes.
    #[serde(default)]
    pub amount: Option<i64>,
    /// A label for the payment method (`card`, `gift_card`, ...).
    #[serde(default)]
    pub method: Option<String>,
    /// The provider to pay through (`stripe`, `adyen`); default: the deployment's.
    #[serde(default)]
    pub psp: Option<String>,
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

/// What a payment needs from its cart or order to be planned.
struct PlanFor<'a> {
    payments: &'a [Payment],
    total: Money,
    cart_id: &'a crate::model::values::CartId,
    cart_version: u64,
}

impl<'a> PlanFor<'a> {
    fn cart(cart: &'a Cart) -> Self {
        PlanFor {
            payments: &cart.payments,
            total: cart.totals.total,
            cart_id: &cart.id,
            cart_version: cart.version,
        }
    }
}

/// Starting a payment for a cart or a saved order: over the payments store it records them
/// in, the providers it asks for an intent, the carts and orders it reads for their owner,
/// the reservation a drop's payment takes and the holds it gives back.
pub struct Payments<'a> {
    pub(crate) payments: &'a dyn PaymentStore,
    pub(crate) psps: &'a Providers,
    pub(crate) carts: Carts<'a>,
    pub(crate) queries: OrderQueries<'a>,
    pub(crate) reservations: Reservations<'a>,
    pub(crate) holds: Holds<'a>,
    pub(crate) env: &'a Env,
}

impl Payments<'_> {
    /// `POST /carts/{id}/payments`: a payment intent for (part of) what the cart owes.
    pub async fn create_payment(
        &self,
        caller: &Caller,
        cart_id: &str,
        input: &CreatePaymentInput,
    ) -> Result<CreatedPayment, Error> {
        let mut cart = self.carts.cart(caller, cart_id).await?;
        ensure_updatable(&cart, cart.version)?;
        let paid_in_full = "the cart is paid in full";
        // Checked before anything is held: bad input changes nothing.
        let (amount, psp) = self.payment_terms(input, PlanFor::cart(&cart), paid_in_full)?;
        let payment_id = uuid::Uuid::new_v4().to_string();
        // A drop's units are taken before the provider is asked: no stock, no payment.
        cart = self
            .reservations
            .reserve_for_payment(cart, &payment_id)
            .await?;
        let started = self
            .start_payment(
                caller,
                amount,
                psp,
                PlanFor::cart(&cart),
                payment_id.clone(),
            )
            .await;
        let (payment, intent) = match started {
            Ok(started) => started,
            Err(error) => {
                self.release_own_reservation(&cart.id, &payment_id).await;
                return Err(error);
            }
        };
        let mut backoff = self.env.backoff();
        loop {
            let mut next = cart.clone();
            next.payments.push(payment.clone());
            next.payment_revision += 1;
            match self
                .payments
                .record_cart_payments(&next, cart.payment_revision, &[])
                .await
            {
                Ok(()) => return Ok(created(payment, intent)),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => {
                    backoff.wait("the cart's payments").await?;
                    cart = self.carts.cart(caller, cart_id).await?
                }
            }
            ensure_updatable(&cart, cart.version)?;
            ensure_room(&cart.payments)?;
        }
    }

    /// `POST /orders/{orderNumber}/payments`: a payment intent for what a saved order still
    /// owes (or part of it). Its success makes the order `Paid`.
    pub async fn create_order_payment(
        &self,
        caller: &Caller,
        order_number: &str,
        input: &CreatePaymentInput,
    ) -> Result<CreatedPayment, Error> {
        let mut order = self.queries.order(caller, order_number).await?;
        ensure_owes(&order)?;
        // A saved order holds its units already (taken when it was saved, until it expires):
        // its payment reserves nothing more.
        let plan = PlanFor {
            payments: &order.payments,
            total: order.totals.total,
            cart_id: &order.cart_id,
            cart_version: order.cart_version,
        };
        let (amount, psp) = self.payment_terms(input, plan, "the order is paid in full")?;
        let plan = PlanFor {
            payments: &order.payments,
            total: order.totals.total,
            cart_id: &order.cart_id,
            cart_version: order.cart_version,
        };
        let payment_id = uuid::Uuid::new_v4().to_string();
        let (payment, intent) = self
            .start_payment(caller, amount, psp, plan, payment_id)
            .await?;
        let mut backoff = self.env.backoff();
        loop {
            let mut next = order.clone();
            next.payments.push(payment.clone());
            next.moved_on(
                self.env.now(),
                &caller
                    .customer
                    .as_ref()
                    .map_or_else(|| "guest".to_string(), ToString::to_string),
                "payment",
                format!("a payment of {} started", payment.amount_planned),
            );
            match self
                .payments
                .record_order_payments(&next, order.revision, &[], &[], false)
                .await
            {
                Ok(()) => return Ok(created(payment, intent)),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => {
                    backoff.wait("the order's payments").await?;
                    order = self.queries.order(caller, order_number).await?
                }
            }
            ensure_owes(&order)?;
            ensure_room(&order.payments)?;
        }
    }

    /// The amount and provider of a new payment, checked against what is owed.
    fn payment_terms(
        &self,
        input: &CreatePaymentInput,
        plan: PlanFor<'_>,
        paid_in_full: &str,
    ) -> Result<(Money, &dyn PaymentProvider), Error> {
        ensure_room(plan.payments)?;
        let currency = plan.total.currency();
        // What the payments that fit this total have not covered yet: money being given back,
        // or paid for an older total, pays for nothing.
        let owed = plan.total.cent_amount - payment::fitting(plan.payments, plan.total).cent_amount;
        let mut errors = FieldErrors::new();
        if owed <= 0 {
            errors.push(crate::model::field_error::FieldError::new("", paid_in_full));
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
            errors.check("/method", crate::model::values::Name::parse(method));
        }
        let amount = Money::new(errors.finish(amount)?, currency);
        let psp = self.psps.for_new_payment(input.psp.as_deref())?;
        Ok((amount, psp))
    }

    /// Creates the provider's intent for a payment of `amount`.
    async fn start_payment(
        &self,
        caller: &Caller,
        amount: Money,
        psp: &dyn PaymentProvider,
        plan: PlanFor<'_>,
        payment_id: String,
    ) -> Result<(Payment, crate::ports::psp::Intent), Error> {
        let intent = psp
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
            psp: psp.name().to_string(),
            psp_reference: intent.reference.clone(),
            provider_payment: None,
            planned_for_total: Some(plan.total),
            failures_compacted: 0,
            transactions: Vec::new(),
        };
        Ok((payment, intent))
    }

    /// Gives back the reservation made for a payment that did not start; if this fails, the
    /// units go back when its hold ends.
    async fn release_own_reservation(&self, cart: &crate::model::values::CartId, payment_id: &str) {
        if let Err(error) = self
            .holds
            .release_reservation(cart, |_, r| r.payment_id == payment_id)
            .await
        {
            tracing::warn!(%cart, %error, "reservation not given back yet");
        }
    }
}

fn created(payment: Payment, intent: crate::ports::psp::Intent) -> CreatedPayment {
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
