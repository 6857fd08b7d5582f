//! Stripe: webhook signatures, events into the domain's `PaymentEvent`, and the REST calls
//! behind the `PaymentProvider` port.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::HashMap;
use time::OffsetDateTime;

use checkout_domain::money::{Currency, Money};
use checkout_domain::payment::TransactionState;
use checkout_domain::psp::{
    Intent, IntentRequest, PaymentEvent, PaymentOutcome, PaymentProvider, PspError, Reversal,
};
use checkout_domain::values::CartId;

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
        signatures.iter().any(|signature| {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            mac.verify_slice(signature).is_ok()
        })
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `body` at `timestamp` (for the simulator and tests).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
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
                        })
                        .unwrap_or_else(|| format!("{}:charge", pi.id));
                    (
                        PaymentOutcome::Charged {
                            amount: Money::new(pi.amount_received, amount.currency()),
                        },
                        format!("charge:{charge}"),
                    )
                }
                "payment_intent.amount_capturable_updated" => (
                    PaymentOutcome::Authorized {
                        amount: Money::new(pi.amount_capturable, amount.currency()),
                    },
                    format!("authorization:{}", pi.id),
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
            (
                reference,
                charge.metadata,
                PaymentOutcome::Refunded {
                    total_refunded: refunded,
                },
                // The running total names each refund step.
                format!("refunded:{}:{}", charge.id, charge.amount_refunded),
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
        // Charges do not inherit their intent's metadata.
        None if event.kind == "charge.refunded" => {
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

/// Stripe's REST API over reqwest (rustls). Every mutating call sends an `Idempotency-Key`.
#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base_url: String,
    secret_key: String,
}

#[derive(Deserialize)]
struct IntentResponse {
    id: String,
    client_secret: Option<String>,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct RefundResponse {
    id: String,
    status: String,
}

impl StripeClient {
    /// `base_url` is `https://api.stripe.com` in production; tests point it at a fake.
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> Self {
        StripeClient {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("a TLS backend is compiled in"),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            secret_key: secret_key.into(),
        }
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, PspError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(&self.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PspError(format!("POST {path}: {status}: {body}")));
        }
        response
            .json()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))
    }
}

#[async_trait]
impl PaymentProvider for StripeClient {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError> {
        let form = vec![
            ("amount", request.amount.cent_amount.to_string()),
            (
                "currency",
                request.amount.currency().code().to_ascii_lowercase(),
            ),
            ("automatic_payment_methods[enabled]", "true".to_string()),
            ("metadata[cartId]", request.cart_id.to_string()),
            ("metadata[cartVersion]", request.cart_version.to_string()),
            (
                "metadata[customerId]",
                request
                    .customer_id
                    .as_ref()
                    .map_or("guest".to_string(), |c| c.to_string()),
            ),
        ];
        let intent: IntentResponse = self
            .post("/v1/payment_intents", &form, &request.idempotency_key)
            .await?;
        Ok(Intent {
            client_secret: intent.client_secret.unwrap_or_default(),
            reference: intent.id,
        })
    }

    async fn retrieve(&self, reference: &str) -> Result<Option<CartId>, PspError> {
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            metadata: HashMap<String, String>,
        }
        let path = format!("/v1/payment_intents/{reference}");
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.secret_key)
            .send()
            .await
            .map_err(|e| PspError(format!("GET {path}: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(PspError(format!("GET {path}: {status}")));
        }
        let intent: Metadata = response
            .json()
            .await
            .map_err(|e| PspError(format!("GET {path}: {e}")))?;
        Ok(intent
            .metadata
            .get("cartId")
            .and_then(|id| CartId::parse(id).ok()))
    }

    async fn cancel(&self, reference: &str, idempotency_key: &str) -> Result<Reversal, PspError> {
        let intent: IntentResponse = self
            .post(
                &format!("/v1/payment_intents/{reference}/cancel"),
                &[],
                idempotency_key,
            )
            .await?;
        // Cancelling answers with the intent; only `canceled` means the hold is released.
        Ok(Reversal {
            state: cancel_state(&intent.status)?,
            interaction_id: intent.id,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        let form = [
            ("payment_intent", reference.to_string()),
            ("amount", amount.cent_amount.to_string()),
        ];
        let refund: RefundResponse = self.post("/v1/refunds", &form, idempotency_key).await?;
        Ok(Reversal {
            state: refund_state(&refund.status)?,
            interaction_id: refund.id,
        })
    }
}

/// A refund's status in the domain's words, exactly as Stripe documents them
/// (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`): only `succeeded` gives
/// the money back; a status we do not know is an error, never taken for success.
fn refund_state(status: &str) -> Result<TransactionState, PspError> {
    match status {
        "succeeded" => Ok(TransactionState::Success),
        "pending" | "requires_action" => Ok(TransactionState::Pending),
        "failed" | "canceled" => Ok(TransactionState::Failure),
        other => Err(PspError(format!("unknown refund status {other:?}"))),
    }
}

/// A cancelled intent releases its authorization only once its status is `canceled`.
fn cancel_state(status: &str) -> Result<TransactionState, PspError> {
    match status {
        "canceled" => Ok(TransactionState::Success),
        other => Err(PspError(format!(
            "payment intent not cancelled: status {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_statuses_map_exactly() {
        use TransactionState::*;
        for (status, state) in [
            ("succeeded", Success),
            ("pending", Pending),
            ("requires_action", Pending),
            ("failed", Failure),
            ("canceled", Failure),
        ] {
            assert_eq!(refund_state(status).unwrap(), state, "{status}");
        }
        // Anything else is not taken for a success.
        assert!(refund_state("").is_err());
        assert!(refund_state("processing").is_err());
        assert_eq!(cancel_state("canceled").unwrap(), Success);
        assert!(cancel_state("requires_capture").is_err());
    }
}
