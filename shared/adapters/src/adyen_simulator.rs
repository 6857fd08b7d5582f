//! The local server's Adyen: the Checkout API's behaviour in memory, and the signed
//! notifications Adyen would send. A payment starts as a session (`CS…`); the shopper's
//! payment in it gets its own `pspReference`; captures, cancels and refunds answer
//! `received` (pending) under a modification `pspReference` of their own, and their outcome
//! is a notification, as at Adyen. Every request is logged with its idempotency key.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

use checkout_adyen::notification::NotificationItem;
use checkout_adyen::signature::HmacKey;
use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::{
    Authorization, Capture, Intent, IntentRequest, PaymentProvider, PspError, Reversal,
    SavedMethodRequest,
};

use crate::psp_simulator::{PspRequest, DECLINED_METHOD};

/// The dev merchant account (`CHECKOUT_ADYEN_MERCHANT_ACCOUNT`'s default).
pub const DEV_MERCHANT_ACCOUNT: &str = "DevShopECOM";
/// The dev webhook's HMAC key (`CHECKOUT_ADYEN_HMAC_KEY`'s default).
pub const DEV_HMAC_KEY: &str = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";
/// The dev webhook's Basic credentials.
pub const DEV_WEBHOOK_USER: &str = "adyen";
pub const DEV_WEBHOOK_PASSWORD: &str = "adyen-dev";

#[derive(Debug, Clone)]
struct Session {
    amount: Money,
    cart_id: CartId,
    /// The shopper's authorized payment in it, once there is one.
    payment: Option<String>,
}

/// A modification Adyen received: what it is, of which payment, for which cart.
#[derive(Debug, Clone)]
struct Modification {
    /// `captures`, `reversals` or `refunds`.
    operation: &'static str,
    payment: String,
    cart_id: CartId,
    amount: Money,
}

#[derive(Default)]
pub struct AdyenSimulator {
    merchant_account: String,
    sessions: Mutex<HashMap<String, Session>>,
    /// Payments (their `pspReference`) by the session or stored-method request they came from.
    payments: Mutex<HashMap<String, (Money, CartId)>>,
    /// Modifications by their `pspReference`; a repeated idempotency key is the same one.
    modifications: Mutex<HashMap<String, Modification>>,
    requests: Mutex<Vec<PspRequest>>,
}

/// A 16-character reference, as Adyen's look, the same for the same seed.
fn psp_reference(seed: &str) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(seed.as_bytes())).to_ascii_uppercase();
    digest[..16].to_string()
}

impl AdyenSimulator {
    pub fn new(merchant_account: &str) -> Self {
        AdyenSimulator {
            merchant_account: merchant_account.to_string(),
            ..Default::default()
        }
    }

    /// Every request so far, in order, repeats included.
    pub fn requests(&self) -> Vec<PspRequest> {
        self.requests.lock().unwrap().clone()
    }

    fn log(&self, operation: &'static str, reference: &str, idempotency_key: &str) {
        self.requests.lock().unwrap().push(PspRequest {
            operation,
            reference: reference.to_string(),
            idempotency_key: idempotency_key.to_string(),
        });
    }

    /// The shopper's payment in session `session`, once authorized.
    pub fn payment_of(&self, session: &str) -> Option<String> {
        self.sessions.lock().unwrap().get(session)?.payment.clone()
    }

    /// The modifications (`pspReference`s) of `operation` made of the payment `payment`.
    pub fn modifications(&self, operation: &str, payment: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .modifications
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.operation == operation && m.payment == payment)
            .map(|(reference, _)| reference.clone())
            .collect();
        found.sort();
        found
    }

    /// The modification `reference`: its operation (`captures`, `reversals`, `refunds`), the
    /// payment it modifies and its amount.
    pub fn modification(&self, reference: &str) -> Option<(&'static str, String, Money)> {
        let modifications = self.modifications.lock().unwrap();
        let m = modifications.get(reference)?;
        Some((m.operation, m.payment.clone(), m.amount))
    }

    /// Every modification of the payment `payment`, in no particular order.
    pub fn modifications_of(&self, payment: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .modifications
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.payment == payment)
            .map(|(reference, _)| reference.clone())
            .collect();
        found.sort();
        found
    }

    /// The item Adyen would send for `reference`'s outcome: a session's payment authorised
    /// (or refused), or a modification's result. `None` for a reference it does not know.
    pub fn item(&self, reference: &str, succeeded: bool) -> Option<NotificationItem> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a date formats");
        let mut additional_data = std::collections::BTreeMap::new();
        let (psp, original, event_code, amount, cart_id, reason) =
            if let Some(session) = self.sessions.lock().unwrap().get_mut(reference) {
                additional_data.insert("checkoutSessionId".to_string(), json!(reference));
                // Each refused attempt is a payment of its own; the authorised one stays.
                let psp = match (&session.payment, succeeded) {
                    (Some(payment), true) => payment.clone(),
                    (None, true) => {
                        let payment = psp_reference(&format!("{reference}:authorised"));
                        session.payment = Some(payment.clone());
                        self.payments
                            .lock()
                            .unwrap()
                            .insert(payment.clone(), (session.amount, session.cart_id.clone()));
                        payment
                    }
                    (_, false) => psp_reference(&uuid::Uuid::new_v4().to_string()),
                };
                let reason = (!succeeded).then(|| "Refused".to_string());
                (
                    psp,
                    None,
                    "AUTHORISATION",
                    session.amount,
                    session.cart_id.clone(),
                    reason,
                )
            } else {
                let modification = self.modifications.lock().unwrap().get(reference).cloned()?;
                let event_code = match modification.operation {
                    "captures" => "CAPTURE",
                    "refunds" => "REFUND",
                    _ => {
                        additional_data.insert("modification.action".to_string(), json!("cancel"));
                        "CANCEL_OR_REFUND"
                    }
                };
                (
                    reference.to_string(),
                    Some(modification.payment),
                    event_code,
                    modification.amount,
                    modification.cart_id,
                    (!succeeded).then(|| "Transaction not permitted".to_string()),
                )
            };
        Some(NotificationItem {
            additional_data,
            amount: Some(checkout_adyen::notification::Amount {
                currency: Some(amount.currency().code().to_string()),
                value: Some(amount.cent_amount.to_string()),
            }),
            event_code: event_code.to_string(),
            event_date: Some(now),
            merchant_account_code: self.merchant_account.clone(),
            merchant_reference: Some(cart_id.to_string()),
            original_reference: original,
            psp_reference: psp,
            reason,
            success: succeeded.to_string(),
        })
    }

    /// `item`'s notification body, signed with `key`, as Adyen would deliver it.
    pub fn notification(&self, reference: &str, succeeded: bool, key: &HmacKey) -> Option<String> {
        let mut item = self.item(reference, succeeded)?;
        item.sign(key);
        Some(notification_body(&[item]))
    }
}

/// A notification body of `items`, as Adyen sends it.
pub fn notification_body(items: &[NotificationItem]) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|item| {
            let amount = item.amount.clone().unwrap_or_default();
            json!({"NotificationRequestItem": {
                "additionalData": item.additional_data,
                "amount": {
                    "currency": amount.currency,
                    "value": amount.value.and_then(|v| v.parse::<i64>().ok()),
                },
                "eventCode": item.event_code,
                "eventDate": item.event_date,
                "merchantAccountCode": item.merchant_account_code,
                "merchantReference": item.merchant_reference,
                "originalReference": item.original_reference,
                "pspReference": item.psp_reference,
                "reason": item.reason,
                "success": item.success,
            }})
        })
        .collect();
    json!({"live": "false", "notificationItems": items}).to_string()
}

#[async_trait]
impl PaymentProvider for AdyenSimulator {
    fn name(&self) -> &'static str {
        "adyen"
    }

    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError> {
        // The same key is the same session, as at Adyen.
        let id = format!("CS{}", psp_reference(&request.idempotency_key));
        self.log("create_intent", &id, &request.idempotency_key);
        self.sessions
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_insert_with(|| Session {
                amount: request.amount,
                cart_id: request.cart_id.clone(),
                payment: None,
            });
        Ok(Intent {
            client_secret: format!("Ab02b4c0!{}", psp_reference(&id)),
            reference: id,
        })
    }

    async fn retrieve(&self, reference: &str) -> Result<Option<CartId>, PspError> {
        self.log("retrieve", reference, "");
        Ok(None)
    }

    async fn cancel(
        &self,
        reference: &str,
        cart_id: &CartId,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        self.modify("reversals", reference, cart_id, None, idempotency_key)
    }

    async fn refund(
        &self,
        reference: &str,
        cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError> {
        self.modify("refunds", reference, cart_id, Some(amount), idempotency_key)
    }

    /// As at Adyen, nothing to look up: the notification says.
    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        self.log("refund_status", refund_id, "");
        Ok(Reversal {
            interaction_id: refund_id.to_string(),
            state: TransactionState::Pending,
        })
    }

    async fn authorize_saved(
        &self,
        request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        let key = &request.idempotency_key;
        if request.payment_method == DECLINED_METHOD {
            self.log("authorize", "", key);
            return Ok(Authorization::Declined {
                reason: "Refused".into(),
            });
        }
        let reference = psp_reference(&format!("authorize:{key}"));
        self.log("authorize", &reference, key);
        self.payments
            .lock()
            .unwrap()
            .insert(reference.clone(), (request.amount, request.cart_id.clone()));
        Ok(Authorization::Held { reference })
    }

    async fn capture(
        &self,
        reference: &str,
        cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Capture, PspError> {
        let answer = self.modify(
            "captures",
            reference,
            cart_id,
            Some(amount),
            idempotency_key,
        )?;
        Ok(Capture {
            state: TransactionState::Pending,
            interaction_id: checkout_adyen::notification::capture_interaction(
                &answer.interaction_id,
            ),
        })
    }
}

impl AdyenSimulator {
    fn modify(
        &self,
        operation: &'static str,
        payment: &str,
        cart_id: &CartId,
        amount: Option<Money>,
        key: &str,
    ) -> Result<Reversal, PspError> {
        self.log(
            match operation {
                "captures" => "capture",
                "refunds" => "refund",
                _ => "cancel",
            },
            payment,
            key,
        );
        let held = self.payments.lock().unwrap().get(payment).map(|(m, _)| *m);
        let Some(held) = held else {
            // Adyen's 422 for a reference it does not know.
            return Err(PspError(format!(
                "POST /payments/{payment}/{operation}: 422 Unprocessable Entity: 167: Original pspReference required for this operation"
            )));
        };
        let reference = psp_reference(&format!("{operation}:{key}"));
        self.modifications
            .lock()
            .unwrap()
            .entry(reference.clone())
            .or_insert_with(|| Modification {
                operation,
                payment: payment.to_string(),
                cart_id: cart_id.clone(),
                amount: amount.unwrap_or(held),
            });
        Ok(Reversal {
            interaction_id: reference,
            state: TransactionState::Pending,
        })
    }
}
