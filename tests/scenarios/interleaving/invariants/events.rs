//! The invariant of the PSP's events: (2) none acknowledged is lost.

use checkout_domain::model::payment;

use super::super::world::{Delivered, Expect, World};
use super::{describe_payments, Flags, Observed};

/// (2) every acknowledged event is recorded on its cart or order.
pub(super) async fn events_recorded(world: &World, observed: &Observed, flags: &mut Flags) {
    let store = &world.app.store;
    let carts = &observed.carts;
    let orders = &observed.orders;
    let events: Vec<Delivered> = world.ledger.lock().unwrap().events.clone();
    for event in events.iter().filter(|e| e.acked) {
        let cart = &carts[event.cart];
        // Adyen names a session's money by its own payment reference: a notification
        // delivered while the session's payment was still being recorded is recorded on
        // a payment of that name (and given back if it does not fit).
        let adyen_payment = world.app.adyen.payment_of(&event.reference);
        let payments: Vec<_> = cart
            .payments
            .iter()
            .chain(orders[event.cart].iter().flat_map(|o| o.payments.iter()))
            .filter(|p| {
                p.psp_reference == event.reference
                    || adyen_payment
                        .as_deref()
                        .is_some_and(|a| p.is_reported_as("adyen", a))
            })
            .collect();
        let has =
            |p: &&payment::Payment, id: &str| p.transactions.iter().any(|t| t.interaction_id == id);
        let rank = |s: payment::TransactionState| match s {
            payment::TransactionState::Pending => 0,
            payment::TransactionState::Success => 1,
            payment::TransactionState::Failure => 2,
        };
        let recorded = match &event.expect {
            Expect::Interaction(id) => payments.iter().any(|p| has(p, id)),
            Expect::Failure(id) => payments
                .iter()
                .any(|p| has(p, id) || p.failures_compacted > 0),
            Expect::RefundedAtLeast(total) => payments.iter().any(|p| {
                let reported: i64 = p
                    .transactions
                    .iter()
                    .filter(|t| t.kind == payment::TransactionKind::Refund)
                    .map(|t| t.amount.cent_amount)
                    .sum();
                reported >= *total
            }),
            Expect::RefundState(id, state) => payments.iter().any(|p| {
                p.transactions.iter().any(|t| {
                    t.provider_id.as_deref() == Some(id.as_str()) && rank(t.state) >= rank(*state)
                })
            }),
        };
        if !recorded {
            let history = match &orders[event.cart] {
                Some(order) => store
                    .order_history(&order.cart_id)
                    .await
                    .unwrap_or_default()
                    .iter()
                    .map(|h| format!("r{} {}: {}", h.revision, h.action, h.detail))
                    .collect::<Vec<_>>()
                    .join("; "),
                None => String::new(),
            };
            flags.flag(2, Some(cart.id.as_str()), format!(
                "{} for {} ({:?}) was answered {:?}, but neither the cart (state {:?}) nor its order ({}) records it; payments: {}; order history: [{history}]",
                event.kind,
                event.reference,
                event.expect,
                event.answers,
                cart.state,
                orders[event.cart]
                    .as_ref()
                    .map_or("none".to_string(), |o| format!("{} {:?}/{:?} at revision {}", o.order_number, o.state, o.payment_state, o.revision)),
                describe_payments(
                    &cart
                        .payments
                        .iter()
                        .chain(orders[event.cart].iter().flat_map(|o| o.payments.iter()))
                        .cloned()
                        .collect::<Vec<_>>()
                ),
            ));
        }
    }
}
