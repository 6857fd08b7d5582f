//! Adyen's standard notification body, and what each item means for one of our payments.
//!
//! A body is `{"live": "true"|"false", "notificationItems": [{"NotificationRequestItem":
//! {…}}]}`. Adyen sends one item per body today; at most [`MAX_ITEMS`] are read, and a body
//! that is not this shape is refused whole.
//!
//! | event code | success | the payment (`reference`) | outcome |
//! |---|---|---|---|
//! | `AUTHORISATION` | true | the item's `pspReference` | `Authorized` |
//! | `AUTHORISATION` | false | the item's `pspReference` | `Failed` (its `reason`) |
//! | `CAPTURE` | true | `originalReference` | `Charged` |
//! | `CAPTURE` | false, or `CAPTURE_FAILED` | `originalReference` | `Failed` |
//! | `CANCELLATION` | true | `originalReference` | `Canceled` (the cancellation's own `pspReference`) |
//! | `REFUND` | true / false | `originalReference` | the refund (its own `pspReference`) `Success` / `Failure` |
//! | `REFUND_FAILED` | — | `originalReference` | the refund `Failure` |
//! | `CANCEL_OR_REFUND` | true | `originalReference` | as `CANCELLATION` or `REFUND`, by `additionalData.modification.action` |
//! | `CANCELLATION`, `CANCEL_OR_REFUND` | false | `originalReference` | the reversal `Failure`: the money is outstanding again |
//! | `CHARGEBACK` | — | `originalReference` | `Chargeback`: recorded for the merchant to see |
//!
//! Anything else, and an item whose `merchantReference` is not a cart id, is
//! [`Meaning::Ignored`], with the reason. The cart is the `merchantReference`: payments are
//! created with the cart id there, and captures, cancels and refunds send it as their
//! `reference`, which Adyen reports as theirs. A payment made in a Checkout session names the
//! session in `additionalData.checkoutSessionId`, which links it to the payment this system
//! recorded for the session. A notification is deduplicated by its `pspReference` and event
//! code ([`NotificationItem::event_id`]); each money movement has its own interaction id, so
//! a repeated delivery is recorded once.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use checkout_domain::model::money::{Currency, Money};
use checkout_domain::model::payment::{authorization_interaction, TransactionState};
use checkout_domain::model::payment_event::{PaymentEvent, PaymentOutcome, ProviderRefund};
use checkout_domain::model::values::CartId;
use checkout_domain::ports::psp::ProviderReport;

use crate::signature::{verify, HmacKey, SignatureError};

/// The most items a body may carry (Adyen sends one; its batches were capped well below).
pub const MAX_ITEMS: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(default, deserialize_with = "text")]
    pub live: String,
    pub notification_items: Vec<Wrapped>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Wrapped {
    #[serde(rename = "NotificationRequestItem")]
    pub item: NotificationItem,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationItem {
    #[serde(default)]
    pub additional_data: BTreeMap<String, Value>,
    #[serde(default)]
    pub amount: Option<Amount>,
    pub event_code: String,
    #[serde(default)]
    pub event_date: Option<String>,
    pub merchant_account_code: String,
    #[serde(default)]
    pub merchant_reference: Option<String>,
    #[serde(default)]
    pub original_reference: Option<String>,
    pub psp_reference: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(deserialize_with = "text")]
    pub success: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Amount {
    #[serde(default)]
    pub currency: Option<String>,
    /// Minor units, as Adyen wrote them (a number, or a string in some samples): signed as text.
    #[serde(default, deserialize_with = "optional_text")]
    pub value: Option<String>,
}

/// A string, or a number or boolean read as its text (Adyen's samples use both).
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string, number or boolean, got {other}"
        ))),
    }
}

fn optional_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or number, got {other}"
        ))),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("not an Adyen notification: {0}")]
    Malformed(String),
    #[error("a notification with no items")]
    Empty,
    #[error("more than {MAX_ITEMS} notification items")]
    TooManyItems,
}

impl Notification {
    /// Reads a body: the shape above, 1 to [`MAX_ITEMS`] items.
    pub fn parse(body: &[u8]) -> Result<Notification, BodyError> {
        let notification: Notification =
            serde_json::from_slice(body).map_err(|e| BodyError::Malformed(e.to_string()))?;
        match notification.notification_items.len() {
            0 => Err(BodyError::Empty),
            n if n > MAX_ITEMS => Err(BodyError::TooManyItems),
            _ => Ok(notification),
        }
    }

    pub fn items(&self) -> impl Iterator<Item = &NotificationItem> {
        self.notification_items.iter().map(|wrapped| &wrapped.item)
    }
}

/// What an authentic item means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
// One per notification item, read and dropped at once: boxing the event buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Meaning {
    Payment(PaymentEvent),
    /// Authentic, but not one we act on, and why.
    Ignored(String),
}

/// An authentic item as the domain's report.
pub fn report(item: &NotificationItem) -> ProviderReport {
    match item.meaning() {
        Ok(Meaning::Payment(event)) => ProviderReport::Payment(event),
        Ok(Meaning::Ignored(why)) => ProviderReport::Ignored(why),
        Err(why) => ProviderReport::Unreadable(why),
    }
}

impl NotificationItem {
    /// `pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
    /// eventCode:success`, a missing field empty.
    pub fn data_to_sign(&self) -> String {
        let amount = self.amount.clone().unwrap_or_default();
        [
            self.psp_reference.as_str(),
            self.original_reference.as_deref().unwrap_or(""),
            self.merchant_account_code.as_str(),
            self.merchant_reference.as_deref().unwrap_or(""),
            amount.value.as_deref().unwrap_or(""),
            amount.currency.as_deref().unwrap_or(""),
            self.event_code.as_str(),
            self.success.as_str(),
        ]
        .join(":")
    }

    /// The item's `additionalData.hmacSignature`, checked against each key.
    pub fn verify(&self, keys: &[HmacKey]) -> Result<(), SignatureError> {
        let signature = self
            .additional_data
            .get("hmacSignature")
            .and_then(Value::as_str)
            .unwrap_or("");
        verify(self.data_to_sign().as_bytes(), signature, keys)
    }

    /// Signs the item with `key`, as Adyen would (for the simulator and tests).
    pub fn sign(&mut self, key: &HmacKey) {
        let signature = key.sign(self.data_to_sign().as_bytes());
        self.additional_data
            .insert("hmacSignature".into(), Value::String(signature));
    }

    /// Adyen's identity of a notification: a redelivery repeats it.
    pub fn event_id(&self) -> String {
        format!("adyen:{}:{}", self.event_code, self.psp_reference)
    }

    fn succeeded(&self) -> bool {
        self.success.eq_ignore_ascii_case("true")
    }

    fn amount(&self) -> Result<Money, String> {
        let amount = self.amount.as_ref().ok_or("no amount")?;
        let currency = amount.currency.as_deref().ok_or("no currency")?;
        let currency = Currency::parse(&currency.to_ascii_uppercase())
            .map_err(|_| format!("currency {currency} is not one we sell in"))?;
        let value: i64 = amount
            .value
            .as_deref()
            .ok_or("no amount value")?
            .parse()
            .map_err(|_| "the amount is not a whole number of minor units")?;
        Ok(Money::new(value, currency))
    }

    fn occurred_at(&self) -> Result<OffsetDateTime, String> {
        let date = self.event_date.as_deref().ok_or("no eventDate")?;
        OffsetDateTime::parse(date, &Rfc3339).map_err(|e| format!("eventDate {date}: {e}"))
    }

    /// The payment a modification is about.
    fn original(&self) -> Result<String, String> {
        self.original_reference
            .clone()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| format!("{} without an originalReference", self.event_code))
    }

    /// What the item means; `Err` for an authentic item we cannot read (acknowledged and
    /// logged, never retried forever).
    pub fn meaning(&self) -> Result<Meaning, String> {
        let ignore = |why: &str| Ok(Meaning::Ignored(format!("{}: {why}", self.event_code)));
        let Some(cart_id) = self
            .merchant_reference
            .as_deref()
            .and_then(|r| CartId::parse(r).ok())
        else {
            return ignore("its merchantReference is not one of our carts");
        };
        let psp = self.psp_reference.clone();
        let modification = self
            .additional_data
            .get("modification.action")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let code = match (self.event_code.as_str(), modification.as_deref()) {
            ("CANCEL_OR_REFUND", Some("cancel")) => "CANCELLATION",
            ("CANCEL_OR_REFUND", Some("refund")) => "REFUND",
            ("CANCEL_OR_REFUND", _) if self.succeeded() => {
                return ignore("no modification.action to say which")
            }
            ("CANCEL_OR_REFUND", _) => "CANCELLATION",
            (code, _) => code,
        };
        let refund = |state: TransactionState| {
            Ok::<_, String>(PaymentOutcome::RefundUpdated(ProviderRefund {
                id: psp.clone(),
                amount: self.amount()?,
                state,
                failure: (state == TransactionState::Failure)
                    .then(|| self.reason.clone().filter(|r| !r.is_empty()))
                    .flatten(),
                key: None,
            }))
        };
        let failed = || {
            Ok::<_, String>(PaymentOutcome::Failed {
                amount: self.amount()?,
                reason: self.reason.clone().filter(|r| !r.is_empty()),
            })
        };
        let (reference, outcome, interaction_id) = match (code, self.succeeded()) {
            ("AUTHORISATION", true) => (
                psp.clone(),
                PaymentOutcome::Authorized {
                    amount: self.amount()?,
                },
                authorization_interaction(&psp),
            ),
            ("AUTHORISATION", false) => (psp.clone(), failed()?, format!("adyen-refused:{psp}")),
            ("CAPTURE", true) => (
                self.original()?,
                PaymentOutcome::Charged {
                    amount: self.amount()?,
                },
                capture_interaction(&psp),
            ),
            ("CAPTURE", false) | ("CAPTURE_FAILED", _) => (
                self.original()?,
                failed()?,
                format!("adyen-capture-failed:{psp}"),
            ),
            ("CANCELLATION", true) => (
                self.original()?,
                PaymentOutcome::Canceled {
                    amount: self.amount()?,
                    reversal: Some(psp.clone()),
                },
                format!("adyen-cancel:{psp}"),
            ),
            // A refused cancellation of ours is a failed reversal (matched by its id).
            ("CANCELLATION", false) => (
                self.original()?,
                refund(TransactionState::Failure)?,
                refund_interaction(&psp, TransactionState::Failure),
            ),
            ("REFUND", true) => (
                self.original()?,
                refund(TransactionState::Success)?,
                refund_interaction(&psp, TransactionState::Success),
            ),
            ("REFUND", false) | ("REFUND_FAILED", _) => (
                self.original()?,
                refund(TransactionState::Failure)?,
                refund_interaction(&psp, TransactionState::Failure),
            ),
            ("CHARGEBACK", _) => (
                self.original()?,
                PaymentOutcome::Chargeback {
                    amount: self.amount()?,
                    reason: self.reason.clone().filter(|r| !r.is_empty()),
                },
                format!("adyen-chargeback:{psp}"),
            ),
            _ => return ignore("not an event this system acts on"),
        };
        Ok(Meaning::Payment(PaymentEvent {
            event_id: self.event_id(),
            reference,
            cart_id,
            outcome,
            interaction_id,
            occurred_at: self.occurred_at()?,
            session: self
                .additional_data
                .get("checkoutSessionId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }))
    }
}

/// The interaction id of a capture: the same from the capture's answer and its notification.
pub fn capture_interaction(capture_psp_reference: &str) -> String {
    format!("adyen-capture:{capture_psp_reference}")
}

/// The interaction id of a refund's news: one per refund and state, so a refund that fails
/// after it succeeded is recorded too (the refund itself is matched by its `pspReference`).
pub fn refund_interaction(refund_psp_reference: &str, state: TransactionState) -> String {
    format!("adyen-refund:{refund_psp_reference}:{state:?}")
}
