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
    /// The intent was cancelled (its authorization released).
    Canceled { amount: Money },
    /// The provider's running total refunded for this payment, with the refunds it lists
    /// (each matched by its id; what the list does not explain counts as one more refund).
    Refunded {
        total_refunded: Money,
        refunds: Vec<ProviderRefund>,
    },
    /// One refund's status changed (a refund that fails later puts the money back to
    /// outstanding).
    RefundUpdated(ProviderRefund),
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
}

/// The payment an event is about (added if the provider knows it and we do not yet), or
/// `None` when the event's interaction is recorded on it already.
pub fn unrecorded_payment(
    payments: &mut Vec<Payment>,
    event: &PaymentEvent,
    psp: &str,
) -> Option<usize> {
    if let Some(index) = payments
        .iter()
        .position(|p| p.psp == psp && p.psp_reference == event.reference)
    {
        let recorded = payments[index]
            .transactions
            .iter()
            .any(|t| t.interaction_id == event.interaction_id);
        return (!recorded).then_some(index);
    }
    let amount = match &event.outcome {
        PaymentOutcome::Charged { amount }
        | PaymentOutcome::Authorized { amount }
        | PaymentOutcome::Failed { amount, .. }
        | PaymentOutcome::Canceled { amount } => *amount,
        PaymentOutcome::Refunded { total_refunded, .. } => *total_refunded,
        PaymentOutcome::RefundUpdated(refund) => refund.amount,
    };
    payments.push(Payment {
        id: uuid::Uuid::new_v4().to_string(),
        amount_planned: amount,
        psp: psp.to_string(),
        psp_reference: event.reference.clone(),
        planned_for_total: None,
        failures_compacted: 0,
        transactions: Vec::new(),
    });
    Some(payments.len() - 1)
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
    };
    Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state,
        amount,
        interaction_id: event.interaction_id.clone(),
        timestamp: event.occurred_at,
        reason: None,
        provider_id: None,
    }
}
