//! A drop that charges nobody it cannot serve (`reserveOnPayment`): starting a payment takes
//! the cart's units off the shelf first, so whoever pays within the hold gets the order, and a
//! buyer the shelf cannot serve is refused before any payment exists. Every hold has an owner,
//! a limit and an end (rule 13).

use checkout_domain::model::limits::Limits;
use checkout_domain::model::reservation::DEFAULT_RESERVATION;
use checkout_domain::usecases::sweeper::SweepBudget;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{on_both_stores, ready_actions, App, Backend, CartRef, Client, TestResponse};
use ddb_contention::Settings;
use http::StatusCode;

/// A product sold as a drop: `stock` units over `shards`, reserved when payment starts.
async fn drop_product(app: &App, sku: &str, stock: u32, shards: u32, extra: Value) {
    let mut body = json!({"name": sku, "prices": {"EUR": 1000}, "stock": stock,
        "taxCategory": "standard", "stockShards": shards, "reserveOnPayment": true});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.admin()
        .put(&format!("/admin/products/{sku}"), body)
        .await
        .assert_status(StatusCode::OK);
}

/// A guest cart ready to order `quantity` of `sku`, with an email of its own.
async fn buyer(app: &App, sku: &str, quantity: u32) -> (Client, CartRef) {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(&[(sku, quantity)]);
    if let Some(list) = actions.as_array_mut() {
        list.retain(|a| a["action"] != "setGuestDetails");
        list.push(json!({"action": "setGuestDetails",
            "email": format!("fan-{}@example.com", cart.id), "name": "Ada Lovelace",
            "phone": "+49 30 1234567"}));
    }
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    (guest, cart)
}

async fn start_paying(client: &Client, cart: &CartRef) -> TestResponse {
    client
        .post(&format!("/carts/{}/payments", cart.id), json!({}))
        .await
}

/// `GET /admin/products/{sku}`: (stock on the shelf, units reserved).
async fn shelf(app: &App, sku: &str) -> (u64, u64) {
    let product = app.admin().get(&format!("/admin/products/{sku}")).await;
    product.assert_status(StatusCode::OK);
    (
        product.body["stock"].as_u64().unwrap(),
        product.body["reserved"].as_u64().unwrap(),
    )
}

/// Delivers the provider's report of `reference`; the webhook's effect.
async fn report(app: &App, reference: &str, succeeded: bool) -> Value {
    let delivered = app.deliver(&app.payment_event(reference, succeeded)).await;
    delivered.assert_status(StatusCode::OK);
    delivered.body["effect"].clone()
}

fn reference(started: &TestResponse) -> String {
    started.body["pspReference"].as_str().unwrap().to_string()
}

/// Fifteen fans start paying for five pairs at the same moment: five payments start, ten are
/// told `OutOfStock` before the provider hears of them, the five who pay get their orders and
/// nobody's money goes back.
async fn fifteen_buyers_for_five_units(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "SNEAKER", 5, 4, json!({})).await;
    let mut fans = Vec::new();
    for _ in 0..15 {
        fans.push(buyer(&app, "SNEAKER", 1).await);
    }
    let tasks: Vec<_> = fans
        .into_iter()
        .map(|(client, cart)| {
            tokio::spawn(async move {
                let started = start_paying(&client, &cart).await;
                (cart, started)
            })
        })
        .collect();
    let mut started = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let (cart, answer) = task.await.unwrap();
        match answer.status {
            StatusCode::CREATED => started.push((cart, reference(&answer))),
            _ => {
                answer.assert_problem(StatusCode::CONFLICT, "OutOfStock");
                refused += 1;
            }
        }
    }
    assert_eq!((started.len(), refused), (5, 10));
    assert_eq!(
        app.psp_requests("create_intent").len(),
        5,
        "no intent for a refused fan"
    );
    assert_eq!(shelf(&app, "SNEAKER").await, (0, 5));

    for (cart, reference) in &started {
        let effect = report(&app, reference, true).await;
        assert!(effect["ordered"].is_string(), "{effect:#}");
        let (stored, order) = app.stored(cart).await;
        assert!(order.is_some());
        assert!(stored.reservation.is_none(), "the hold became the sale");
    }
    assert_eq!(shelf(&app, "SNEAKER").await, (0, 0));
    assert!(app.psp_requests("refund").is_empty());
    assert!(app.psp_requests("cancel").is_empty());
}

/// A hold that ends counts against nobody at once: the next fan gets the unit without waiting
/// for the sweeper, and the first fan's late payment, its unit sold, is given back.
async fn an_ended_hold_frees_its_unit_at_once_and_a_late_payment_is_reversed(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "LAST-PAIR", 1, 1, json!({})).await;
    let (first, first_cart) = buyer(&app, "LAST-PAIR", 1).await;
    let (second, second_cart) = buyer(&app, "LAST-PAIR", 1).await;
    let first_payment = start_paying(&first, &first_cart).await;
    first_payment.assert_status(StatusCode::CREATED);
    start_paying(&second, &second_cart)
        .await
        .assert_problem(StatusCode::CONFLICT, "OutOfStock");

    app.advance(DEFAULT_RESERVATION + time::Duration::seconds(1));
    assert_eq!(
        shelf(&app, "LAST-PAIR").await,
        (0, 0),
        "an ended hold reserves nothing"
    );
    // A newcomer may put it in a cart at once: the ended hold is given back on the spot.
    buyer(&app, "LAST-PAIR", 1).await;
    assert_eq!(shelf(&app, "LAST-PAIR").await, (1, 0));
    let second_payment = start_paying(&second, &second_cart).await;
    second_payment.assert_status(StatusCode::CREATED);
    let (stored, _) = app.stored(&first_cart).await;
    assert!(
        stored.reservation.is_none(),
        "the ended hold was given back"
    );
    let effect = report(&app, &reference(&second_payment), true).await;
    assert!(effect["ordered"].is_string(), "{effect:#}");

    // The first fan pays after all: the unit went to someone else, so the money goes back.
    let effect = report(&app, &reference(&first_payment), true).await;
    assert_eq!(effect, json!("reversed"), "{effect:#}");
    let (_, order) = app.stored(&first_cart).await;
    assert!(order.is_none());
    assert_eq!(
        app.psp_requests("refund").len() + app.psp_requests("cancel").len(),
        1
    );
    assert_eq!(shelf(&app, "LAST-PAIR").await, (0, 0));
}

/// A drop's line is sold from its cart's reservation only: once the hold ended and was given
/// back, a late payment is refunded even though the shelf has units again (they are for the
/// fans who start paying now).
async fn a_payment_whose_hold_was_given_back_is_refunded_though_units_are_left(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "POSTER", 3, 1, json!({})).await;
    let (fan, cart) = buyer(&app, "POSTER", 1).await;
    let payment = start_paying(&fan, &cart).await;
    payment.assert_status(StatusCode::CREATED);
    app.advance(DEFAULT_RESERVATION);
    let budget = SweepBudget::time(std::time::Duration::from_secs(60));
    let swept = app
        .storefront
        .sweeper()
        .sweep(time::Duration::seconds(1800), budget)
        .await
        .unwrap();
    assert_eq!(swept.holds_released, 1);
    assert_eq!(shelf(&app, "POSTER").await, (3, 0));

    let effect = report(&app, &reference(&payment), true).await;
    assert_eq!(effect, json!("reversed"), "{effect:#}");
    assert!(app.stored(&cart).await.1.is_none());
    assert_eq!(
        shelf(&app, "POSTER").await,
        (3, 0),
        "nothing taken from the shelf"
    );
    // The redirect's `POST /orders` finds the money given back; paying again reserves anew.
    fan.post("/orders", checkout_tests::order_request(&cart))
        .await
        .assert_problem(StatusCode::CONFLICT, "PaymentAmountMismatch");
    let again = start_paying(&fan, &cart).await;
    again.assert_status(StatusCode::CREATED);
    assert_eq!(shelf(&app, "POSTER").await, (2, 1));
    let effect = report(&app, &reference(&again), true).await;
    assert!(effect["ordered"].is_string(), "{effect:#}");
}

/// A cart edit that drops or lowers a reserved line gives the hold back; the next payment
/// reserves what the cart then holds.
async fn a_cart_edit_releases_what_it_drops(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "HOODIE", 3, 1, json!({})).await;
    let (fan, mut cart) = buyer(&app, "HOODIE", 2).await;
    start_paying(&fan, &cart)
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(shelf(&app, "HOODIE").await, (1, 2));
    let shown = fan.get(&format!("/carts/{}", cart.id)).await;
    let until = time::OffsetDateTime::parse(
        shown.body["reservedUntil"]
            .as_str()
            .expect("the hold's end is shown"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(until, app.storefront.now() + DEFAULT_RESERVATION);

    let line = app.stored(&cart).await.0.line_items[0].id.to_string();
    fan.update(
        &mut cart,
        json!([{"action": "changeLineItemQuantity", "lineItemId": line, "quantity": 1}]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(shelf(&app, "HOODIE").await, (3, 0));
    assert!(app.stored(&cart).await.0.reservation.is_none());
    let shown = fan.get(&format!("/carts/{}", cart.id)).await;
    assert!(
        shown.body.get("reservedUntil").is_none(),
        "{:#}",
        shown.body
    );

    start_paying(&fan, &cart)
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(shelf(&app, "HOODIE").await, (2, 1));
    fan.update(
        &mut cart,
        json!([{"action": "removeLineItem", "lineItemId": line}]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(shelf(&app, "HOODIE").await, (3, 0));
}

/// A payment that fails (or is cancelled) gives its units back at once.
async fn a_failed_payment_gives_its_units_back(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "CAP", 2, 1, json!({})).await;
    let (fan, cart) = buyer(&app, "CAP", 2).await;
    let payment = start_paying(&fan, &cart).await;
    payment.assert_status(StatusCode::CREATED);
    assert_eq!(shelf(&app, "CAP").await, (0, 2));
    report(&app, &reference(&payment), false).await;
    assert_eq!(shelf(&app, "CAP").await, (2, 0));
    assert!(app.stored(&cart).await.0.reservation.is_none());
    // A second try reserves again, and paying it orders.
    let again = start_paying(&fan, &cart).await;
    again.assert_status(StatusCode::CREATED);
    let effect = report(&app, &reference(&again), true).await;
    assert!(effect["ordered"].is_string(), "{effect:#}");
    assert_eq!(shelf(&app, "CAP").await, (0, 0));
}

/// The sweeper gives back holds whose time is up, when nobody asked for their units.
async fn the_sweeper_gives_back_ended_holds(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "SCARF", 4, 2, json!({})).await;
    let (fan, cart) = buyer(&app, "SCARF", 3).await;
    start_paying(&fan, &cart)
        .await
        .assert_status(StatusCode::CREATED);
    let budget = SweepBudget::time(std::time::Duration::from_secs(60));
    let grace = time::Duration::seconds(1800);
    let early = app.storefront.sweeper().sweep(grace, budget).await.unwrap();
    assert_eq!(early.holds_released, 0, "the hold has not ended");
    assert_eq!(app.stock("SCARF").await, 1);

    app.advance(DEFAULT_RESERVATION);
    let swept = app.storefront.sweeper().sweep(grace, budget).await.unwrap();
    assert_eq!(swept.holds_released, 1);
    assert_eq!(shelf(&app, "SCARF").await, (4, 0));
    let again = app.storefront.sweeper().sweep(grace, budget).await.unwrap();
    assert_eq!(again.holds_released, 0);
}

/// Rule 13: a cart holds at most `maxPerOrder` of a drop, and one customer holds a SKU for one
/// cart at a time (until that hold ends).
async fn a_hold_has_an_owner_and_a_limit(backend: Backend) {
    let app = App::start(backend).await;
    drop_product(&app, "CONSOLE", 10, 1, json!({"maxPerOrder": 2})).await;
    let (guest, mut greedy) = app.guest_with_cart("EUR", "DE").await;
    let refused = guest
        .update(&mut greedy, ready_actions(&[("CONSOLE", 3)]))
        .await;
    refused.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    assert_eq!(refused.pointers(), ["/actions/0/quantity"]);

    let customer = app.customer("collector");
    let mut carts = Vec::new();
    for _ in 0..2 {
        let created = customer
            .post("/carts", json!({"currency": "EUR", "country": "DE"}))
            .await;
        created.assert_status(StatusCode::CREATED);
        let mut cart = CartRef::from(&created.body);
        let mut actions = ready_actions(&[("CONSOLE", 1)]);
        let list = actions.as_array_mut().unwrap();
        list.retain(|a| a["action"] != "setGuestDetails");
        list.push(json!({"action": "setCustomerEmail", "email": "collector@example.com"}));
        customer
            .update(&mut cart, actions)
            .await
            .assert_status(StatusCode::OK);
        carts.push(cart);
    }
    start_paying(&customer, &carts[0])
        .await
        .assert_status(StatusCode::CREATED);
    let second = start_paying(&customer, &carts[1]).await;
    let problem = second.assert_problem(StatusCode::CONFLICT, "AlreadyReserved");
    assert_eq!(problem["sku"], "CONSOLE");
    assert_eq!(app.psp_requests("create_intent").len(), 1);
    assert_eq!(shelf(&app, "CONSOLE").await, (9, 1));

    // Once the first hold ends, the second cart may hold it.
    app.advance(DEFAULT_RESERVATION);
    start_paying(&customer, &carts[1])
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(shelf(&app, "CONSOLE").await, (9, 1));
}

/// A SKU without `reserveOnPayment` is taken at the commit, as before: starting a payment
/// holds nothing.
async fn a_product_that_does_not_reserve_holds_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let before = app.stock("MUG").await;
    let payment = start_paying(&guest, &cart).await;
    payment.assert_status(StatusCode::CREATED);
    assert_eq!(app.stock("MUG").await, before);
    assert!(app.stored(&cart).await.0.reservation.is_none());
    let effect = report(&app, &reference(&payment), true).await;
    assert!(effect["ordered"].is_string(), "{effect:#}");
    assert_eq!(app.stock("MUG").await, before - 2);
}

on_both_stores!(multi_thread: fifteen_buyers_for_five_units);
mod sequential {
    use super::*;
    on_both_stores!(
        an_ended_hold_frees_its_unit_at_once_and_a_late_payment_is_reversed,
        a_payment_whose_hold_was_given_back_is_refunded_though_units_are_left,
        a_cart_edit_releases_what_it_drops,
        a_failed_payment_gives_its_units_back,
        the_sweeper_gives_back_ended_holds,
        a_hold_has_an_owner_and_a_limit,
        a_product_that_does_not_reserve_holds_nothing,
    );
}

/// Through DynamoDB's transaction-conflict rule: fifteen fans race for five pairs. Exactly
/// five payments start and five orders follow, none given back; the orders' commits take no
/// stock item (the reservation did), so they never conflict on the SKU's shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifteen_buyers_for_five_units_under_the_conflict_rule() {
    let app = App::start(Backend::DynamoDb).await;
    drop_product(&app, "DROP", 5, 4, json!({})).await;
    let mut fans = Vec::new();
    for _ in 0..15 {
        fans.push(buyer(&app, "DROP", 1).await);
    }
    let (through, emulator) = app
        .contended(
            Settings::default().hold(std::time::Duration::from_millis(20)),
            Limits::default(),
        )
        .await;
    let tasks: Vec<_> = fans
        .into_iter()
        .map(|(client, cart)| {
            let client = client.on(&through);
            tokio::spawn(async move {
                loop {
                    let answer = start_paying(&client, &cart).await;
                    if answer.body["code"] != "Contended" {
                        return (cart, answer);
                    }
                    assert!(answer.headers.contains_key("retry-after"));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut started = Vec::new();
    for task in tasks {
        let (cart, answer) = task.await.unwrap();
        if answer.status == StatusCode::CREATED {
            started.push((cart, reference(&answer)));
        } else {
            answer.assert_problem(StatusCode::CONFLICT, "OutOfStock");
        }
    }
    assert_eq!(started.len(), 5);
    assert_eq!(app.psp_requests("create_intent").len(), 5);
    let reserving = emulator.stats();

    let deliveries: Vec<_> = started
        .iter()
        .map(|(_, reference)| {
            let body = through.payment_event(reference, true);
            let through = through.clone();
            tokio::spawn(async move {
                loop {
                    let delivered = through.deliver(&body).await;
                    if delivered.status == StatusCode::OK {
                        return delivered.body["effect"].clone();
                    }
                    // A webhook answered 503 is redelivered by the provider.
                    assert_eq!(delivered.status, StatusCode::SERVICE_UNAVAILABLE);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for delivery in deliveries {
        let effect = delivery.await.unwrap();
        assert!(effect["ordered"].is_string(), "{effect:#}");
    }
    let stats = emulator.stats();
    let shard_conflicts_committing: u64 = stats
        .items
        .iter()
        .filter(|item| item.item.contains("PRODUCT#DROP"))
        .map(|item| item.conflicts)
        .sum::<u64>()
        - reserving
            .items
            .iter()
            .filter(|item| item.item.contains("PRODUCT#DROP"))
            .map(|item| item.conflicts)
            .sum::<u64>();
    assert_eq!(shard_conflicts_committing, 0, "{:?}", stats.hottest(5));
    assert_eq!(shelf(&app, "DROP").await, (0, 0));
    assert!(app.psp_requests("refund").is_empty());
    assert!(app.psp_requests("cancel").is_empty());
}
