//! Money is never lost (rules 9 and 10): a recorded payment survives every concurrent write,
//! and every successful payment ends in an order or is given back, by itself — on both
//! stores. Each of the three losses measured before the fix has its scenario here.

use checkout_domain::model::payment::PaymentState;
use checkout_domain::usecases::sweeper::SweepBudget;
use checkout_tests::faults::{FaultPoint, FaultSpec, FaultyStore};
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, order_request, App, Backend, CartRef, Client};
use http::StatusCode;
use time::Duration;

/// Long enough for any sweep of a test's few carts and orders.
fn sweep_budget() -> SweepBudget {
    SweepBudget::time(std::time::Duration::from_secs(60))
}

/// Past the saved-order hold (30 min) and the payment grace period (30 min).
const LATER: Duration = Duration::minutes(31);

fn transactions(payment: &Value) -> Vec<(String, String)> {
    payment["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap().to_string(),
                t["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Loss 1: the webhook recorded a partial payment while the customer edited the cart, and the
/// edit wrote the whole cart back without it.
async fn a_cart_edit_racing_a_payment_never_erases_it(backend: Backend) {
    let app = App::start(backend).await;
    for round in 0..12 {
        let (guest, cart) = app.ready_guest_cart().await;
        let reference = app.start_payment(&guest, &cart, Some(500)).await;
        let event = app.payment_event(&reference, true);
        let mut editing = cart.clone();
        let (delivered, ()) = tokio::join!(app.deliver(&event), async {
            for i in 0..4 {
                let email = format!("ada+{round}-{i}@example.com");
                guest
                    .update(
                        &mut editing,
                        json!([{"action": "setGuestDetails", "email": email, "name": "Ada Lovelace", "phone": "+49 30 1234567"}]),
                    )
                    .await
                    .assert_status(StatusCode::OK);
            }
        });
        delivered.assert_status(StatusCode::OK);
        let view = guest.get(&format!("/carts/{}", cart.id)).await;
        view.assert_status(StatusCode::OK);
        let payment = &view.body["payments"][0];
        assert_eq!(payment["pspReference"], reference.as_str(), "round {round}");
        assert_eq!(
            transactions(payment),
            [("Charge".to_string(), "Success".to_string())],
            "round {round}: the charge the webhook acknowledged is on the cart"
        );
        assert_eq!(
            view.body["guest"]["email"],
            format!("ada+{round}-3@example.com")
        );
    }
}

/// Loss 2: the redirect was lost, another cart bought the last unit first; the webhook's
/// commit is refused and the payment is refunded at once, the reason visible on the cart.
async fn a_paid_cart_that_cannot_be_ordered_is_refunded_at_once(backend: Backend) {
    let app = App::start(backend).await;
    let (first, mut winner) = app.guest_with_cart("EUR", "DE").await;
    first
        .update(&mut winner, checkout_tests::ready_actions(&[("LAMP", 5)]))
        .await
        .assert_status(StatusCode::OK);
    let (second, mut loser) = app.guest_with_cart("EUR", "DE").await;
    second
        .update(&mut loser, checkout_tests::ready_actions(&[("LAMP", 1)]))
        .await
        .assert_status(StatusCode::OK);
    let late = app.start_payment(&second, &loser, None).await;
    app.pay(&mut winner, None).await;
    first
        .post("/orders", order_request(&winner))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.stock("LAMP").await, 0);

    let event = app.payment_event(&late, true);
    let delivered = app.deliver(&event).await;
    delivered.assert_status(StatusCode::OK);
    assert_eq!(delivered.body["effect"], "reversed");
    let view = second.get(&format!("/carts/{}", loser.id)).await;
    assert_eq!(view.body["state"], "Active");
    let payment = &view.body["payments"][0];
    assert_eq!(
        transactions(payment),
        [
            ("Charge".to_string(), "Success".to_string()),
            ("Refund".to_string(), "Success".to_string())
        ]
    );
    let reason = payment["transactions"][1]["reason"].as_str().unwrap();
    assert!(reason.contains("available"), "{reason}");
    assert_eq!(app.psp_requests("refund").len(), 1);
    // A redelivery changes nothing and asks for no second refund.
    app.deliver(&event).await.assert_status(StatusCode::OK);
    assert_eq!(app.psp_requests("refund").len(), 1);
}

/// A saved order for `MUG` × 2; its number.
async fn saved_order(app: &App) -> (Client, CartRef, String) {
    let (guest, cart) = app.ready_customer_cart("alice").await;
    let saved = guest
        .post(
            "/orders",
            json!({"cartId": cart.id, "cartVersion": cart.version, "action": "save_order"}),
        )
        .await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["paymentState"], "Pending");
    let number = saved.body["orderNumber"].as_str().unwrap().to_string();
    (guest, cart, number)
}

/// Loss 3, first half: a saved order can be paid after the fact, and is then `Paid` for good.
async fn a_saved_order_takes_its_own_payment(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, _cart, number) = saved_order(&app).await;
    let total = cents(&guest.get(&format!("/orders/{number}")).await.body["totals"]["total"]);
    // Only the owner may pay it; anyone else sees nothing.
    app.anonymous()
        .post(&format!("/orders/{number}/payments"), json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    guest
        .post(
            &format!("/orders/{number}/payments"),
            json!({"amount": total + 1}),
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    let created = guest
        .post(&format!("/orders/{number}/payments"), json!({}))
        .await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(cents(&created.body["amountPlanned"]), total);
    let reference = created.body["pspReference"].as_str().unwrap().to_string();
    let delivered = app.deliver(&app.payment_event(&reference, true)).await;
    delivered.assert_status(StatusCode::OK);
    assert_eq!(delivered.body["effect"]["paid"], number.as_str());

    let order = guest.get(&format!("/orders/{number}")).await.body;
    assert_eq!(order["paymentState"], "Paid");
    assert_eq!(order["state"], "Open");
    assert!(order.get("expiresAt").is_none(), "{order:#}");
    // A paid order never expires, and owes nothing more.
    app.advance(LATER);
    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        guest.get(&format!("/orders/{number}")).await.body["state"],
        "Open"
    );
    guest
        .post(&format!("/orders/{number}/payments"), json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "NothingOwed");
}

/// Loss 3, second half: a partly paid saved order still expires, giving back its stock and
/// the partial payment.
async fn a_partly_paid_saved_order_expires_and_is_refunded(backend: Backend) {
    let app = App::start(backend).await;
    let stock = app.stock("MUG").await;
    let (guest, _cart, number) = saved_order(&app).await;
    assert_eq!(app.stock("MUG").await, stock - 2);
    let created = guest
        .post(
            &format!("/orders/{number}/payments"),
            json!({"amount": 1000}),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let reference = created.body["pspReference"].as_str().unwrap().to_string();
    app.deliver(&app.payment_event(&reference, true))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(
        guest.get(&format!("/orders/{number}")).await.body["paymentState"],
        "BalanceDue"
    );

    app.advance(LATER);
    let report = app
        .storefront
        .sweeper()
        .sweep(Duration::minutes(30), sweep_budget())
        .await
        .unwrap();
    assert_eq!((report.orders_released, report.orders_reversed), (1, 1));
    let order = guest.get(&format!("/orders/{number}")).await.body;
    assert_eq!(order["state"], "Cancelled");
    assert_eq!(order["paymentState"], "Refunded");
    assert_eq!(
        transactions(&order["payments"][0]),
        [
            ("Charge".to_string(), "Success".to_string()),
            ("Refund".to_string(), "Success".to_string())
        ]
    );
    assert_eq!(app.stock("MUG").await, stock);
    // Sweeping again does nothing twice.
    let again = app
        .storefront
        .sweeper()
        .sweep(Duration::minutes(30), sweep_budget())
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    assert_eq!(app.psp_requests("refund").len(), 1);
}

/// A paid cart nobody orders (the address was never given): the sweeper gives the money
/// back once the grace period is over, not before.
async fn the_sweeper_refunds_a_paid_cart_never_ordered(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "MUG", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let reference = app.start_payment(&guest, &cart, None).await;
    let delivered = app.deliver(&app.payment_event(&reference, true)).await;
    assert_eq!(delivered.body["effect"], "recorded");

    app.advance(Duration::minutes(10));
    assert_eq!(
        app.storefront
            .sweeper()
            .sweep(Duration::minutes(30), sweep_budget())
            .await
            .unwrap(),
        Default::default()
    );
    app.advance(Duration::minutes(21));
    let report = app
        .storefront
        .sweeper()
        .sweep(Duration::minutes(30), sweep_budget())
        .await
        .unwrap();
    assert_eq!(report.carts_reversed, 1);
    let view = guest.get(&format!("/carts/{}", cart.id)).await.body;
    let refund = &view["payments"][0]["transactions"][1];
    assert_eq!(
        (refund["kind"].as_str(), refund["state"].as_str()),
        (Some("Refund"), Some("Success"))
    );
    assert!(refund["reason"].as_str().unwrap().contains("grace"));
    // Nothing is left to sweep.
    assert_eq!(
        app.storefront
            .sweeper()
            .sweep(Duration::minutes(30), sweep_budget())
            .await
            .unwrap(),
        Default::default()
    );
}

/// Bounded growth: the eleventh payment of a cart is a 409 problem, never a 5xx.
async fn a_cart_takes_at_most_ten_payments(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    for _ in 0..10 {
        app.start_payment(&guest, &cart, Some(1)).await;
    }
    guest
        .post(
            &format!("/carts/{}/payments", cart.id),
            json!({"amount": 1}),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "TooManyPayments");
}

/// The webhook recorded the payment, then its commit failed for a passing reason (the store
/// was unavailable): the answer is a 503 with `Retry-After`, and the provider's redelivery
/// commits the order instead of stopping at "duplicate".
async fn a_commit_that_failed_after_the_payment_was_recorded_is_retried(backend: Backend) {
    let (app, _faults) = FaultyStore::app(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    let event = app.payment_event(&reference, true);
    // Calls of this delivery: claim the event id, read the cart, record the payment, commit.
    let failed = FaultyStore::scoped(
        Some(FaultSpec {
            nth: 4,
            point: FaultPoint::Before,
        }),
        app.deliver(&event),
    )
    .await;
    failed.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    let (stored, order) = app.stored(&cart).await;
    assert!(order.is_none());
    assert_eq!(
        stored.payments[0].secured(),
        stored.totals.total.cent_amount
    );

    let redelivered = app.deliver(&event).await;
    redelivered.assert_status(StatusCode::OK);
    assert!(
        redelivered.body["effect"]["ordered"].is_string(),
        "{:#}",
        redelivered.body
    );
    let (_, order) = app.stored(&cart).await;
    assert_eq!(
        order.expect("ordered").payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
}

/// The commit was written but its answer lost (a crash or timeout after the write): the
/// redelivery finds the order and changes nothing; the storefront replays it.
async fn a_commit_whose_answer_was_lost_is_not_repeated(backend: Backend) {
    let (app, _faults) = FaultyStore::app(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    let event = app.payment_event(&reference, true);
    // Writes of this delivery: claim the event id, record the payment, commit.
    let failed = FaultyStore::scoped(
        Some(FaultSpec {
            nth: 3,
            point: FaultPoint::After,
        }),
        app.deliver(&event),
    )
    .await;
    failed.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    let (_, order) = app.stored(&cart).await;
    let number = order
        .expect("the commit was written")
        .order_number
        .to_string();

    app.deliver(&event).await.assert_status(StatusCode::OK);
    let late = guest.post("/orders", order_request(&cart)).await;
    late.assert_status(StatusCode::OK);
    assert_eq!(late.body["orderNumber"], number.as_str());
    assert!(app.psp_requests("refund").is_empty());
}

/// A cart whose total is zero (a 100 % discount, free pickup) checks out without a payment.
async fn a_cart_that_costs_nothing_checks_out_without_paying(backend: Backend) {
    let app = App::start(backend).await;
    let mut catalog: Value = checkout_tests::serde_json::from_str(checkout_tests::CATALOG).unwrap();
    let config = &mut catalog["config"];
    config.as_object_mut().unwrap().remove("minOrderValue");
    config["shippingMethods"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "id": "pickup", "name": "Pickup", "countries": ["DE"], "prices": {"EUR": 0},
            "taxCategory": "standard"
        }));
    app.admin()
        .put("/admin/config", catalog["config"].clone())
        .await
        .assert_status(StatusCode::OK);
    app.admin()
        .put(
            "/admin/discount-codes/ALLFREE",
            json!({"kind": "percentage", "value": 10000}),
        )
        .await
        .assert_status(StatusCode::OK);
    let (guest, mut cart) = app.ready_guest_cart().await;
    let free = guest
        .update(
            &mut cart,
            json!([
                {"action": "setShippingMethod", "shippingMethodId": "pickup"},
                {"action": "addDiscountCode", "code": "ALLFREE"}
            ]),
        )
        .await;
    free.assert_status(StatusCode::OK);
    assert_eq!(cents(&free.body["totals"]["total"]), 0);
    let order = guest.post("/orders", order_request(&cart)).await;
    order.assert_status(StatusCode::CREATED);
    assert_eq!(order.body["paymentState"], "Paid");
}

/// Bounded growth that drops nothing (card testing, 3-D Secure failures): fifty declines of
/// one payment, then its success. The declines are compacted (the last five kept, the rest
/// counted), so the item stays small, and the success is recorded and makes the order.
async fn fifty_declines_then_a_success_still_make_the_order(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let reference = app.start_payment(&guest, &cart, None).await;
    for _ in 0..50 {
        // Each failed attempt at the same intent is its own interaction.
        app.deliver(&app.payment_event(&reference, false))
            .await
            .assert_status(StatusCode::OK);
    }
    let paid = app.deliver(&app.payment_event(&reference, true)).await;
    paid.assert_status(StatusCode::OK);
    assert!(
        paid.body["effect"]["ordered"].is_string(),
        "{:#}",
        paid.body
    );
    let (_, order) = app.stored(&cart).await;
    let order = order.expect("the success made the order");
    assert_eq!(order.payment_state, PaymentState::Paid);
    let payment = &order.payments[0];
    assert_eq!(payment.failures_compacted, 45);
    assert_eq!(
        payment
            .transactions
            .iter()
            .filter(|t| t.is_failed_attempt())
            .count(),
        5
    );
    assert_eq!(payment.secured(), order.totals.total.cent_amount);
    assert!(app.psp_requests("refund").is_empty(), "nothing given back");
}

/// Money being given back, or paid for an older total, pays for nothing: a payment started
/// for two mugs succeeds after the customer went down to one, so the webhook gives it back
/// (its refund still pending at Stripe). The new total is still owed: planning a payment asks
/// for all of it, and the saved order awaits payment rather than being `Paid` with money
/// that is on its way back.
async fn money_being_given_back_never_pays_a_saved_order(backend: Backend) {
    let app = App::start(backend).await;
    app.psp.answer_refunds_pending(true);
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let reference = app.start_payment(&alice, &cart, None).await;
    let line = alice.get(&format!("/carts/{}", cart.id)).await.body["lineItems"][0]["id"].clone();
    alice
        .update(
            &mut cart,
            json!([{"action": "changeLineItemQuantity", "lineItemId": line, "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let late = app.deliver(&app.payment_event(&reference, true)).await;
    assert_eq!(late.body["effect"], "reversed");
    let total = app.stored(&cart).await.0.totals.total.cent_amount;

    let planned = alice
        .post(&format!("/carts/{}/payments", cart.id), json!({}))
        .await;
    planned.assert_status(StatusCode::CREATED);
    assert_eq!(
        cents(&planned.body["amountPlanned"]),
        total,
        "all of it is owed"
    );

    let mut body = order_request(&cart);
    body["action"] = json!("save_order");
    let saved = alice.post("/orders", body).await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["paymentState"], "Pending");
    assert!(
        saved.body["expiresAt"].is_string(),
        "it still holds, and expires"
    );
    let number = saved.body["orderNumber"].as_str().unwrap();
    let owed = alice
        .post(&format!("/orders/{number}/payments"), json!({}))
        .await;
    owed.assert_status(StatusCode::CREATED);
    assert_eq!(cents(&owed.body["amountPlanned"]), total);
}

on_both_stores!(
    money_being_given_back_never_pays_a_saved_order,
    a_commit_that_failed_after_the_payment_was_recorded_is_retried,
    a_commit_whose_answer_was_lost_is_not_repeated,
    a_cart_that_costs_nothing_checks_out_without_paying,
    fifty_declines_then_a_success_still_make_the_order,
    a_cart_edit_racing_a_payment_never_erases_it,
    a_paid_cart_that_cannot_be_ordered_is_refunded_at_once,
    a_saved_order_takes_its_own_payment,
    a_partly_paid_saved_order_expires_and_is_refunded,
    the_sweeper_refunds_a_paid_cart_never_ordered,
    a_cart_takes_at_most_ten_payments,
);
