use super::*;

/// Places the order expecting `code` and the customer-facing summary of the change.
async fn refused_then_confirmed(
    app: &App,
    guest: &checkout_tests::Client,
    cart: &mut CartRef,
    code: &str,
) -> Value {
    let before = guest.get(&format!("/carts/{}", cart.id)).await.body;
    let refused = guest.post("/orders", order_request(cart)).await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, code).clone();
    let after = guest.get(&format!("/carts/{}", cart.id)).await.body;
    assert_eq!(after, before, "a refused commit writes nothing");
    assert_eq!(after["state"], "Active");
    // The customer confirms the new total (a recalculation), pays the difference, and orders.
    let confirmed = guest.update(cart, json!([{"action": "recalculate"}])).await;
    confirmed.assert_status(StatusCode::OK);
    assert_eq!(
        confirmed.body["totals"]["total"],
        problem["current"]["total"]
    );
    // The payment for the old total no longer fits: it was given back, and the customer pays
    // the new total.
    assert_eq!(
        app.psp_requests("refund").len(),
        1,
        "the old payment is refunded"
    );
    let owed = cents(&confirmed.body["totals"]["total"]);
    app.pay(cart, Some(owed)).await;
    guest
        .post("/orders", order_request(cart))
        .await
        .assert_status(StatusCode::CREATED);
    problem
}

async fn a_price_change_before_commit_asks_the_customer_to_confirm(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.paid_guest_cart().await;
    app.admin()
        .put("/admin/products/MUG", json!({"name": "Mug", "prices": {"EUR": 1399}, "stock": 100, "taxCategory": "standard"}))
        .await
        .assert_status(StatusCode::OK);
    let problem = refused_then_confirmed(&app, &guest, &mut cart, "PriceChanged").await;
    assert_eq!(problem["recovery"], "confirm_new_total");
    assert_eq!(problem["lines"][0]["sku"], "MUG");
    assert_eq!(cents(&problem["lines"][0]["previousUnitPrice"]), 1299);
    assert_eq!(cents(&problem["lines"][0]["currentUnitPrice"]), 1399);
    // 2 × 13.99 = 27.98, tax 5.3162 → 5.32; shipping 4.99 + 0.95.
    assert_eq!(cents(&problem["current"]["total"]), 2798 + 532 + 499 + 95);
    assert_eq!(cents(&problem["previous"]["total"]), 2598 + 494 + 499 + 95);
}

async fn a_tax_rate_change_before_commit_asks_the_customer_to_confirm(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.paid_guest_cart().await;
    let mut config: Value = checkout_tests::serde_json::from_str(checkout_tests::CATALOG).unwrap();
    config["config"]["taxRates"]["DE"]["standard"] = json!(2000);
    app.admin()
        .put("/admin/config", config["config"].clone())
        .await
        .assert_status(StatusCode::OK);
    let problem = refused_then_confirmed(&app, &guest, &mut cart, "PriceChanged").await;
    assert_eq!(problem["lines"][0]["previousTaxRate"], 1900);
    assert_eq!(problem["lines"][0]["currentTaxRate"], 2000);
    // 25.98 × 20 % = 5.196 → 5.20; shipping 4.99 × 20 % = 0.998 → 1.00.
    assert_eq!(cents(&problem["current"]["tax"]), 520 + 100);
}

async fn an_expired_discount_before_commit_is_named_with_the_new_total(backend: Backend) {
    let app = App::start(backend).await;
    app.admin()
        .put(
            "/admin/discount-codes/FLASH",
            json!({"kind": "percentage", "value": 1000, "validUntil": "2099-01-01T00:00:00Z"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let (guest, mut cart) = app.ready_guest_cart().await;
    guest
        .update(
            &mut cart,
            json!([{"action": "addDiscountCode", "code": "FLASH"}]),
        )
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    app.admin()
        .put(
            "/admin/discount-codes/FLASH",
            json!({"kind": "percentage", "value": 1000, "validUntil": "2020-01-01T00:00:00Z"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let problem =
        refused_then_confirmed(&app, &guest, &mut cart, "DiscountCodeNonApplicable").await;
    assert_eq!(problem["discountCode"], "FLASH");
    assert_eq!(problem["recovery"], "remove_discount");
    assert_eq!(cents(&problem["current"]["discount"]), 0);
    assert_eq!(
        app.redemptions("FLASH").await,
        0,
        "an unused code is not redeemed"
    );
}

async fn a_one_time_code_is_redeemed_once(backend: Backend) {
    let app = App::start(backend).await;
    let mut carts = Vec::new();
    for _ in 0..2 {
        let (guest, mut cart) = app.ready_guest_cart().await;
        guest
            .update(
                &mut cart,
                json!([{"action": "addDiscountCode", "code": "ONCE"}]),
            )
            .await
            .assert_status(StatusCode::OK);
        app.pay(&mut cart, None).await;
        carts.push((guest, cart));
    }
    carts[0]
        .0
        .post("/orders", order_request(&carts[0].1))
        .await
        .assert_status(StatusCode::CREATED);
    let second = carts[1].0.post("/orders", order_request(&carts[1].1)).await;
    assert!(
        second.assert_problem(StatusCode::CONFLICT, "DiscountCodeNonApplicable")["detail"]
            .as_str()
            .unwrap()
            .contains("fully redeemed")
    );
    assert_eq!(app.redemptions("ONCE").await, 1);
}

async fn what_is_missing_is_said_at_once(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "EmptyCart");
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "MUG", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let not_ready = guest.post("/orders", order_request(&cart)).await;
    assert_eq!(
        not_ready.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CartNotReady")["missing"],
        json!([
            "shippingAddress",
            "shippingMethod",
            "billingAddress",
            "guestDetails"
        ])
    );
    guest
        .update(&mut cart, ready_actions(&[]))
        .await
        .assert_status(StatusCode::OK);
    let unpaid = guest.post("/orders", order_request(&cart)).await;
    assert_eq!(
        unpaid.assert_problem(StatusCode::PAYMENT_REQUIRED, "PaymentRequired")["recovery"],
        "pay"
    );
    app.pay(&mut cart, Some(500)).await;
    let short = guest.post("/orders", order_request(&cart)).await;
    let problem = short.assert_problem(StatusCode::CONFLICT, "PaymentAmountMismatch");
    assert_eq!(cents(&problem["authorized"]), 500);
    assert_eq!(problem["recovery"], "reauthorize_payment");
    // A split payment that makes up the rest is enough.
    let owed =
        cents(&guest.get(&format!("/carts/{}", cart.id)).await.body["totals"]["total"]) - 500;
    app.pay(&mut cart, Some(owed)).await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn a_stale_version_is_refused_and_writes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let stale = json!({"cartId": cart.id, "cartVersion": cart.version - 1});
    let problem = guest.post("/orders", stale).await;
    assert_eq!(
        problem.assert_problem(StatusCode::CONFLICT, "ConcurrentModification")["currentVersion"],
        cart.version
    );
    assert_eq!(app.stock("MUG").await, 100);
}

on_both_stores!(
    a_price_change_before_commit_asks_the_customer_to_confirm,
    a_tax_rate_change_before_commit_asks_the_customer_to_confirm,
    an_expired_discount_before_commit_is_named_with_the_new_total,
    a_one_time_code_is_redeemed_once,
    what_is_missing_is_said_at_once,
    a_stale_version_is_refused_and_writes_nothing,
);
