//! Merchant operations after the order exists: support finds an order with its history,
//! cancels it (its stock, codes and money go back), refunds it in part or whole (never more
//! than it holds), records its shipments and their delivery; a customer cancels their own
//! unpaid order. Every change is idempotent by its key, and a refused one writes nothing.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, order_request, App, Backend, Client};
use http::StatusCode;

use crate::gift_cards::{balance, integration, paid_order, put_card};

/// Support's token: reads and changes orders.
pub(crate) fn support(app: &App) -> Client {
    app.with_scope("support-1", "orders:read orders:write")
}

/// A guest's paid order of two mugs (4,998 with shipping and tax in the fixture catalog):
/// its number and total.
pub(crate) async fn paid_order_of_two_mugs(app: &App) -> (String, i64) {
    let (guest, cart) = app.paid_guest_cart().await;
    let created = guest.post("/orders", order_request(&cart)).await;
    created.assert_status(StatusCode::CREATED);
    (
        created.body["orderNumber"].as_str().unwrap().to_string(),
        cents(&created.body["totals"]["total"]),
    )
}

pub(crate) fn line_id(order: &Value, index: usize) -> String {
    order["lineItems"][index]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn support_finds_an_order_with_its_history(backend: Backend) {
    let app = App::start(backend).await;
    let (number, _) = paid_order_of_two_mugs(&app).await;
    let found = app
        .with_scope("reader", "orders:read")
        .get(&format!("/admin/orders/{number}"))
        .await;
    found.assert_status(StatusCode::OK);
    assert_eq!(found.body["orderNumber"], number.as_str());
    assert_eq!(found.body["shipmentState"], "Pending");
    assert_eq!(cents(&found.body["refundedAmount"]), 0);
    let history = found.body["history"].as_array().unwrap();
    assert_eq!(
        (history[0]["action"].clone(), history[0]["actor"].clone()),
        (json!("created"), json!("guest"))
    );
    // An order an integration placed was created by the integration's token.
    let placed = integration(&app)
        .post(
            "/admin/orders",
            paid_order("by-phone", 1, json!([{"paymentMethod": "pm_card_visa"}])),
        )
        .await;
    placed.assert_status(StatusCode::CREATED);
    let phoned = support(&app)
        .get(&format!(
            "/admin/orders/{}",
            placed.body["orderNumber"].as_str().unwrap()
        ))
        .await;
    assert_eq!(phoned.body["history"][0]["actor"], "erp-bridge");
    // A reader cannot change it; a customer cannot read it; an unknown number is a 404.
    app.with_scope("reader", "orders:read")
        .post(
            &format!("/admin/orders/{number}/cancel"),
            json!({"idempotencyKey": "k", "reason": "no"}),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.customer("alice")
        .get(&format!("/admin/orders/{number}"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    support(&app)
        .get("/admin/orders/20261202-NOSUCHNO")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
}

async fn a_cancelled_order_gives_back_its_stock_and_money_once(backend: Backend) {
    let app = App::start(backend).await;
    let (number, total) = paid_order_of_two_mugs(&app).await;
    assert_eq!(app.stock("MUG").await, 98);
    let body = json!({"idempotencyKey": "cancel-1", "reason": "The customer called"});
    let cancelled = support(&app)
        .post(&format!("/admin/orders/{number}/cancel"), body.clone())
        .await;
    cancelled.assert_status(StatusCode::OK);
    assert_eq!(cancelled.body["state"], "Cancelled");
    assert!(cancelled.body["cancelledAt"].is_string());
    assert_eq!(cancelled.body["paymentState"], "Refunded");
    assert_eq!(cents(&cancelled.body["refundedAmount"]), total);
    assert_eq!(app.stock("MUG").await, 100, "the stock is back");
    assert_eq!(app.psp_requests("refund").len(), 1);
    // The same request again: the same answer, replayed; nothing moves twice.
    let again = support(&app)
        .post(&format!("/admin/orders/{number}/cancel"), body)
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The same key with another body is refused; a new key on a cancelled order is a no-op.
    support(&app)
        .post(
            &format!("/admin/orders/{number}/cancel"),
            json!({"idempotencyKey": "cancel-1", "reason": "Something else"}),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
    let unchanged = support(&app)
        .post(
            &format!("/admin/orders/{number}/cancel"),
            json!({"idempotencyKey": "cancel-2", "reason": "Twice"}),
        )
        .await;
    unchanged.assert_status(StatusCode::OK);
    assert_eq!(unchanged.body["state"], "Cancelled");
    assert_eq!(app.stock("MUG").await, 100);
    assert_eq!(app.psp_requests("refund").len(), 1);
    let history = support(&app).get(&format!("/admin/orders/{number}")).await;
    let actions: Vec<&str> = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"cancelled"), "{actions:?}");
    let cancel_entry = history.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "cancelled")
        .unwrap();
    assert_eq!(cancel_entry["actor"], "support-1");
    assert_eq!(cancel_entry["detail"], "The customer called");
}

async fn refunds_by_amount_and_by_lines_never_exceed_what_was_captured(backend: Backend) {
    let app = App::start(backend).await;
    let (number, total) = paid_order_of_two_mugs(&app).await;
    let order = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    let mug_line = line_id(&order, 0);
    let refunds = format!("/admin/orders/{number}/refunds");

    // Refused bodies write nothing.
    for (body, pointer) in [
        (
            json!({"idempotencyKey": "r0", "amount": 0, "reason": "x"}),
            "/amount",
        ),
        (
            json!({"idempotencyKey": "r0", "amount": -5, "reason": "x"}),
            "/amount",
        ),
        (
            json!({"idempotencyKey": "r0", "lineItems": [{"lineItemId": "nope", "quantity": 1}], "reason": "x"}),
            "/lineItems/0/lineItemId",
        ),
        (
            json!({"idempotencyKey": "r0", "lineItems": [{"lineItemId": mug_line, "quantity": 3}], "reason": "x"}),
            "/lineItems/0/quantity",
        ),
    ] {
        let refused = support(&app).post(&refunds, body).await;
        refused.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
        assert_eq!(refused.pointers(), [pointer]);
    }
    support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r0", "amount": 1.5, "reason": "x"}),
        )
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    assert!(
        app.psp_requests("refund").is_empty(),
        "nothing asked of the provider"
    );

    // A scratched mug: 5.00 back.
    let partial = support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r1", "amount": 500, "reason": "Scratched"}),
        )
        .await;
    partial.assert_status(StatusCode::CREATED);
    assert_eq!(cents(&partial.body["amount"]), 500);
    assert_eq!(partial.body["state"], "Succeeded");
    let order = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    assert_eq!(cents(&order["refundedAmount"]), 500);
    assert_eq!(order["paymentState"], "PartiallyRefunded");

    // A mug returned: its line's value back, and the unit back in stock.
    let by_line = support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r2", "lineItems": [{"lineItemId": mug_line, "quantity": 1}],
                   "reason": "Returned", "restock": true}),
        )
        .await;
    by_line.assert_status(StatusCode::CREATED);
    let line_value = cents(&by_line.body["amount"]);
    assert!(line_value > 0);
    assert_eq!(app.stock("MUG").await, 99);

    // More than is left: refused with what is refundable.
    let left = total - 500 - line_value;
    let too_much = support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r3", "amount": left + 1, "reason": "Too much"}),
        )
        .await;
    let problem = too_much.assert_problem(StatusCode::CONFLICT, "RefundExceedsCaptured");
    assert_eq!(cents(&problem["refundable"]), left);
    // Neither amount nor lines: all that is left.
    let rest = support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r4", "reason": "Goodwill"}),
        )
        .await;
    rest.assert_status(StatusCode::CREATED);
    assert_eq!(cents(&rest.body["amount"]), left);
    let order = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    assert_eq!(cents(&order["refundedAmount"]), total);
    assert_eq!(order["paymentState"], "Refunded");
    let refunded: i64 = app.psp_requests("refund").iter().map(|_| 1).sum();
    assert_eq!(refunded, 3, "one provider refund per request");
}

async fn concurrent_refunds_never_give_back_more_than_was_captured(backend: Backend) {
    let app = App::start(backend).await;
    let (number, total) = paid_order_of_two_mugs(&app).await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let client = support(&app);
            let path = format!("/admin/orders/{number}/refunds");
            tokio::spawn(async move {
                client
                    .post(
                        &path,
                        json!({"idempotencyKey": format!("all-{i}"), "reason": "All"}),
                    )
                    .await
            })
        })
        .collect();
    let mut given_back = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == StatusCode::CREATED {
            given_back += cents(&answer.body["amount"]);
        } else {
            answer.assert_problem(StatusCode::CONFLICT, "RefundExceedsCaptured");
        }
    }
    assert_eq!(given_back, total, "exactly what was captured, once");
    let order = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    assert_eq!(cents(&order["refundedAmount"]), total);
}

/// A cancel racing a shipment leaves one outcome: cancelled and refunded with nothing
/// shipped, or shipped and paid with the cancel refused. Cancels racing each other give the
/// money and the stock back once.
async fn a_cancel_racing_a_shipment_or_another_cancel_has_one_outcome(backend: Backend) {
    let app = App::start(backend).await;
    let (shipped_or_not, total) = paid_order_of_two_mugs(&app).await;
    let cancel = {
        let (client, path) = (
            support(&app),
            format!("/admin/orders/{shipped_or_not}/cancel"),
        );
        tokio::spawn(async move {
            client
                .post(
                    &path,
                    json!({"idempotencyKey": "race-cancel", "reason": "Race"}),
                )
                .await
        })
    };
    let ship = {
        let (client, path) = (
            support(&app),
            format!("/admin/orders/{shipped_or_not}/fulfillments"),
        );
        tokio::spawn(async move {
            client
                .post(
                    &path,
                    json!({"idempotencyKey": "race-ship", "carrier": "DHL", "trackingNumber": "1"}),
                )
                .await
        })
    };
    let (cancel, ship) = (cancel.await.unwrap(), ship.await.unwrap());
    let order = support(&app)
        .get(&format!("/admin/orders/{shipped_or_not}"))
        .await
        .body;
    if cancel.status == StatusCode::OK {
        ship.assert_problem(StatusCode::CONFLICT, "OrderNotFulfillable");
        assert_eq!(
            (order["state"].clone(), order["shipmentState"].clone()),
            (json!("Cancelled"), json!("Pending"))
        );
        assert_eq!(cents(&order["refundedAmount"]), total);
        assert_eq!(app.stock("MUG").await, 100);
    } else {
        cancel.assert_problem(StatusCode::CONFLICT, "OrderAlreadyShipped");
        ship.assert_status(StatusCode::CREATED);
        assert_eq!(
            (order["state"].clone(), order["shipmentState"].clone()),
            (json!("Confirmed"), json!("Shipped"))
        );
        assert_eq!(cents(&order["refundedAmount"]), 0);
        assert_eq!(app.stock("MUG").await, 98);
    }

    let refunds_before = app.psp_requests("refund").len();
    let (twice, total) = paid_order_of_two_mugs(&app).await;
    let stock_before = app.stock("MUG").await;
    let cancels: Vec<_> = (0..3)
        .map(|i| {
            let (client, path) = (support(&app), format!("/admin/orders/{twice}/cancel"));
            tokio::spawn(async move {
                client
                    .post(
                        &path,
                        json!({"idempotencyKey": format!("twice-{i}"), "reason": "Twice"}),
                    )
                    .await
            })
        })
        .collect();
    for answer in cancels {
        let answer = answer.await.unwrap();
        answer.assert_status(StatusCode::OK);
        assert_eq!(answer.body["state"], "Cancelled");
    }
    let order = support(&app)
        .get(&format!("/admin/orders/{twice}"))
        .await
        .body;
    assert_eq!(cents(&order["refundedAmount"]), total, "given back once");
    assert_eq!(
        app.stock("MUG").await,
        stock_before + 2,
        "the stock back once"
    );
    let refunds = app.psp_requests("refund");
    let keys: std::collections::HashSet<_> = refunds[refunds_before..]
        .iter()
        .map(|r| r.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 1, "one refund asked for, under one key");
}

async fn shipments_confirm_the_order_and_delivery_completes_it(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(
            &mut cart,
            checkout_tests::ready_actions(&[("MUG", 1), ("PEN", 2)]),
        )
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    let order = guest.post("/orders", order_request(&cart)).await.body;
    let number = order["orderNumber"].as_str().unwrap().to_string();
    let shipments = format!("/admin/orders/{number}/fulfillments");
    let first = support(&app)
        .post(
            &shipments,
            json!({"idempotencyKey": "s1", "lineItems": [{"lineItemId": line_id(&order, 0), "quantity": 1}],
                   "carrier": "DHL", "trackingNumber": "JJD000390007", "trackingUrl": "https://dhl.example/JJD000390007"}),
        )
        .await;
    first.assert_status(StatusCode::CREATED);
    assert_eq!(first.body["state"], "Shipped");
    let seen = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    assert_eq!(
        (seen["state"].clone(), seen["shipmentState"].clone()),
        (json!("Confirmed"), json!("Partial"))
    );
    // A shipped order is refunded, not cancelled.
    support(&app)
        .post(
            &format!("/admin/orders/{number}/cancel"),
            json!({"idempotencyKey": "c1", "reason": "Too late"}),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "OrderAlreadyShipped");
    // The rest ships; both are delivered.
    let second = support(&app)
        .post(
            &shipments,
            json!({"idempotencyKey": "s2", "carrier": "DHL", "trackingNumber": "JJD000390008"}),
        )
        .await;
    second.assert_status(StatusCode::CREATED);
    assert_eq!(
        second.body["lineItems"][0]["quantity"], 2,
        "every unshipped line"
    );
    support(&app)
        .post(
            &shipments,
            json!({"idempotencyKey": "s3", "carrier": "DHL", "trackingNumber": "X1"}),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "OrderNotFulfillable");
    for (shipment, key) in [(&first, "d1"), (&second, "d2")] {
        let id = shipment.body["id"].as_str().unwrap();
        support(&app)
            .post(
                &format!("{shipments}/{id}/delivered"),
                json!({"idempotencyKey": key}),
            )
            .await
            .assert_status(StatusCode::OK);
    }
    let done = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    assert_eq!(
        (done["state"].clone(), done["shipmentState"].clone()),
        (json!("Complete"), json!("Delivered"))
    );
    assert_eq!(done["fulfillments"].as_array().unwrap().len(), 2);
}

async fn unpaid_and_cancelled_orders_do_not_ship(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, cart) = app.ready_customer_cart("alice").await;
    let mut body = order_request(&cart);
    body["action"] = json!("save_order");
    let saved = alice.post("/orders", body).await;
    let number = saved.body["orderNumber"].as_str().unwrap().to_string();
    let ship = json!({"idempotencyKey": "s1", "carrier": "DHL", "trackingNumber": "1"});
    support(&app)
        .post(
            &format!("/admin/orders/{number}/fulfillments"),
            ship.clone(),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "OrderNotFulfillable");
    // The customer cancels their unpaid order themselves; the stock is back.
    let cancelled = alice
        .post(&format!("/orders/{number}/cancel"), json!({}))
        .await;
    cancelled.assert_status(StatusCode::OK);
    assert_eq!(cancelled.body["state"], "Cancelled");
    assert_eq!(app.stock("MUG").await, 100);
    support(&app)
        .post(&format!("/admin/orders/{number}/fulfillments"), ship)
        .await
        .assert_problem(StatusCode::CONFLICT, "OrderNotFulfillable");
    // Another customer's order is not theirs to cancel; a paid one is not the customer's either.
    let (number, _) = paid_order_of_two_mugs(&app).await;
    app.customer("bob")
        .post(&format!("/orders/{number}/cancel"), json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    let (alice, mut paid_cart) = app.ready_customer_cart("alice").await;
    app.pay(&mut paid_cart, None).await;
    let paid = alice.post("/orders", order_request(&paid_cart)).await;
    let paid_number = paid.body["orderNumber"].as_str().unwrap();
    alice
        .post(&format!("/orders/{paid_number}/cancel"), json!({}))
        .await
        .assert_problem(StatusCode::CONFLICT, "CancellationNotAllowed");
}

/// The gap a gift-card-only order left: nothing refunded it. A cancel credits the card.
async fn a_gift_card_order_cancelled_credits_the_card(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-BIG", "EUR", 100_000).await;
    let created = integration(&app)
        .post(
            "/admin/orders",
            paid_order("gc-1", 1, json!([{"giftCard": "GIFT-BIG"}])),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let spent = 100_000 - balance(&app, "GIFT-BIG").await;
    assert!(spent > 0);
    let number = created.body["orderNumber"].as_str().unwrap();
    let cancelled = support(&app)
        .post(
            &format!("/admin/orders/{number}/cancel"),
            json!({"idempotencyKey": "gc-cancel", "reason": "Out of business"}),
        )
        .await;
    cancelled.assert_status(StatusCode::OK);
    assert_eq!(cancelled.body["state"], "Cancelled");
    assert_eq!(balance(&app, "GIFT-BIG").await, 100_000, "credited once");
}

on_both_stores!(
    support_finds_an_order_with_its_history,
    a_cancelled_order_gives_back_its_stock_and_money_once,
    refunds_by_amount_and_by_lines_never_exceed_what_was_captured,
    concurrent_refunds_never_give_back_more_than_was_captured,
    a_cancel_racing_a_shipment_or_another_cancel_has_one_outcome,
    shipments_confirm_the_order_and_delivery_completes_it,
    unpaid_and_cancelled_orders_do_not_ship,
    a_gift_card_order_cancelled_credits_the_card,
);
