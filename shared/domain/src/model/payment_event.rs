//! A payment provider's report of one money movement (from its webhook), and how it lands on
//! a cart's or order's payments: the payment it is about, and the transaction it adds.

use time::OffsetDateTime;

use crate::model::money::Money;
pub use crate::model::payment::ProviderRefund;
use crate::model::payment::{Payment, Transaction, TransactionKind, TransactionState};
use crate::model::values::CartId;

/// A payment outcome the provider reported (by webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money captured.
    Charged { amount: Money },
    /// Money authorized, to be captured later.
    Authorized { amount: Money },
    Failed {
        amount: Money,
        reason: Option<String>,
    },
    /// The intent was cancelled (its authorization released). `reversal` is the provider's
    /// id of the cancellation when it has one (Adyen's modification `pspReference`): a
    /// cancellation this system asked for is settled by it rather than counted again.
    Canceled {
        amount: Money,
        reversal: Option<String>,
    },
    /// The provider's running total refunded for this payment, with the refunds it lists
    /// (each matched by its id; what the list does not explain counts as one more refund).
    Refunded {
        total_refunded: Money,
        refunds: Vec<ProviderRefund>,
    },
    /// One refund's status changed (a refund that fails later puts the money back to
    /// outstanding).
    RefundUpdated(ProviderRefund),
    /// The shopper's bank took the money back: recorded for the merchant, who may defend
    /// it at the provider; nothing is reversed because of it.
    Chargeback {
        amount: Money,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The provider's event id, unique per event (deliveries repeat it).
    pub event_id: String,
    /// The payment's reference at the provider (the intent).
    pub reference: String,
    pub cart_id: CartId,
    pub outcome: PaymentOutcome,
    /// Unique per money movement: recorded once however often it is reported.
    pub interaction_id: String,
    pub occurred_at: OffsetDateTime,
    /// The provider's checkout session the payment was made in, when the payment was
    /// started as one (Adyen's `checkoutSessionId`): it names our payment until the
    /// payment's own reference is linked to it.
    pub session: Option<String>,
}

impl PaymentEvent {
    /// Money the provider holds for us now: a successful authorization or charge.
    fn secures_money(&self) -> bool {
        matches!(
            self.outcome,
            PaymentOutcome::Charged { .. } | PaymentOutcome::Authorized { .. }
        )
    }
}

/// The payment an event is about (added if the provider knows it and we do not yet), or
/// `None` when the event's interaction is recorded on it already.
pub fn unrecorded_payment(
    payments: &mut Vec<Payment>,
    event: &PaymentEvent,
    psp: &str,
) -> Option<usize> {
    let known = payments
        .iter()
        .position(|p| p.is_reported_as(psp, &event.reference))
        .or_else(|| in_session(payments, event, psp));
    if let Some(index) = known {
        let payment = &mut payments[index];
        let recorded = payment
            .transactions
            .iter()
            .any(|t| t.interaction_id == event.interaction_id);
        // The session's first money names its payment from now on (a declined attempt in
        // the session does not: the shopper may try again in it).
        if !recorded
            && payment.provider_payment.is_none()
            && event.session.is_some()
            && event.secures_money()
            && payment.psp_reference != event.reference
        {
            payment.provider_payment = Some(event.reference.clone());
        }
        return (!recorded).then_some(index);
    }
    let amount = match &event.outcome {
        PaymentOutcome::Charged { amount }
        | PaymentOutcome::Authorized { amount }
        | PaymentOutcome::Failed { amount, .. }
        | PaymentOutcome::Canceled { amount, .. }
        | PaymentOutcome::Chargeback { amount, .. } => *amount,
        PaymentOutcome::Refunded { total_refunded, .. } => *total_refunded,
        PaymentOutcome::RefundUpdated(refund) => refund.amount,
    };
    payments.push(Payment {
        id: uuid::Uuid::new_v4().to_string(),
        amount_planned: amount,
        psp: psp.to_string(),
        psp_reference: event.reference.clone(),
        provider_payment: None,
        planned_for_total: None,
        failures_compacted: 0,
        transactions: Vec::new(),
    });
    Some(payments.len() - 1)
}

/// The payment started as the event's session, if its money is not yet another payment's:
/// a second payment in one session (a partial payment, say) is a payment of its own.
fn in_session(payments: &[Payment], event: &PaymentEvent, psp: &str) -> Option<usize> {
    let session = event.session.as_deref()?;
    payments.iter().position(|p| {
        p.psp == psp
            && p.psp_reference == session
            && (p.provider_payment.is_none() || !event.secures_money())
    })
}

/// The transaction an event reports, of `amount`.
pub fn transaction(event: &PaymentEvent, amount: Money) -> Transaction {
    let (kind, state) = match &event.outcome {
        PaymentOutcome::Charged { .. } => (TransactionKind::Charge, TransactionState::Success),
        PaymentOutcome::Authorized { .. } => {
            (TransactionKind::Authorization, TransactionState::Success)
        }
        PaymentOutcome::Failed { .. } => (TransactionKind::Charge, TransactionState::Failure),
        PaymentOutcome::Canceled { .. } => (
            TransactionKind::CancelAuthorization,
            TransactionState::Success,
        ),
        PaymentOutcome::Refunded { .. } => (TransactionKind::Refund, TransactionState::Success),
        PaymentOutcome::RefundUpdated(refund) => (TransactionKind::Refund, refund.state),
        PaymentOutcome::Chargeback { .. } => {
            (TransactionKind::Chargeback, TransactionState::Success)
        }
    };
    Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state,
        amount,
        interaction_id: event.interaction_id.clone(),
        timestamp: event.occurred_at,
        reason: match &event.outcome {
            PaymentOutcome::Chargeback { reason, .. } => reason.clone(),
            _ => None,
        },
        provider_id: match &event.outcome {
            PaymentOutcome::Canceled { reversal, .. } => reversal.clone(),
            _ => None,
        },
    }
}
