//! Adyen's Checkout API (v71) behind the domain's `PaymentProvider` port.
//!
//! * A payment starts as a Checkout session (`POST /sessions`): its `id` is the payment's
//!   reference here, its `sessionData` what the browser's Drop-in needs (`clientSecret`), and
//!   the cart id its `reference` (Adyen's `merchantReference`).
//! * Captures, cancels and refunds are modifications of the shopper's payment
//!   (`POST /payments/{pspReference}/captures|reversals|refunds`). Adyen answers `received`
//!   and reports the outcome by notification, so each is `Pending` here, under the
//!   modification's own `pspReference`, until its notification settles it. Each sends the cart
//!   id as its `reference`, which the notification carries back as `merchantReference`.
//!   A cancellation uses `/reversals` (cancel or refund, whichever the payment needs): with
//!   automatic capture an authorization may already be captured by the time it is given back.
//! * Every call sends an `Idempotency-Key` (at most 64 characters at Adyen: a longer key is
//!   sent as its SHA-256, so the same key always names the same request).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::{
    Authorization, Capture, Intent, IntentRequest, PaymentProvider, PspError, Reversal,
    SavedMethodRequest,
};

use crate::notification::capture_interaction;

/// The Checkout API version this client speaks.
pub const API_VERSION: &str = "v71";

/// Adyen's longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 64;

/// The Checkout API over reqwest (rustls), for one merchant account.
#[derive(Clone)]
pub struct AdyenClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    merchant_account: String,
    return_url: String,
}

/// What to reach Adyen with.
#[derive(Clone)]
pub struct AdyenSettings {
    /// `https://checkout-test.adyen.com` for the test platform; live accounts have their own
    /// prefixed host. Tests point it at a fake.
    pub base_url: String,
    pub api_key: String,
    pub merchant_account: String,
    /// Where the shopper returns after a redirect (a 3-D Secure challenge, a bank's page).
    pub return_url: String,
}

impl std::fmt::Debug for AdyenClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is a secret: never in a log line.
        f.debug_struct("AdyenClient")
            .field("base_url", &self.base_url)
            .field("merchant_account", &self.merchant_account)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    id: String,
    session_data: String,
}

/// A modification's answer (`captures`, `reversals`, `refunds`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModificationResponse {
    psp_reference: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentResponse {
    #[serde(default)]
    psp_reference: Option<String>,
    result_code: String,
    #[serde(default)]
    refusal_reason: Option<String>,
}

/// Adyen's error body (`422`, `401`, …): its message, never the request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorResponse {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The key Adyen is sent for `key`: itself, or its SHA-256 when longer than Adyen takes.
pub fn idempotency_key(key: &str) -> String {
    if key.len() <= MAX_IDEMPOTENCY_KEY {
        key.to_string()
    } else {
        hex::encode(Sha256::digest(key.as_bytes()))
    }
}

fn amount(money: Money) -> Value {
    json!({"currency": money.currency().code(), "value": money.cent_amount})
}

impl AdyenClient {
    pub fn new(settings: AdyenSettings) -> Self {
        AdyenClient {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("a TLS backend is compiled in"),
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            api_key: settings.api_key,
            merchant_account: settings.merchant_account,
            return_url: settings.return_url,
        }
    }

    pub fn merchant_account(&self) -> &str {
        &self.merchant_account
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        key: &str,
    ) -> Result<T, PspError> {
        let url = format!("{}/{API_VERSION}{path}", self.base_url);
        let response = self
            .http
            .post(&url)
            .header("X-API-Key", &self.api_key)
            .header("Idempotency-Key", idempotency_key(key))
            .json(body)
            .send()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let why = serde_json::from_str::<ErrorResponse>(&text)
                .ok()
                .and_then(|e| match (e.error_code, e.message) {
                    (Some(code), Some(message)) => Some(format!("{code}: {message}")),
                    (code, message) => code.or(message),
                })
                .unwrap_or(text);
            return Err(PspError(format!("POST {path}: {status}: {why}")));
        }
        response
            .json()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))
    }

    /// A modification of the payment `reference`, `Pending` until its notification.
    async fn modify(
        &self,
        reference: &str,
        operation: &str,
        cart_id: &CartId,
        money: Option<Money>,
        key: &str,
    ) -> Result<ModificationResponse, PspError> {
        let mut body = json!({
            "merchantAccount": self.merchant_account,
            "reference": cart_id.to_string(),
        });
        if let Some(money) = money {
            body["amount"] = amount(money);
        }
        let answer: ModificationResponse = self
            .post(&format!("/payments/{reference}/{operation}"), &body, key)
            .await?;
        if answer.status != "received" {
            return Err(PspError(format!(
                "{operation} of {reference}: status {:?}",
                answer.status
            )));
        }
        Ok(answer)
    }
}

#[async_trait]
impl PaymentProvider for AdyenClient {
    fn name(&self) -> &'static str {
        "adyen"
    }

    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError> {
        let customer = request
            .customer_id
            .as_ref()
            .map_or("guest".to_string(), |c| c.to_string());
        let body = json!({
            "amount": amount(request.amount),
            "merchantAccount": self.merchant_account,
            "reference": request.cart_id.to_string(),
            "returnUrl": self.return_url,
            "metadata": {
                "cartVersion": request.cart_version.to_string(),
                "customerId": customer,
            },
        });
        let session: SessionResponse = self
            .post("/sessions", &body, &request.idempotency_key)
            .await?;
        Ok(Intent {
            reference: session.id,
            client_secret: session.session_data,
        })
    }

    /// Adyen cannot be asked which cart a payment is for; every notification names it.
    async fn retrieve(&self, _reference: &str) -> Result<Option<CartId>, PspError> {
        Ok(None)
    }

    async fn cancel(
        &self,
        reference: &str,
        cart_id: &CartId,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        let answer = self
            .modify(reference, "reversals", cart_id, None, idempotency_key)
            .await?;
        Ok(Reversal {
            interaction_id: answer.psp_reference,
            state: TransactionState::Pending,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        let answer = self
            .modify(reference, "refunds", cart_id, Some(amount), idempotency_key)
            .await?;
        Ok(Reversal {
            interaction_id: answer.psp_reference,
            state: TransactionState::Pending,
        })
    }

    /// Adyen has no lookup of a modification: its outcome arrives only as a notification
    /// (`REFUND`, `REFUND_FAILED`, `CANCEL_OR_REFUND`), which Adyen retries until accepted.
    /// Until then the refund stands as pending.
    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        Ok(Reversal {
            interaction_id: refund_id.to_string(),
            state: TransactionState::Pending,
        })
    }

    async fn authorize_saved(
        &self,
        request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        let mut body = json!({
            "amount": amount(request.amount),
            "merchantAccount": self.merchant_account,
            "reference": request.cart_id.to_string(),
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": request.payment_method},
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            // Captured when the order is, never on Adyen's own schedule.
            "additionalData": {"manualCapture": "true"},
        });
        // A stored method belongs to a shopper: Adyen refuses it without theirs.
        if let Some(customer) = &request.customer_id {
            body["shopperReference"] = json!(customer.to_string());
        }
        let payment: PaymentResponse = self
            .post("/payments", &body, &request.idempotency_key)
            .await?;
        authorization(payment)
    }

    async fn capture(
        &self,
        reference: &str,
        cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Capture, PspError> {
        let answer = self
            .modify(
                reference,
                "captures",
                cart_id,
                Some(amount),
                idempotency_key,
            )
            .await?;
        // Its `CAPTURE` notification names the same modification.
        Ok(Capture {
            state: TransactionState::Pending,
            interaction_id: capture_interaction(&answer.psp_reference),
        })
    }
}

/// A `/payments` answer in the domain's words: `Authorised` holds the money; `Refused`,
/// `Cancelled` and `Error` are declines, and so is anything that needs the shopper
/// (`RedirectShopper`, `ChallengeShopper`, …), since nobody is there to act; a
/// `Pending`/`Received` payment is not taken for a hold.
fn authorization(payment: PaymentResponse) -> Result<Authorization, PspError> {
    match (payment.result_code.as_str(), payment.psp_reference) {
        ("Authorised", Some(reference)) => Ok(Authorization::Held { reference }),
        ("Refused" | "Cancelled" | "Error", _) => Ok(Authorization::Declined {
            reason: payment
                .refusal_reason
                .unwrap_or_else(|| payment.result_code.clone()),
        }),
        ("RedirectShopper" | "IdentifyShopper" | "ChallengeShopper" | "PresentToShopper", _) => {
            Ok(Authorization::Declined {
                reason: format!(
                    "the payment method needs the shopper ({})",
                    payment.result_code
                ),
            })
        }
        (other, _) => Err(PspError(format!(
            "payment not authorized: resultCode {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_idempotency_key_is_sent_as_its_digest() {
        assert_eq!(idempotency_key("refund:CS1:0"), "refund:CS1:0");
        let long = format!("cancel:{}:unstorable:{}", "A".repeat(40), "B".repeat(40));
        let sent = idempotency_key(&long);
        assert_eq!(sent.len(), MAX_IDEMPOTENCY_KEY);
        assert_eq!(sent, idempotency_key(&long), "the same key each time");
        assert_ne!(sent, idempotency_key(&format!("{long}x")));
    }

    #[test]
    fn result_codes_map_exactly() {
        let answer = |code: &str| PaymentResponse {
            psp_reference: Some("993617895204576J".into()),
            result_code: code.into(),
            refusal_reason: Some("Not enough balance".into()),
        };
        assert_eq!(
            authorization(answer("Authorised")).unwrap(),
            Authorization::Held {
                reference: "993617895204576J".into()
            }
        );
        assert_eq!(
            authorization(answer("Refused")).unwrap(),
            Authorization::Declined {
                reason: "Not enough balance".into()
            }
        );
        assert!(matches!(
            authorization(answer("RedirectShopper")).unwrap(),
            Authorization::Declined { .. }
        ));
        assert!(authorization(answer("Pending")).is_err());
        assert!(authorization(answer("Received")).is_err());
    }
}
