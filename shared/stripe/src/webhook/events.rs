//! Stripe's events (the five payment intent events, a charge's refunds and a refund's
//! status) read into the domain's `PaymentEvent`, or the reason one is not acted on.

use serde::Deserialize;
use std::collections::HashMap;
use time::OffsetDateTime;

use checkout_domain::model::money::{Currency, Money};
use checkout_domain::model::payment::authorization_interaction;
use checkout_domain::model::payment_event::{PaymentEvent, PaymentOutcome, ProviderRefund};
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::ProviderReport;

use super::charge_interaction;
use crate::client::refund_state;

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct PaymentIntentObject {
    id: String,
    #[serde(default)]
    amount: i64,
    #[serde(default)]
    amount_received: i64,
    #[serde(default)]
    amount_capturable: i64,
    currency: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    latest_charge: Option<serde_json::Value>,
    #[serde(default)]
    last_payment_error: Option<serde_json::Value>,
    /// API versions before 2022-11-15 embed the charges instead of `latest_charge`.
    #[serde(default)]
    charges: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ChargeObject {
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    amount_refunded: i64,
    currency: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    /// API versions before 2022-11-15 list the charge's refunds here (later ones only when
    /// expanded): each is matched by its id.
    #[serde(default)]
    refunds: Option<RefundList>,
}

#[derive(Debug, Deserialize)]
struct RefundList {
    #[serde(default)]
    data: Vec<RefundObject>,
}

/// A refund object (`charge.refund.updated`'s, or one of a charge's).
#[derive(Debug, Deserialize)]
struct RefundObject {
    id: String,
    amount: i64,
    currency: String,
    status: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    failure_reason: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

impl RefundObject {
    /// The refund in the domain's words; `None` for a currency we do not sell in.
    fn provider_refund(&self) -> Result<Option<ProviderRefund>, String> {
        let Some(amount) = money(self.amount, &self.currency) else {
            return Ok(None);
        };
        Ok(Some(ProviderRefund {
            id: self.id.clone(),
            amount,
            state: refund_state(&self.status).map_err(|e| e.0)?,
            failure: self.failure_reason.clone(),
            key: self.metadata.get("reversalKey").cloned(),
        }))
    }
}

/// What an authentic event means for us.
#[derive(Debug)]
// One per notification item, read and dropped at once: boxing the event buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Interpretation {
    Payment(PaymentEvent),
    /// Authentic, but not one we act on (another type, or not one of our carts).
    Ignored(String),
    /// A refund's charge does not name the cart; its payment intent does (ask Stripe).
    NeedsIntent(String),
}

fn money(cents: i64, currency: &str) -> Option<Money> {
    Currency::parse(&currency.to_ascii_uppercase())
        .ok()
        .map(|c| Money::new(cents, c))
}

/// An authentic event as the domain's report: what `interpret` says, with a refund whose
/// charge does not name the cart left for the payment webhook to link (it asks Stripe).
pub fn report(event: &Event) -> ProviderReport {
    as_report(interpret(event), event)
}

fn as_report(interpretation: Result<Interpretation, String>, event: &Event) -> ProviderReport {
    match interpretation {
        Ok(Interpretation::Payment(payment)) => ProviderReport::Payment(payment),
        Ok(Interpretation::Ignored(why)) => ProviderReport::Ignored(why),
        Err(why) => ProviderReport::Unreadable(why),
        Ok(Interpretation::NeedsIntent(reference)) => {
            let event = event.clone();
            ProviderReport::Unlinked {
                reference,
                relink: Box::new(move |cart| match cart {
                    Some(cart) => as_report(interpret_for(&event, Some(cart)), &event),
                    None => ProviderReport::Ignored("intent is not ours".into()),
                }),
            }
        }
    }
}

/// Reads an event's envelope and, for the five payment events we handle, its object.
pub fn interpret(event: &Event) -> Result<Interpretation, String> {
    interpret_for(event, None)
}

/// `interpret`, with the cart looked up from the payment intent when the object has none.
pub fn interpret_for(event: &Event, known_cart: Option<CartId>) -> Result<Interpretation, String> {
    let occurred_at =
        OffsetDateTime::from_unix_timestamp(event.created).map_err(|e| e.to_string())?;
    let ignore = |why: &str| Ok(Interpretation::Ignored(format!("{}: {why}", event.kind)));
    let (reference, metadata, outcome, interaction_id) = match event.kind.as_str() {
        "payment_intent.succeeded"
        | "payment_intent.amount_capturable_updated"
        | "payment_intent.payment_failed"
        | "payment_intent.canceled" => {
            let pi: PaymentIntentObject = serde_json::from_value(event.data.object.clone())
                .map_err(|e| format!("payment intent: {e}"))?;
            let Some(amount) = money(pi.amount, &pi.currency) else {
                return ignore("unsupported currency");
            };
            let (outcome, interaction) = match event.kind.as_str() {
                "payment_intent.succeeded" => {
                    let charge = pi
                        .latest_charge
                        .as_ref()
                        .and_then(|c| {
                            c.as_str()
                                .map(str::to_string)
                                .or_else(|| c["id"].as_str().map(str::to_string))
                        })
                        .or_else(|| {
                            let charges = pi.charges.as_ref()?;
                            charges["data"][0]["id"].as_str().map(str::to_string)
                        });
                    (
                        PaymentOutcome::Charged {
                            amount: Money::new(pi.amount_received, amount.currency()),
                        },
                        charge_interaction(&pi.id, charge),
                    )
                }
                "payment_intent.amount_capturable_updated" => (
                    PaymentOutcome::Authorized {
                        amount: Money::new(pi.amount_capturable, amount.currency()),
                    },
                    authorization_interaction(&pi.id),
                ),
                "payment_intent.payment_failed" => (
                    PaymentOutcome::Failed {
                        amount,
                        reason: pi
                            .last_payment_error
                            .as_ref()
                            .and_then(|e| e["code"].as_str().map(str::to_string)),
                    },
                    // Each failed attempt is its own event.
                    format!("failure:{}", event.id),
                ),
                _ => (
                    PaymentOutcome::Canceled {
                        amount,
                        reversal: None,
                    },
                    format!("cancel:{}", pi.id),
                ),
            };
            (pi.id, pi.metadata, outcome, interaction)
        }
        "charge.refunded" => {
            let charge: ChargeObject = serde_json::from_value(event.data.object.clone())
                .map_err(|e| format!("charge: {e}"))?;
            let Some(refunded) = money(charge.amount_refunded, &charge.currency) else {
                return ignore("unsupported currency");
            };
            let Some(reference) = charge.payment_intent.clone() else {
                return ignore("charge without a payment intent");
            };
            let refunds = charge
                .refunds
                .iter()
                .flat_map(|list| &list.data)
                .map(RefundObject::provider_refund)
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>, _>>()?;
            (
                reference,
                charge.metadata,
                PaymentOutcome::Refunded {
                    total_refunded: refunded,
                    refunds,
                },
                // Each report of the total is its own: the same figure can come again after
                // a refund failed and another was made (the amount explains itself, so a
                // report that adds nothing records nothing).
                format!("refunded:{}", event.id),
            )
        }
        // A refund's status moved (`failed` or `canceled` puts the money back to
        // outstanding). `refund.updated` / `refund.failed` carry the same object in newer
        // API versions.
        "charge.refund.updated" | "refund.updated" | "refund.failed" => {
            let refund: RefundObject = serde_json::from_value(event.data.object.clone())
                .map_err(|e| format!("refund: {e}"))?;
            let Some(reported) = refund.provider_refund()? else {
                return ignore("unsupported currency");
            };
            let Some(reference) = refund.payment_intent.clone() else {
                return ignore("refund without a payment intent");
            };
            (
                reference,
                refund.metadata,
                PaymentOutcome::RefundUpdated(reported),
                // Each status a refund reaches is one report.
                format!("refund-status:{}:{}", refund.id, refund.status),
            )
        }
        _ => return ignore("not handled"),
    };
    let cart_id = match metadata
        .get("cartId")
        .and_then(|id| CartId::parse(id).ok())
        .or(known_cart)
    {
        Some(cart_id) => cart_id,
        // Charges and refunds do not inherit their intent's metadata.
        None if !event.kind.starts_with("payment_intent.") => {
            return Ok(Interpretation::NeedsIntent(reference))
        }
        None => return ignore("no cartId in metadata"),
    };
    Ok(Interpretation::Payment(PaymentEvent {
        event_id: event.id.clone(),
        reference,
        cart_id,
        outcome,
        interaction_id,
        occurred_at,
        session: None,
    }))
}
