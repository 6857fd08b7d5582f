//! Recording what happens to a payment: a transaction, a refund the provider reports, the
//! reports that came before what they report on.

use super::*;

impl Payment {
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
