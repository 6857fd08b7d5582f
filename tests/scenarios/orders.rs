//! The commit step: `POST /orders` turns a cart into an order exactly once, on both stores.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, order_request, ready_actions, App, Backend, CartRef};
use http::StatusCode;

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

async fn keys_replay_refuse_other_payloads_and_wait_for_the_first(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let first = guest
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await;
    first.assert_status(StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = guest
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body, first.body);
    let other = guest
        .post_with_key(
            "/orders",
            "k-1",
            json!({"cartId": cart.id, "cartVersion": cart.version, "orderNumber": "K1-OTHER"}),
        )
        .await;
    assert_eq!(
        other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused")["recovery"],
        "use_new_key"
    );
    // Another caller's identical key is another key: it never sees this order.
    let (stranger, _) = app.guest_with_cart("EUR", "DE").await;
    stranger
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    let bad_key = guest
        .post_with_key("/orders", &"x".repeat(256), order_request(&cart))
        .await;
    assert_eq!(bad_key.pointers(), ["/headers/Idempotency-Key"]);
}

async fn a_refused_request_does_not_burn_its_key(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.ready_guest_cart().await;
    guest
        .post_with_key("/orders", "k-2", order_request(&cart))
        .await
        .assert_problem(StatusCode::PAYMENT_REQUIRED, "PaymentRequired");
    app.pay(&mut cart, None).await;
    // Same key, new version: the refusal was not stored, so this is a fresh request.
    guest
        .post_with_key("/orders", "k-2", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn a_crashed_request_unlocks_its_key_at_its_deadline(backend: Backend) {
    use checkout_domain::model::idempotency::{IdempotencyRecord, RecordState};
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    // What a crashed invocation leaves: the key held in flight until its deadline. The cart is
    // ordered through the API first (key k-3); then an invocation with key k-4 for the same
    // request takes its key and crashes. Keys are scoped to the caller.
    let body = order_request(&cart);
    let created = guest.post_with_key("/orders", "k-3", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    let now = app.storefront.now();
    let fingerprint = checkout_domain::model::idempotency::fingerprint(
        "POST /orders",
        &checkout_tests::serde_json::from_value::<
            checkout_domain::usecases::checkout::CreateOrderInput,
        >(body.clone())
        .unwrap(),
    );
    let session = guest_scope(&app, &cart).await;
    let record = IdempotencyRecord {
        key: format!("orders#guest:{session}#k-4"),
        fingerprint,
        state: RecordState::InFlight {
            locked_until: now + time::Duration::seconds(20),
        },
        expires_at: (now + time::Duration::hours(24)).unix_timestamp(),
    };
    assert!(app
        .store
        .claim_idempotency(&record, now)
        .await
        .unwrap()
        .is_none());
    let waiting = guest.post_with_key("/orders", "k-4", body.clone()).await;
    let problem = waiting.assert_problem(StatusCode::CONFLICT, "RequestInProgress");
    assert_eq!(problem["recovery"], "retry_later");
    assert_eq!(waiting.headers["retry-after"], "20");
    app.advance(time::Duration::seconds(21));
    let after = guest.post_with_key("/orders", "k-4", body).await;
    after.assert_status(StatusCode::OK);
    assert_eq!(
        after.body["orderNumber"], created.body["orderNumber"],
        "the cart replays its order"
    );
}

/// The stored session hash of a guest cart (how idempotency keys are scoped).
async fn guest_scope(app: &App, cart: &CartRef) -> String {
    let id = checkout_domain::model::values::CartId::parse(&cart.id).unwrap();
    match app.store.cart(&id).await.unwrap().unwrap().owner {
        checkout_domain::model::cart::CartOwner::Guest { session_hash } => session_hash.to_string(),
        other => panic!("a guest cart, got {other:?}"),
    }
}

async fn client_order_numbers_are_honoured_and_unique(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let mut body = order_request(&cart);
    body["orderNumber"] = json!("SHOP-1001");
    let created = guest.post("/orders", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["orderNumber"], "SHOP-1001");
    let (other, other_cart) = app.paid_guest_cart().await;
    let mut taken = order_request(&other_cart);
    taken["orderNumber"] = json!("SHOP-1001");
    let problem = other.post("/orders", taken).await;
    assert_eq!(
        problem.assert_problem(StatusCode::CONFLICT, "OrderNumberTaken")["recovery"],
        "choose_another_number"
    );
    assert_eq!(app.stock("MUG").await, 98, "the refused order took nothing");
    let mut bad = order_request(&other_cart);
    bad["orderNumber"] = json!("no spaces please");
    assert_eq!(
        other.post("/orders", bad).await.pointers(),
        ["/orderNumber"]
    );
}

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
        app.storefront.expire_saved_orders(10).await.unwrap(),
        0,
        "not before its hold ends"
    );
    app.advance(checkout_domain::model::commit_plan::SAVED_ORDER_HOLD + time::Duration::seconds(1));
    assert_eq!(app.storefront.expire_saved_orders(10).await.unwrap(), 1);
    assert_eq!(
        app.storefront.expire_saved_orders(10).await.unwrap(),
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
    a_price_change_before_commit_asks_the_customer_to_confirm,
    a_tax_rate_change_before_commit_asks_the_customer_to_confirm,
    an_expired_discount_before_commit_is_named_with_the_new_total,
    a_one_time_code_is_redeemed_once,
    what_is_missing_is_said_at_once,
    a_stale_version_is_refused_and_writes_nothing,
    keys_replay_refuse_other_payloads_and_wait_for_the_first,
    a_refused_request_does_not_burn_its_key,
    a_crashed_request_unlocks_its_key_at_its_deadline,
    client_order_numbers_are_honoured_and_unique,
    nobody_but_the_owner_orders_or_reads,
    guests_look_up_their_order_by_email_and_number,
    a_customer_pages_through_their_orders_newest_first,
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
