//! After the order exists: a merchant (a token with `orders:read` / `orders:write`, or
//! `admin`) finds it with its history, cancels it, refunds it in part or whole, and records
//! its shipments and their delivery; a customer cancels their own within the contract's
//! rules. Every change is one write of the order conditioned on its revision (so a cancel
//! racing a capture, a webhook, a shipment or another cancel leaves one outcome), appends to
//! its history in that write, and is idempotent by the request's key: the same key and body
//! answer the first answer again, another body is refused.

use serde::{Deserialize, Serialize};

use crate::model::error::{Error, FieldErrors};
use crate::model::fulfillment::{
    merchant_refund_interaction, Fulfillment, FulfillmentState, HistoryEntry, LineQuantity,
    MerchantRefund, RefundPart, RefundView, ShipmentState, SYSTEM,
};
use crate::model::gift_card::{GiftCardCode, GiftCardCredit};
use crate::model::idempotency::{IdempotentRequest, Operation, StoredResponse};
use crate::model::identity::Caller;
use crate::model::money::Money;
use crate::model::not_null::not_null;
use crate::model::order::{Order, OrderState, ProgrammaticTerms};
use crate::model::order_number::OrderNumber;
use crate::model::payment::{self, PaymentState, Transaction, TransactionKind, TransactionState};
use crate::model::values::{LineItemId, Name};
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::payments::PaymentWriteError;
use crate::usecases::idempotency;
use crate::usecases::reversals::Asked;
use crate::usecases::Storefront;

/// `POST /admin/orders/{n}/cancel`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelInput {
    pub idempotency_key: String,
    pub reason: String,
}

/// One line and how many of its units.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineInput {
    pub line_item_id: String,
    pub quantity: i64,
}

/// `POST /admin/orders/{n}/refunds`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundInput {
    pub idempotency_key: String,
    #[serde(default, deserialize_with = "not_null")]
    pub amount: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub line_items: Option<Vec<LineInput>>,
    pub reason: String,
    #[serde(default, deserialize_with = "not_null")]
    pub restock: Option<bool>,
}

/// `POST /admin/orders/{n}/fulfillments`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FulfillmentInput {
    pub idempotency_key: String,
    #[serde(default, deserialize_with = "not_null")]
    pub line_items: Option<Vec<LineInput>>,
    pub carrier: String,
    pub tracking_number: String,
    #[serde(default, deserialize_with = "not_null")]
    pub tracking_url: Option<String>,
}

/// `POST /admin/orders/{n}/fulfillments/{id}/delivered`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveredInput {
    pub idempotency_key: String,
}

/// An answer to a change, and whether it repeats an earlier one (a replayed key).
#[derive(Debug, Clone)]
pub struct Changed {
    pub response: StoredResponse,
    pub replayed: bool,
}

/// Who a change is attributed to in the order's history.
pub(crate) fn actor(caller: &Caller) -> String {
    caller
        .customer
        .as_ref()
        .map_or_else(|| SYSTEM.to_string(), ToString::to_string)
}

fn parse_number(number: &str) -> Result<OrderNumber, Error> {
    OrderNumber::parse(number).map_err(|_| Error::NotFound)
}

/// A line's units as the request names them: a known line, 1 up to `most` units.
fn parse_lines(
    order: &Order,
    lines: &[LineInput],
    most: impl Fn(&LineItemId) -> u32,
    errors: &mut FieldErrors,
) -> Vec<LineQuantity> {
    let mut parsed = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let known = order
            .line_items
            .iter()
            .find(|l| l.id.as_str() == line.line_item_id);
        let Some(known) = known else {
            errors.push(crate::model::field_error::FieldError::new(
                format!("/lineItems/{i}/lineItemId"),
                "is not a line of this order",
            ));
            continue;
        };
        let most = most(&known.id);
        if line.quantity < 1 || line.quantity > i64::from(most) {
            errors.push(crate::model::field_error::FieldError::new(
                format!("/lineItems/{i}/quantity"),
                format!("must be between 1 and {most}"),
            ));
            continue;
        }
        parsed.push(LineQuantity {
            line_item_id: known.id.clone(),
            quantity: line.quantity as u32,
        });
    }
    if lines.is_empty() {
        errors.push(crate::model::field_error::FieldError::new(
            "/lineItems",
            "must name at least one line",
        ));
    }
    parsed
}

/// A short free text (a reason, a carrier): plain and bounded.
fn plain(errors: &mut FieldErrors, pointer: &str, value: &str) -> Option<String> {
    errors
        .check(pointer, Name::parse_plain(value))
        .map(|name| name.to_string())
}

impl Storefront {
    /// `GET /admin/orders/{n}`: the order with its history, oldest first (its creation first).
    pub async fn order_with_history(
        &self,
        caller: &Caller,
        number: &str,
    ) -> Result<(Order, Vec<HistoryEntry>), Error> {
        caller.require_scope("orders:read")?;
        let order = self.stored_order(number).await?;
        let mut history = vec![HistoryEntry {
            at: order.created_at,
            // A programmatic order is created by the integration that asked for it; a cart's
            // order by its owner.
            actor: match (&order.programmatic, &order.owner) {
                (
                    Some(ProgrammaticTerms {
                        created_by: Some(by),
                        ..
                    }),
                    _,
                ) => by.clone(),
                (_, crate::model::cart::CartOwner::Customer { customer_id }) => {
                    customer_id.to_string()
                }
                (_, crate::model::cart::CartOwner::Guest { .. }) => "guest".to_string(),
            },
            action: "created".into(),
            detail: format!("order {} for {}", order.order_number, order.totals.total),
            revision: 1,
        }];
        history.extend(self.store().order_history(&order.cart_id).await?);
        Ok((order, history))
    }

    async fn stored_order(&self, number: &str) -> Result<Order, Error> {
        self.store()
            .order(&parse_number(number)?)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Runs a change once per key, bound to `body`. A replay answers what the first run
    /// answered.
    async fn once(
        &self,
        caller: &Caller,
        operation: Operation<'_>,
        key: &str,
        body: &impl Serialize,
        change: impl std::future::Future<Output = Result<StoredResponse, Error>>,
    ) -> Result<Changed, Error> {
        let key = crate::model::idempotency::IdempotencyKey::parse(key)
            .map_err(|e| Error::invalid("/idempotencyKey", e))?;
        let store: &dyn IdempotencyStore = self.store().as_ref();
        let now = self.now();
        let request = IdempotentRequest::keyed(operation, caller, &key, body);
        let (response, replayed) = idempotency::once(
            store,
            request,
            now,
            now + time::Duration::seconds(30),
            change,
        )
        .await?;
        Ok(Changed { response, replayed })
    }

    /// `POST /admin/orders/{n}/cancel`.
    pub async fn cancel_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &CancelInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let mut errors = FieldErrors::new();
        let reason = plain(&mut errors, "/reason", &input.reason);
        let reason = errors.finish(reason)?;
        let operation = Operation::CancelOrder(number);
        self.once(caller, operation, &input.idempotency_key, input, async {
            let order = self.cancel(number, &actor(caller), &reason, None).await?;
            Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())))
        })
        .await
    }

    /// `POST /orders/{n}/cancel`: the owner cancels an unpaid saved order, or a paid,
    /// unshipped one within `CANCEL_WINDOW_SECONDS`.
    pub async fn customer_cancel(
        &self,
        caller: &Caller,
        number: &str,
        key: Option<&str>,
    ) -> Result<Changed, Error> {
        let order = self.order(caller, number).await?;
        let cancel = async {
            let order = self
                .cancel(
                    number,
                    &actor(caller),
                    "the customer cancelled it",
                    Some(&order),
                )
                .await?;
            Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())))
        };
        match key {
            Some(key) => {
                self.once(
                    caller,
                    Operation::CustomerCancel(number),
                    key,
                    &number,
                    cancel,
                )
                .await
            }
            None => Ok(Changed {
                response: cancel.await?,
                replayed: false,
            }),
        }
    }

    /// Cancels the order in one conditional write (its stock, one-time codes and open-order
    /// slot given back with it), then gives back every payment: provider money through the
    /// two-write reversal (the sweeper finishes it after a crash), gift card shares credited.
    /// `customer`: the order as its owner read it, whose rules apply.
    async fn cancel(
        &self,
        number: &str,
        actor: &str,
        reason: &str,
        customer: Option<&Order>,
    ) -> Result<Order, Error> {
        let mut backoff = self.backoff();
        loop {
            let order = self.stored_order(number).await?;
            match order.state {
                OrderState::Cancelled => return Ok(order),
                OrderState::Confirmed | OrderState::Complete => {
                    return Err(Error::OrderAlreadyShipped)
                }
                OrderState::Draft => {
                    return Err(Error::CancellationNotAllowed {
                        why: "a draft holds nothing; it was never placed",
                    })
                }
                OrderState::Open if order.shipment_state != ShipmentState::Pending => {
                    return Err(Error::OrderAlreadyShipped)
                }
                OrderState::Open => {}
            }
            let now = self.now();
            if customer.is_some() {
                // A window of 0 (the default) lets customers cancel unpaid orders only.
                let window = self.limits.cancel_window;
                let paid_within_window = order.payment_state == PaymentState::Paid
                    && window > time::Duration::ZERO
                    && now - order.created_at <= window;
                if !order.awaiting_payment() && !paid_within_window {
                    return Err(Error::CancellationNotAllowed {
                        why: "only an unpaid order, or a paid one within the cancellation window",
                    });
                }
            }
            let mut cancelled = order.clone();
            cancelled.state = OrderState::Cancelled;
            cancelled.cancelled_at = Some(now);
            cancelled.revision += 1;
            cancelled.note(now, actor, "cancelled", reason);
            if !self
                .store()
                .release_order(&cancelled, order.revision)
                .await?
            {
                // A payment, a shipment or another cancel moved it meanwhile: decide again.
                backoff.wait("the order's cancellation").await?;
                continue;
            }
            if cancelled.holds_money() {
                let why = format!("the order was cancelled: {reason}");
                if let Err(error) = self
                    .give_back_order(&cancelled.cart_id, &why, &|_| true)
                    .await
                {
                    // Recorded as pending or still held: the sweeper finishes it.
                    tracing::warn!(order = %cancelled.order_number, %error, "cancelled; its money goes back with the sweeper");
                }
            }
            return Ok(self.stored_order(number).await.unwrap_or(cancelled));
        }
    }

    /// `POST /admin/orders/{n}/refunds`.
    pub async fn refund_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &RefundInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let order = self.stored_order(number).await?;
        let mut errors = FieldErrors::new();
        let reason = plain(&mut errors, "/reason", &input.reason);
        if let Some(amount) = input.amount {
            if amount < 1 {
                errors.push(crate::model::field_error::FieldError::new(
                    "/amount",
                    "must be at least 1 (minor units)",
                ));
            }
        }
        let lines = input
            .line_items
            .as_deref()
            .map(|lines| parse_lines(&order, lines, |id| order.refundable_units(id), &mut errors));
        errors.into_result()?;
        let reason = reason.unwrap_or_default();
        let operation = Operation::Refund(number);
        let refund_id = uuid::Uuid::new_v4().to_string();
        self.once(caller, operation, &input.idempotency_key, input, async {
            let view = self
                .refund(
                    number,
                    &actor(caller),
                    &refund_id,
                    input,
                    lines.unwrap_or_default(),
                    &reason,
                )
                .await?;
            Ok(StoredResponse::Refund(Box::new(view)))
        })
        .await
    }

    /// Records the refund's parts as pending in one write conditioned on the order's revision
    /// (so two concurrent refunds never give back more than it holds), then asks the provider
    /// for each and records its answer; a gift card's part is credited in the first write.
    async fn refund(
        &self,
        number: &str,
        actor: &str,
        refund_id: &str,
        input: &RefundInput,
        lines: Vec<LineQuantity>,
        reason: &str,
    ) -> Result<RefundView, Error> {
        let mut backoff = self.backoff();
        let (refund, cart_id) = loop {
            let order = self.stored_order(number).await?;
            let refundable = order.refundable();
            let currency = order.currency;
            let amount = match (input.amount, lines.is_empty()) {
                (Some(amount), _) => amount,
                (None, false) => order.lines_value(&lines),
                (None, true) => refundable.cent_amount,
            };
            if amount < 1 || amount > refundable.cent_amount {
                return Err(Error::RefundExceedsCaptured { refundable });
            }
            let mut next = order.clone();
            let (parts, credits) = allocate(
                &mut next,
                refund_id,
                Money::new(amount, currency),
                self.now(),
            )?;
            let refund = MerchantRefund {
                id: refund_id.to_string(),
                amount: Money::new(amount, currency),
                line_items: lines.clone(),
                reason: reason.to_string(),
                restock: input.restock.unwrap_or(false) && !lines.is_empty(),
                parts,
                created_at: self.now(),
            };
            next.refunds.push(refund.clone());
            next.payment_state = payment::payment_state(&next.payments, next.totals.total);
            next.revision += 1;
            next.note(
                self.now(),
                actor,
                "refund",
                format!("{} requested: {reason}", refund.amount),
            );
            let claimed: Vec<String> = refund
                .parts
                .iter()
                .map(|p| p.interaction_id.clone())
                .collect();
            match self
                .store()
                .record_order_payments(&next, order.revision, &claimed, &credits, false)
                .await
            {
                Ok(()) => break (refund, order.details.cart_id),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the order's refund").await?,
            }
        };
        if refund.restock {
            let order = self.stored_order(number).await?;
            for line in &refund.line_items {
                if let Some(sku) = order
                    .line_items
                    .iter()
                    .find(|l| l.id == line.line_item_id)
                    .map(|l| l.sku.clone())
                {
                    self.store().restock(&sku, line.quantity).await?;
                }
            }
        }
        // The provider is asked for each pending part now; a crash leaves them pending for
        // the sweeper, which asks again with the same key.
        if let Err(error) = self.settle_order(&cart_id).await {
            tracing::warn!(order = number, %error, "refund recorded; the provider is asked again by the sweeper");
        }
        let order = self.stored_order(number).await?;
        let stored = order
            .refunds
            .iter()
            .find(|r| r.id == refund.id)
            .unwrap_or(&refund);
        Ok(stored.view(&order.payments))
    }

    /// Asks the provider for every pending reversal of the order and records the answers.
    async fn settle_order(&self, cart_id: &crate::model::values::CartId) -> Result<(), Error> {
        let mut asked = Asked::new();
        let mut backoff = self.backoff();
        loop {
            let Some(order) = self.store().cart_and_order(cart_id).await?.1 else {
                return Ok(());
            };
            let mut next = order.clone();
            if !self.settle(cart_id, &mut next.payments, &mut asked).await? {
                return Ok(());
            }
            next.payment_state = payment::payment_state(&next.payments, next.totals.total);
            next.revision += 1;
            next.note(self.now(), SYSTEM, "refund", "the provider answered");
            match self
                .store()
                .record_order_payments(&next, order.revision, &[], &[], false)
                .await
            {
                Ok(()) => return Ok(()),
                Err(PaymentWriteError::Store(e)) => return Err(Error::Store(e)),
                Err(_) => backoff.wait("the refund's answer").await?,
            }
        }
    }

    /// `POST /admin/orders/{n}/fulfillments`: a shipment of the lines named (or of every line
    /// not shipped yet).
    pub async fn fulfill_order(
        &self,
        caller: &Caller,
        number: &str,
        input: &FulfillmentInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let order = self.stored_order(number).await?;
        let mut errors = FieldErrors::new();
        let carrier = plain(&mut errors, "/carrier", &input.carrier);
        let tracking = plain(&mut errors, "/trackingNumber", &input.tracking_number);
        if let Some(url) = &input.tracking_url {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 500
                && !url.chars().any(char::is_whitespace);
            if !ok {
                errors.push(crate::model::field_error::FieldError::new(
                    "/trackingUrl",
                    "must be an http(s) URL of at most 500 characters",
                ));
            }
        }
        let unshipped = order.unshipped();
        let lines = input.line_items.as_deref().map(|lines| {
            parse_lines(
                &order,
                lines,
                |id| {
                    unshipped
                        .iter()
                        .find(|(line, _)| line == id)
                        .map_or(0, |(_, left)| *left)
                },
                &mut errors,
            )
        });
        let (carrier, tracking) = errors.finish(carrier.zip(tracking))?;
        let operation = Operation::Fulfill(number);
        let id = uuid::Uuid::new_v4().to_string();
        self.once(caller, operation, &input.idempotency_key, input, async {
            let mut backoff = self.backoff();
            loop {
                let order = self.stored_order(number).await?;
                ensure_fulfillable(&order)?;
                let lines = match &lines {
                    Some(lines) => lines.clone(),
                    None => order
                        .unshipped()
                        .into_iter()
                        .filter(|(_, left)| *left > 0)
                        .map(|(line_item_id, quantity)| LineQuantity {
                            line_item_id,
                            quantity,
                        })
                        .collect(),
                };
                if lines.is_empty() {
                    return Err(Error::OrderNotFulfillable {
                        why: "every line has shipped",
                    });
                }
                let now = self.now();
                let fulfillment = Fulfillment {
                    id: id.clone(),
                    line_items: lines,
                    carrier: carrier.clone(),
                    tracking_number: tracking.clone(),
                    tracking_url: input.tracking_url.clone(),
                    state: FulfillmentState::Shipped,
                    shipped_at: now,
                    delivered_at: None,
                };
                let mut next = order.clone();
                next.fulfillments.push(fulfillment.clone());
                next.shipment_state = next.shipment_state_now();
                next.state = OrderState::Confirmed;
                next.revision += 1;
                next.note(
                    now,
                    &actor(caller),
                    "shipped",
                    format!("{} {}", fulfillment.carrier, fulfillment.tracking_number),
                );
                if self
                    .store()
                    .write_fulfillments(&next, order.revision)
                    .await?
                {
                    return Ok(StoredResponse::Fulfillment(Box::new(fulfillment)));
                }
                backoff.wait("the order's shipment").await?;
            }
        })
        .await
    }

    /// `POST /admin/orders/{n}/fulfillments/{id}/delivered`.
    pub async fn mark_delivered(
        &self,
        caller: &Caller,
        number: &str,
        fulfillment_id: &str,
        input: &DeliveredInput,
    ) -> Result<Changed, Error> {
        caller.require_scope("orders:write")?;
        let operation = Operation::Delivered(number, fulfillment_id);
        self.once(caller, operation, &input.idempotency_key, input, async {
            let mut backoff = self.backoff();
            loop {
                let order = self.stored_order(number).await?;
                let Some(index) = order
                    .fulfillments
                    .iter()
                    .position(|f| f.id == fulfillment_id)
                else {
                    return Err(Error::NotFound);
                };
                if order.fulfillments[index].state == FulfillmentState::Delivered {
                    return Ok(StoredResponse::ChangedOrder(Box::new(order.snapshot())));
                }
                let now = self.now();
                let mut next = order.clone();
                next.fulfillments[index].state = FulfillmentState::Delivered;
                next.fulfillments[index].delivered_at = Some(now);
                next.shipment_state = next.shipment_state_now();
                if next.shipment_state == ShipmentState::Delivered {
                    next.state = OrderState::Complete;
                }
                next.revision += 1;
                next.note(
                    now,
                    &actor(caller),
                    "delivered",
                    format!("shipment {fulfillment_id}"),
                );
                if self
                    .store()
                    .write_fulfillments(&next, order.revision)
                    .await?
                {
                    return Ok(StoredResponse::ChangedOrder(Box::new(next.snapshot())));
                }
                backoff.wait("the order's delivery").await?;
            }
        })
        .await
    }
}

/// Only a paid order that is not cancelled ships.
fn ensure_fulfillable(order: &Order) -> Result<(), Error> {
    match (order.state, order.payment_state) {
        (OrderState::Cancelled | OrderState::Draft, _) => Err(Error::OrderNotFulfillable {
            why: "the order was cancelled or never placed",
        }),
        (_, PaymentState::Paid | PaymentState::PartiallyRefunded) => Ok(()),
        _ => Err(Error::OrderNotFulfillable {
            why: "the order is not paid",
        }),
    }
}

/// Where a refund's money comes from: provider payments first (in the order they were made),
/// then gift cards, each giving what it keeps. Each part is a `Refund` transaction on its
/// payment under the refund's own interaction id: pending for the provider, done at once for a
/// gift card (its credit is returned to ride in the same write).
fn allocate(
    order: &mut Order,
    refund_id: &str,
    amount: Money,
    at: time::OffsetDateTime,
) -> Result<(Vec<RefundPart>, Vec<GiftCardCredit>), Error> {
    let total = order.totals.total;
    let mut left = amount.cent_amount;
    let mut parts = Vec::new();
    let mut credits = Vec::new();
    let mut order_of: Vec<usize> = (0..order.payments.len()).collect();
    order_of.sort_by_key(|&i| order.payments[i].is_gift_card());
    for i in order_of {
        if left == 0 {
            break;
        }
        let payment = &mut order.payments[i];
        if !payment::fits(payment, total) {
            continue;
        }
        let take = payment.kept().min(left);
        if take == 0 {
            continue;
        }
        left -= take;
        let interaction_id = merchant_refund_interaction(refund_id, &payment.id);
        let part = Money::new(take, amount.currency());
        let gift_card = payment.is_gift_card();
        payment.transactions.push(Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            kind: TransactionKind::Refund,
            state: if gift_card {
                TransactionState::Success
            } else {
                TransactionState::Pending
            },
            amount: part,
            interaction_id: interaction_id.clone(),
            timestamp: at,
            reason: Some("a merchant's refund".into()),
            provider_id: None,
        });
        if gift_card {
            let code = GiftCardCode::parse(&payment.psp_reference)
                .map_err(|e| Error::internal(format!("a gift card payment without a code: {e}")))?;
            credits.push(GiftCardCredit { code, amount: part });
        }
        parts.push(RefundPart {
            payment_id: payment.id.clone(),
            interaction_id,
            amount: part,
        });
    }
    if left > 0 {
        return Err(Error::RefundExceedsCaptured {
            refundable: Money::new(amount.cent_amount - left, amount.currency()),
        });
    }
    Ok((parts, credits))
}
