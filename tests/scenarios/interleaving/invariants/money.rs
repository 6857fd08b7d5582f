//! The invariants of money: (7) refunds bounded, (9) shipped orders stay, (8) cancelled
//! orders hold no money, (5) every successful payment kept or given back.

use checkout_domain::model::order::{Order, OrderState};
use checkout_domain::model::payment::{self, PaymentState};

use super::super::world::{PspSide, World};
use super::{describe_payments, Flags, Observed, Phase};

/// (7) refunds never exceed what was captured.
///
/// For one order: each payment's refunds, and the order's.
pub(super) fn refunds_within_capture(order: &Order, flags: &mut Flags) {
    for p in &order.payments {
        let refunded: i64 = p
            .transactions
            .iter()
            .filter(|t| {
                t.kind == payment::TransactionKind::Refund
                    && t.state != payment::TransactionState::Failure
            })
            .map(|t| t.amount.cent_amount)
            .sum();
        if refunded > p.captured() {
            flags.flag(
                7,
                Some(order.cart_id.as_str()),
                format!(
                    "order {} payment {} refunds {refunded} of {} captured: {}",
                    order.order_number,
                    p.psp_reference,
                    p.captured(),
                    describe_payments(std::slice::from_ref(p))
                ),
            );
        }
    }
    if order.refunded_amount().cent_amount > order.totals.total.cent_amount {
        flags.flag(
            7,
            Some(order.cart_id.as_str()),
            format!(
                "order {} refunded {} of a {} total",
                order.order_number,
                order.refunded_amount(),
                order.totals.total
            ),
        );
    }
}

/// (9) a shipped order is never cancelled.
pub(super) fn shipped_never_cancelled(order: &Order, flags: &mut Flags) {
    if order.state == OrderState::Cancelled && !order.fulfillments.is_empty() {
        flags.flag(
            9,
            Some(order.cart_id.as_str()),
            format!("order {} shipped and was cancelled", order.order_number),
        );
    }
}

/// (8) after settling, a cancelled order holds no money.
pub(super) fn cancelled_holds_no_money(order: &Order, phase: Phase, flags: &mut Flags) {
    if phase == Phase::Settled
        && order.state == OrderState::Cancelled
        && payment::secured(&order.payments, order.currency).cent_amount > 0
    {
        flags.flag(
            8,
            Some(order.cart_id.as_str()),
            format!(
                "cancelled order {} still holds money: {}",
                order.order_number,
                describe_payments(&order.payments)
            ),
        );
    }
}

/// (5) every successful payment is in a Paid order or reversed (after settling).
pub(super) fn payments_kept_or_reversed(
    world: &World,
    observed: &Observed,
    phase: Phase,
    flags: &mut Flags,
) {
    if phase != Phase::Settled {
        return;
    }
    let dashboard = world.ledger.lock().unwrap().dashboard_refunds.clone();
    for (index, slot) in world.slots.iter().enumerate() {
        let intents = slot.state.lock().unwrap().intents.clone();
        for intent in intents {
            let reversed = if intent.adyen {
                let (refunded, cancelled) = world.adyen_given_back(&intent.reference);
                checkout_adapters::psp_simulator::Reversed {
                    refunded,
                    cancelled,
                }
            } else {
                world.app.psp.reversed(&intent.reference)
            };
            // The dashboard's refunds included (Stripe made them).
            let refunded = reversed.refunded;
            let given_back = match intent.side {
                PspSide::Open => continue,
                PspSide::Captured { .. } => refunded >= intent.amount,
                PspSide::Authorized => reversed.cancelled || refunded >= intent.amount,
            };
            if given_back {
                continue;
            }
            let order = observed.orders[index].as_ref();
            // In an order that is paid; or was paid in full until the merchant gave
            // part of it back from the dashboard (then it shows a balance, not `Paid`).
            let kept = order.is_some_and(|o| {
                let merchant_refunded: i64 = o
                    .payments
                    .iter()
                    .filter_map(|p| dashboard.get(&p.psp_reference))
                    .sum();
                let paid_before_the_merchant_refunded = merchant_refunded > 0
                    && checkout_domain::model::payment::secured(&o.payments, o.currency)
                        .cent_amount
                        + merchant_refunded
                        >= o.totals.total.cent_amount;
                // Support's refunds keep the rest of the payment in the order.
                let support_refunded = !o.refunds.is_empty()
                    && matches!(
                        o.payment_state,
                        PaymentState::PartiallyRefunded | PaymentState::Refunded
                    );
                o.state != OrderState::Cancelled
                    && (o.payment_state == PaymentState::Paid
                        || paid_before_the_merchant_refunded
                        || support_refunded)
                    && o.payments
                        .iter()
                        .any(|p| p.psp_reference == intent.reference && p.secured() > 0)
            });
            if !kept {
                let cart = &observed.carts[index];
                let lines: Vec<String> = cart
                    .line_items
                    .iter()
                    .map(|l| format!("{}×{}", l.sku, l.quantity.get()))
                    .collect();
                let missing: Vec<&str> = [
                    (cart.billing_address.is_none(), "billingAddress"),
                    (cart.shipping_method.is_none(), "shippingMethod"),
                    (cart.shipping_address.is_none(), "shippingAddress"),
                ]
                .into_iter()
                .filter_map(|(gone, name)| gone.then_some(name))
                .collect();
                flags.flag(5, Some(&slot.id), format!(
                    "{} {} of {} (for {}) is neither in a Paid order nor reversed \
                     (refunded {refunded}, cancelled {}); cart {:?} total {} lines {lines:?} missing {missing:?}, order {}; cart payments: {}; order payments: {}",
                    match intent.side {
                        PspSide::Authorized => "authorization",
                        _ => "charge",
                    },
                    intent.reference,
                    intent.amount,
                    if intent.for_order { "a saved order" } else { "the cart" },
                    reversed.cancelled,
                    cart.state,
                    cart.totals.total.cent_amount,
                    order.map_or("none".to_string(), |o| format!(
                        "{} {:?}/{:?} total {}",
                        o.order_number, o.state, o.payment_state, o.totals.total.cent_amount
                    )),
                    describe_payments(&cart.payments),
                    order.map_or(String::new(), |o| describe_payments(&o.payments)),
                ));
            }
        }
    }
}
