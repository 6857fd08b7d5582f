//! The simulator behind the `PaymentProvider` port: intents, cancels, refunds, saved-method
//! authorizations and captures, each call logged with its idempotency key.

use async_trait::async_trait;
use serde_json::json;

use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::{
    Authorization, Capture, Intent, IntentRequest, PaymentProvider, PspError, Reversal,
    SavedMethodRequest,
};

use super::{charge_of, refund_id, PspSimulator, SimulatedIntent, DECLINED_METHOD, GOOD_METHODS};

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

    async fn cancel(
        &self,
        reference: &str,
        _cart_id: &CartId,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        self.log("cancel", reference, idempotency_key);
        Ok(Reversal {
            interaction_id: reference.to_string(),
            state: TransactionState::Success,
        })
    }

    async fn refund(
        &self,
        reference: &str,
        _cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        self.log("refund", reference, idempotency_key);
        if !self.make_refund(reference, amount.cent_amount, idempotency_key) {
            return Ok(Reversal::refused(idempotency_key));
        }
        // The same key gets the same refund back, as at Stripe.
        let id = refund_id(idempotency_key);
        let first = if self
            .refunds_pending
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            TransactionState::Pending
        } else {
            TransactionState::Success
        };
        let state = *self
            .refund_states
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_insert(first);
        Ok(Reversal {
            interaction_id: id,
            state,
        })
    }

    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        self.log("refund_status", refund_id, "");
        let state = self
            .refund_states
            .lock()
            .unwrap()
            .get(refund_id)
            .copied()
            .ok_or_else(|| PspError(format!("no such refund: {refund_id}")))?;
        Ok(Reversal {
            interaction_id: refund_id.to_string(),
            state,
        })
    }

    async fn refunded_now(&self, reference: &str) -> Result<i64, PspError> {
        self.log("refunded_now", reference, "");
        let refunds = self.refunds.lock().unwrap();
        Ok(self.live_refunds(&refunds, reference))
    }

    async fn authorize_saved(
        &self,
        request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        self.authorize(request).await
    }

    async fn capture(
        &self,
        reference: &str,
        _cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Capture, PspError> {
        self.log("capture", reference, idempotency_key);
        let held = self
            .intents
            .lock()
            .unwrap()
            .get(reference)
            .map(|i| i.amount);
        match held {
            Some(held)
                if held.cent_amount >= amount.cent_amount
                    && !self.reversed(reference).cancelled =>
            {
                // A repeated capture is the same capture.
                self.captures
                    .lock()
                    .unwrap()
                    .entry(reference.to_string())
                    .or_insert(amount.cent_amount);
                let processing = self
                    .captures_processing
                    .load(std::sync::atomic::Ordering::SeqCst);
                Ok(Capture {
                    state: if processing {
                        TransactionState::Pending
                    } else {
                        TransactionState::Success
                    },
                    interaction_id: format!("charge:{}", charge_of(reference)),
                })
            }
            _ => Err(PspError(format!("no capturable intent {reference}"))),
        }
    }
}

impl PspSimulator {
    async fn authorize(&self, request: &SavedMethodRequest) -> Result<Authorization, PspError> {
        let key = &request.idempotency_key;
        if request.payment_method == DECLINED_METHOD {
            self.log("authorize", "", key);
            return Ok(Authorization::Declined {
                reason: "Your card was declined.".into(),
            });
        }
        if !GOOD_METHODS.contains(&request.payment_method.as_str()) {
            self.log("authorize", "", key);
            return Ok(Authorization::Declined {
                reason: format!("No such PaymentMethod: '{}'", request.payment_method),
            });
        }
        // The same key is the same intent, as at Stripe.
        let reference = self
            .authorizations
            .lock()
            .unwrap()
            .entry(key.clone())
            .or_insert_with(|| format!("pi_{}", uuid::Uuid::new_v4().simple()))
            .clone();
        self.log("authorize", &reference, key);
        self.intents.lock().unwrap().insert(
            reference.clone(),
            SimulatedIntent {
                amount: request.amount,
                metadata: json!({"cartId": request.cart_id.to_string()}),
            },
        );
        Ok(Authorization::Held { reference })
    }
}
