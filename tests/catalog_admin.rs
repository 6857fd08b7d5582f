//! Catalog administration: who may change it, what it validates, and what an update keeps.

use checkout_tests::serde_json::json;
use checkout_tests::{address_de, cents, on_both_stores, App, Backend};
use http::StatusCode;

async fn only_admins_change_the_catalog(backend: Backend) {
    let app = App::start(backend).await;
    let product =
        json!({"name": "Cup", "prices": {"EUR": 999}, "stock": 3, "taxCategory": "standard"});
    app.anonymous()
        .put("/admin/products/CUP", product.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.customer("alice")
        .put("/admin/products/CUP", product.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    // Identity comes from the verified token only, never from a header a client can set.
    app.anonymous()
        .with_header("x-customer-id", "ops")
        .with_header("x-scope", "admin")
        .put("/admin/products/CUP", product.clone())
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");

    let stored = app.admin().put("/admin/products/CUP", product).await;
    stored.assert_status(StatusCode::OK);
    assert_eq!(stored.body["sku"], "CUP");

    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let added = guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "CUP", "quantity": 3}]),
        )
        .await;
    assert_eq!(cents(&added.body["totals"]["subtotal"]), 2997);
}

async fn product_input_is_validated_field_by_field(backend: Backend) {
    let app = App::start(backend).await;
    let response = app
        .admin()
        .put(
            "/admin/products/bad%20sku",
            json!({"name": " ", "prices": {"EUR": -1, "XYZ": 5}, "stock": -2, "taxCategory": "luxury"}),
        )
        .await;
    assert_eq!(
        response.pointers(),
        [
            "/sku",
            "/name",
            "/prices/EUR",
            "/prices/XYZ",
            "/stock",
            "/taxCategory"
        ]
    );
}

async fn a_price_change_reaches_active_carts_on_their_next_update(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "MUG", "quantity": 1}]),
        )
        .await
        .assert_status(StatusCode::OK);
    app.admin()
        .put("/admin/products/MUG", json!({"name": "Mug", "prices": {"EUR": 1499}, "stock": 100, "taxCategory": "standard"}))
        .await
        .assert_status(StatusCode::OK);
    // Reading shows the cart as last priced; the next update reprices it.
    let read = guest.get(&format!("/carts/{}", cart.id)).await;
    assert_eq!(cents(&read.body["lineItems"][0]["unitPrice"]), 1299);
    let updated = guest
        .update(
            &mut cart,
            json!([{"action": "setShippingAddress", "address": address_de()}]),
        )
        .await;
    assert_eq!(cents(&updated.body["lineItems"][0]["unitPrice"]), 1499);
}

async fn updating_a_discount_code_replaces_its_terms(backend: Backend) {
    let app = App::start(backend).await;
    let admin = app.admin();
    let first = admin
        .put("/admin/discount-codes/spring", json!({"kind": "percentage", "value": 500, "maxRedemptions": 10, "validUntil": "2030-01-01T00:00:00Z"}))
        .await;
    first.assert_status(StatusCode::OK);
    assert_eq!(first.body["code"], "SPRING");
    assert_eq!(first.body["redemptions"], 0);

    let second = admin
        .put(
            "/admin/discount-codes/SPRING",
            json!({"kind": "fixed", "value": 300, "currency": "EUR"}),
        )
        .await;
    second.assert_status(StatusCode::OK);
    assert_eq!(second.body["kind"], "fixed");
    assert!(
        second.body.get("maxRedemptions").is_none(),
        "dropped terms are cleared"
    );
    assert!(second.body.get("validUntil").is_none());

    let bad = admin
        .put(
            "/admin/discount-codes/X",
            json!({"kind": "bogus", "value": 0, "validUntil": "tomorrow"}),
        )
        .await;
    assert_eq!(bad.pointers(), ["/kind", "/validUntil"]);
    let no_currency = admin
        .put(
            "/admin/discount-codes/X",
            json!({"kind": "fixed", "value": 100}),
        )
        .await;
    assert_eq!(no_currency.pointers(), ["/currency"]);
}

async fn configuration_must_tax_every_category_everywhere(backend: Backend) {
    let app = App::empty(backend).await;
    let response = app
        .admin()
        .put(
            "/admin/config",
            json!({
                "taxRates": {"DE": {"standard": 1900, "reduced": 700}, "AT": {"standard": 2000}},
                "shippingMethods": [
                    {"id": "std", "name": "Std", "countries": ["DE", "FR"], "prices": {"EUR": 100}, "taxCategory": "standard"},
                    {"id": "std", "name": "Again", "countries": ["DE"], "prices": {"EUR": 100}, "taxCategory": "zero"}
                ]
            }),
        )
        .await;
    assert_eq!(
        response.pointers(),
        [
            "/taxRates/AT",
            "/shippingMethods/0/countries/1",
            "/shippingMethods/1/id",
            "/shippingMethods/1/taxCategory"
        ]
    );
    // Nothing was stored: no country is shipped to yet.
    let offers = app
        .anonymous()
        .get("/shipping-methods?country=DE&currency=EUR")
        .await;
    assert_eq!(offers.body["results"], json!([]));
}

async fn shipping_methods_are_offered_per_country_and_currency(backend: Backend) {
    let app = App::start(backend).await;
    let offers = app
        .anonymous()
        .get("/shipping-methods?country=DE&currency=EUR")
        .await;
    offers.assert_status(StatusCode::OK);
    assert_eq!(
        offers.body["results"],
        json!([
            {"id": "standard", "name": "Standard", "price": {"centAmount": 499, "currencyCode": "EUR"},
             "freeAbove": {"centAmount": 5000, "currencyCode": "EUR"}},
            {"id": "express", "name": "Express", "price": {"centAmount": 1299, "currencyCode": "EUR"}}
        ])
    );
    let none = app
        .anonymous()
        .get("/shipping-methods?country=DE&currency=GBP")
        .await;
    assert_eq!(none.body["results"], json!([]));
}

on_both_stores!(
    only_admins_change_the_catalog,
    product_input_is_validated_field_by_field,
    a_price_change_reaches_active_carts_on_their_next_update,
    updating_a_discount_code_replaces_its_terms,
    configuration_must_tax_every_category_everywhere,
    shipping_methods_are_offered_per_country_and_currency,
);
