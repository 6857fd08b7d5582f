//! Stripe's REST calls behind the `PaymentProvider` port.

mod http;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use serde::Deserialize;
use std::collections::HashMap;

use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::{
    Authorization, Capture, Intent, IntentRequest, PaymentProvider, PspError, Reversal,
    SavedMethodRequest,
};

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
    /// The charge id (Stripe expands it to an object only when asked; we never ask).
    #[serde(default)]
    latest_charge: Option<String>,
}

#[derive(Deserialize)]
struct RefundResponse {
    id: String,
    status: String,
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
        let Some(intent) = self.get::<Metadata>(&path, &[]).await? else {
            return Ok(None);
        };
        Ok(intent
            .metadata
            .get("cartId")
            .and_then(|id| CartId::parse(id).ok()))
    }

    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        let path = format!("/v1/refunds/{refund_id}");
        let refund: RefundResponse = self.get_found(&path, &[]).await?;
        Ok(Reversal {
            state: refund_state(&refund.status)?,
            interaction_id: refund.id,
        })
    }

    async fn refunded_now(&self, reference: &str) -> Result<i64, PspError> {
        /// The intent with its charge expanded: `amount_refunded` counts refunds pending or
        /// succeeded; a refund that fails or is canceled is taken off it again.
        #[derive(Deserialize)]
        struct Expanded {
            latest_charge: Option<Charge>,
        }
        #[derive(Deserialize)]
        struct Charge {
            amount_refunded: i64,
        }
        let path = format!("/v1/payment_intents/{reference}");
        let intent: Expanded = self
            .get_found(&path, &[("expand[]", "latest_charge")])
            .await?;
        Ok(intent.latest_charge.map_or(0, |c| c.amount_refunded))
    }

    async fn cancel(
        &self,
        reference: &str,
        _cart_id: &CartId,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
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
        _cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        // The key rides along in the refund's metadata, so its webhook reports
        // (`charge.refund.updated`) match it even before this answer was recorded.
        let form = [
            ("payment_intent", reference.to_string()),
            ("amount", amount.cent_amount.to_string()),
            ("metadata[reversalKey]", idempotency_key.to_string()),
        ];
        let path = "/v1/refunds";
        let response = self.send(path, &form, idempotency_key).await?;
        let status = response.status();
        if status == reqwest::StatusCode::BAD_REQUEST {
            let body = response.text().await.unwrap_or_default();
            if refund_refused(&body) {
                tracing::warn!(payment = %reference, key = %idempotency_key, answer = %body, "Stripe refused the refund: nothing left to refund");
                return Ok(Reversal::refused(idempotency_key));
            }
            return Err(PspError(format!("POST {path}: {status}: {body}")));
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PspError(format!("POST {path}: {status}: {body}")));
        }
        let refund: RefundResponse = response
            .json()
            .await
            .map_err(|e| PspError(format!("POST {path}: {e}")))?;
        Ok(Reversal {
            state: refund_state(&refund.status)?,
            interaction_id: refund.id,
        })
    }

    async fn authorize_saved(
        &self,
        request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        let mut form = vec![
            ("amount", request.amount.cent_amount.to_string()),
            (
                "currency",
                request.amount.currency().code().to_ascii_lowercase(),
            ),
            ("payment_method", request.payment_method.clone()),
            ("confirm", "true".to_string()),
            ("off_session", "true".to_string()),
            ("capture_method", "manual".to_string()),
            ("metadata[cartId]", request.cart_id.to_string()),
        ];
        // A saved method belongs to a Stripe customer: sent when the order's customer id is
        // one (`cus_…`); Stripe refuses a method of another customer.
        if let Some(customer) = request
            .customer_id
            .as_ref()
            .filter(|c| c.as_str().starts_with("cus_"))
        {
            form.push(("customer", customer.to_string()));
        }
        let answer = self
            .post_or_declined("/v1/payment_intents", &form, &request.idempotency_key)
            .await?;
        match answer {
            Ok(intent) => authorization(intent),
            Err(reason) => Ok(Authorization::Declined { reason }),
        }
    }

    async fn capture(
        &self,
        reference: &str,
        _cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Capture, PspError> {
        let form = [("amount_to_capture", amount.cent_amount.to_string())];
        let intent: IntentResponse = self
            .post(
                &format!("/v1/payment_intents/{reference}/capture"),
                &form,
                idempotency_key,
            )
            .await?;
        let state = match intent.status.as_str() {
            "succeeded" => TransactionState::Success,
            "processing" => TransactionState::Pending,
            other => return Err(PspError(format!("capture left status {other:?}"))),
        };
        // The webhook's `payment_intent.succeeded` names the same charge.
        Ok(Capture {
            state,
            interaction_id: crate::webhook::charge_interaction(&intent.id, intent.latest_charge),
        })
    }
}

/// A confirmed off-session intent's status: `requires_capture` holds the money; a status
/// that needs the customer (`requires_action`, `requires_payment_method`) is a decline, since
/// nobody is there to act; anything else is an error, never taken for a hold.
fn authorization(intent: IntentResponse) -> Result<Authorization, PspError> {
    match intent.status.as_str() {
        "requires_capture" => Ok(Authorization::Held {
            reference: intent.id,
        }),
        "requires_action" | "requires_payment_method" => Ok(Authorization::Declined {
            reason: format!("the payment method needs the customer ({})", intent.status),
        }),
        other => Err(PspError(format!(
            "payment intent {} not authorized: status {other:?}",
            intent.id
        ))),
    }
}

/// A refund's status in the domain's words, exactly as Stripe documents them
/// (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`): only `succeeded` gives
/// the money back; a status we do not know is an error, never taken for success.
pub(crate) fn refund_state(status: &str) -> Result<TransactionState, PspError> {
    match status {
        "succeeded" => Ok(TransactionState::Success),
        "pending" | "requires_action" => Ok(TransactionState::Pending),
        "failed" | "canceled" => Ok(TransactionState::Failure),
        other => Err(PspError(format!("unknown refund status {other:?}"))),
    }
}

/// Whether a 400 to `POST /v1/refunds` says the charge has nothing left to refund: the
/// charge was refunded in full (`charge_already_refunded`), or the amount asked exceeds what
/// is left ("Refund amount (€28.26) is greater than unrefunded amount on charge (€0.00)").
/// Any other 400 is a fault of this system's request, reported as an error.
fn refund_refused(body: &str) -> bool {
    let error = serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
    let error = &error["error"];
    error["code"] == "charge_already_refunded"
        || error["message"]
            .as_str()
            .is_some_and(|m| m.contains("greater than unrefunded amount"))
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
