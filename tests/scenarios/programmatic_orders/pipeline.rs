use super::*;

async fn a_full_pipeline_pays_with_a_gift_card_and_a_card(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order(
        "full-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let created = integration(&app).post("/admin/orders", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    let order = &created.body;
    assert_eq!(order["state"], "Open");
    assert_eq!(order["paymentState"], "Paid");
    assert_eq!(cents(&order["totals"]["total"]), FIVE_MUGS);
    let names: Vec<_> = order["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|(_, status)| *status == "completed"));
    // The card is charged exactly the rest; the gift card gave exactly its balance.
    let card = order["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["psp"] == "stripe")
        .expect("a card payment");
    let reference = card["pspReference"].as_str().unwrap();
    assert_eq!(app.psp.captured(reference), FIVE_MUGS - 2_000);
    let kinds: Vec<_> = card["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Authorization", "Charge"]);
    assert_eq!(balance(&app, "GIFT-20").await, 0);
    assert_eq!(app.stock("MUG").await, mugs - 5);
    assert!(app.psp.open_authorizations().is_empty());
    // The order is stored as answered, and a retry replays it without charging again.
    let number = OrderNumber::parse(order["orderNumber"].as_str().unwrap()).unwrap();
    let stored = app.store.order(&number).await.unwrap().expect("stored");
    assert_eq!(
        stored.payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
    let replay = integration(&app).post("/admin/orders", body.clone()).await;
    replay.assert_status(StatusCode::OK);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["orderNumber"], order["orderNumber"]);
    assert_eq!(app.psp_requests("authorize").len(), 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
    let mut other = body;
    other["lineItems"][0]["quantity"] = 6.into();
    integration(&app)
        .post("/admin/orders", other)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
}

/// Each command's own failure: 422 naming it, and stock, gift card and authorizations as before.
async fn each_failing_command_is_named_and_changes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let before = holdings(&app).await;
    let gift_and = |method: &str| json!([{"giftCard": "GIFT-20"}, {"paymentMethod": method}]);
    let mut no_address = paid_order("fail-address", 5, gift_and("pm_card_visa"));
    no_address
        .as_object_mut()
        .unwrap()
        .remove("shippingAddress");
    let declined = paid_order("fail-declined", 5, gift_and("pm_card_chargeDeclined"));
    // A card that pays only 1.00: authorized, then released when the payments fall short.
    let short = paid_order(
        "fail-short",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa", "amount": 100}]),
    );
    let mut lamps = paid_order("fail-stock", 1, gift_and("pm_card_visa"));
    lamps["lineItems"] = json!([{"sku": "LAMP", "quantity": 6}]);
    let cases = [
        (no_address, "calculate_shipping", 0, "InvalidInput"),
        (declined, "authorize_payments", 2, "PaymentDeclined"),
        (short, "process_order", 3, "InsufficientPayment"),
        (lamps, "process_order", 3, "OutOfStock"),
    ];
    for (body, command, index, cause) in cases {
        let refused = integration(&app).post("/admin/orders", body.clone()).await;
        let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
        assert_eq!(problem["command"], command, "{problem}");
        assert_eq!(problem["index"], index, "{problem}");
        assert_eq!(problem["cause"]["code"], cause, "{problem}");
        assert_eq!(
            holdings(&app).await,
            before,
            "{command}: nothing held or taken"
        );
        // The failure is the key's answer: a retry gets it again, and nothing runs twice.
        let again = integration(&app).post("/admin/orders", body).await;
        again.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
        assert_eq!(again.headers["idempotent-replayed"], "true");
    }
    let missing = integration(&app)
        .post(
            "/admin/orders",
            paid_order("fail-address", 5, gift_and("pm_card_visa")),
        )
        .await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
    // What was authorized was cancelled, with its own key.
    assert!(!app.psp_requests("cancel").is_empty());
    assert!(app.psp.open_authorizations().is_empty());
}

/// Goods worth less than the configured minimum order value: `process_order` fails naming
/// it, and the card authorized before it is released — not a retry-later that holds the
/// card until the authorization lapses.
async fn an_order_below_the_minimum_fails_process_order_and_holds_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mut catalog: Value = checkout_tests::serde_json::from_str(checkout_tests::CATALOG).unwrap();
    catalog["config"]["minOrderValue"] = json!({"EUR": 100_000});
    app.admin()
        .put("/admin/config", catalog["config"].clone())
        .await
        .assert_status(StatusCode::OK);
    let before = holdings(&app).await;
    let body = paid_order(
        "below-minimum",
        1,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let refused = integration(&app).post("/admin/orders", body).await;
    let problem = refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CommandFailed");
    assert_eq!(problem["command"], "process_order", "{problem}");
    assert_eq!(
        problem["cause"]["code"], "BelowMinimumOrderValue",
        "{problem}"
    );
    assert_eq!(holdings(&app).await, before, "nothing held or taken");
    assert!(app.psp.open_authorizations().is_empty());
    assert_eq!(app.psp_requests("cancel").len(), 1);
}

/// A capture that answers `processing` (a method that settles later) is recorded pending;
/// Stripe's `payment_intent.succeeded` for that same charge then records it captured — not
/// taken for a report seen before — so a refund of the order is a refund, not a cancel.
async fn a_capture_still_processing_is_settled_by_the_webhook(backend: Backend) {
    use checkout_domain::model::payment::{TransactionKind, TransactionState};
    let app = App::start(backend).await;
    app.psp.process_captures_later();
    let body = paid_order(
        "processing-1",
        2,
        json!([{"paymentMethod": "pm_card_visa"}]),
    );
    let created = integration(&app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    let number = OrderNumber::parse(created.body["orderNumber"].as_str().unwrap()).unwrap();
    let card = |order: &checkout_domain::model::order::Order| order.payments[0].clone();
    let order = app.store.order(&number).await.unwrap().unwrap();
    let charges: Vec<_> = card(&order)
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Charge)
        .map(|t| t.state)
        .collect();
    assert_eq!(charges, [TransactionState::Pending]);
    assert!(!card(&order).charged());

    let reference = card(&order).psp_reference;
    app.deliver(&app.payment_event(&reference, true))
        .await
        .assert_status(StatusCode::OK);
    let order = app.store.order(&number).await.unwrap().unwrap();
    assert!(card(&order).charged(), "the webhook settled the capture");
    assert_eq!(
        card(&order).secured(),
        cents(&created.body["totals"]["total"])
    );
    assert_eq!(
        order.payment_state,
        checkout_domain::model::payment::PaymentState::Paid
    );
}

on_both_stores!(
    a_capture_still_processing_is_settled_by_the_webhook,
    an_order_below_the_minimum_fails_process_order_and_holds_nothing,
    a_full_pipeline_pays_with_a_gift_card_and_a_card,
    each_failing_command_is_named_and_changes_nothing,
);
