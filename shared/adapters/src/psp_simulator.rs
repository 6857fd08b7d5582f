//! The local server's payment provider: Stripe's behaviour in memory. It creates intents,
//! refunds and cancels them (logging every request with its idempotency key), and writes the
//! signed Stripe-format webhook that a payment's success or failure would produce.

use async_trait::async_trait;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::ports::psp::{Intent, IntentRequest, PaymentProvider, PspError, Reversal};

#[derive(Debug, Clone)]
struct SimulatedIntent {
    amount: Money,
    metadata: serde_json::Value,
}

/// One call the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PspRequest {
    pub operation: &'static str,
    pub reference: String,
    pub idempotency_key: String,
}

/// What the simulator has given back for one intent, as a test reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reversed {
    /// Minor units refunded: one refund per idempotency key (a repeated key is the same
    /// refund, as at Stripe).
    pub refunded: i64,
    /// The intent was cancelled (its authorization released).
    pub cancelled: bool,
}

#[derive(Default)]
pub struct PspSimulator {
    intents: Mutex<HashMap<String, SimulatedIntent>>,
    requests: Mutex<Vec<PspRequest>>,
    /// Refunds by idempotency key: the intent and the amount.
    refunds: Mutex<HashMap<String, (String, i64)>>,
}

impl PspSimulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every request so far, in order, repeats included.
    pub fn requests(&self) -> Vec<PspRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// What was refunded or cancelled for the intent `reference` so far.
    pub fn reversed(&self, reference: &str) -> Reversed {
        let refunded = self
            .refunds
            .lock()
            .unwrap()
            .values()
            .filter(|(r, _)| r == reference)
            .map(|(_, amount)| amount)
            .sum();
        let cancelled = self
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.operation == "cancel" && r.reference == reference);
        Reversed {
            refunded,
            cancelled,
        }
    }

    fn log(&self, operation: &'static str, reference: &str, idempotency_key: &str) {
        self.requests.lock().unwrap().push(PspRequest {
            operation,
            reference: reference.to_string(),
            idempotency_key: idempotency_key.to_string(),
        });
    }

    /// The webhook body Stripe would send when the intent `reference` `succeeded` or failed,
    /// or `None` for an unknown intent.
    pub fn event(&self, reference: &str, succeeded: bool) -> Option<String> {
        let intent = self.intents.lock().unwrap().get(reference).cloned()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let kind = if succeeded {
            "payment_intent.succeeded"
        } else {
            "payment_intent.payment_failed"
        };
        let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        let currency = intent.amount.currency().code().to_ascii_lowercase();
        let body = json!({
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": now,
            "type": kind,
            "livemode": false,
            "pending_webhooks": 1,
            "data": {"object": {
                "id": reference,
                "object": "payment_intent",
                "amount": intent.amount.cent_amount,
                "amount_received": if succeeded { intent.amount.cent_amount } else { 0 },
                "amount_capturable": 0,
                "currency": currency,
                "status": if succeeded { "succeeded" } else { "requires_payment_method" },
                "latest_charge": format!("ch_{}", uuid::Uuid::new_v4().simple()),
                "last_payment_error": if succeeded { serde_json::Value::Null } else { json!({"code": "card_declined"}) },
                "metadata": intent.metadata,
            }},
        });
        Some(body.to_string())
    }
}

#[async_trait]
impl PaymentProvider for PspSimulator {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError> {
        let reference = format!("pi_{}", uuid::Uuid::new_v4().simple());
        self.log("create_intent", &reference, &request.idempotency_key);
        self.intents.lock().unwrap().insert(
            reference.clone(),
            SimulatedIntent {
                amount: request.amount,
                metadata: json!({
                    "cartId": request.cart_id.to_string(),
                    "cartVersion": request.cart_version.to_string(),
                    "customerId": request.customer_id.as_ref().map_or("guest".to_string(), |c| c.to_string()),
                }),
            },
        );
        Ok(Intent {
            client_secret: format!("{reference}_secret_{}", uuid::Uuid::new_v4().simple()),
            reference,
        })
    }

    async fn retrieve(
        &self,
        reference: &str,
    ) -> Result<Option<checkout_domain::model::values::CartId>, PspError> {
        self.log("retrieve", reference, "");
        let intents = self.intents.lock().unwrap();
        Ok(intents.get(reference).and_then(|i| {
            i.metadata["cartId"]
                .as_str()
                .and_then(|id| checkout_domain::model::values::CartId::parse(id).ok())
        }))
    }

    async fn cancel(&self, reference: &str, idempotency_key: &str) -> Result<Reversal, PspError> {
        self.log("cancel", reference, idempotency_key);
        Ok(Reversal {
            interaction_id: reference.to_string(),
            state: TransactionState::Success,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        self.log("refund", reference, idempotency_key);
        self.refunds
            .lock()
            .unwrap()
            .entry(idempotency_key.to_string())
            .or_insert_with(|| (reference.to_string(), amount.cent_amount));
        // The same key gets the same refund back, as at Stripe.
        let id = format!("re_{}", &hex_of(idempotency_key)[..24]);
        Ok(Reversal {
            interaction_id: id,
            state: TransactionState::Success,
        })
    }
}

fn hex_of(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
