//! Catalog administration: who may change it, what it validates, and what an update keeps.

use checkout_domain::model::catalog::{ProductTerms, StockChange};
use checkout_domain::model::values::Sku;
use checkout_domain::ports::catalog::ProductWriteError;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_de, cents, on_both_stores, order_request, App, Backend};
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

/// A product's terms with one stock member (`stock` or `stockDelta`), or none.
fn lamp(stock: Option<(&str, i64)>) -> Value {
    let mut body = json!({"name": "Lamp", "prices": {"EUR": 8900}, "taxCategory": "standard"});
    if let Some((member, value)) = stock {
        body[member] = value.into();
    }
    body
}

async fn a_restock_racing_with_sales_neither_loses_a_sale_nor_oversells(backend: Backend) {
    let app = App::start(backend).await;
    let initial = app.stock("LAMP").await;
    let orders: Vec<_> = app
        .paid_carts_of_one("LAMP", 20)
        .await
        .into_iter()
        .map(|(guest, cart)| {
            tokio::spawn(async move { guest.post("/orders", order_request(&cart)).await })
        })
        .collect();
    // Five restocks of two, and three edits of the terms alone, while the orders run.
    let admin_writes: Vec<_> = (0..8)
        .map(|i| {
            let (admin, body) = (app.admin(), lamp((i < 5).then_some(("stockDelta", 2))));
            tokio::spawn(async move { admin.put("/admin/products/LAMP", body).await })
        })
        .collect();
    for write in admin_writes {
        write.await.unwrap().assert_status(StatusCode::OK);
    }
    let mut sold = 0;
    for order in orders {
        let response = order.await.unwrap();
        if response.status == StatusCode::CREATED {
            sold += 1;
        } else {
            response.assert_problem(StatusCode::CONFLICT, "OutOfStock");
        }
    }
    assert!(
        sold >= initial,
        "{sold} sold; the initial stock alone covers {initial}"
    );
    assert_eq!(app.stock("LAMP").await, initial + 5 * 2 - sold);
}

async fn a_stock_read_before_a_sale_is_not_written_over_it(backend: Backend) {
    let app = App::start(backend).await;
    let sku = Sku::parse("MUG").unwrap();
    let read = app.store.products(&[sku]).await.unwrap().remove(0);
    // A sale of two mugs lands between the admin service's read and its write.
    let (guest, cart) = app.paid_guest_cart().await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    let terms = ProductTerms {
        sku: read.sku.clone(),
        name: read.name.clone(),
        prices: read.prices.clone(),
        tax_category: read.tax_category.clone(),
        reserve_on_payment: false,
        max_per_order: None,
    };
    let stale = app
        .store
        .write_product(&terms, StockChange::Set(150).write(Some(&read)))
        .await;
    assert!(
        matches!(stale, Err(ProductWriteError::StockConflict { current: Some(stock) }) if stock == read.stock - 2),
        "{stale:?}"
    );
    assert_eq!(app.stock("MUG").await, read.stock - 2, "the sale stands");
    // The same request through the API reads the stock again and applies it.
    let again = app
        .admin()
        .put("/admin/products/MUG", json!({"name": "Mug", "prices": {"EUR": 1299}, "stock": 150, "taxCategory": "standard"}))
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body["stock"], 150);
}

async fn stock_deltas_never_take_stock_below_zero(backend: Backend) {
    let app = App::start(backend).await;
    let admin = app.admin();
    let refused = admin
        .put("/admin/products/LAMP", lamp(Some(("stockDelta", -6))))
        .await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, "StockOutOfRange");
    assert_eq!(problem["currentStock"], 5);
    assert_eq!(problem["recovery"], "refetch");
    assert_eq!(app.stock("LAMP").await, 5, "nothing was written");

    let emptied = admin
        .put("/admin/products/LAMP", lamp(Some(("stockDelta", -5))))
        .await;
    emptied.assert_status(StatusCode::OK);
    assert_eq!(emptied.body["stock"], 0);

    // A product that does not exist has no stock to take from; a positive delta creates it.
    let new = |delta| json!({"name": "Shade", "prices": {"EUR": 500}, "stockDelta": delta, "taxCategory": "standard"});
    let missing = admin.put("/admin/products/SHADE", new(-1)).await;
    assert_eq!(
        missing.assert_problem(StatusCode::CONFLICT, "StockOutOfRange")["currentStock"],
        0
    );
    let shade = Sku::parse("SHADE").unwrap();
    assert!(app.store.products(&[shade]).await.unwrap().is_empty());
    let created = admin.put("/admin/products/SHADE", new(3)).await;
    assert_eq!(created.assert_status(StatusCode::OK).body["stock"], 3);
}

async fn terms_alone_keep_the_stock_and_both_stock_members_are_refused(backend: Backend) {
    let app = App::start(backend).await;
    let admin = app.admin();
    let mut renamed = lamp(None);
    renamed["name"] = "Desk lamp".into();
    let kept = admin.put("/admin/products/LAMP", renamed).await;
    kept.assert_status(StatusCode::OK);
    assert_eq!(
        (&kept.body["name"], &kept.body["stock"]),
        (&json!("Desk lamp"), &json!(5))
    );

    let mut both = lamp(Some(("stock", 9)));
    both["stockDelta"] = 1.into();
    assert_eq!(
        admin.put("/admin/products/LAMP", both).await.pointers(),
        ["/stockDelta"]
    );
    assert_eq!(app.stock("LAMP").await, 5);
}

on_both_stores!(
    a_restock_racing_with_sales_neither_loses_a_sale_nor_oversells,
    a_stock_read_before_a_sale_is_not_written_over_it,
    stock_deltas_never_take_stock_below_zero,
    terms_alone_keep_the_stock_and_both_stock_members_are_refused,
    only_admins_change_the_catalog,
    product_input_is_validated_field_by_field,
    a_price_change_reaches_active_carts_on_their_next_update,
    updating_a_discount_code_replaces_its_terms,
    configuration_must_tax_every_category_everywhere,
    shipping_methods_are_offered_per_country_and_currency,
);
