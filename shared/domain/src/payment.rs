//! Payments and their transactions. A payment's standing follows from its transactions; a
//! cart's or order's payment state follows from its payments.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::money::{Currency, Money};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionKind {
    Authorization,
    Charge,
    CancelAuthorization,
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionState {
    Pending,
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    pub id: String,
    pub kind: TransactionKind,
    pub state: TransactionState,
    pub amount: Money,
    /// The PSP's reference for this interaction; unique across all transactions.
    pub interaction_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: String,
    pub amount_planned: Money,
    pub psp: String,
    pub psp_reference: String,
    /// The cart total this payment was planned against; a payment for an older total no
    /// longer fits the cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_for_total: Option<Money>,
    #[serde(default)]
    pub transactions: Vec<Transaction>,
}

impl Payment {
    fn sum(&self, kinds: &[TransactionKind], state: TransactionState) -> i64 {
        self.transactions
            .iter()
            .filter(|t| t.state == state && kinds.contains(&t.kind))
            .map(|t| t.amount.cent_amount)
            .sum()
    }

    /// What this payment secures now: successful authorizations and charges, less what was
    /// cancelled or refunded.
    pub fn secured(&self) -> i64 {
        use TransactionKind::*;
        let captured = self.sum(&[Authorization, Charge], TransactionState::Success);
        let released = self.sum(&[CancelAuthorization, Refund], TransactionState::Success);
        // A charge after an authorization of the same money is not new money.
        let authorized = self.sum(&[Authorization], TransactionState::Success);
        let charged = self.sum(&[Charge], TransactionState::Success);
        let overlap = if authorized > 0 && charged > 0 {
            authorized.min(charged)
        } else {
            0
        };
        (captured - overlap - released).max(0)
    }

    pub fn refunded(&self) -> i64 {
        self.sum(&[TransactionKind::Refund], TransactionState::Success)
    }

    /// Money this payment took at some point (authorized or charged), reversed or not.
    pub fn captured(&self) -> i64 {
        use TransactionKind::*;
        self.sum(&[Authorization], TransactionState::Success)
            .max(self.sum(&[Charge], TransactionState::Success))
    }

    /// Still waiting for the provider's outcome: planned with nothing reported yet, or only
    /// pending authorizations or charges so far.
    pub fn is_pending(&self) -> bool {
        !self.transactions.iter().any(|t| {
            matches!(
                t.kind,
                TransactionKind::Authorization | TransactionKind::Charge
            ) && t.state != TransactionState::Pending
        })
    }
}

/// How the money for a cart or order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentState {
    Pending,
    Paid,
    BalanceDue,
    Failed,
    Refunded,
}

/// The sum secured by `payments`, in `currency`.
pub fn secured(payments: &[Payment], currency: Currency) -> Money {
    Money::new(
        payments
            .iter()
            .filter(|p| p.amount_planned.currency() == currency)
            .map(Payment::secured)
            .sum(),
        currency,
    )
}

/// The payment state of something that costs `total`.
pub fn payment_state(payments: &[Payment], total: Money) -> PaymentState {
    let secured = secured(payments, total.currency()).cent_amount;
    let refunded: i64 = payments.iter().map(Payment::refunded).sum();
    if secured >= total.cent_amount && total.cent_amount > 0 {
        PaymentState::Paid
    } else if secured == 0 && refunded > 0 {
        PaymentState::Refunded
    } else if secured > 0 {
        PaymentState::BalanceDue
    } else if payments.is_empty() || payments.iter().any(Payment::is_pending) {
        PaymentState::Pending
    } else {
        PaymentState::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(kind: TransactionKind, state: TransactionState, cents: i64) -> Transaction {
        Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            state,
            amount: Money::new(cents, Currency::EUR),
            interaction_id: uuid::Uuid::new_v4().to_string(),
            timestamp: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn payment(transactions: Vec<Transaction>) -> Payment {
        Payment {
            id: "p".into(),
            amount_planned: Money::new(1000, Currency::EUR),
            psp: "stripe".into(),
            psp_reference: "pi_1".into(),
            planned_for_total: None,
            transactions,
        }
    }

    #[test]
    fn split_payments_add_up() {
        use TransactionKind::*;
        use TransactionState::*;
        let gift_card = payment(vec![tx(Charge, Success, 300)]);
        let card = payment(vec![tx(Authorization, Success, 700)]);
        let total = Money::new(1000, Currency::EUR);
        assert_eq!(
            payment_state(std::slice::from_ref(&gift_card), total),
            PaymentState::BalanceDue
        );
        assert_eq!(payment_state(&[gift_card, card], total), PaymentState::Paid);
    }

    #[test]
    fn authorize_then_capture_counts_once_and_refunds_release() {
        use TransactionKind::*;
        use TransactionState::*;
        let captured = payment(vec![
            tx(Authorization, Success, 1000),
            tx(Charge, Success, 1000),
        ]);
        assert_eq!(captured.secured(), 1000);
        let refunded = payment(vec![tx(Charge, Success, 1000), tx(Refund, Success, 1000)]);
        let total = Money::new(1000, Currency::EUR);
        assert_eq!(payment_state(&[refunded], total), PaymentState::Refunded);
        let failed = payment(vec![tx(Authorization, Failure, 1000)]);
        assert_eq!(payment_state(&[failed], total), PaymentState::Failed);
        let pending = payment(vec![tx(Authorization, Pending, 1000)]);
        assert_eq!(payment_state(&[pending], total), PaymentState::Pending);
    }
}
