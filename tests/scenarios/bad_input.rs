//! Bad input always gets a clear problem+json answer with JSON pointers, changes nothing, and
//! never a 5xx.

use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, App, Backend};
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
);
