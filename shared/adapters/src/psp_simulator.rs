//! The local server's payment provider: Stripe's behaviour in memory. It creates intents,
//! refunds and cancels them (logging every request with its idempotency key), and writes the
//! signed Stripe-format webhook that a payment's success or failure would produce.

mod provider;
mod webhooks;

use std::collections::HashMap;
use std::sync::Mutex;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::money::Money;
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::payment_event::{
    transaction, unrecorded_payment, PaymentEvent, PaymentOutcome,
};
use checkout_domain::model::values::CartId;
use checkout_domain::ports::Store;

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
    /// Each refund's status by its id (`re_…`), as Stripe would answer a lookup.
    refund_states: Mutex<HashMap<String, TransactionState>>,
    /// New refunds answer `pending` (as for a method that settles later) instead of
    /// `succeeded`; `settle_refund` decides their outcome.
    refunds_pending: std::sync::atomic::AtomicBool,
    /// Saved-method authorizations by idempotency key: the intent they made (one per key).
    authorizations: Mutex<HashMap<String, String>>,
    /// Captured minor units by intent.
    captures: Mutex<HashMap<String, i64>>,
    /// Captures answer `processing` (as for a method that settles later) instead of
    /// `succeeded`; the webhook reports the outcome.
    captures_processing: std::sync::atomic::AtomicBool,
}

/// Stripe's test payment method that is always declined.
pub const DECLINED_METHOD: &str = "pm_card_chargeDeclined";
/// Stripe's test payment methods that succeed.
pub const GOOD_METHODS: [&str; 2] = ["pm_card_visa", "pm_card_mastercard"];

/// Records a Stripe charge of `cents` (the cart's total when `None`) on the cart `cart_id`
/// exactly as the payment webhook records one — the domain's recording functions and the
/// production payment write — but without the commit the webhook would then attempt; then
/// moves the cart's version on, as the storefront's next update would. For the tests and the
/// bench, which need a paid cart that is not yet an order. Returns the cart as stored.
pub async fn record_charge(
    store: &dyn Store,
    cart_id: &CartId,
    cents: Option<i64>,
    now: time::OffsetDateTime,
) -> Cart {
    let mut stored = store.cart(cart_id).await.unwrap().expect("the cart exists");
    let amount = Money::new(
        cents.unwrap_or(stored.totals.total.cent_amount),
        stored.currency,
    );
    let reference = format!("pi_{}", uuid::Uuid::new_v4().simple());
    let event = PaymentEvent {
        event_id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        reference: reference.clone(),
        cart_id: cart_id.clone(),
        outcome: PaymentOutcome::Charged { amount },
        interaction_id: reference.clone(),
        occurred_at: now,
        session: None,
    };
    let index = unrecorded_payment(&mut stored.payments, &event, "stripe").expect("a new payment");
    stored.payments[index]
        .transactions
        .push(transaction(&event, amount));
    stored.payment_revision += 1;
    store
        .record_cart_payments(&stored, stored.payment_revision - 1, &[reference])
        .await
        .expect("record the payment");
    let expected = stored.version;
    stored.version += 1;
    store
        .replace_cart(&stored, expected)
        .await
        .expect("bump the version");
    stored
}

impl PspSimulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every request so far, in order, repeats included.
    pub fn requests(&self) -> Vec<PspRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// What was refunded (and has not failed) or cancelled for the intent `reference` so far.
    pub fn reversed(&self, reference: &str) -> Reversed {
        let states = self.refund_states.lock().unwrap().clone();
        let refunded = self
            .refunds
            .lock()
            .unwrap()
            .iter()
            .filter(|(key, (r, _))| {
                r == reference && states.get(&refund_id(key)) != Some(&TransactionState::Failure)
            })
            .map(|(_, (_, amount))| amount)
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

    /// Saved-method authorizations neither captured nor cancelled: money held for nothing
    /// unless an order holds them.
    pub fn open_authorizations(&self) -> Vec<String> {
        let captured = self.captures.lock().unwrap().clone();
        let mut open: Vec<String> = self
            .authorizations
            .lock()
            .unwrap()
            .values()
            .filter(|r| !captured.contains_key(*r) && !self.reversed(r).cancelled)
            .cloned()
            .collect();
        open.sort();
        open
    }

    /// From now on new refunds answer `pending` (`settle_refund` gives each its outcome), or
    /// again `succeeded` at once.
    pub fn answer_refunds_pending(&self, pending: bool) {
        self.refunds_pending
            .store(pending, std::sync::atomic::Ordering::SeqCst);
    }

    /// The refund `id`'s status now.
    pub fn refund_state(&self, id: &str) -> Option<TransactionState> {
        self.refund_states.lock().unwrap().get(id).copied()
    }

    /// The ids (`re_…`) of the refunds made of the intent `reference`, oldest key first.
    pub fn refund_ids(&self, reference: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .refunds
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (r, _))| r == reference)
            .map(|(key, _)| refund_id(key))
            .collect();
        ids.sort();
        ids
    }

    /// Records the refund `key` of `cents` of the intent `reference` unless, as at Stripe,
    /// it would refund more than the charge has left (what was captured less every refund
    /// that has not failed). A repeated key is the refund it made. Returns whether the refund
    /// exists.
    fn make_refund(&self, reference: &str, cents: i64, key: &str) -> bool {
        let mut refunds = self.refunds.lock().unwrap();
        if refunds.contains_key(key) {
            return true;
        }
        let charged = match self.captures.lock().unwrap().get(reference) {
            Some(&captured) => Some(captured),
            None => self
                .intents
                .lock()
                .unwrap()
                .get(reference)
                .map(|i| i.amount.cent_amount),
        };
        if let Some(charged) = charged {
            if self.live_refunds(&refunds, reference) + cents > charged {
                return false;
            }
        }
        refunds.insert(key.to_string(), (reference.to_string(), cents));
        true
    }

    /// Minor units of `reference` in refunds that have not failed: Stripe's `amount_refunded`.
    fn live_refunds(&self, refunds: &HashMap<String, (String, i64)>, reference: &str) -> i64 {
        let states = self.refund_states.lock().unwrap();
        refunds
            .iter()
            .filter(|(k, (r, _))| {
                r == reference && states.get(&refund_id(k)) != Some(&TransactionState::Failure)
            })
            .map(|(_, (_, amount))| amount)
            .sum()
    }

    /// A refund of `cents` the merchant makes in Stripe's dashboard, outside this system:
    /// its id (`re_…`), or `None` when the charge has not that much left. It succeeds at once.
    pub fn refund_from_dashboard(&self, reference: &str, cents: i64) -> Option<String> {
        let key = format!("dashboard:{reference}:{}", uuid::Uuid::new_v4().simple());
        self.log("refund", reference, &key);
        if !self.make_refund(reference, cents, &key) {
            return None;
        }
        let id = refund_id(&key);
        self.refund_states
            .lock()
            .unwrap()
            .insert(id.clone(), TransactionState::Success);
        Some(id)
    }

    /// From now on captures answer `processing`; their outcome comes by webhook.
    pub fn process_captures_later(&self) {
        self.captures_processing
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Minor units captured of the intent `reference`.
    pub fn captured(&self, reference: &str) -> i64 {
        self.captures
            .lock()
            .unwrap()
            .get(reference)
            .copied()
            .unwrap_or(0)
    }

    fn log(&self, operation: &'static str, reference: &str, idempotency_key: &str) {
        self.requests.lock().unwrap().push(PspRequest {
            operation,
            reference: reference.to_string(),
            idempotency_key: idempotency_key.to_string(),
        });
    }
}

/// The intent's one charge (its `latest_charge`), the same in a capture's answer and in the
/// webhook's report, as at Stripe.
fn charge_of(reference: &str) -> String {
    format!("ch_{}", &hex_of(reference)[..24])
}

/// The refund a key makes: the same for a repeated key, as at Stripe.
fn refund_id(idempotency_key: &str) -> String {
    format!("re_{}", &hex_of(idempotency_key)[..24])
}

fn hex_of(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
