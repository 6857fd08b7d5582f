use super::*;

async fn only_integrations_and_administrators_may_order(backend: Backend) {
    let app = App::start(backend).await;
    let body = paid_order("auth-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    app.anonymous()
        .post("/admin/orders", body.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.customer("mallory")
        .post("/admin/orders", body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.with_scope("reader", "orders:read")
        .post("/admin/orders/batch", json!({"orders": [body.clone()]}))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.admin()
        .post("/admin/orders", body)
        .await
        .assert_status(StatusCode::CREATED);
}

async fn bad_input_is_a_400_with_pointers_and_writes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "POUNDS", "GBP", 5_000).await;
    let client = integration(&app);
    let many = client
        .post(
            "/admin/orders",
            json!({"lineItems": [{"sku": "MUG", "quantity": 0}],
                   "commands": ["fly", "process_order", "process_order"],
                   "payments": [{"paymentMethod": "pm_card_visa", "amount": -5}]}),
        )
        .await;
    assert_eq!(
        many.pointers(),
        [
            "/idempotencyKey",
            "/lineItems/0/quantity",
            "/payments/0/amount",
            "/commands/0",
            "/commands/2"
        ]
    );
    let mut unknown = paid_order("bad-1", 1, json!([{"giftCard": "POUNDS"}]));
    unknown["lineItems"] = json!([{"sku": "NOPE", "quantity": 1}]);
    assert_eq!(
        client.post("/admin/orders", unknown).await.pointers(),
        ["/lineItems/0/sku", "/payments/0/giftCard"]
    );
    let mut typo = paid_order("bad-1", 1, json!([]));
    typo["lineItem"] = json!([]);
    assert_eq!(
        client.post("/admin/orders", typo).await.pointers(),
        ["/lineItem"]
    );
    // Nothing was written under the key: it still takes a valid order.
    client
        .post(
            "/admin/orders",
            paid_order("bad-1", 1, json!([{"paymentMethod": "pm_card_visa"}])),
        )
        .await
        .assert_status(StatusCode::CREATED);
}

on_both_stores!(
    only_integrations_and_administrators_may_order,
    bad_input_is_a_400_with_pointers_and_writes_nothing,
);
