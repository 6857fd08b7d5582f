//! What a list of payments comes to: money secured, fitting, refunded, and the payment state
//! of a cart or an order.

use super::*;

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
