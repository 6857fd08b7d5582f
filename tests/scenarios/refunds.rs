//! Refunds matched to the provider's ids: the system's own refund is recorded under Stripe's
//! `re_…` and settled by its report, never counted twice; a refund that fails later puts the
//! money back to outstanding, and the sweeper asks for it again (the cart or order stays in
//! its queue while any reversal is pending).

use checkout_domain::model::payment::{Payment, PaymentState, TransactionKind, TransactionState};
use checkout_domain::ports::metrics::Metric;
use checkout_domain::usecases::sweeper::SweepBudget;
use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, order_request, App, Backend, CartRef, Client};
use http::StatusCode;
use time::Duration;

/// Past the payment grace period (30 min).
const PAST_GRACE: Duration = Duration::minutes(31);

fn budget() -> SweepBudget {
    SweepBudget::time(std::time::Duration::from_secs(60))
}

/// A guest's payment that no longer fits its cart (the cart's total moved after the payment
/// started), so the webhook gives it back at once. The client, the cart, the payment's
/// reference and its amount.
async fn a_charge_given_back(app: &App) -> (Client, CartRef, String, i64) {
    let (guest, mut cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    let amount = app.stored(&cart).await.0.totals.total.cent_amount;
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "PEN", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let delivered = app.deliver(&app.payment_event(&reference, true)).await;
    assert_eq!(delivered.body["effect"], "reversed", "{:#}", delivered.body);
    (guest, cart, reference, amount)
}

fn refunds(payment: &Payment) -> Vec<(TransactionState, Option<String>)> {
    payment
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Refund)
        .map(|t| (t.state, t.provider_id.clone()))
        .collect()
}

async fn a_refund_reported_while_the_systems_own_is_pending_counts_once(backend: Backend) {
    let app = App::start(backend).await;
    app.psp.answer_refunds_pending(true);
    let (_, cart, reference, amount) = a_charge_given_back(&app).await;
    let [refund_id] = app.psp.refund_ids(&reference).try_into().unwrap();
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(
        refunds(&payment),
        [(TransactionState::Pending, Some(refund_id.clone()))]
    );

    // Stripe reports the charge refunded (its running total counts the pending refund).
    let total = app.refunded_event(&reference, "ch_1", amount, "evt_total_1");
    app.deliver(&total).await.assert_status(StatusCode::OK);
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(
        payment.refunded(),
        0,
        "still pending, and not a second refund"
    );
    assert_eq!(refunds(&payment).len(), 1);

    // The refund succeeds; Stripe says so by its id.
    let succeeded = app
        .psp
        .settle_refund(&refund_id, TransactionState::Success)
        .unwrap();
    app.deliver(&succeeded).await.assert_status(StatusCode::OK);
    // The same total again, under another event id: nothing new.
    let again = app.refunded_event(&reference, "ch_1", amount, "evt_total_2");
    app.deliver(&again).await.assert_status(StatusCode::OK);
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(
        refunds(&payment),
        [(TransactionState::Success, Some(refund_id))]
    );
    assert_eq!(payment.refunded(), amount, "refunded once");
    assert_eq!(payment.secured(), 0);
    assert_eq!(app.psp_requests("refund").len(), 1);
}

async fn a_refund_that_fails_later_is_outstanding_again_and_asked_for_anew(backend: Backend) {
    let app = App::start(backend).await;
    let (_, cart, reference, amount) = a_charge_given_back(&app).await;
    let [refund_id] = app.psp.refund_ids(&reference).try_into().unwrap();
    let failed = app
        .psp
        .settle_refund(&refund_id, TransactionState::Failure)
        .unwrap();
    app.deliver(&failed).await.assert_status(StatusCode::OK);
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(payment.secured(), amount, "the money is outstanding again");
    assert!(payment.owes_reversal());
    assert_eq!(
        app.metrics.get(Metric::ReversalFailed),
        1,
        "an alarm watches this"
    );
    // Delivered twice: counted once.
    app.deliver(&failed).await.assert_status(StatusCode::OK);
    assert_eq!(app.metrics.get(Metric::ReversalFailed), 1);

    // The cart stays in the sweeper's queue; past the grace period it asks anew, new key.
    app.advance(PAST_GRACE);
    let report = app
        .storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    assert_eq!(report.carts_reversed, 1);
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(payment.secured(), 0);
    let keys: Vec<String> = app
        .psp_requests("refund")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "a new attempt is a new refund");
    assert_eq!(app.psp.reversed(&reference).refunded, amount, "net: once");
}

async fn an_orders_failed_refund_is_retried_with_a_backoff(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, cart) = app.ready_customer_cart("alice").await;
    let mut saved_body = order_request(&cart);
    saved_body["action"] = json!("save_order");
    let saved = alice.post("/orders", saved_body).await;
    saved.assert_status(StatusCode::CREATED);
    let number = saved.body["orderNumber"].as_str().unwrap().to_string();
    // Two tabs: two payments for the order; the second to succeed does not fit.
    let mut references = Vec::new();
    for _ in 0..2 {
        let payment = alice
            .post(&format!("/orders/{number}/payments"), json!({}))
            .await;
        payment.assert_status(StatusCode::CREATED);
        references.push(payment.body["pspReference"].as_str().unwrap().to_string());
    }
    for reference in &references {
        app.deliver(&app.payment_event(reference, true))
            .await
            .assert_status(StatusCode::OK);
    }
    let [refund_id] = app.psp.refund_ids(&references[1]).try_into().unwrap();
    let failed = app
        .psp
        .settle_refund(&refund_id, TransactionState::Failure)
        .unwrap();
    app.deliver(&failed).await.assert_status(StatusCode::OK);
    let order = app.stored(&cart).await.1.unwrap();
    let due = order.sweep_at().expect("in the sweeper's queue");
    assert!(due > app.storefront.now(), "after a backoff");

    app.storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    assert_eq!(app.psp_requests("refund").len(), 1, "not before its time");
    app.advance(Duration::minutes(6));
    app.storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    assert_eq!(app.psp_requests("refund").len(), 2);
    let order = app.stored(&cart).await.1.unwrap();
    let (kept, extra) = (&order.payments[0], &order.payments[1]);
    assert_eq!(extra.secured(), 0, "the extra payment is given back");
    assert_eq!(
        kept.secured(),
        order.totals.total.cent_amount,
        "the order keeps its own"
    );
    assert_eq!(
        order.payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
    assert!(order.sweep_at().is_none(), "nothing left to chase");
}

async fn a_pending_refund_keeps_the_cart_queued_and_is_looked_up_not_asked_again(backend: Backend) {
    let app = App::start(backend).await;
    app.psp.answer_refunds_pending(true);
    let (_, cart, reference, amount) = a_charge_given_back(&app).await;
    let [refund_id] = app.psp.refund_ids(&reference).try_into().unwrap();
    app.advance(PAST_GRACE);
    app.storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    assert_eq!(
        app.psp_requests("refund_status").len(),
        1,
        "looked up by its id"
    );
    assert_eq!(app.psp_requests("refund").len(), 1, "never asked for twice");
    assert!(
        app.stored(&cart).await.0.holding_since().is_some(),
        "still queued"
    );

    // It succeeds at Stripe, but its webhook is lost: the next sweep learns it.
    app.psp.settle_refund(&refund_id, TransactionState::Success);
    app.storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    let (stored, _) = app.stored(&cart).await;
    assert_eq!(stored.payments[0].refunded(), amount);
    assert!(stored.holding_since().is_none(), "out of the queue");
    app.storefront
        .sweeper()
        .sweep(Duration::minutes(30), budget())
        .await
        .unwrap();
    assert_eq!(
        app.psp_requests("refund_status").len(),
        2,
        "nothing left to look up"
    );
}

/// The merchant refunded the whole charge in Stripe's dashboard, and support refunds part
/// of it here before that refund's report arrived: Stripe refuses (nothing is left), the
/// part is recorded as failed, and the dashboard's refund, once reported, is counted once.
async fn a_refund_stripe_refuses_for_want_of_money_left_fails_and_counts_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    let paid = app.deliver(&app.payment_event(&reference, true)).await;
    let number = paid.body["effect"]["ordered"]
        .as_str()
        .unwrap_or_else(|| panic!("ordered by its webhook: {:#}", paid.body))
        .to_string();
    let total = app.stored(&cart).await.1.unwrap().totals.total.cent_amount;
    app.psp
        .refund_from_dashboard(&reference, total)
        .expect("the charge has it all");

    let support = app.with_scope("support-1", "orders:read orders:write");
    let refund = support
        .post(
            &format!("/admin/orders/{number}/refunds"),
            json!({"idempotencyKey": "r1", "amount": 500, "reason": "Scratched"}),
        )
        .await;
    refund.assert_status(StatusCode::CREATED);
    assert_eq!(refund.body["state"], "Failed", "{:#}", refund.body);
    let order = app.stored(&cart).await.1.unwrap();
    assert_eq!(order.payments[0].refunded(), 0, "nothing given back here");

    // The dashboard's refund is reported: the order holds nothing, refunded once.
    let reported = app.refunded_event(&reference, "ch_1", total, "evt_dashboard");
    app.deliver(&reported).await.assert_status(StatusCode::OK);
    let order = app.stored(&cart).await.1.unwrap();
    assert_eq!(order.payments[0].refunded(), total);
    assert_eq!(order.payments[0].secured(), 0);
    assert_eq!(
        app.psp.reversed(&reference).refunded,
        total,
        "at Stripe too"
    );
}

/// The refund's failure delivered first, then `stale`, a running total Stripe made while
/// the refund was still pending.
async fn failure_then_older_total(app: &App, refund_id: &str, stale: &str) {
    let failed = app
        .psp
        .settle_refund(refund_id, TransactionState::Failure)
        .unwrap();
    app.deliver(&failed).await.assert_status(StatusCode::OK);
    app.deliver(stale).await.assert_status(StatusCode::OK);
}

/// Stripe's webhooks come in any order: a running total made while a refund was pending
/// counts it, and can arrive after that refund's failure. The total is then checked with
/// Stripe, and the failed refund is never counted as money given back: the system's own
/// refund and one made in the dashboard alike.
async fn a_running_total_older_than_a_refunds_failure_counts_nothing(backend: Backend) {
    let app = App::start(backend).await;
    app.psp.answer_refunds_pending(true);
    let (_, cart, reference, amount) = a_charge_given_back(&app).await;
    let [refund_id] = app.psp.refund_ids(&reference).try_into().unwrap();
    let stale = app.refunded_event(&reference, "ch_1", amount, "evt_total_stale");
    failure_then_older_total(&app, &refund_id, &stale).await;
    let payment = app.stored(&cart).await.0.payments[0].clone();
    assert_eq!(payment.refunded(), 0, "the failed refund gave nothing back");
    assert_eq!(payment.secured(), amount, "the money is outstanding again");
    assert!(payment.owes_reversal());
    assert_eq!(app.psp_requests("refunded_now").len(), 1, "asked of Stripe");

    // A paid order refunded in Stripe's dashboard, the refund failing later.
    let (guest, cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    app.deliver(&app.payment_event(&reference, true))
        .await
        .assert_status(StatusCode::OK);
    let order = app.stored(&cart).await.1.expect("ordered by its webhook");
    let total = order.totals.total.cent_amount;
    let refund_id = app
        .psp
        .refund_from_dashboard(&reference, total)
        .expect("the charge has it all");
    let stale = app.refunded_event(&reference, "ch_2", total, "evt_dashboard_total");
    failure_then_older_total(&app, &refund_id, &stale).await;
    let order = app.stored(&cart).await.1.unwrap();
    assert_eq!(order.payments[0].refunded(), 0);
    assert_eq!(
        order.payments[0].secured(),
        total,
        "still the order's money"
    );
    assert_eq!(order.payment_state, PaymentState::Paid);

    // A total that is current is counted as before: a second dashboard refund that holds.
    app.psp
        .refund_from_dashboard(&reference, total)
        .expect("the failed refund left it all");
    let current = app.refunded_event(&reference, "ch_2", total, "evt_dashboard_total_2");
    app.deliver(&current).await.assert_status(StatusCode::OK);
    let order = app.stored(&cart).await.1.unwrap();
    assert_eq!(order.payments[0].refunded(), total, "refunded once");
    assert_eq!(order.payments[0].secured(), 0);
}

on_both_stores!(
    a_running_total_older_than_a_refunds_failure_counts_nothing,
    a_refund_stripe_refuses_for_want_of_money_left_fails_and_counts_nothing,
    a_refund_reported_while_the_systems_own_is_pending_counts_once,
    a_refund_that_fails_later_is_outstanding_again_and_asked_for_anew,
    an_orders_failed_refund_is_retried_with_a_backoff,
    a_pending_refund_keeps_the_cart_queued_and_is_looked_up_not_asked_again,
);
