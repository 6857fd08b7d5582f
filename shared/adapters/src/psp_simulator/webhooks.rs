//! The webhooks Stripe would send: a payment's outcome, and a refund's settlement.

use serde_json::json;

use checkout_domain::model::payment::TransactionState;

use super::{charge_of, refund_id, PspSimulator};

impl PspSimulator {
    /// The refund `id` reaches `state` at Stripe (a pending one succeeds, or one fails
    /// later), and the `charge.refund.updated` webhook Stripe would send for it.
    pub fn settle_refund(&self, id: &str, state: TransactionState) -> Option<String> {
        let (key, (reference, amount)) = self
            .refunds
            .lock()
            .unwrap()
            .iter()
            .find(|(key, _)| refund_id(key) == id)
            .map(|(k, v)| (k.clone(), v.clone()))?;
        self.refund_states
            .lock()
            .unwrap()
            .insert(id.to_string(), state);
        let intent = self.intents.lock().unwrap().get(&reference).cloned()?;
        let status = match state {
            TransactionState::Success => "succeeded",
            TransactionState::Pending => "pending",
            TransactionState::Failure => "failed",
        };
        let body = json!({
            "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
            "object": "event",
            "api_version": "2024-06-20",
            "created": time::OffsetDateTime::now_utc().unix_timestamp(),
            "type": "charge.refund.updated",
            "livemode": false,
            "pending_webhooks": 1,
            "data": {"object": {
                "id": id,
                "object": "refund",
                "amount": amount,
                "currency": intent.amount.currency().code().to_ascii_lowercase(),
                "status": status,
                "charge": charge_of(&reference),
                "payment_intent": reference,
                "failure_reason": (state == TransactionState::Failure).then_some("expired_or_canceled_card"),
                "metadata": {"reversalKey": key},
            }},
        });
        Some(body.to_string())
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
                "latest_charge": charge_of(reference),
                "last_payment_error": if succeeded { serde_json::Value::Null } else { json!({"code": "card_declined"}) },
                "metadata": intent.metadata,
            }},
        });
        Some(body.to_string())
    }
}
