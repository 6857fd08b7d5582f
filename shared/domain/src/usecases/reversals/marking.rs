//! Reversals as they are recorded on payments before the provider is asked.

use super::*;

/// The reversal that gives back what `payment` secures (pending until the provider
/// answers; a gift card's done at once, its credit written with it), unless it secures
/// nothing or is being given back already.
pub(super) fn planned_reversal(
    payment: &Payment,
    currency: crate::model::money::Currency,
    reason: &str,
    at: time::OffsetDateTime,
) -> Option<Transaction> {
    if payment.secured() == 0 || payment.reversal_in_progress() || payment.reversal_given_up() {
        return None;
    }
    let kind = if payment.charged() {
        TransactionKind::Refund
    } else {
        TransactionKind::CancelAuthorization
    };
    let state = if payment.is_gift_card() {
        TransactionState::Success
    } else {
        TransactionState::Pending
    };
    Some(Transaction {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        state,
        amount: Money::new(payment.secured(), currency),
        // The provider's idempotency key: the same request however often it is retried.
        interaction_id: payment.reversal_key(kind),
        timestamp: at,
        reason: Some(reason.to_string()),
        provider_id: None,
    })
}

/// Reversals just recorded on payments, for the write that stores them: the interaction
/// ids it claims, and the gift card credits (by the reversal's key) it carries.
#[derive(Debug, Default)]
pub(crate) struct Marked {
    pub(crate) claimed: Vec<String>,
    pub(crate) credits: Vec<(String, GiftCardCredit)>,
}

/// Records a reversal on every payment `which` selects that still secures money.
pub(crate) fn mark_reversals(
    payments: &mut [Payment],
    reason: &str,
    at: time::OffsetDateTime,
    which: &dyn Fn(&Payment) -> bool,
) -> Marked {
    let currency_of = |p: &Payment| p.amount_planned.currency();
    let mut marked = Marked::default();
    for payment in payments.iter_mut().filter(|p| which(p)) {
        let Some(reversal) = planned_reversal(payment, currency_of(payment), reason, at) else {
            continue;
        };
        if payment.is_gift_card() {
            let Ok(code) = GiftCardCode::parse(&payment.psp_reference) else {
                tracing::error!(payment = %payment.id, "gift card payment without a code; not given back");
                continue;
            };
            let credit = GiftCardCredit {
                code,
                amount: reversal.amount,
            };
            marked
                .credits
                .push((reversal.interaction_id.clone(), credit));
        }
        marked.claimed.push(reversal.interaction_id.clone());
        payment.transactions.push(reversal);
    }
    marked
}
