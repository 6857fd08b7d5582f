//! What happens to an order after it exists: its history (who changed what, when), the
//! shipments that carry its lines (`Fulfillment`s) and the refunds a merchant made of it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::money::Money;
use crate::model::values::LineItemId;

/// How far an order's lines have travelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShipmentState {
    /// Nothing shipped yet.
    #[default]
    Pending,
    /// Some lines shipped, not all.
    Partial,
    /// Every line shipped.
    Shipped,
    /// Every line delivered.
    Delivered,
}

/// One change to an order, for people reading its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The token's subject that made the change, or `system` (the webhook, the sweeper).
    pub actor: String,
    /// What happened: `created`, `paid`, `refund`, `cancelled`, `shipped`, `delivered`,
    /// `claimed`, `expired`, `payment`.
    pub action: String,
    pub detail: String,
    /// The order's revision this change made.
    pub revision: u64,
}

/// The actor of changes nobody asked for by name (a provider's report, the sweeper).
pub const SYSTEM: &str = "system";

/// Units of one line in a shipment or a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineQuantity {
    pub line_item_id: LineItemId,
    pub quantity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FulfillmentState {
    Shipped,
    Delivered,
}

/// A shipment of some of an order's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    pub id: String,
    pub line_items: Vec<LineQuantity>,
    pub carrier: String,
    pub tracking_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    pub state: FulfillmentState,
    #[serde(with = "time::serde::rfc3339")]
    pub shipped_at: OffsetDateTime,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub delivered_at: Option<OffsetDateTime>,
}

/// A refund a merchant asked for: its money goes back through the payments it names, each a
/// `Refund` transaction on that payment (under `interaction_id`), settled by the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantRefund {
    pub id: String,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineQuantity>,
    pub reason: String,
    #[serde(default)]
    pub restock: bool,
    /// Where the money goes back: the payment and the refund transaction's interaction id.
    pub parts: Vec<RefundPart>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundPart {
    pub payment_id: String,
    pub interaction_id: String,
    pub amount: Money,
}

/// A merchant refund's interaction id on one of its payments: its own prefix, so it is never
/// taken for a give-back of the whole payment (`refund:` / `cancel:`).
pub fn merchant_refund_interaction(refund_id: &str, payment_id: &str) -> String {
    format!("mrefund:{refund_id}:{payment_id}")
}

/// Whether an interaction id is a merchant refund this system asked the provider for.
pub fn is_merchant_refund(id: &str) -> bool {
    id.starts_with("mrefund:")
}

/// Where a merchant refund stands, from its parts' transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundState {
    Pending,
    Succeeded,
    /// A part failed at the provider: that money is still the order's.
    Failed,
}

/// A merchant refund as its request is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub id: String,
    pub amount: Money,
    pub state: RefundState,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineQuantity>,
}

impl MerchantRefund {
    /// Where it stands: failed if any part failed, pending while any is, else succeeded.
    pub fn state(&self, payments: &[crate::model::payment::Payment]) -> RefundState {
        use crate::model::payment::TransactionState;
        let states: Vec<TransactionState> = self
            .parts
            .iter()
            .filter_map(|part| {
                payments
                    .iter()
                    .flat_map(|p| &p.transactions)
                    .find(|t| t.interaction_id == part.interaction_id)
                    .map(|t| t.state)
            })
            .collect();
        if states.contains(&TransactionState::Failure) {
            RefundState::Failed
        } else if states.len() < self.parts.len() || states.contains(&TransactionState::Pending) {
            RefundState::Pending
        } else {
            RefundState::Succeeded
        }
    }

    pub fn view(&self, payments: &[crate::model::payment::Payment]) -> RefundView {
        RefundView {
            id: self.id.clone(),
            amount: self.amount,
            state: self.state(payments),
            line_items: self.line_items.clone(),
        }
    }
}
