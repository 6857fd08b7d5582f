use super::*;

async fn a_paid_cart_becomes_one_order_with_a_full_snapshot(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let stock_before = app.stock("MUG").await;

    let created = guest.post("/orders", order_request(&cart)).await;
    created.assert_status(StatusCode::CREATED);
    let order = &created.body;
    let number = order["orderNumber"].as_str().unwrap().to_string();
    assert_eq!(
        number.len(),
        17,
        "date, dash, 8 Crockford characters: {number}"
    );
    assert_eq!(order["state"], "Open");
    assert_eq!(order["paymentState"], "Paid");
    assert_eq!(order["cartId"], cart.id.as_str());
    assert_eq!(order["customerEmail"], "ada@example.com");
    assert_eq!(order["isGuest"], true);
    assert_eq!(order["lineItems"][0]["sku"], "MUG");
    assert_eq!(cents(&order["lineItems"][0]["unitPrice"]), 1299);
    assert_eq!(order["shippingAddress"]["city"], "Berlin");
    assert_eq!(order["billingAddress"]["city"], "Berlin");
    assert_eq!(order["shippingInfo"]["id"], "standard");
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    // 2 × 12.99 = 25.98; shipping 4.99; tax 4.94 + 0.95.
    assert_eq!(cents(&order["totals"]["total"]), 2598 + 499 + 494 + 95);
    assert!(
        order.get("claimToken").is_none(),
        "a claim token reaches the guest only by email"
    );
    assert!(order.get("owner").is_none());
    assert_eq!(app.stock("MUG").await, stock_before - 2);

    let stored = guest.get(&format!("/carts/{}", cart.id)).await.body;
    assert_eq!(stored["state"], "Ordered");
    assert_eq!(stored["orderNumber"], number.as_str());
    let mut stale = CartRef {
        id: cart.id.clone(),
        version: stored["version"].as_u64().unwrap(),
    };
    let refused = guest
        .update(
            &mut stale,
            json!([{"action": "addLineItem", "sku": "PEN", "quantity": 1}]),
        )
        .await;
    assert_eq!(
        refused.assert_problem(StatusCode::CONFLICT, "CartAlreadyOrdered")["orderNumber"],
        number.as_str()
    );

    // The owner reads it; a later catalog change does not touch it.
    app.admin()
        .put("/admin/products/MUG", json!({"name": "Mug v2", "prices": {"EUR": 9999}, "stock": 1, "taxCategory": "standard"}))
        .await
        .assert_status(StatusCode::OK);
    let read = guest.get(&format!("/orders/{number}")).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(cents(&read.body["lineItems"][0]["unitPrice"]), 1299);
    assert_eq!(read.body["lineItems"][0]["name"], "Mug");

    // A retry of the same commit (no key) replays the order instead of failing.
    let retry = guest.post("/orders", order_request(&cart)).await;
    retry.assert_status(StatusCode::OK);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.body["orderNumber"], number.as_str());
    assert_eq!(app.stock("MUG").await, 1, "a replay takes no stock");
}

async fn fifty_identical_requests_make_exactly_one_order(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let body = order_request(&cart);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (guest, body) = (guest.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            guest.post_with_key("/orders", "checkout-1", body).await
        }));
    }
    let mut bodies = Vec::new();
    let mut in_progress = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            StatusCode::CREATED | StatusCode::OK => bodies.push(response.body),
            _ => {
                response.assert_problem(StatusCode::CONFLICT, "RequestInProgress");
                assert!(response.headers.contains_key("retry-after"));
                in_progress += 1;
            }
        }
    }
    assert!(!bodies.is_empty());
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "every answer is the same order"
    );
    let settled = guest.post_with_key("/orders", "checkout-1", body).await;
    settled.assert_status(StatusCode::OK);
    assert_eq!(settled.headers["idempotent-replayed"], "true");
    assert_eq!(settled.body, bodies[0]);
    assert_eq!(
        app.stock("MUG").await,
        98,
        "stock taken once ({in_progress} were told to retry)"
    );
}

async fn twenty_carts_racing_for_five_units_make_five_orders(backend: Backend) {
    let app = App::start(backend).await;
    app.admin()
        .put(
            "/admin/products/LAST",
            json!({"name": "Last", "prices": {"EUR": 1000}, "stock": 5, "taxCategory": "standard"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let tasks: Vec<_> = app
        .paid_carts_of_one("LAST", 20)
        .await
        .into_iter()
        .map(|(guest, cart)| {
            tokio::spawn(async move { guest.post("/orders", order_request(&cart)).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == StatusCode::CREATED {
            created += 1;
        } else {
            let problem = response.assert_problem(StatusCode::CONFLICT, "OutOfStock");
            assert_eq!(problem["items"][0]["sku"], "LAST");
            assert_eq!(problem["items"][0]["requested"], 1);
        }
    }
    assert_eq!(created, 5);
    assert_eq!(app.stock("LAST").await, 0);
}

async fn an_unpaid_saved_order_releases_its_stock_and_code_when_it_expires(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.ready_customer_cart("alice").await;
    guest
        .update(
            &mut cart,
            json!([{"action": "addDiscountCode", "code": "ONCE"}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let mut body = order_request(&cart);
    body["action"] = json!("save_order");
    let saved = guest.post("/orders", body).await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["paymentState"], "Pending");
    assert!(saved.body["expiresAt"].is_string());
    assert_eq!(app.stock("MUG").await, 98, "stock is reserved");
    assert_eq!(app.redemptions("ONCE").await, 1);

    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        0,
        "not before its hold ends"
    );
    app.advance(checkout_domain::model::commit_plan::SAVED_ORDER_HOLD + time::Duration::seconds(1));
    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        0,
        "released once"
    );
    assert_eq!(app.stock("MUG").await, 100);
    assert_eq!(app.redemptions("ONCE").await, 0);
    let number = saved.body["orderNumber"].as_str().unwrap();
    assert_eq!(
        guest.get(&format!("/orders/{number}")).await.body["state"],
        "Cancelled"
    );
}

on_both_stores!(
    a_paid_cart_becomes_one_order_with_a_full_snapshot,
    fifty_identical_requests_make_exactly_one_order,
    twenty_carts_racing_for_five_units_make_five_orders,
    an_unpaid_saved_order_releases_its_stock_and_code_when_it_expires,
);

/// The budget of rule 3, counted through an SDK interceptor on DynamoDB Local.
#[tokio::test]
async fn a_new_order_costs_one_read_and_one_transaction_and_a_replay_one_read() {
    let app = App::start(Backend::DynamoDb).await;
    let (guest, cart) = app.paid_guest_cart().await;
    app.requests.take();
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.requests.take(), ["Query", "TransactWriteItems"]);
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(app.requests.take(), ["Query"]);
    // With an Idempotency-Key: one read of the cart, its order and the key's record, then
    // the transaction, which also writes the record; its replay is the read alone.
    let (guest, cart) = app.paid_guest_cart().await;
    app.requests.take();
    guest
        .post_with_key("/orders", "budget", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.requests.take(), ["BatchGetItem", "TransactWriteItems"]);
    guest
        .post_with_key("/orders", "budget", order_request(&cart))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(app.requests.take(), ["BatchGetItem"]);
}
