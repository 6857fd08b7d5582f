//! Stripe's webhooks: signatures (two secrets during a rotation), and events into the
//! domain's `PaymentEvent`.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;
use time::OffsetDateTime;

use checkout_domain::model::money::{Currency, Money};
use checkout_domain::model::payment::authorization_interaction;
use checkout_domain::model::payment_event::{PaymentEvent, PaymentOutcome, ProviderRefund};

use crate::client::refund_state;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::ProviderReport;

/// Stripe's default tolerance between a signature's timestamp and now.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `"<t>.<body>"` against each
/// secret (two during a rotation), in constant time. `tolerance: None` skips the age check.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
    tolerance: Option<i64>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", hex_signature)) => signatures.extend(hex::decode(hex_signature).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if tolerance.is_some_and(|tolerance| now - timestamp > tolerance) {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        signatures
            .iter()
            .any(|signature| mac(secret, timestamp, body).verify_slice(signature).is_ok())
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The interaction id of the intent `intent`'s charge (`latest_charge`): the same whether
/// the capture's answer or the webhook's `payment_intent.succeeded` reports it.
pub(crate) fn charge_interaction(intent: &str, latest_charge: Option<String>) -> String {
    let charge = latest_charge.unwrap_or_else(|| format!("{intent}:charge"));
    format!("charge:{charge}")
}

/// Stripe's signature scheme: HMAC-SHA256 over `"<timestamp>.<body>"`.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp` (for the simulator and tests).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let signature = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(signature))
}

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
    id: String,
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
                    PaymentOutcome::Canceled { amount },
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
                // The running total names each refund step.
                format!("refunded:{}:{}", charge.id, charge.amount_refunded),
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
    }))
}
