//! Payments and their transactions. A payment's standing follows from its transactions; a
//! cart's or order's payment state follows from its payments.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::gift_card::GIFT_CARD_PSP;
use crate::model::money::{Currency, Money};

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

    /// Records `transaction`. A failed attempt always fits (the oldest failures beyond
    /// `KEPT_FAILURES` are compacted into a count); a money movement fits while the payment
    /// holds fewer than `MAX_TRANSACTIONS` of them.
    pub fn record(&mut self, transaction: Transaction) -> Result<(), TransactionsFull> {
        if transaction.is_failed_attempt() {
            self.transactions.push(transaction);
            while self
                .transactions
                .iter()
                .filter(|t| t.is_failed_attempt())
                .count()
                > KEPT_FAILURES
            {
                let oldest = self
                    .transactions
                    .iter()
                    .position(Transaction::is_failed_attempt)
                    .expect("counted above");
                self.transactions.remove(oldest);
                self.failures_compacted += 1;
            }
            return Ok(());
        }
        if !self.has_room() {
            return Err(TransactionsFull);
        }
        self.transactions.push(transaction);
        Ok(())
    }

    /// Applies a provider's report of one refund: the refund this system asked for (by the
    /// provider's id, or by its key) or one counted from a running total takes the reported
    /// id and state; any other is a new refund (made elsewhere, e.g. the dashboard). A state
    /// only moves forward (`Pending` → `Success` → `Failure`), so a report delivered late
    /// never undoes a newer one.
    pub fn apply_refund(
        &mut self,
        refund: &ProviderRefund,
        at: OffsetDateTime,
    ) -> Result<(), TransactionsFull> {
        // By the provider's id any reversal matches: a cancellation this system asked for
        // may end as a refund (Adyen's cancel-or-refund, once the payment was captured).
        let matches = |t: &Transaction| {
            (t.kind.is_reversal() && t.provider_id.as_deref() == Some(refund.id.as_str()))
                || (t.kind == TransactionKind::Refund
                    && refund.key.as_deref() == Some(t.interaction_id.as_str()))
        };
        if let Some(known) = self.transactions.iter_mut().find(|t| matches(t)) {
            known.provider_id = Some(refund.id.clone());
            settle_state(known, refund);
            return Ok(());
        }
        // A refund an earlier running total counted without knowing its id.
        let counted = self.transactions.iter().position(|t| {
            t.kind == TransactionKind::Refund
                && t.provider_id.is_none()
                && !is_reversal_key(&t.interaction_id)
                && t.state == TransactionState::Success
                && t.amount.cent_amount >= refund.amount.cent_amount
        });
        if let Some(index) = counted {
            if self.transactions[index].amount == refund.amount {
                let counted = &mut self.transactions[index];
                counted.provider_id = Some(refund.id.clone());
                settle_state(counted, refund);
                return Ok(());
            }
            if !self.has_room() {
                return Err(TransactionsFull);
            }
            self.transactions[index].amount.cent_amount -= refund.amount.cent_amount;
        }
        let mut reported = Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            kind: TransactionKind::Refund,
            state: TransactionState::Pending,
            amount: refund.amount,
            interaction_id: format!("provider-refund:{}", refund.id),
            timestamp: at,
            reason: None,
            provider_id: Some(refund.id.clone()),
        };
        settle_state(&mut reported, refund);
        self.record(reported)
    }

    /// Applies a provider's running total refunded for this payment: whatever the refunds
    /// already recorded (done, or still pending at the provider) do not explain is one more
    /// refund, recorded under `interaction`.
    pub fn apply_refund_total(
        &mut self,
        total: Money,
        interaction: &str,
        at: OffsetDateTime,
    ) -> Result<(), TransactionsFull> {
        let accounted: i64 = self
            .transactions
            .iter()
            .filter(|t| t.kind == TransactionKind::Refund && t.state != TransactionState::Failure)
            .map(|t| t.amount.cent_amount)
            .sum();
        let unexplained = total.cent_amount - accounted;
        if unexplained <= 0 {
            return Ok(());
        }
        self.record(Transaction {
            id: uuid::Uuid::new_v4().to_string(),
            kind: TransactionKind::Refund,
            state: TransactionState::Success,
            amount: Money::new(unexplained, total.currency()),
            interaction_id: interaction.to_string(),
            timestamp: at,
            reason: None,
            provider_id: None,
        })
    }

    /// A provider's report of a reversal this system asked for can arrive between the asking
    /// and the write that records the provider's id of it (Adyen's reports carry no key of
    /// ours); it was then recorded as a reversal of its own. Once the id is known here, each
    /// such report is folded into the reversal asked for: its state taken (never backwards),
    /// the copy dropped, so the money is counted once. Returns whether anything moved.
    pub fn fold_early_reports(&mut self) -> bool {
        let mut reported = Vec::new();
        for (index, report) in self.transactions.iter().enumerate() {
            if !report.kind.is_reversal() || report.is_asked_reversal() {
                continue;
            }
            let Some(id) = report.provider_id.as_deref() else {
                continue;
            };
            let asked = self
                .transactions
                .iter()
                .position(|t| t.is_asked_reversal() && t.provider_id.as_deref() == Some(id));
            if let Some(asked) = asked {
                reported.push((index, asked));
            }
        }
        for &(index, asked) in &reported {
            let report = self.transactions[index].clone();
            settle_state(
                &mut self.transactions[asked],
                &ProviderRefund {
                    id: report.provider_id.clone().unwrap_or_default(),
                    amount: report.amount,
                    state: report.state,
                    failure: report
                        .reason
                        .as_deref()
                        .map(|r| r.trim_start_matches("the refund failed: ").to_string()),
                    key: None,
                },
            );
        }
        let mut index = 0;
        self.transactions.retain(|_| {
            index += 1;
            !reported.iter().any(|&(r, _)| r == index - 1)
        });
        !reported.is_empty()
    }

    /// Whether another money movement can be stored.
    pub fn has_room(&self) -> bool {
        self.transactions
            .iter()
            .filter(|t| !t.is_failed_attempt())
            .count()
            < MAX_TRANSACTIONS
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

/// One refund as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// The provider's refund id (Stripe `re_…`).
    pub id: String,
    pub amount: Money,
    pub state: TransactionState,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// The idempotency key this system asked for it with, when the provider echoes it (the
    /// refund's metadata): matches it before the provider's answer was recorded.
    pub key: Option<String>,
}

/// Moves `t` to the state `refund` reports, never backwards.
fn settle_state(t: &mut Transaction, refund: &ProviderRefund) {
    let rank = |s: TransactionState| match s {
        TransactionState::Pending => 0,
        TransactionState::Success => 1,
        TransactionState::Failure => 2,
    };
    if rank(refund.state) <= rank(t.state) {
        return;
    }
    t.state = refund.state;
    if refund.state == TransactionState::Failure {
        let why = refund
            .failure
            .as_deref()
            .unwrap_or("the provider could not return it");
        t.reason = Some(match t.reason.take() {
            Some(reason) => format!("{reason}; the refund failed: {why}"),
            None => format!("the refund failed: {why}"),
        });
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

/// Whether `payment` was made toward `total`: in its currency, planned for this total (or
/// reported by the provider alone, with no plan).
pub fn fits(payment: &Payment, total: Money) -> bool {
    payment.amount_planned.currency() == total.currency()
        && payment
            .planned_for_total
            .is_none_or(|planned| planned == total)
}

/// The money `payments` can pay `total` with: what the payments made toward it keep
/// (`Payment::kept`: never money on its way back, or owed back). A checkout, a saved order,
/// a new payment's plan and an order's payment state all count this.
pub fn fitting(payments: &[Payment], total: Money) -> Money {
    Money::new(
        payments
            .iter()
            .filter(|p| fits(p, total))
            .map(Payment::kept)
            .sum(),
        total.currency(),
    )
}

/// What payments made toward `total` took for it and gave back since: what they took (at
/// most `total`; a second tab's extra payment never paid for it) less what they still secure.
/// Money on its way back counts once it landed.
pub fn refunded_amount(payments: &[Payment], total: Money) -> Money {
    let toward: Vec<&Payment> = payments.iter().filter(|p| fits(p, total)).collect();
    let took: i64 = toward.iter().map(|p| p.captured()).sum();
    let holds: i64 = toward.iter().map(|p| p.secured()).sum();
    Money::new(
        (took.min(total.cent_amount) - holds).max(0),
        total.currency(),
    )
}

/// The payment state of an order that awaits payment of `total` (or of a cart saved as one):
/// `Paid` once the money that fits covers it, `BalanceDue` while it covers part, otherwise
/// still `Pending` (or `Failed` when every attempt failed).
pub fn awaiting_state(payments: &[Payment], total: Money) -> PaymentState {
    let fitting = fitting(payments, total).cent_amount;
    if fitting >= total.cent_amount {
        PaymentState::Paid
    } else if fitting > 0 {
        PaymentState::BalanceDue
    } else if payments.is_empty() || payments.iter().any(|p| fits(p, total) && p.is_pending()) {
        PaymentState::Pending
    } else if payments
        .iter()
        .all(|p| p.captured() == 0 && !p.is_pending())
    {
        PaymentState::Failed
    } else {
        PaymentState::Pending
    }
}

/// The payment state of something that costs `total`.
pub fn payment_state(payments: &[Payment], total: Money) -> PaymentState {
    let secured = secured(payments, total.currency()).cent_amount;
    let kept = fitting(payments, total).cent_amount;
    let refunded: i64 = payments.iter().map(Payment::refunded).sum();
    // A total of zero (a 100 % discount) is paid by nothing. Money on its way back pays
    // nothing: an order whose refund is pending shows a balance until it lands.
    if kept >= total.cent_amount && (total.cent_amount > 0 || refunded == 0) {
        PaymentState::Paid
    } else if secured == 0 && refunded > 0 {
        PaymentState::Refunded
    } else if refunded_amount(payments, total).cent_amount > 0 && kept > 0 {
        PaymentState::PartiallyRefunded
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
        .filter(|p| p.secured() > 0 && !p.reversal_given_up())
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
            provider_id: None,
        }
    }

    fn payment(transactions: Vec<Transaction>) -> Payment {
        Payment {
            id: "p".into(),
            amount_planned: Money::new(1000, Currency::EUR),
            psp: "stripe".into(),
            psp_reference: "pi_1".into(),
            provider_payment: None,
            planned_for_total: None,
            transactions,
            failures_compacted: 0,
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
            provider_payment: None,
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

    fn refund(id: &str, cents: i64, state: TransactionState, key: Option<&str>) -> ProviderRefund {
        ProviderRefund {
            id: id.into(),
            amount: Money::new(cents, Currency::EUR),
            state,
            failure: (state == TransactionState::Failure)
                .then(|| "expired_or_canceled_card".into()),
            key: key.map(str::to_string),
        }
    }

    fn refunded(payment: &Payment) -> i64 {
        payment.refunded()
    }

    #[test]
    fn declines_beyond_the_kept_few_are_counted_and_a_success_still_fits() {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![]);
        for _ in 0..60 {
            p.record(tx(Charge, Failure, 1000)).unwrap();
        }
        assert_eq!(p.transactions.len(), KEPT_FAILURES);
        assert_eq!(p.failures_compacted, 55);
        p.record(tx(Charge, Success, 1000)).unwrap();
        assert_eq!(p.secured(), 1000);
        for _ in 1..MAX_TRANSACTIONS {
            p.record(tx(Refund, Pending, 1)).unwrap();
        }
        assert_eq!(p.record(tx(Refund, Pending, 1)), Err(TransactionsFull));
        p.record(tx(Charge, Failure, 1000))
            .expect("a decline always fits");
    }

    #[test]
    fn a_refund_reported_while_the_systems_own_is_pending_counts_once() {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![tx(Charge, Success, 1000)]);
        let mut own = tx(Refund, Pending, 1000);
        own.interaction_id = p.reversal_key(Refund);
        p.transactions.push(own);
        // The running total includes the pending refund: nothing new to count.
        p.apply_refund_total(
            Money::new(1000, Currency::EUR),
            "refunded:ch_1:1000",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(p.transactions.len(), 2);
        // Its report, matched by the key in its metadata, settles it.
        p.apply_refund(
            &refund("re_1", 1000, Success, Some("refund:pi_1")),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(p.transactions.len(), 2);
        assert_eq!(refunded(&p), 1000);
        assert_eq!(p.transactions[1].provider_id.as_deref(), Some("re_1"));
        // Reported again by id: still once.
        p.apply_refund(
            &refund("re_1", 1000, Success, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(refunded(&p), 1000);
    }

    #[test]
    fn a_report_that_came_before_the_providers_id_was_recorded_is_folded_into_the_refund_asked_for()
    {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![tx(Charge, Success, 1000)]);
        let mut own = tx(Refund, Pending, 1000);
        own.interaction_id = p.reversal_key(Refund);
        p.transactions.push(own);
        // Adyen's report names only its own id, which this system has not recorded yet.
        p.apply_refund(
            &refund("8D3EC25D29088FA0", 1000, Success, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(p.transactions.len(), 3, "recorded as a refund of its own");
        assert!(!p.fold_early_reports(), "nothing to fold into yet");
        // The answer to the asking is recorded: the report is that same refund.
        p.transactions[1].provider_id = Some("8D3EC25D29088FA0".into());
        assert!(p.fold_early_reports());
        assert_eq!(p.transactions.len(), 2);
        assert_eq!(p.transactions[1].state, Success);
        assert_eq!(refunded(&p), 1000, "counted once");
        assert!(!p.fold_early_reports(), "folded once");
    }

    #[test]
    fn a_failure_reported_before_the_providers_id_was_recorded_leaves_the_money_owed() {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![tx(Authorization, Success, 1000)]);
        let mut own = tx(CancelAuthorization, Pending, 1000);
        own.interaction_id = p.reversal_key(CancelAuthorization);
        p.transactions.push(own);
        let mut failed = refund("6C8F21DC42734039", 1000, Failure, None);
        failed.failure = Some("Transaction not permitted".into());
        p.apply_refund(&failed, OffsetDateTime::UNIX_EPOCH).unwrap();
        p.transactions[1].provider_id = Some("6C8F21DC42734039".into());
        assert!(p.fold_early_reports());
        assert_eq!(p.transactions.len(), 2);
        assert_eq!(p.transactions[1].state, Failure);
        assert_eq!(
            p.transactions[1].reason.as_deref(),
            Some("the refund failed: Transaction not permitted")
        );
        assert!(p.owes_reversal(), "the sweeper asks anew");
        assert_ne!(p.reversal_key(CancelAuthorization), "cancel:pi_1");
    }

    #[test]
    fn a_refund_that_fails_later_puts_the_money_back_to_outstanding() {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![tx(Charge, Success, 1000)]);
        let mut own = tx(Refund, Success, 1000);
        own.interaction_id = p.reversal_key(Refund);
        own.provider_id = Some("re_1".into());
        p.transactions.push(own);
        assert_eq!(p.secured(), 0);
        p.apply_refund(
            &refund("re_1", 1000, Failure, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(p.secured(), 1000, "outstanding again");
        assert!(p.owes_reversal());
        assert!(p.reversal_due_at().is_some(), "the sweeper asks again");
        // A late report of its success never undoes the failure.
        p.apply_refund(
            &refund("re_1", 1000, Success, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(p.secured(), 1000);
        assert_ne!(
            p.reversal_key(Refund),
            "refund:pi_1",
            "a new attempt, a new key"
        );
    }

    #[test]
    fn a_dashboard_refund_counted_from_a_total_takes_its_id_when_reported() {
        use TransactionKind::*;
        use TransactionState::*;
        let mut p = payment(vec![tx(Charge, Success, 1000)]);
        p.apply_refund_total(
            Money::new(600, Currency::EUR),
            "refunded:ch_1:600",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(refunded(&p), 600);
        // Two refunds made the 600; the first is reported by id, then fails.
        p.apply_refund(
            &refund("re_a", 200, Success, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(refunded(&p), 600);
        p.apply_refund(
            &refund("re_a", 200, Failure, None),
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(refunded(&p), 400);
        // The provider's total no longer counts the failed one; a new refund of 100 raises it.
        p.apply_refund_total(
            Money::new(500, Currency::EUR),
            "refunded:ch_1:500",
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(refunded(&p), 500);
        assert_eq!(p.secured(), 500);
    }

    #[test]
    fn only_money_that_fits_pays_a_saved_order() {
        use TransactionKind::*;
        use TransactionState::*;
        let total = Money::new(1000, Currency::EUR);
        let mut old = payment(vec![tx(Charge, Success, 1200)]);
        old.planned_for_total = Some(Money::new(1200, Currency::EUR));
        assert_eq!(
            fitting(std::slice::from_ref(&old), total).cent_amount,
            0,
            "another total"
        );
        let mut reversing = payment(vec![tx(Charge, Success, 1000)]);
        reversing.planned_for_total = Some(total);
        let mut pending_refund = tx(Refund, Pending, 1000);
        pending_refund.interaction_id = reversing.reversal_key(Refund);
        reversing.transactions.push(pending_refund);
        assert_eq!(
            fitting(std::slice::from_ref(&reversing), total).cent_amount,
            0,
            "being given back"
        );
        assert_eq!(
            secured(std::slice::from_ref(&reversing), Currency::EUR).cent_amount,
            1000
        );
        assert_ne!(
            awaiting_state(&[old.clone(), reversing.clone()], total),
            PaymentState::Paid
        );
        let mut fresh = payment(vec![tx(Charge, Success, 1000)]);
        fresh.planned_for_total = Some(total);
        assert_eq!(
            awaiting_state(&[old, reversing, fresh], total),
            PaymentState::Paid
        );
    }
}
