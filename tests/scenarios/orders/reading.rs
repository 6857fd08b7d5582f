use super::*;

async fn nobody_but_the_owner_orders_or_reads(backend: Backend) {
    let app = App::start(backend).await;
    let alice = app.customer("alice");
    let created = alice
        .post("/carts", json!({"currency": "EUR", "country": "DE"}))
        .await;
    let mut cart = CartRef::from(&created.body);
    let mut actions = ready_actions(&[("MUG", 1)]);
    actions.as_array_mut().unwrap().pop();
    actions
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "setCustomerEmail", "email": "alice@example.com"}));
    alice
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;

    for stranger in [
        app.customer("mallory"),
        app.anonymous(),
        app.anonymous().with_header("x-session-id", "guess"),
    ] {
        stranger
            .post("/orders", order_request(&cart))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    }
    let order = alice.post("/orders", order_request(&cart)).await;
    order.assert_status(StatusCode::CREATED);
    assert_eq!(order.body["customerId"], "alice");
    assert_eq!(order.body["isGuest"], false);
    assert!(order.body.get("claimToken").is_none());
    let number = order.body["orderNumber"].as_str().unwrap();
    let path = format!("/orders/{number}");
    alice.get(&path).await.assert_status(StatusCode::OK);
    app.customer("mallory")
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.anonymous()
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    // Guest lookup is for guest orders only.
    app.anonymous()
        .post(
            "/orders/lookup",
            json!({"email": "alice@example.com", "orderNumber": number}),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
}

async fn guests_look_up_their_order_by_email_and_number(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let order = guest.post("/orders", order_request(&cart)).await.body;
    let number = order["orderNumber"].as_str().unwrap();
    let found = app
        .anonymous()
        .post(
            "/orders/lookup",
            json!({"email": "ADA@example.com", "orderNumber": number}),
        )
        .await;
    found.assert_status(StatusCode::OK);
    assert_eq!(found.body["orderNumber"], number);
    for (email, n) in [
        ("eve@example.com", number),
        ("ada@example.com", "20990101-AAAAAAAA"),
    ] {
        app.anonymous()
            .post("/orders/lookup", json!({"email": email, "orderNumber": n}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    }
    // Without the session token, the guest's own order is not readable by number.
    app.anonymous()
        .get(&format!("/orders/{number}"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    guest
        .get(&format!("/orders/{number}"))
        .await
        .assert_status(StatusCode::OK);
}

/// `count` paid orders of `customer`, a second apart; their numbers, newest first.
async fn place_orders(app: &App, customer: &checkout_tests::Client, count: usize) -> Vec<String> {
    let mut numbers = Vec::new();
    for _ in 0..count {
        let created = customer
            .post("/carts", json!({"currency": "EUR", "country": "DE"}))
            .await;
        let mut cart = CartRef::from(&created.body);
        customer
            .update(
                &mut cart,
                json!([{"action": "addLineItem", "sku": "PEN", "quantity": 2},
                {"action": "setShippingAddress", "address": checkout_tests::address_de()},
                {"action": "setBillingAddress", "address": checkout_tests::address_de()},
                {"action": "setShippingMethod", "shippingMethodId": "standard"},
                {"action": "setCustomerEmail", "email": "alice@example.com"}]),
            )
            .await
            .assert_status(StatusCode::OK);
        app.pay(&mut cart, None).await;
        let order = customer.post("/orders", order_request(&cart)).await;
        numbers.push(order.body["orderNumber"].as_str().unwrap().to_string());
        app.advance(time::Duration::seconds(1));
    }
    numbers.reverse();
    numbers
}

async fn a_customer_pages_through_their_orders_newest_first(backend: Backend) {
    let app = App::start(backend).await;
    let alice = app.customer("alice");
    let numbers = place_orders(&app, &alice, 5).await;
    let first = alice.get("/orders?limit=2").await;
    first.assert_status(StatusCode::OK);
    let mut seen: Vec<String> = first.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["orderNumber"].as_str().unwrap().to_string())
        .collect();
    let mut next = first.body["next"].as_str().map(str::to_string);
    while let Some(cursor) = next {
        let page = alice.get(&format!("/orders?limit=2&cursor={cursor}")).await;
        seen.extend(
            page.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["orderNumber"].as_str().unwrap().to_string()),
        );
        next = page.body["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, numbers);
    assert_eq!(
        app.customer("bob").get("/orders").await.body["results"],
        json!([])
    );
    app.anonymous()
        .get("/orders")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    assert_eq!(
        alice.get("/orders?cursor=nonsense").await.pointers(),
        ["/cursor"]
    );
    assert_eq!(alice.get("/orders?limit=0").await.pointers(), ["/limit"]);
}

on_both_stores!(
    nobody_but_the_owner_orders_or_reads,
    guests_look_up_their_order_by_email_and_number,
    a_customer_pages_through_their_orders_newest_first,
);

/// DynamoDB ends a Query page at 1 MB with `LastEvaluatedKey`, however few items it holds.
/// The store here cuts every page after two items, as 1 MB of large orders would: the
/// history still fills each page and still reaches the oldest order.
#[tokio::test]
async fn a_history_page_cut_short_by_dynamodb_continues_where_it_was_cut() {
    use checkout_domain::ports::orders::OrderStore as _;
    let app = App::start(Backend::DynamoDb).await;
    let numbers = place_orders(&app, &app.customer("alice"), 5).await;
    let store = app.dynamo.clone().unwrap().with_query_page_items(2);
    let alice = checkout_domain::model::values::CustomerId::parse("alice").unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .customer_orders(&alice, after.as_deref(), 3)
            .await
            .unwrap();
        let numbers: Vec<String> = page
            .orders
            .iter()
            .map(|o| o.order_number.to_string())
            .collect();
        assert!(
            numbers.len() == 3 || page.next.is_none(),
            "only the last page may be short: {numbers:?}"
        );
        seen.extend(numbers);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, numbers);
}
