//! The payment provider port and the payment events it reports, in the domain's words.

use async_trait::async_trait;

use crate::model::money::Money;
use crate::model::payment::TransactionState;
use crate::model::payment_event::PaymentEvent;
use crate::model::values::{CartId, CustomerId};

/// A payment intent to create at the provider.
#[derive(Debug, Clone)]
pub struct IntentRequest {
    pub amount: Money,
    pub cart_id: CartId,
    pub cart_version: u64,
    pub customer_id: Option<CustomerId>,
    /// The provider deduplicates retries of the same request by this key.
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct Intent {
    /// The provider's reference (Stripe: `pi_…`).
    pub reference: String,
    /// Handed to the browser to confirm the payment.
    pub client_secret: String,
}

/// A refund or cancellation as the provider accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversal {
    /// The provider's id of the refund (or the intent, for a cancellation).
    pub interaction_id: String,
    /// `Pending` while the provider still processes it (its outcome arrives by webhook),
    /// `Failure` when it refused or failed: only `Success` gives the money back.
    pub state: TransactionState,
}

impl Reversal {
    /// The provider refused to make it at all (Stripe: the charge has no unrefunded money
    /// left): a failed reversal with no id of the provider's. The money this system thought
    /// it held is either gone already (a refund it has not heard of yet, reported later) or
    /// owed, which the sweeper asks for anew.
    pub fn refused(idempotency_key: &str) -> Self {
        Reversal {
            interaction_id: format!("refused:{idempotency_key}"),
            state: TransactionState::Failure,
        }
    }
}

/// An authorization of a customer's saved payment method, off session, captured later.
#[derive(Debug, Clone)]
pub struct SavedMethodRequest {
    pub amount: Money,
    /// The provider's saved payment method (Stripe `pm_…`).
    pub payment_method: String,
    pub customer_id: Option<CustomerId>,
    /// The order's identity at the provider (its metadata `cartId`).
    pub cart_id: CartId,
    /// Derived from the order's idempotency key: a retried request authorizes once.
    pub idempotency_key: String,
}

/// What the provider answered an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The amount is held on the method until captured or cancelled.
    Held { reference: String },
    /// The method was declined; nothing is held.
    Declined { reason: String },
}

/// A capture as the provider answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// `Success` once the money is taken.
    pub state: TransactionState,
    /// The interaction id its webhook reports too (`charge:<charge id>`), so it is recorded once.
    pub interaction_id: String,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("payment provider: {0}")]
pub struct PspError(pub String);

/// What the domain needs from a payment provider. Every mutating call carries an
/// idempotency key, so a retried call never moves money twice.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// The provider's name as recorded on payments (`stripe`).
    fn name(&self) -> &'static str;
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, PspError>;
    /// Releases an uncaptured authorization. Captures, cancels and refunds name the cart the
    /// payment is for: a provider that reports their outcomes later (Adyen) is sent it as
    /// the modification's reference, which its notification carries back.
    async fn cancel(
        &self,
        reference: &str,
        cart_id: &CartId,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError>;
    /// The cart an intent was created for (from its metadata), if it is one of ours.
    async fn retrieve(&self, reference: &str) -> Result<Option<CartId>, PspError>;
    /// Returns captured money.
    async fn refund(
        &self,
        reference: &str,
        cart_id: &CartId,
        amount: Money,
        idempotency_key: &str,
    ) -> Result<Reversal, PspError>;
    /// A refund this system asked for, as it stands now at the provider (by the provider's
    /// refund id): how a pending refund is settled without asking for it again.
    async fn refund_status(&self, refund_id: &str) -> Result<Reversal, PspError> {
        Err(PspError(format!(
            "{} cannot look up refund {refund_id}",
            self.name()
        )))
    }
    /// Minor units of the payment `reference` refunded as it stands now at the provider:
    /// refunds pending or succeeded, not those that failed or were canceled. How a running
    /// total that may predate a refund's failure is checked before it is counted.
    async fn refunded_now(&self, reference: &str) -> Result<i64, PspError> {
        Err(PspError(format!(
            "{} cannot look up what {reference} has refunded",
            self.name()
        )))
    }
    /// Authorizes a saved payment method with manual capture (server to server).
    async fn authorize_saved(
        &self,
        _request: &SavedMethodRequest,
    ) -> Result<Authorization, PspError> {
        Err(PspError(format!(
            "{} does not authorize saved payment methods",
            self.name()
        )))
    }
    /// Captures `amount` of an authorization.
    async fn capture(
        &self,
        _reference: &str,
        _cart_id: &CartId,
        _amount: Money,
        _idempotency_key: &str,
    ) -> Result<Capture, PspError> {
        Err(PspError(format!("{} does not capture", self.name())))
    }
}

/// A provider's webhook event, as its adapter read it.
pub enum ProviderReport {
    Payment(PaymentEvent),
    /// A payment event whose cart only the provider knows (a refund names its payment, not
    /// the cart): `relink` reads it again once the provider said which cart `reference` is
    /// for (`None`: not one of ours).
    Unlinked {
        reference: String,
        relink: Box<dyn FnOnce(Option<CartId>) -> ProviderReport + Send>,
    },
    /// Authentic, but not one we act on (another type, not our cart, a currency we do not sell in).
    Ignored(String),
    /// Authentic, but not in a shape we know: acknowledged and logged, never retried forever.
    Unreadable(String),
}
