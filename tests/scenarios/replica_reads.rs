//! Cart edits price from eventually consistent reads of the products (half the read units,
//! any replica: a SKU every buyer of a sale reads takes twice the buyers, rule 12). A replica
//! that lags never refuses a buyer (a refusal is decided on a consistent read) and never
//! sells at its stale price (the commit checks the terms on the stock item, and the refusal
//! it answers shows the current price, which a recalculation confirms).

use checkout_domain::model::values::Sku;
use checkout_tests::faults::FaultyStore;
use checkout_tests::serde_json::json;
use checkout_tests::{cents, on_both_stores, order_request, Backend};
use http::StatusCode;

async fn a_lagging_replica_never_refuses_a_buyer_nor_sells_at_its_stale_price(backend: Backend) {
    let (app, store) = FaultyStore::app(backend).await;
    let put = |price: i64, stock: u32| {
        json!({"name": "Lamp", "prices": {"EUR": price}, "stock": stock,
               "taxCategory": "standard", "stockShards": 4})
    };
    app.admin()
        .put("/admin/products/LAMP", put(1000, 0))
        .await
        .assert_status(StatusCode::OK);
    let lamp = Sku::parse("LAMP").unwrap();

    // A replica still shows the lamp sold out after its restock: the buyer gets it anyway.
    store.freeze_replicas(std::slice::from_ref(&lamp)).await;
    app.admin()
        .put("/admin/products/LAMP", put(1000, 5))
        .await
        .assert_status(StatusCode::OK);
    let (guest, mut cart) = app.ready_guest_cart().await;
    let added = guest
        .update(
            &mut cart,
            json!([{"action": "addLineItem", "sku": "LAMP", "quantity": 1}]),
        )
        .await;
    added.assert_status(StatusCode::OK);
    let unit = |body: &checkout_tests::serde_json::Value| {
        body["lineItems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["sku"] == "LAMP")
            .map(|l| cents(&l["unitPrice"]))
    };
    assert_eq!(unit(&added.body), Some(1000));
    store.thaw();

    // The price rises while a replica still shows the old one: the edit is priced from it,
    // but the commit is refused with the current price, and nothing is sold.
    store.freeze_replicas(std::slice::from_ref(&lamp)).await;
    app.admin()
        .put("/admin/products/LAMP", put(1200, 5))
        .await
        .assert_status(StatusCode::OK);
    let edited = guest
        .update(
            &mut cart,
            json!([{"action": "changeLineItemQuantity", "lineItemId": added.body["lineItems"].as_array().unwrap().iter().find(|l| l["sku"] == "LAMP").unwrap()["id"], "quantity": 2}]),
        )
        .await;
    edited.assert_status(StatusCode::OK);
    assert_eq!(unit(&edited.body), Some(1000), "priced from the replica");
    app.pay(&mut cart, None).await;
    let refused = guest.post("/orders", order_request(&cart)).await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, "PriceChanged");
    let lamp_line = problem["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == "LAMP")
        .expect("the lamp's price moved")
        .clone();
    assert_eq!(cents(&lamp_line["previousUnitPrice"]), 1000);
    assert_eq!(cents(&lamp_line["currentUnitPrice"]), 1200);
    assert_eq!(app.stock("LAMP").await, 5, "nothing sold");

    // The customer confirms while the replica still lags: the current total, not the stale.
    let confirmed = guest
        .update(&mut cart, json!([{"action": "recalculate"}]))
        .await;
    confirmed.assert_status(StatusCode::OK);
    assert_eq!(unit(&confirmed.body), Some(1200));
    assert_eq!(
        confirmed.body["totals"]["total"],
        problem["current"]["total"]
    );
    let owed = cents(&confirmed.body["totals"]["total"]);
    app.pay(&mut cart, Some(owed)).await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.stock("LAMP").await, 3);
}

on_both_stores!(a_lagging_replica_never_refuses_a_buyer_nor_sells_at_its_stale_price);
