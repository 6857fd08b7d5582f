//! Stripe's webhooks: signatures (two secrets during a rotation), and events into the
//! domain's `PaymentEvent`.

use hmac::digest::CtOutput;
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

/// The longest `Stripe-Signature` header read. Stripe's own (a timestamp, two `v1` during a
/// secret's rotation and a `v0`) is about 250 bytes; anything past this bound is refused
/// before any parsing or hashing, so an unauthenticated request cannot buy work with it.
pub const MAX_HEADER_BYTES: usize = 1024;

/// The most `v1` entries a header may list (Stripe sends one per active secret: two during
/// a rotation). More is refused, whatever the entries hold, before any hashing.
pub const MAX_SIGNATURES: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error(
        "the Stripe-Signature header is over {MAX_HEADER_BYTES} bytes or lists more than \
         {MAX_SIGNATURES} v1 signatures"
    )]
    Oversized,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// A `Stripe-Signature` header, read: its timestamp and the `v1` candidates that can be
/// signatures at all (exactly 32 bytes, as 64 hex digits). An empty, non-hex or
/// wrongly sized `v1` is not one and is skipped, as Stripe's libraries skip it (a valid one
/// after it still verifies), but it counts toward [`MAX_SIGNATURES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub candidates: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Reads `t=<unix>,v1=<hex>[,v1=<hex>…]` within the bounds, touching no body.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Oversized);
        }
        let mut timestamp = None;
        let mut entries = 0;
        let mut candidates = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", hex_signature)) => {
                    entries += 1;
                    if entries > MAX_SIGNATURES {
                        return Err(SignatureError::Oversized);
                    }
                    let mut signature = [0u8; 32];
                    if hex::decode_to_slice(hex_signature, &mut signature).is_ok() {
                        candidates.push(signature);
                    }
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if candidates.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(SignatureHeader {
            timestamp,
            candidates,
        })
    }
}

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `"<t>.<body>"` against each
/// secret (two during a rotation). The header is read within its bounds first; then each
/// secret's MAC is computed once and compared with every candidate in constant time.
/// `tolerance: None` skips the age check.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
    tolerance: Option<i64>,
) -> Result<(), SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    if tolerance.is_some_and(|tolerance| now - header.timestamp > tolerance) {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        let expected = mac(secret, header.timestamp, body).finalize();
        header
            .candidates
            .iter()
            // `CtOutput`'s equality is constant-time.
            .any(|candidate| expected == CtOutput::new((*candidate).into()))
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
    #[cfg(test)]
    tests::MACS.with(|count| count.set(count.get() + 1));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// MACs computed on this thread (`mac` counts itself in tests).
        pub(super) static MACS: Cell<usize> = const { Cell::new(0) };
    }

    fn macs_during(f: impl FnOnce()) -> usize {
        MACS.with(|count| count.set(0));
        f();
        MACS.with(Cell::get)
    }

    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    fn secrets() -> Vec<String> {
        vec!["whsec_new".into(), "whsec_old".into()]
    }

    fn v1(secret: &str) -> String {
        sign(BODY, secret, 1_000)
            .split_once(",v1=")
            .unwrap()
            .1
            .to_string()
    }

    #[test]
    fn each_secret_is_hashed_once_however_many_candidates() {
        let header = format!(
            "t=1000,v1={},v1={},v1={}",
            "0".repeat(64),
            "f".repeat(64),
            v1("whsec_old")
        );
        let macs = macs_during(|| {
            assert_eq!(
                verify_signature(Some(&header), BODY, &secrets(), 1_000, Some(300)),
                Ok(())
            )
        });
        assert_eq!(macs, 2, "one MAC per secret");
        let wrong = format!("t=1000,v1={},v1={}", "0".repeat(64), "f".repeat(64));
        let macs = macs_during(|| {
            assert_eq!(
                verify_signature(Some(&wrong), BODY, &secrets(), 1_000, Some(300)),
                Err(SignatureError::Mismatch)
            )
        });
        assert_eq!(macs, 2);
    }

    #[test]
    fn empty_non_hex_and_wrongly_sized_entries_are_no_signatures() {
        for header in [
            "t=1000,v1=",
            "t=1000,v1=,v1=,v1=",
            "t=1000,v1=zz",
            "t=1000,v1=abcd",
            &format!("t=1000,v1={}", "a".repeat(66)),
            &format!("t=1000,v1={}", "g".repeat(64)),
        ] {
            let macs = macs_during(|| {
                assert_eq!(
                    verify_signature(Some(header), BODY, &secrets(), 1_000, Some(300)),
                    Err(SignatureError::Malformed),
                    "{header}"
                )
            });
            assert_eq!(macs, 0, "{header}: nothing hashed");
        }
        // Skipped, not fatal: a valid signature after them still verifies.
        let header = format!("t=1000,v1=,v1=abcd,v1={}", v1("whsec_new"));
        assert_eq!(
            verify_signature(Some(&header), BODY, &secrets(), 1_000, Some(300)),
            Ok(())
        );
    }

    #[test]
    fn an_oversized_header_is_refused_before_any_hashing() {
        let valid = v1("whsec_new");
        // 2,500 empty entries (the hostile header), and a valid signature among too many.
        let empties = format!("t=1000{}", ",v1=".repeat(2_500));
        let padded = format!("{empties},v1={valid}");
        let too_many = format!("t=1000{},v1={valid}", ",v1=".repeat(MAX_SIGNATURES));
        let too_long = format!("t=1000,v1={valid},v0={}", "0".repeat(MAX_HEADER_BYTES));
        for header in [&empties, &padded, &too_many, &too_long] {
            let macs = macs_during(|| {
                assert!(
                    matches!(
                        SignatureHeader::parse(header),
                        Err(SignatureError::Oversized)
                    ),
                    "{} bytes",
                    header.len()
                );
                assert_eq!(
                    verify_signature(Some(header), BODY, &secrets(), 1_000, Some(300)),
                    Err(SignatureError::Oversized)
                );
            });
            assert_eq!(macs, 0, "nothing hashed");
        }
        // At the bounds: MAX_SIGNATURES entries, and a header of MAX_HEADER_BYTES, verify.
        let at_count = format!("t=1000{},v1={valid}", ",v1=".repeat(MAX_SIGNATURES - 1));
        assert_eq!(
            verify_signature(Some(&at_count), BODY, &secrets(), 1_000, Some(300)),
            Ok(())
        );
        let short = format!("t=1000,v1={valid},v0=");
        let at_length = format!("{short}{}", "0".repeat(MAX_HEADER_BYTES - short.len()));
        assert_eq!(at_length.len(), MAX_HEADER_BYTES);
        assert_eq!(
            verify_signature(Some(&at_length), BODY, &secrets(), 1_000, Some(300)),
            Ok(())
        );
    }
}
