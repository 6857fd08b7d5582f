//! Bad input always gets a clear problem+json answer with JSON pointers, changes nothing, and
//! never a 5xx.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_de, on_both_stores, App, Backend};
use http::{Method, StatusCode};

async fn malformed_json_and_wrong_types_point_at_the_problem(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let path = format!("/carts/{}", cart.id);

    let malformed = guest
        .post_raw(&path, r#"{"version": 1, "actions": ["#)
        .await;
    assert_eq!(malformed.pointers(), [""]);
    assert!(malformed.body["detail"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));

    assert_eq!(guest.post_raw(&path, "").await.pointers(), [""]);
    assert_eq!(
        guest.post_raw(&path, r#""a string""#).await.pointers(),
        [""]
    );

    let wrong_types = guest
        .post(&path, json!({"version": 1, "actions": [{"action": "addLineItem", "sku": "MUG", "quantity": "two"}]}))
        .await;
    assert_eq!(wrong_types.pointers(), ["/actions/0/quantity"]);

    let version = guest
        .post(&path, json!({"version": -1, "actions": []}))
        .await;
    assert_eq!(version.pointers(), ["/version"]);

    let unknown_field = guest
        .post(&path, json!({"version": 1, "actions": [{"action": "addLineItem", "sku": "MUG", "quantity": 1, "price": 1}]}))
        .await;
    assert_eq!(unknown_field.pointers(), ["/actions/0/price"]);
    assert!(unknown_field.body["detail"]
        .as_str()
        .unwrap()
        .contains("price"));

    assert_unchanged(&guest, &path).await;
}

async fn unknown_actions_and_bad_values_are_all_reported_at_once(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let path = format!("/carts/{}", cart.id);
    let response = guest
        .post(
            &path,
            json!({"version": 1, "actions": [
                {"action": "teleport"},
                {"action": "addLineItem", "sku": "MUG", "quantity": 0},
                {"action": "addLineItem", "sku": "MUG", "quantity": -3},
                {"action": "addLineItem", "sku": "bad sku!", "quantity": 1000},
                {"action": "setCustomerEmail", "email": "not-an-email"},
                {"sku": "MUG"},
                "addLineItem",
                {"action": "setShippingAddress", "address": {"firstName": "", "lastName": "L", "line1": "x",
                  "city": "y", "postalCode": "1", "country": "Germany"}}
            ]}),
        )
        .await;
    assert_eq!(
        response.pointers(),
        [
            "/actions/0/action",
            "/actions/1/quantity",
            "/actions/2/quantity",
            "/actions/3/sku",
            "/actions/3/quantity",
            "/actions/4/email",
            "/actions/5/action",
            "/actions/6",
            "/actions/7/address/firstName",
            "/actions/7/address/postalCode",
            "/actions/7/address/country",
        ]
    );
    assert_eq!(response.body["recovery"], "fix_request");
    assert_unchanged(&guest, &path).await;
}

async fn unknown_skus_and_empty_action_lists_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let path = format!("/carts/{}", cart.id);
    let unknown = guest
        .post(&path, json!({"version": 1, "actions": [{"action": "addLineItem", "sku": "NOPE", "quantity": 1}]}))
        .await;
    assert_eq!(unknown.pointers(), ["/actions/0/sku"]);
    assert_eq!(
        guest
            .post(&path, json!({"version": 1, "actions": []}))
            .await
            .pointers(),
        ["/actions"]
    );
    let too_many: Vec<_> = (0..101)
        .map(|_| json!({"action": "addLineItem", "sku": "PEN", "quantity": 1}))
        .collect();
    assert_eq!(
        guest
            .post(&path, json!({"version": 1, "actions": too_many}))
            .await
            .pointers(),
        ["/actions"]
    );
    assert_unchanged(&guest, &path).await;
}

async fn oversized_bodies_get_413(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let path = format!("/carts/{}", cart.id);
    let padding = "x".repeat(64 * 1024);
    let response = guest
        .post_raw(
            &path,
            format!(r#"{{"version": 1, "actions": [], "pad": "{padding}"}}"#),
        )
        .await;
    let problem = response.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    assert_eq!(problem["recovery"], "fix_request");
    // Exactly at the limit is still parsed (and refused for its content, not its size).
    let body = format!(
        r#"{{"version": 1, "actions": [], "p": "{}"}}"#,
        "x".repeat(64 * 1024 - 38)
    );
    assert_eq!(body.len(), 64 * 1024);
    guest
        .post_raw(&path, body)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    assert_unchanged(&guest, &path).await;
}

async fn unknown_routes_methods_and_ids_are_problems_too(backend: Backend) {
    let app = App::start(backend).await;
    let client = app.anonymous();
    client
        .get("/nope")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    client
        .get("/carts/not-a-uuid")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    client
        .send(Method::DELETE, "/carts", None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed");
    let missing = client.get("/shipping-methods?country=DE").await;
    assert_eq!(missing.pointers(), ["/currency"]);
    let bad = client
        .get("/shipping-methods?country=de&currency=EURO")
        .await;
    assert_eq!(bad.pointers(), ["/country", "/currency"]);
}

/// Optional members the contract does not make nullable may be left out, but `null` is not
/// a value of their type; a batch's bodies are objects (serde would read a body from an
/// array's elements, in order). Each is a 400 pointing at the member, and nothing is written.
async fn null_for_an_optional_member_and_a_batch_of_non_objects_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    let erp = app.with_scope("erp-bridge", "orders:write");
    let draft = |key: &str| {
        json!({"idempotencyKey": key, "lineItems": [{"sku": "MUG", "quantity": 1}],
               "customer": {"email": "b2b@example.com"}, "shippingAddress": address_de(),
               "payments": [{"paymentMethod": "pm_card_visa"}],
               "commands": ["calculate_shipping"]})
    };
    let with_null = |pointer: &str| {
        let mut body = draft("nulls-1");
        let (parent, member) = pointer.rsplit_once('/').unwrap();
        body.pointer_mut(parent).unwrap()[member] = Value::Null;
        body
    };
    for pointer in [
        "/sendReceipt",
        "/idempotencyKey",
        "/currency",
        "/customer",
        "/customer/email",
        "/customer/firstName",
        "/customer/customerId",
        "/shippingAddress",
        "/billingAddress",
        "/shippingMethodId",
        "/lineItems/0/key",
        "/payments/0/paymentMethod",
        "/payments/0/amount",
    ] {
        let refused = erp.post("/admin/orders", with_null(pointer)).await;
        assert_eq!(refused.pointers(), [pointer], "{}", refused.body);
    }
    let batch = erp
        .post("/admin/orders/batch", json!({"orders": [[null, null]]}))
        .await;
    assert_eq!(batch.pointers(), ["/orders/0"]);
    let mixed = erp
        .post(
            "/admin/orders/batch",
            json!({"orders": [draft("nulls-2"), "x"]}),
        )
        .await;
    assert_eq!(mixed.pointers(), ["/orders/1"]);

    let product = json!({"name": "Mug", "prices": {"EUR": 1299}, "taxCategory": "standard"});
    for member in ["stock", "stockDelta"] {
        let mut body = product.clone();
        body[member] = Value::Null;
        let refused = app.admin().put("/admin/products/MUG", body).await;
        assert_eq!(refused.pointers(), [format!("/{member}")]);
    }

    // Nothing was written: the stock is as it was and both keys are still free.
    assert_eq!(app.stock("MUG").await, 100);
    for key in ["nulls-1", "nulls-2"] {
        erp.post("/admin/orders", draft(key))
            .await
            .assert_status(StatusCode::CREATED);
    }
    // Members the contract makes nullable still take `null`.
    let mut nullable = draft("nulls-3");
    nullable["shippingAddress"]["line2"] = Value::Null;
    erp.post("/admin/orders", nullable)
        .await
        .assert_status(StatusCode::CREATED);
    app.anonymous()
        .post("/carts", json!({"currency": "EUR", "country": null}))
        .await
        .assert_status(StatusCode::CREATED);
}

/// Where the contract says object, an array is refused too (serde alone would read a struct
/// from an array's elements in order), at any depth; text after the body is malformed JSON.
async fn an_array_is_no_object_and_text_after_the_body_is_malformed(backend: Backend) {
    let app = App::start(backend).await;
    let erp = app.with_scope("erp-bridge", "orders:write");
    let anonymous = app.anonymous();
    let create_cart = |body: &'static str| anonymous.post_raw("/carts", body);
    assert_eq!(create_cart(r#"["EUR"]"#).await.pointers(), [""]);
    assert_eq!(
        create_cart(r#"{"currency": "EUR"} x"#).await.pointers(),
        [""]
    );
    assert_eq!(
        create_cart(r#"{"currency": "EUR"} {}"#).await.pointers(),
        [""]
    );
    let (guest, cart) = app.guest_with_cart("EUR", "DE").await;
    let path = format!("/carts/{}", cart.id);
    let address = guest
        .post(
            &path,
            json!({"version": 1, "actions": [{"action": "setShippingAddress",
                "address": ["Ada", "Lovelace", "Hauptstr. 1", null, "Berlin", null, "10115", "DE"]}]}),
        )
        .await;
    assert_eq!(address.pointers(), ["/actions/0/address"]);
    for (body, pointer) in [
        (json!(["arrays-1"]), ""),
        (
            json!({"idempotencyKey": "arrays-1", "customer": ["b2b@example.com"]}),
            "/customer",
        ),
        (
            json!({"idempotencyKey": "arrays-1", "customer": []}),
            "/customer",
        ),
        (
            json!({"idempotencyKey": "arrays-1", "lineItems": [["MUG", 1]]}),
            "/lineItems/0",
        ),
        (
            json!({"idempotencyKey": "arrays-1", "payments": [["pm_card_visa"]]}),
            "/payments/0",
        ),
    ] {
        let refused = erp.post("/admin/orders", body).await;
        assert_eq!(refused.pointers(), [pointer], "{}", refused.body);
    }
    let batch = erp
        .post(
            "/admin/orders/batch",
            json!({"orders": [{"idempotencyKey": "arrays-2", "customer": []}]}),
        )
        .await;
    batch.assert_status(StatusCode::OK);
    assert_eq!(batch.body["results"][0]["status"], 400);
    assert_eq!(
        batch.body["results"][0]["problem"]["errors"][0]["pointer"],
        "/customer"
    );
    // Nothing was written: the cart is as it was and the keys are free.
    assert_unchanged(&guest, &path).await;
    erp.post("/admin/orders", json!({"idempotencyKey": "arrays-1"}))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn assert_unchanged(guest: &checkout_tests::Client, path: &str) {
    let cart = guest.get(path).await;
    cart.assert_status(StatusCode::OK);
    assert_eq!(cart.body["version"], 1, "bad input changed the cart");
    assert_eq!(cart.body["lineItems"], json!([]));
}

on_both_stores!(
    malformed_json_and_wrong_types_point_at_the_problem,
    unknown_actions_and_bad_values_are_all_reported_at_once,
    unknown_skus_and_empty_action_lists_are_refused,
    oversized_bodies_get_413,
    unknown_routes_methods_and_ids_are_problems_too,
    null_for_an_optional_member_and_a_batch_of_non_objects_are_refused,
    an_array_is_no_object_and_text_after_the_body_is_malformed,
);
