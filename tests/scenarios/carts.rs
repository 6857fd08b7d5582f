//! Carts through the HTTP API, on both stores: ownership, versioned updates, the race of two
//! updates on one version, and each update action.

use checkout_tests::serde_json::json;
use checkout_tests::{address_de, address_in, cents, on_both_stores, App, Backend};
use http::StatusCode;

async fn a_guest_cart_is_visible_only_with_its_session_token(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;

    let own = guest.get(&format!("/carts/{}", cart.id)).await;
    own.assert_status(StatusCode::OK);
    assert_eq!(own.body["state"], "Active");
    assert_eq!(own.body["version"], 1);
    assert!(
        own.body.get("sessionToken").is_none(),
        "the token is shown only once"
    );
    assert!(
        own.body.get("owner").is_none(),
        "how ownership is proven never leaks"
    );

    let path = format!("/carts/{}", cart.id);
    app.anonymous()
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.anonymous()
        .with_header("x-session-id", "someone-elses-token")
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.customer("mallory")
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    // A stranger's update is a 404 too, and writes nothing.
    app.customer("mallory")
        .post(&path, json!({"version": 1, "actions": [{"action": "addLineItem", "sku": "MUG", "quantity": 1}]}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    assert_eq!(guest.get(&path).await.body["version"], 1);
}

async fn a_customer_cart_belongs_to_the_token_subject(backend: Backend) {
    let app = App::start(backend).await;
    let alice = app.customer("alice");
    let created = alice.post("/carts", json!({"currency": "EUR"})).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["customerId"], "alice");
    assert!(
        created.body.get("sessionToken").is_none(),
        "customers need no session token"
    );
    let path = format!("/carts/{}", created.body["id"].as_str().unwrap());
    assert_eq!(created.headers["location"], path.as_str());

    alice.get(&path).await.assert_status(StatusCode::OK);
    app.customer("bob")
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.anonymous()
        .get(&path)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.anonymous()
        .with_header("authorization", "Bearer not-a-token")
        .get(&path)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
}

async fn the_walkthrough_prices_a_full_cart(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let response = guest
        .update(
            &mut cart,
            json!([
                {"action": "addLineItem", "sku": "MUG", "quantity": 2},
                {"action": "addLineItem", "sku": "BOOK", "quantity": 1},
                {"action": "setShippingAddress", "address": address_de()},
                {"action": "setBillingAddress", "address": address_de()},
                {"action": "setShippingMethod", "shippingMethodId": "standard"},
                {"action": "addDiscountCode", "code": "tenoff"},
                {"action": "setGuestDetails", "email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49 30 1234567"}
            ]),
        )
        .await;
    response.assert_status(StatusCode::OK);
    let body = &response.body;
    assert_eq!(body["version"], 2);
    // subtotal 2×12.99 + 39.99 = 65.97; 10 % off = 6.597 → 6.60; 59.37 ≥ 50.00 ships free;
    // tax: mug (25.98 − 2.60) × 19 % = 4.4422 → 4.44, book (39.99 − 4.00) × 7 % = 2.5193 → 2.52.
    let totals = &body["totals"];
    assert_eq!(cents(&totals["subtotal"]), 6597);
    assert_eq!(cents(&totals["discount"]), 660);
    assert_eq!(cents(&totals["shipping"]), 0);
    assert_eq!(cents(&totals["tax"]), 696);
    assert_eq!(cents(&totals["total"]), 6633);
    assert_eq!(body["discountCodes"][0]["code"], "TENOFF");
    assert_eq!(body["discountCodes"][0]["state"], "MatchesCart");
    assert_eq!(body["shippingMethod"]["id"], "standard");
    assert_eq!(body["customerEmail"], "ada@example.com");
    assert_eq!(body["shippingAddress"]["city"], "Berlin");

    let read = guest.get(&format!("/carts/{}", cart.id)).await;
    assert_eq!(
        read.body, response.body,
        "what was returned is what was stored"
    );
}

async fn of_two_racing_updates_on_one_version_exactly_one_wins(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let racers = 8;
    let mut tasks = Vec::new();
    for _ in 0..racers {
        let (guest, mut cart) = (guest.clone(), cart.clone());
        tasks.push(tokio::spawn(async move {
            guest
                .update(
                    &mut cart,
                    json!([{"action": "addLineItem", "sku": "MUG", "quantity": 1}]),
                )
                .await
        }));
    }
    let mut winners = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == StatusCode::OK {
            winners += 1;
        } else {
            let problem = response.assert_problem(StatusCode::CONFLICT, "ConcurrentModification");
            assert_eq!(problem["currentVersion"], 2);
            assert_eq!(problem["recovery"], "refetch_cart");
        }
    }
    assert_eq!(winners, 1);
    let stored = guest.get(&format!("/carts/{}", cart.id)).await.body;
    assert_eq!(stored["version"], 2);
    assert_eq!(
        stored["lineItems"][0]["quantity"], 1,
        "only the winner's action applied"
    );
}

async fn a_stale_version_is_refused_with_the_current_one(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let stale = cart.clone();
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "PEN", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let mut stale = stale;
    let response = guest
        .update(
            &mut stale,
            json!([{"action": "addLineItem", "sku": "PEN", "quantity": 1}]),
        )
        .await;
    assert_eq!(
        response.assert_problem(StatusCode::CONFLICT, "ConcurrentModification")["currentVersion"],
        2
    );
}

async fn line_items_merge_change_and_disappear(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let added = guest
        .update(
            &mut cart,
            json!([
                {"action": "addLineItem", "sku": "PEN", "quantity": 2},
                {"action": "addLineItem", "sku": "PEN", "quantity": 3},
                {"action": "addLineItem", "sku": "MUG", "quantity": 1}
            ]),
        )
        .await;
    let lines = added.body["lineItems"].as_array().unwrap().clone();
    assert_eq!(lines.len(), 2, "the same SKU twice is one line");
    assert_eq!(lines[0]["quantity"], 5);
    let pen = lines[0]["id"].as_str().unwrap();
    let mug = lines[1]["id"].as_str().unwrap();

    let changed = guest
        .update(
            &mut cart,
            json!([
                {"action": "changeLineItemQuantity", "lineItemId": pen, "quantity": 1},
                {"action": "removeLineItem", "lineItemId": mug}
            ]),
        )
        .await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.body["lineItems"].as_array().unwrap().len(), 1);
    assert_eq!(cents(&changed.body["totals"]["subtotal"]), 350);
    assert_eq!(changed.body["version"], 3);
}

async fn more_than_the_stock_is_refused_with_what_is_left(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let response = guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "LAMP", "quantity": 6}]),
        )
        .await;
    let problem = response.assert_problem(StatusCode::CONFLICT, "OutOfStock");
    assert_eq!(problem["recovery"], "adjust_quantities");
    assert_eq!(
        problem["items"],
        json!([{"sku": "LAMP", "name": "Lamp", "requested": 6, "available": 5}])
    );
    assert_eq!(cart.version, 1, "nothing was written");
}

async fn all_actions_of_a_request_apply_or_none_does(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let response = guest
        .update(
            &mut cart,
            json!([
                {"action": "addLineItem", "sku": "MUG", "quantity": 1},
                {"action": "setShippingMethod", "shippingMethodId": "uk"}
            ]),
        )
        .await;
    assert_eq!(response.pointers(), ["/actions/1/shippingMethodId"]);
    let stored = guest.get(&format!("/carts/{}", cart.id)).await.body;
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["lineItems"], json!([]));
}

async fn a_shipping_method_that_no_longer_serves_the_address_is_dropped(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(
            &mut cart,
            json!([
                {"action": "addLineItem", "sku": "MUG", "quantity": 1},
                {"action": "setShippingMethod", "shippingMethodId": "express"}
            ]),
        )
        .await
        .assert_status(StatusCode::OK);
    let moved = guest
        .update(
            &mut cart,
            json!([{"action": "setShippingAddress", "address": address_in("GB")}]),
        )
        .await;
    moved.assert_status(StatusCode::OK);
    assert!(moved.body.get("shippingMethod").is_none());
    assert_eq!(cents(&moved.body["totals"]["shipping"]), 0);
    // GB taxes the mug at 20 %.
    assert_eq!(moved.body["lineItems"][0]["taxRate"], 2000);

    let unserved = guest
        .update(
            &mut cart,
            json!([{"action": "setShippingAddress", "address": address_in("US")}]),
        )
        .await;
    assert_eq!(unserved.pointers(), ["/actions/0/address/country"]);
}

async fn discount_codes_are_checked_when_added_and_when_the_cart_changes(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "BOOK", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    for (code, reason) in [("EXPIRED", "has expired"), ("NOPE", "does not exist")] {
        let response = guest
            .update(
                &mut cart,
                json!([{"action": "addDiscountCode", "code": code}]),
            )
            .await;
        let problem = response.assert_problem(StatusCode::CONFLICT, "DiscountCodeNonApplicable");
        assert_eq!(problem["discountCode"], code);
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{problem}"
        );
    }
    let with_code = guest
        .update(
            &mut cart,
            json!([{"action": "addDiscountCode", "code": "FIVE"}]),
        )
        .await;
    assert_eq!(cents(&with_code.body["totals"]["discount"]), 500);
    let book = with_code.body["lineItems"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Below the code's minimum the code stays on the cart but stops taking effect.
    let swapped = guest
        .update(
            &mut cart,
            json!([
                {"action": "removeLineItem", "lineItemId": book},
                {"action": "addLineItem", "sku": "MUG", "quantity": 1}
            ]),
        )
        .await;
    swapped.assert_status(StatusCode::OK);
    assert_eq!(
        swapped.body["discountCodes"][0]["state"],
        "DoesNotMatchCart"
    );
    assert_eq!(cents(&swapped.body["totals"]["discount"]), 0);

    let removed = guest
        .update(
            &mut cart,
            json!([{"action": "removeDiscountCode", "code": "five"}]),
        )
        .await;
    assert_eq!(removed.body["discountCodes"], json!([]));
}

async fn a_cart_can_only_be_created_for_a_supported_currency_and_country(backend: Backend) {
    let app = App::start(backend).await;
    let response = app
        .anonymous()
        .post("/carts", json!({"currency": "XXX", "country": "US"}))
        .await;
    assert_eq!(response.pointers(), ["/currency", "/country"]);
}

on_both_stores!(
    a_guest_cart_is_visible_only_with_its_session_token,
    a_customer_cart_belongs_to_the_token_subject,
    the_walkthrough_prices_a_full_cart,
    of_two_racing_updates_on_one_version_exactly_one_wins,
    a_stale_version_is_refused_with_the_current_one,
    line_items_merge_change_and_disappear,
    more_than_the_stock_is_refused_with_what_is_left,
    all_actions_of_a_request_apply_or_none_does,
    a_shipping_method_that_no_longer_serves_the_address_is_dropped,
    discount_codes_are_checked_when_added_and_when_the_cart_changes,
    a_cart_can_only_be_created_for_a_supported_currency_and_country,
);
