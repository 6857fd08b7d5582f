//! The order: a snapshot of the cart at commit. Later catalog, tax or discount changes never
//! touch it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::address::Address;
use crate::model::cart::{AppliedDiscount, Cart, CartOwner, GuestDetails, LineItem, ShippingInfo};
use crate::model::fulfillment::{
    Fulfillment, FulfillmentState, HistoryEntry, MerchantRefund, ShipmentState,
};
use crate::model::money::Currency;
use crate::model::money::Money;
use crate::model::order_commands::{CommandRun, PaymentSource};
use crate::model::order_number::OrderNumber;
use crate::model::payment::{Payment, PaymentState};
use crate::model::pricing::Totals;
use crate::model::values::{CartId, CustomerId, Email, LineItemId};

mod after_sale;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    /// A programmatic order not yet processed: it holds no stock, code or gift card, and
    /// no event leaves for it.
    Draft,
    Open,
    /// A shipment left: it can be refunded, no longer cancelled.
    Confirmed,
    Cancelled,
    /// Every line delivered.
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitAction {
    /// Payments must already cover the total.
    Checkout,
    /// The order is created awaiting payment; stock is reserved until it expires.
    SaveOrder,
}

/// An order: what it says of itself (`OrderDetails`, which everyone who hears of it sees),
/// who owns it and how that is proven, the refunds merchants asked for, and the change being
/// written. Reads of its details go through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    #[serde(flatten)]
    pub details: OrderDetails,
    pub owner: CartOwner,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fulfillments: Vec<Fulfillment>,
    /// The refunds merchants asked for (their money's movements are on the payments).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<MerchantRefund>,
    /// The entry this write adds to the order's history, stored beside the order (its own
    /// item) in the same write; not part of the order's own item.
    #[serde(skip)]
    pub change: Option<HistoryEntry>,
}

/// What an order says of itself, the same in the stored order, its snapshot (the API's
/// view, the email's and the ERP's events, a replayed answer) and everything derived from
/// them: a field is added here once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetails {
    pub id: String,
    pub order_number: OrderNumber,
    pub cart_id: CartId,
    /// The cart version this order was committed from (a retry with it replays the order).
    pub cart_version: u64,
    pub action: CommitAction,
    pub state: OrderState,
    pub payment_state: PaymentState,
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
    /// When an unpaid `save_order` order releases its stock and codes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Counts every change to the order (1 at creation); writes are conditioned on it, and
    /// consumers order events by it.
    #[serde(default = "first_revision")]
    pub revision: u64,
    /// For an order made by `POST /admin/orders`: what it was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programmatic: Option<ProgrammaticTerms>,
    #[serde(default)]
    pub shipment_state: ShipmentState,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub cancelled_at: Option<OffsetDateTime>,
}

impl std::ops::Deref for Order {
    type Target = OrderDetails;

    fn deref(&self) -> &OrderDetails {
        &self.details
    }
}

impl std::ops::DerefMut for Order {
    fn deref_mut(&mut self) -> &mut OrderDetails {
        &mut self.details
    }
}

/// What a programmatic order was asked for, kept so a draft can be carried on and so the
/// subscribers know whether to send the receipt and tell the ERP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgrammaticTerms {
    pub send_receipt: bool,
    pub send_to_platform: bool,
    /// The commands the order went through, in order.
    pub commands: Vec<CommandRun>,
    /// The payments it was asked to take (the order's `payments` are what they took).
    pub payments: Vec<PaymentSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method_id: Option<crate::model::values::ShippingMethodId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<crate::model::values::Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<crate::model::values::Name>,
    /// The fingerprint of the `POST /admin/orders` request the order was made for. The
    /// key's record is kept for `RETENTION`; the order keeps this for as long as it lives,
    /// so the key reused with another body is refused after its record expired too. Not in
    /// the snapshot (an internal detail); `None` on orders made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_fingerprint: Option<String>,
    /// Who asked for it (the token's subject): the first entry of its history. Not in the
    /// snapshot; `None` on orders made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

fn first_revision() -> u64 {
    1
}

impl Order {
    /// The snapshot of `cart` as an order. Only discounts that took effect are kept.
    pub fn from_cart(
        cart: &Cart,
        order_number: OrderNumber,
        action: CommitAction,
        payment_state: PaymentState,
        now: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Order {
        Order {
            details: OrderDetails {
                id: uuid::Uuid::new_v4().to_string(),
                order_number,
                cart_id: cart.id.clone(),
                cart_version: cart.version,
                action,
                state: OrderState::Open,
                payment_state,
                customer_email: cart.customer_email.clone(),
                guest: cart.guest.clone(),
                currency: cart.currency,
                line_items: cart.line_items.clone(),
                shipping_address: cart.shipping_address.clone(),
                billing_address: cart.billing_address.clone(),
                shipping_info: cart.shipping_method.clone(),
                discount_codes: cart
                    .discount_codes
                    .iter()
                    .filter(|d| d.state == crate::model::cart::DiscountState::MatchesCart)
                    .cloned()
                    .collect(),
                payments: cart.payments.clone(),
                totals: cart.totals,
                created_at: now,
                expires_at,
                revision: 1,
                programmatic: None,
                shipment_state: ShipmentState::Pending,
                cancelled_at: None,
            },
            owner: cart.owner.clone(),
            fulfillments: Vec::new(),
            refunds: Vec::new(),
            change: None,
        }
    }

    /// Moves the order on after its payments changed: the payment state they come to, the
    /// next revision, and the history entry saying what changed.
    pub fn payments_changed(
        &mut self,
        at: OffsetDateTime,
        actor: &str,
        action: &str,
        detail: impl Into<String>,
    ) {
        self.payment_state =
            crate::model::payment::payment_state(&self.payments, self.totals.total);
        self.moved_on(at, actor, action, detail);
    }

    /// Moves the order to its next revision, with the history entry saying what changed.
    pub fn moved_on(
        &mut self,
        at: OffsetDateTime,
        actor: &str,
        action: &str,
        detail: impl Into<String>,
    ) {
        self.revision += 1;
        self.note(at, actor, action, detail);
    }

    /// Notes this change for the order's history, at the revision it makes (call after
    /// moving the revision on).
    pub fn note(
        &mut self,
        at: OffsetDateTime,
        actor: &str,
        action: &str,
        detail: impl Into<String>,
    ) {
        self.change = Some(HistoryEntry {
            at,
            actor: actor.to_string(),
            action: action.to_string(),
            detail: detail.into(),
            revision: self.revision,
        });
    }

    /// A saved order still waiting for (the rest of) its payment, within its hold. Once paid
    /// its hold is over for good: a later refund does not make it payable again.
    pub fn awaiting_payment(&self) -> bool {
        self.action == CommitAction::SaveOrder
            && self.state == OrderState::Open
            && self.payment_state != PaymentState::Paid
            && self.expires_at.is_some()
    }

    /// The customer whose open-order slot this order takes while it awaits payment: a
    /// signed-in customer's saved order (rule 13).
    pub fn slot_owner(&self) -> Option<&CustomerId> {
        match &self.owner {
            CartOwner::Customer { customer_id } if self.action == CommitAction::SaveOrder => {
                Some(customer_id)
            }
            _ => None,
        }
    }

    /// When the sweeper must look at this order: a saved order when its hold ends unpaid, a
    /// cancelled order at once while it still holds money that must be given back.
    ///
    /// Any order is due, too, while a reversal of one of its payments is pending at the
    /// provider or failed and is to be asked for again (`Payment::reversal_due_at`): it stays
    /// in the sweeper's queue until the money is back.
    pub fn sweep_at(&self) -> Option<OffsetDateTime> {
        let reversal = self
            .payments
            .iter()
            .filter_map(Payment::reversal_due_at)
            .min();
        let own = if self.awaiting_payment() {
            self.expires_at
        } else {
            (self.state == OrderState::Cancelled && self.holds_money())
                .then_some(self.expires_at.unwrap_or(self.created_at))
        };
        own.into_iter().chain(reversal).min()
    }

    /// Whether any payment still secures money that nobody gave up on giving back.
    pub fn holds_money(&self) -> bool {
        self.payments
            .iter()
            .any(|p| p.secured() > 0 && !p.reversal_given_up())
    }

    pub fn is_guest(&self) -> bool {
        matches!(self.owner, CartOwner::Guest { .. })
    }
}
