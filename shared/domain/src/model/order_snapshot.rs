//! The order as the outside world sees it: its owner through the API, the confirmation email
//! and the ERP through events, a client replaying a request through the idempotency record.
//! One typed snapshot for all of them; only the proof of ownership is left out.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::address::Address;
use crate::model::cart::{AppliedDiscount, CartOwner, GuestDetails, LineItem, ShippingInfo};
use crate::model::fulfillment::{Fulfillment, ShipmentState};
use crate::model::money::{Currency, Money};
use crate::model::order::{CommitAction, Order, OrderState, ProgrammaticTerms};
use crate::model::order_number::OrderNumber;
use crate::model::payment::{Payment, PaymentState};
use crate::model::pricing::Totals;
use crate::model::values::{CartId, CustomerId, Email};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSnapshot {
    pub id: String,
    pub order_number: OrderNumber,
    pub cart_id: CartId,
    pub cart_version: u64,
    pub action: CommitAction,
    pub state: OrderState,
    pub payment_state: PaymentState,
    /// Placed by a guest (who may claim it later), not a signed-in customer.
    pub is_guest: bool,
    /// The signed-in customer who owns it; `None` for a guest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<GuestDetails>,
    pub currency: Currency,
    pub line_items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_info: Option<ShippingInfo>,
    pub discount_codes: Vec<AppliedDiscount>,
    #[serde(default)]
    pub payments: Vec<Payment>,
    pub totals: Totals,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    pub revision: u64,
    /// What a programmatic order was asked for (its commands, receipt, ERP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programmatic: Option<ProgrammaticTerms>,
    #[serde(default)]
    pub shipment_state: ShipmentState,
    /// Money the order's payments took and gave back since. Always written; absent only from
    /// snapshots stored before it existed (events in flight, idempotent replays), which
    /// [`OrderSnapshot::refunded`] derives from the payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<Money>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub cancelled_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub fulfillments: Vec<Fulfillment>,
}

impl OrderSnapshot {
    /// The money given back so far, read from the snapshot or derived from its payments.
    pub fn refunded(&self) -> Money {
        self.refunded_amount.unwrap_or_else(|| {
            crate::model::payment::refunded_amount(&self.payments, self.totals.total)
        })
    }

    /// Whether the confirmation email goes out: always, unless a programmatic order asked
    /// for none (`sendReceipt: false`).
    pub fn wants_receipt(&self) -> bool {
        self.programmatic.as_ref().is_none_or(|t| t.send_receipt)
    }

    /// Whether the ERP hears of the order: always, unless it is a programmatic order that
    /// did not run `send_to_platform`.
    pub fn goes_to_erp(&self) -> bool {
        self.programmatic
            .as_ref()
            .is_none_or(|t| t.send_to_platform)
    }
}

impl Order {
    pub fn snapshot(&self) -> OrderSnapshot {
        let order = self.clone();
        let customer_id = match order.owner {
            CartOwner::Customer { customer_id } => Some(customer_id),
            CartOwner::Guest { .. } => None,
        };
        OrderSnapshot {
            is_guest: customer_id.is_none(),
            customer_id,
            id: order.id,
            order_number: order.order_number,
            cart_id: order.cart_id,
            cart_version: order.cart_version,
            action: order.action,
            state: order.state,
            payment_state: order.payment_state,
            customer_email: order.customer_email,
            guest: order.guest,
            currency: order.currency,
            line_items: order.line_items,
            shipping_address: order.shipping_address,
            billing_address: order.billing_address,
            shipping_info: order.shipping_info,
            discount_codes: order.discount_codes,
            payments: order.payments,
            totals: order.totals,
            created_at: order.created_at,
            expires_at: order.expires_at,
            revision: order.revision,
            programmatic: order.programmatic.map(|terms| ProgrammaticTerms {
                request_fingerprint: None,
                created_by: None,
                ..terms
            }),
            shipment_state: order.shipment_state,
            refunded_amount: Some(self.refunded_amount()),
            cancelled_at: order.cancelled_at,
            fulfillments: order.fulfillments,
        }
    }
}
