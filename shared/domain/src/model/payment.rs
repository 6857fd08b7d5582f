//! Payments and their transactions. A payment's standing follows from its transactions; a
//! cart's or order's payment state follows from its payments.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::gift_card::GIFT_CARD_PSP;
use crate::model::money::{Currency, Money};

/// Payments a cart or an order takes at most.
pub const MAX_PAYMENTS: usize = 10;

/// Transactions one payment records at most; reports beyond are logged, not stored, so an
/// item never outgrows DynamoDB's 400 KB.
pub const MAX_TRANSACTIONS: usize = 50;

/// Attempts at recording one event when concurrent writers move the cart or order.
pub const RECORD_ATTEMPTS: usize = 8;

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
    /// Why this transaction happened, for reversals the system made on its own (e.g. "the
    /// last unit was sold before the order could be placed").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl TransactionKind {
    pub fn is_reversal(self) -> bool {
        matches!(
            self,
            TransactionKind::CancelAuthorization | TransactionKind::Refund
        )
    }
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

    /// Whether anything was ever charged (rather than only authorized): such money is given
    /// back by a refund, an authorization by a cancellation.
    pub fn charged(&self) -> bool {
        self.transactions
            .iter()
            .any(|t| t.kind == TransactionKind::Charge && t.state == TransactionState::Success)
    }

    /// A refund or cancellation the provider accepted but has not finished: the money is
    /// still outstanding, and asking again would reverse it twice.
    pub fn reversal_in_progress(&self) -> bool {
        self.transactions
            .iter()
            .any(|t| t.kind.is_reversal() && t.state == TransactionState::Pending)
            && self.secured() > 0
    }

    /// Paid from a gift card (the ledger in this system), not through the payment provider.
    pub fn is_gift_card(&self) -> bool {
        self.psp == GIFT_CARD_PSP
    }

    /// The provider's idempotency key for the next reversal of this payment: the same for a
    /// retry after a crash (the provider answers with the reversal it made), a new one once
    /// the last reversal has an outcome (it failed, or new money arrived after it). A gift
    /// card's reference is its code, shared by every order that used the card, so its keys
    /// name the payment instead.
    pub fn reversal_key(&self, kind: TransactionKind) -> String {
        let tag = if kind == TransactionKind::Refund {
            "refund"
        } else {
            "cancel"
        };
        let reference = if self.is_gift_card() {
            format!("giftcard:{}", self.id)
        } else {
            self.psp_reference.clone()
        };
        let settled = self
            .transactions
            .iter()
            .filter(|t| {
                t.kind.is_reversal()
                    && t.state != TransactionState::Pending
                    && is_reversal_key(&t.interaction_id)
            })
            .count();
        match settled {
            0 => format!("{tag}:{reference}"),
            n => format!("{tag}:{reference}:{n}"),
        }
    }

    /// When this payment's money arrived: its first successful authorization or charge.
    pub fn secured_since(&self) -> Option<OffsetDateTime> {
        self.transactions
            .iter()
            .filter(|t| !t.kind.is_reversal() && t.state == TransactionState::Success)
            .map(|t| t.timestamp)
            .min()
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

/// What `payments` can pay with: the money they secure, less payments being given back.
pub fn available(payments: &[Payment], currency: Currency) -> Money {
    Money::new(
        payments
            .iter()
            .filter(|p| p.amount_planned.currency() == currency && !p.reversal_in_progress())
            .map(Payment::secured)
            .sum(),
        currency,
    )
}

/// The payment state of something that costs `total`.
pub fn payment_state(payments: &[Payment], total: Money) -> PaymentState {
    let secured = secured(payments, total.currency()).cent_amount;
    let refunded: i64 = payments.iter().map(Payment::refunded).sum();
    // A total of zero (a 100 % discount) is paid by nothing.
    if secured >= total.cent_amount && (total.cent_amount > 0 || refunded == 0) {
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

/// Whether the payment provider has given back everything it took for these payments (each
/// charge refunded, each authorization cancelled or expired) while gift cards still hold
/// money: the order's refund or expiry, whose gift card share goes back to the cards.
pub fn only_gift_cards_hold(payments: &[Payment]) -> bool {
    let (cards, provider): (Vec<&Payment>, Vec<&Payment>) =
        payments.iter().partition(|p| p.is_gift_card());
    provider.iter().any(|p| p.captured() > 0)
        && provider.iter().all(|p| p.secured() == 0)
        && cards.iter().any(|p| p.secured() > 0)
}

/// The interaction id of the authorization of the provider's payment `reference`: the same
/// whether `authorize_payments` records it or the provider's webhook reports it, so it is
/// recorded once.
pub fn authorization_interaction(reference: &str) -> String {
    format!("authorization:{reference}")
}

/// Whether an interaction id is one of this system's reversal keys (`refund:…`, `cancel:…`):
/// the provider's idempotency key of a refund or cancellation this system asked for.
pub fn is_reversal_key(id: &str) -> bool {
    id.starts_with("refund:") || id.starts_with("cancel:")
}

/// Since when `payments` hold money nobody has given back (`None`: they hold none).
pub fn holding_since(payments: &[Payment]) -> Option<OffsetDateTime> {
    payments
        .iter()
        .filter(|p| p.secured() > 0)
        .filter_map(Payment::secured_since)
        .min()
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
            reason: None,
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

    #[test]
    fn gift_cards_alone_hold_once_the_provider_gave_everything_back() {
        use TransactionKind::*;
        use TransactionState::*;
        let gift_card = |id: &str| Payment {
            id: id.into(),
            psp: GIFT_CARD_PSP.into(),
            psp_reference: "GIFT-1".into(),
            ..payment(vec![tx(Charge, Success, 300)])
        };
        let captured = payment(vec![
            tx(Authorization, Success, 700),
            tx(Charge, Success, 700),
        ]);
        assert!(!only_gift_cards_hold(&[gift_card("a"), captured.clone()]));
        let mut refunded = captured.clone();
        refunded.transactions.push(tx(Refund, Success, 400));
        assert!(
            !only_gift_cards_hold(&[gift_card("a"), refunded.clone()]),
            "partly refunded"
        );
        refunded.transactions.push(tx(Refund, Success, 300));
        assert!(only_gift_cards_hold(&[gift_card("a"), refunded]));
        let expired = payment(vec![
            tx(Authorization, Success, 700),
            tx(CancelAuthorization, Success, 700),
        ]);
        assert!(only_gift_cards_hold(&[gift_card("a"), expired.clone()]));
        let declined = payment(vec![tx(Authorization, Failure, 700)]);
        assert!(
            !only_gift_cards_hold(&[gift_card("a"), declined]),
            "took nothing"
        );
        assert!(
            !only_gift_cards_hold(&[gift_card("a")]),
            "no provider payment"
        );
        assert!(!only_gift_cards_hold(&[expired]), "no gift card");
        // Two orders paid from one card: their reversal keys differ.
        assert_ne!(
            gift_card("a").reversal_key(Refund),
            gift_card("b").reversal_key(Refund)
        );
    }
}
