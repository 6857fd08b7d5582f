//! Replicating an order: its owner (a customer, or the guest with the order's session) gets a
//! new `Active` cart with the order's lines, addresses, shipping method and customer, priced
//! now, its codes re-applied where they still apply and what cannot be had listed in
//! `notReplicated`. It is the storefront's "buy again", and the "cancel the unpaid order and
//! make a new cart from it" path. An `Idempotency-Key` answers the same cart again; nobody
//! else's order is replicated, and bad input writes nothing.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{
    cents, on_both_stores, order_request, ready_actions, App, Backend, CartRef, Client,
};
use http::StatusCode;

fn replicate_path(number: &str) -> String {
    format!("/orders/{number}/replicate")
}

/// Places the cart's order (paid first unless `save`, which leaves it awaiting payment);
/// its number.
async fn place(app: &App, client: &Client, cart: &mut CartRef, save: bool) -> String {
    let mut body = order_request(cart);
    if save {
        body["action"] = json!("save_order");
    } else {
        app.pay(cart, None).await;
        body = order_request(cart);
    }
    let created = client.post("/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    created.body["orderNumber"].as_str().unwrap().to_string()
}

/// A guest's paid order of `lines`, with `codes` applied: the guest and the order's number.
async fn guest_order(app: &App, lines: &[(&str, u32)], codes: &[&str]) -> (Client, String) {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(lines);
    for code in codes {
        actions
            .as_array_mut()
            .unwrap()
            .push(json!({"action": "addDiscountCode", "code": code}));
    }
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    let number = place(app, &guest, &mut cart, false).await;
    (guest, number)
}

/// The SKUs and quantities of a cart's lines.
fn lines(cart: &Value) -> Vec<(String, u64)> {
    cart["lineItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_string(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn codes(cart: &Value) -> Vec<String> {
    cart["discountCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap().to_string())
        .collect()
}

/// A product's terms with its EUR price changed (its stock left as it is).
async fn reprice(app: &App, sku: &str, name: &str, prices: Value, tax_category: &str) {
    app.admin()
        .put(
            &format!("/admin/products/{sku}"),
            json!({"name": name, "prices": prices, "taxCategory": tax_category}),
        )
        .await
        .assert_status(StatusCode::OK);
}

async fn set_stock(app: &App, sku: &str, name: &str, price: i64, stock: u32) {
    app.admin()
        .put(
            &format!("/admin/products/{sku}"),
            json!({"name": name, "prices": {"EUR": price}, "stock": stock,
                   "taxCategory": "standard"}),
        )
        .await
        .assert_status(StatusCode::OK);
}

/// Asserts a first answer: 201, the cart's `Location`, not a replay; the cart's id.
#[track_caller]
fn made(response: &checkout_tests::TestResponse) -> String {
    response.assert_status(StatusCode::CREATED);
    let id = response.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        response.header("location").as_deref(),
        Some(format!("/carts/{id}").as_str())
    );
    assert!(response.headers.get("idempotent-replayed").is_none());
    id
}

trait Header {
    fn header(&self, name: &str) -> Option<String>;
}

impl Header for checkout_tests::TestResponse {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

async fn the_owner_buys_again_at_todays_prices(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    alice
        .update(
            &mut cart,
            json!([{"action": "addDiscountCode", "code": "TENOFF"}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let number = place(&app, &alice, &mut cart, false).await;
    let order = alice.get(&format!("/orders/{number}")).await.body;
    assert_eq!(cents(&order["lineItems"][0]["unitPrice"]), 1299);
    reprice(
        &app,
        "MUG",
        "Mug",
        json!({"EUR": 1499, "GBP": 1099, "CHF": 1490}),
        "standard",
    )
    .await;

    let replicated = alice.post(&replicate_path(&number), json!({})).await;
    let id = made(&replicated);
    let body = &replicated.body;
    assert_ne!(id, cart.id, "a new cart");
    assert_eq!(body["state"], "Active");
    assert_eq!(body["version"], 1);
    assert_eq!(body["customerId"], "alice");
    assert_eq!(body["customerEmail"], "alice@example.com");
    assert_eq!(lines(body), [("MUG".to_string(), 2)]);
    assert_eq!(
        cents(&body["lineItems"][0]["unitPrice"]),
        1499,
        "priced now"
    );
    assert_eq!(body["shippingAddress"], order["shippingAddress"]);
    assert_eq!(body["billingAddress"], order["billingAddress"]);
    assert_eq!(body["shippingMethod"]["id"], "standard");
    assert_eq!(codes(body), ["TENOFF"]);
    assert_eq!(cents(&body["totals"]["subtotal"]), 2 * 1499);
    assert!(cents(&body["totals"]["discount"]) > 0, "TENOFF applies");
    assert!(body["payments"].as_array().unwrap().is_empty());
    assert_eq!(body["notReplicated"], json!([]));
    assert!(body.get("sessionToken").is_none());

    // The owner's cart like any other: read, changed, and ordered.
    let fetched = alice.get(&format!("/carts/{id}")).await;
    fetched.assert_status(StatusCode::OK);
    assert_eq!(fetched.body["totals"], body["totals"]);
    let mut again = CartRef::from(body);
    alice
        .update(
            &mut again,
            json!([{"action": "changeLineItemQuantity",
                    "lineItemId": body["lineItems"][0]["id"], "quantity": 3}]),
        )
        .await
        .assert_status(StatusCode::OK);
    place(&app, &alice, &mut again, false).await;
    // The order itself is untouched.
    assert_eq!(alice.get(&format!("/orders/{number}")).await.body, order);
}

async fn a_guest_with_the_orders_session_buys_again(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, number) = guest_order(&app, &[("MUG", 2), ("PEN", 3)], &[]).await;
    let replicated = guest.post(&replicate_path(&number), json!({})).await;
    let id = made(&replicated);
    let body = &replicated.body;
    assert!(body.get("customerId").is_none());
    assert!(
        body.get("sessionToken").is_none(),
        "the guest's own session owns it"
    );
    assert_eq!(
        lines(body),
        [("MUG".to_string(), 2), ("PEN".to_string(), 3)]
    );
    assert_eq!(body["guest"]["email"], "ada@example.com");
    assert_eq!(body["guest"]["name"], "Ada Lovelace");
    assert_eq!(body["customerEmail"], "ada@example.com");
    assert_eq!(body["shippingMethod"]["id"], "standard");
    // Priced now: 2 × 12.99 + 3 × 3.50, under the free-shipping threshold.
    assert_eq!(cents(&body["totals"]["subtotal"]), 2 * 1299 + 3 * 350);
    assert_eq!(cents(&body["totals"]["shipping"]), 499);
    // The guest reaches it with the session they hold; nobody else does.
    guest
        .get(&format!("/carts/{id}"))
        .await
        .assert_status(StatusCode::OK);
    let (stranger, _) = app.guest_with_cart("EUR", "DE").await;
    stranger
        .get(&format!("/carts/{id}"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
}

async fn nobody_else_replicates_an_order(backend: Backend) {
    let app = App::start(backend).await;
    let (_, number) = guest_order(&app, &[("MUG", 1)], &[]).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let alices = place(&app, &alice, &mut cart, false).await;
    let (stranger, _) = app.guest_with_cart("EUR", "DE").await;
    app.requests.take();
    // Another guest's session, another customer, nobody at all: as if there were no order.
    for (who, path) in [
        (&stranger, replicate_path(&number)),
        (&stranger, replicate_path(&alices)),
        (&app.customer("bob"), replicate_path(&number)),
        (&app.customer("bob"), replicate_path(&alices)),
        (&app.anonymous(), replicate_path(&number)),
        (&app.anonymous(), replicate_path(&alices)),
        (&alice, replicate_path(&number)),
        (&alice, replicate_path("20261202-NOSUCHNO")),
        (&alice, replicate_path("not-an-order-number")),
    ] {
        who.post_with_key(&path, "k-stranger", json!({}))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    }
    // A bad token is 401, never a guest.
    app.anonymous()
        .with_header("authorization", "Bearer not-a-token")
        .post(&replicate_path(&alices), json!({}))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    assert_no_writes(&app);
    // Refusals hold no key: the owner's own request with that key makes the cart.
    made(
        &alice
            .post_with_key(&replicate_path(&alices), "k-stranger", json!({}))
            .await,
    );
}

/// The edge case: the customer wants to change an unpaid order. It is cancelled (its stock
/// back on the shelf) and a new cart made from it, which is then changed and ordered.
async fn a_cancelled_unpaid_order_becomes_a_new_cart(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    alice
        .update(
            &mut cart,
            json!([{"action": "addDiscountCode", "code": "ONCE"}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let number = place(&app, &alice, &mut cart, true).await;
    assert_eq!(app.stock("MUG").await, 98, "a saved order holds its stock");
    assert_eq!(app.redemptions("ONCE").await, 1, "and its one-time code");
    let cancelled = alice
        .post(&format!("/orders/{number}/cancel"), json!({}))
        .await;
    cancelled.assert_status(StatusCode::OK);
    assert_eq!(cancelled.body["state"], "Cancelled");
    assert_eq!(app.stock("MUG").await, 100);
    assert_eq!(app.redemptions("ONCE").await, 0);

    let replicated = alice
        .post_with_key(&replicate_path(&number), "change-my-order", json!({}))
        .await;
    made(&replicated);
    assert_eq!(lines(&replicated.body), [("MUG".to_string(), 2)]);
    assert_eq!(
        codes(&replicated.body),
        ["ONCE"],
        "given back, so it applies"
    );
    assert_eq!(replicated.body["notReplicated"], json!([]));
    assert_eq!(app.stock("MUG").await, 100, "a cart holds no stock");

    let mut next = CartRef::from(&replicated.body);
    alice
        .update(
            &mut next,
            json!([{"action": "addLineItem", "sku": "BOOK", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let new_number = place(&app, &alice, &mut next, false).await;
    assert_ne!(new_number, number);
    assert_eq!(app.stock("MUG").await, 98);
    assert_eq!(app.redemptions("ONCE").await, 1);
    assert_eq!(
        alice.get(&format!("/orders/{number}")).await.body["state"],
        "Cancelled"
    );
}

async fn lines_that_cannot_be_had_are_listed(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, number) = guest_order(
        &app,
        &[("MUG", 2), ("LAMP", 1), ("PEN", 3), ("BOOK", 1)],
        &[],
    )
    .await;
    // The lamp sells out, two pens are left, the book is now sold in pounds only.
    set_stock(&app, "LAMP", "Lamp", 8900, 0).await;
    set_stock(&app, "PEN", "Pen", 350, 2).await;
    reprice(&app, "BOOK", "Book", json!({"GBP": 3499}), "reduced").await;

    let replicated = guest.post(&replicate_path(&number), json!({})).await;
    made(&replicated);
    let body = &replicated.body;
    assert_eq!(lines(body), [("MUG".to_string(), 2)]);
    assert_eq!(cents(&body["totals"]["subtotal"]), 2 * 1299);
    let left_out = body["notReplicated"].as_array().unwrap();
    let by_sku = |sku: &str| -> &Value {
        left_out
            .iter()
            .find(|n| n["sku"] == sku)
            .unwrap_or_else(|| panic!("{sku} listed in {left_out:#?}"))
    };
    assert_eq!(left_out.len(), 3, "{left_out:#?}");
    let lamp = by_sku("LAMP");
    assert_eq!(
        (&lamp["reason"], &lamp["requested"], &lamp["available"]),
        (&json!("OutOfStock"), &json!(1), &json!(0))
    );
    let pen = by_sku("PEN");
    assert_eq!(
        (&pen["reason"], &pen["requested"], &pen["available"]),
        (&json!("OutOfStock"), &json!(3), &json!(2))
    );
    let book = by_sku("BOOK");
    assert_eq!(book["reason"], "Unavailable");
    assert_eq!(book["requested"], 1);
    for listed in left_out {
        assert!(listed["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Nothing the order held moved.
    assert_eq!(app.stock("PEN").await, 2);
    assert_eq!(app.stock("LAMP").await, 0);
}

async fn an_expired_code_is_left_out_and_a_valid_one_re_applied(backend: Backend) {
    let app = App::start(backend).await;
    app.admin()
        .put(
            "/admin/discount-codes/FLASH",
            json!({"kind": "percentage", "value": 1000, "validUntil": "2099-01-01T00:00:00Z"}),
        )
        .await
        .assert_status(StatusCode::OK);
    let (guest, number) = guest_order(&app, &[("MUG", 3)], &["FLASH", "FIVE", "ONCE"]).await;
    // ONCE was used up by this very order; FLASH has expired since.
    app.admin()
        .put(
            "/admin/discount-codes/FLASH",
            json!({"kind": "percentage", "value": 1000, "validUntil": "2020-01-01T00:00:00Z"}),
        )
        .await
        .assert_status(StatusCode::OK);

    let redeemed = app.redemptions("FIVE").await;
    let replicated = guest.post(&replicate_path(&number), json!({})).await;
    made(&replicated);
    let body = &replicated.body;
    assert_eq!(codes(body), ["FIVE"], "the valid code only");
    assert_eq!(body["discountCodes"][0]["state"], "MatchesCart");
    assert_eq!(cents(&body["totals"]["discount"]), 500);
    let left_out = body["notReplicated"].as_array().unwrap();
    assert_eq!(left_out.len(), 2, "{left_out:#?}");
    for (listed, code, why) in [
        (&left_out[0], "FLASH", "expired"),
        (&left_out[1], "ONCE", "fully redeemed"),
    ] {
        assert_eq!(listed["code"], code);
        assert_eq!(listed["reason"], "DiscountCodeNonApplicable");
        assert!(listed.get("sku").is_none());
        assert!(
            listed["detail"].as_str().unwrap().contains(why),
            "{listed:#}"
        );
    }
    assert_eq!(app.redemptions("ONCE").await, 1, "the order's own, once");
    assert_eq!(
        app.redemptions("FIVE").await,
        redeemed,
        "a cart redeems nothing"
    );
}

async fn the_same_key_answers_the_same_cart(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let number = place(&app, &alice, &mut cart, false).await;
    let (alice, mut other_cart) = app.ready_customer_cart("alice").await;
    let other = place(&app, &alice, &mut other_cart, false).await;

    let first = alice
        .post_with_key(&replicate_path(&number), "again-1", json!({}))
        .await;
    let id = made(&first);
    // Changed meanwhile: the replay is still the first answer, naming that cart.
    let mut made_cart = CartRef::from(&first.body);
    alice
        .update(
            &mut made_cart,
            json!([{"action": "addLineItem", "sku": "PEN", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    let again = alice
        .post_with_key(&replicate_path(&number), "again-1", json!({}))
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(
        again.header("location").as_deref(),
        Some(format!("/carts/{id}").as_str())
    );
    assert_eq!(again.body, first.body);

    // The key is bound to that order: another order with it is refused and makes nothing.
    let reused = alice
        .post_with_key(&replicate_path(&other), "again-1", json!({}))
        .await;
    assert_eq!(
        reused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused")["recovery"],
        "use_new_key"
    );
    // Without a key each request is a new cart; another caller's equal key is theirs.
    let fresh = made(&alice.post(&replicate_path(&number), json!({})).await);
    assert_ne!(fresh, id);
    let (bob, mut bobs_cart) = app.ready_customer_cart("bob").await;
    let bobs = place(&app, &bob, &mut bobs_cart, false).await;
    let bobs_cart_id = made(
        &bob.post_with_key(&replicate_path(&bobs), "again-1", json!({}))
            .await,
    );
    assert_ne!(bobs_cart_id, id);
}

async fn two_concurrent_requests_with_one_key_make_one_cart(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let number = place(&app, &alice, &mut cart, false).await;
    let path = replicate_path(&number);
    let racing = [alice.clone(), alice.clone()].map(|client| {
        let path = path.clone();
        tokio::spawn(async move { client.post_with_key(&path, "double-click", json!({})).await })
    });
    let [a, b] = racing;
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut ids = Vec::new();
    let mut created = 0;
    for response in [&a, &b] {
        match response.status {
            StatusCode::CREATED => {
                created += 1;
                ids.push(response.body["id"].as_str().unwrap().to_string());
            }
            StatusCode::OK => ids.push(response.body["id"].as_str().unwrap().to_string()),
            _ => {
                response.assert_problem(StatusCode::CONFLICT, "RequestInProgress");
                assert!(response.headers.get("retry-after").is_some());
            }
        }
    }
    assert_eq!(created, 1, "one request makes the cart: {a:#?} {b:#?}");
    // Whoever was told to wait gets that cart when it asks again.
    let later = alice.post_with_key(&path, "double-click", json!({})).await;
    later.assert_status(StatusCode::OK);
    ids.push(later.body["id"].as_str().unwrap().to_string());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one cart: {ids:?}");
}

async fn bad_input_is_refused_and_writes_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let number = place(&app, &alice, &mut cart, false).await;
    let path = replicate_path(&number);
    app.requests.take();
    for key in ["x".repeat(256), "two words".into(), "".into()] {
        let refused = alice.post_with_key(&path, &key, json!({})).await;
        assert_eq!(refused.pointers(), ["/headers/Idempotency-Key"], "{key:?}");
        assert_eq!(refused.body["recovery"], "fix_request");
    }
    assert_no_writes(&app);
    // The same request with a good key is a first one: nothing was kept of the refusals.
    made(&alice.post_with_key(&path, "x", json!({})).await);
}

/// Nothing was written since the last look (DynamoDB backends count their operations; the
/// embedded store's answers are checked by what follows).
#[track_caller]
fn assert_no_writes(app: &App) {
    let sent = app.requests.take();
    let writes: Vec<&String> = sent
        .iter()
        .filter(|op| !matches!(op.as_str(), "GetItem" | "BatchGetItem" | "Query"))
        .collect();
    assert!(writes.is_empty(), "nothing written, but sent {sent:?}");
}

// Multi-threaded: the concurrent requests really run in parallel.
on_both_stores!(
    multi_thread: the_owner_buys_again_at_todays_prices,
    a_guest_with_the_orders_session_buys_again,
    nobody_else_replicates_an_order,
    a_cancelled_unpaid_order_becomes_a_new_cart,
    lines_that_cannot_be_had_are_listed,
    an_expired_code_is_left_out_and_a_valid_one_re_applied,
    the_same_key_answers_the_same_cart,
    two_concurrent_requests_with_one_key_make_one_cart,
    bad_input_is_refused_and_writes_nothing,
);
