//! Payments and their transactions. A payment's standing follows from its transactions; a
//! cart's or order's payment state follows from its payments.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::gift_card::GIFT_CARD_PSP;
use crate::model::money::{Currency, Money};

mod recording;
mod totals;

pub use recording::ProviderRefund;
pub use totals::{
    authorization_interaction, awaiting_state, fits, fitting, holding_since, is_reversal_key,
    only_gift_cards_hold, payment_state, refunded_amount, secured,
};

/// Payments a cart or an order takes at most.
pub const MAX_PAYMENTS: usize = 10;

/// Money movements (authorizations, charges, reversals) one payment records at most, so an
/// item never outgrows DynamoDB's 400 KB. Failed attempts do not count: they are compacted
/// (`KEPT_FAILURES`), so a run of declines never crowds out the success that follows.
pub const MAX_TRANSACTIONS: usize = 50;

/// Failed payment attempts a payment keeps in full; older ones are only counted
/// (`Payment::failures_compacted`).
pub const KEPT_FAILURES: usize = 5;

/// Times the sweeper asks the provider anew for a reversal that failed before leaving it to
/// a person (each failure is counted: `Metric::ReversalFailed`, which an alarm watches).
pub const MAX_REVERSAL_ATTEMPTS: usize = 5;

/// How soon the sweeper looks again at a reversal still pending at the provider.
pub const PENDING_RECHECK: time::Duration = time::Duration::minutes(5);

/// Attempts at recording one event when concurrent writers move the cart or order.
pub const RECORD_ATTEMPTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionKind {
    Authorization,
    Charge,
    CancelAuthorization,
    Refund,
    /// The shopper's bank took the money back (a dispute the merchant may defend at the
    /// provider). Recorded for the merchant to see; it moves none of the sums this system
    /// acts on, so nothing is refunded or cancelled because of it.
    Chargeback,
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
    /// The provider's own id of this movement where it has one (Stripe's refund `re_…`):
    /// its later reports are matched to this transaction by it, never counted again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

impl Transaction {
    /// A reversal this system asked the provider for: a give-back (under its reversal key)
    /// or a merchant's refund. Its outcome is this system's to chase.
    pub fn is_asked_reversal(&self) -> bool {
        self.kind.is_reversal()
            && (is_reversal_key(&self.interaction_id)
                || crate::model::fulfillment::is_merchant_refund(&self.interaction_id))
    }

    /// A failed attempt to pay (a decline, a 3-D Secure failure): compacted beyond
    /// `KEPT_FAILURES`. A failed reversal is not one: it says money is still owed back.
    pub fn is_failed_attempt(&self) -> bool {
        self.state == TransactionState::Failure && !self.kind.is_reversal()
    }
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
    /// The provider's reference of the payment made within `psp_reference` when that names a
    /// checkout session rather than a payment (Adyen: the session is `CS…`, the shopper's
    /// payment in it has its own `pspReference`, learnt from its authorization's report).
    /// Later reports name it, and captures, cancels and refunds are addressed to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_payment: Option<String>,
    /// The cart total this payment was planned against; a payment for an older total no
    /// longer fits the cart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_for_total: Option<Money>,
    #[serde(default)]
    pub transactions: Vec<Transaction>,
    /// Failed attempts dropped from `transactions` to keep the last `KEPT_FAILURES`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures_compacted: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A payment holds `MAX_TRANSACTIONS` money movements already: the next cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionsFull;

impl Payment {
    /// Whether `psp` reports about this payment under `reference`: its own reference, or
    /// the payment made in its session.
    pub fn is_reported_as(&self, psp: &str, reference: &str) -> bool {
        self.psp == psp
            && (self.psp_reference == reference
                || self.provider_payment.as_deref() == Some(reference))
    }

    /// The reference captures, cancels and refunds are addressed to at the provider.
    pub fn modification_reference(&self) -> &str {
        self.provider_payment
            .as_deref()
            .unwrap_or(&self.psp_reference)
    }

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

    /// What this payment keeps: what it secures less what is on its way back (a reversal
    /// still pending at the provider), or nothing when it is owed back after a reversal of
    /// the system's failed.
    pub fn kept(&self) -> i64 {
        if self.owes_reversal() {
            return 0;
        }
        let on_its_way_back: i64 = self
            .transactions
            .iter()
            .filter(|t| t.kind.is_reversal() && t.state == TransactionState::Pending)
            .map(|t| t.amount.cent_amount)
            .sum();
        (self.secured() - on_its_way_back).max(0)
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

    /// This system decided to give the money back and its last attempt failed: the money is
    /// still outstanding and must be asked for again (the sweeper does).
    pub fn owes_reversal(&self) -> bool {
        let last_give_back = self
            .transactions
            .iter()
            .rfind(|t| t.kind.is_reversal() && is_reversal_key(&t.interaction_id));
        // A gift card's credit fails only when the card is gone: asking again cannot help.
        !self.is_gift_card()
            && last_give_back.is_some_and(|t| t.state == TransactionState::Failure)
            && self.secured() > 0
    }

    /// The reversals this system asked for (its own keys), oldest first.
    fn give_backs(&self) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(|t| t.kind.is_reversal() && is_reversal_key(&t.interaction_id))
    }

    /// How many of the reversals this system asked for failed.
    pub fn failed_give_backs(&self) -> usize {
        self.give_backs()
            .filter(|t| t.state == TransactionState::Failure)
            .count()
    }

    /// The provider refused or failed every one of `MAX_REVERSAL_ATTEMPTS` reversals: the
    /// sweeper stops asking, and a person settles it (each failure raised the alarm).
    pub fn reversal_given_up(&self) -> bool {
        self.owes_reversal()
            && self
                .give_backs()
                .filter(|t| t.state == TransactionState::Failure)
                .count()
                >= MAX_REVERSAL_ATTEMPTS
    }

    /// When the sweeper should next look at this payment's reversal: a pending one a little
    /// after it was asked (the provider may still be processing it, or its answer was lost);
    /// a failed one after a backoff that doubles with each failure; `None` when there is
    /// nothing to chase, or it was given up.
    pub fn reversal_due_at(&self) -> Option<OffsetDateTime> {
        if self.is_gift_card() || self.secured() == 0 {
            return None;
        }
        // A reversal this system asked for (a give-back, or a merchant's refund) still pending.
        if let Some(pending) = self
            .transactions
            .iter()
            .rfind(|t| t.is_asked_reversal() && t.state == TransactionState::Pending)
        {
            return Some(pending.timestamp + PENDING_RECHECK);
        }
        if !self.owes_reversal() || self.reversal_given_up() {
            return None;
        }
        let failures = self
            .give_backs()
            .filter(|t| t.state == TransactionState::Failure)
            .count() as i32;
        let last = self.give_backs().last().map(|t| t.timestamp)?;
        Some(last + PENDING_RECHECK * 2i32.pow((failures - 1).clamp(0, 10) as u32))
    }

    /// The shopper's bank took money of this payment back (a chargeback): the merchant
    /// should look at the order, and may defend it at the provider.
    pub fn disputed(&self) -> bool {
        self.transactions
            .iter()
            .any(|t| t.kind == TransactionKind::Chargeback)
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
    /// Paid in full once, then given back in part.
    PartiallyRefunded,
    Refunded,
}

#[cfg(test)]
mod tests;
