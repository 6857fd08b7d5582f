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
use crate::model::idempotency::{IdempotencyKey, IdempotentRequest, Operation, StoredResponse};
use crate::model::identity::Caller;
use crate::model::money::Money;
use crate::model::not_null::not_null;
use crate::model::order::{Order, OrderState, ProgrammaticTerms};
use crate::model::order_number::OrderNumber;
use crate::model::payment::{self, PaymentState, Transaction, TransactionKind, TransactionState};
use crate::model::values::{LineItemId, Name};
use crate::ports::carts::CartStore;
use crate::ports::catalog::CatalogStore;
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::orders::OrderStore;
use crate::ports::payments::PaymentStore;
use crate::ports::payments::PaymentWriteError;
use crate::usecases::env::Env;
use crate::usecases::idempotency;
use crate::usecases::order_queries::OrderQueries;
use crate::usecases::reversals::Asked;
use crate::usecases::reversals::Reversals;

mod cancel;
mod fulfillments;
mod refunds;

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

/// After the order exists, over the stores of orders (and the carts and payments their
/// money is recorded with), the catalog (a refund's restock) and idempotency records, with
/// the reversals that give money back and the queries that read an order for its owner.
pub struct MerchantOrders<'a> {
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) carts: &'a dyn CartStore,
    pub(crate) payments: &'a dyn PaymentStore,
    pub(crate) catalog: &'a dyn CatalogStore,
    pub(crate) idempotency: &'a dyn IdempotencyStore,
    pub(crate) reversals: Reversals<'a>,
    pub(crate) queries: OrderQueries<'a>,
    pub(crate) env: &'a Env,
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

/// A change's `idempotencyKey` as its body sends it.
fn body_key(raw: &str) -> Result<IdempotencyKey, Error> {
    IdempotencyKey::parse(raw).map_err(|e| Error::invalid("/idempotencyKey", e))
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

impl MerchantOrders<'_> {
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
        history.extend(self.orders.order_history(&order.cart_id).await?);
        Ok((order, history))
    }

    async fn stored_order(&self, number: &str) -> Result<Order, Error> {
        self.orders
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
        key: &IdempotencyKey,
        body: &impl Serialize,
        change: impl std::future::Future<Output = Result<StoredResponse, Error>>,
    ) -> Result<Changed, Error> {
        let store = self.idempotency;
        let now = self.env.now();
        let request = IdempotentRequest::keyed(operation, caller, key, body);
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
}
