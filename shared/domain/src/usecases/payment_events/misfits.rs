//! Reports that do not fit: a payment that cannot take another transaction, a payment that
//! does not fit its cart or order (given back before it is recorded), and the reversals that
//! failed for good.

use super::*;

impl PaymentEvents<'_> {
    /// Counts the reversals this system asked for that a report just turned into failures:
    /// money outstanding again, which an alarm watches.
    pub(super) fn count_failed_reversals(&self, before: &[Payment], after: &[Payment]) {
        let failed = |payments: &[Payment]| -> usize {
            payments.iter().map(Payment::failed_give_backs).sum()
        };
        self.env.count(
            Metric::ReversalFailed,
            failed(after).saturating_sub(failed(before)) as u64,
        );
    }

    /// A report that cannot be stored (its payment holds `MAX_TRANSACTIONS` money movements
    /// already; nothing a provider sends in practice reaches it): a success is given back at
    /// the provider at once, since nobody could ever see it; either way an operator is
    /// alarmed, and the provider is answered so it stops redelivering.
    async fn unstorable(
        &self,
        payment: &Payment,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<EventEffect, Error> {
        self.env.count(Metric::UnstorableReport, 1);
        let (kind, amount) = match &event.outcome {
            PaymentOutcome::Charged { amount } => (TransactionKind::Refund, *amount),
            PaymentOutcome::Authorized { amount } => {
                (TransactionKind::CancelAuthorization, *amount)
            }
            _ => {
                tracing::error!(cart = %event.cart_id, payment = %event.reference, event = %event.event_id, "payment at its transaction bound: report not stored");
                return Ok(EventEffect::Ignored("transaction limit reached"));
            }
        };
        tracing::error!(cart = %event.cart_id, payment = %event.reference, event = %event.event_id, "payment at its transaction bound: giving the unstorable success back");
        let key = format!(
            "{}:unstorable:{}",
            payment.reversal_key(kind),
            event.interaction_id
        );
        self.reversals
            .ask_reversal(
                PaymentAt::of(payment, &event.cart_id),
                kind,
                amount,
                &key,
                asked,
            )
            .await?;
        Ok(EventEffect::Reversed)
    }

    /// Gives back a payment that does not fit (`misfit` says why; `None`: it fits) before it
    /// is recorded: nobody relies on money not yet recorded. The effect is then `Reversed`.
    pub(super) async fn reverse_misfit(
        &self,
        cart_id: &CartId,
        payment: &mut Payment,
        misfit: Option<&str>,
        asked: &mut Asked,
        claimed: &mut Vec<String>,
        effect: &mut EventEffect,
    ) -> Result<(), Error> {
        let Some(reason) = misfit else {
            return Ok(());
        };
        self.reversals
            .give_back(cart_id, payment, reason, asked, claimed)
            .await?;
        *effect = EventEffect::Reversed;
        Ok(())
    }

    /// Records the report on `payment`. A payment at its transaction bound cannot take it;
    /// what `unstorable` does about that is the answer instead (`Some`).
    pub(super) async fn record_report(
        &self,
        payment: &mut Payment,
        event: &PaymentEvent,
        asked: &mut Asked,
    ) -> Result<Option<EventEffect>, Error> {
        let recorded = match &event.outcome {
            PaymentOutcome::Charged { amount } | PaymentOutcome::Authorized { amount } => {
                payment.record(transaction(event, *amount))
            }
            outcome => record_other(payment, event, outcome),
        };
        match recorded {
            Ok(()) => Ok(None),
            Err(_) => self.unstorable(payment, event, asked).await.map(Some),
        }
    }
}
