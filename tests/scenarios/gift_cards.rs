//! Gift cards as a ledger: an administrator writes a card, orders redeem it inside their own
//! commit transaction, and no interleaving takes more than the balance — on both stores.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_de, cents, on_both_stores, App, Backend, Client};
use http::StatusCode;

pub(crate) async fn put_card(app: &App, code: &str, currency: &str, balance: i64) {
    app.admin()
        .put(
            &format!("/admin/gift-cards/{code}"),
            json!({"currency": currency, "balance": balance}),
        )
        .await
        .assert_status(StatusCode::OK);
}

pub(crate) async fn balance(app: &App, code: &str) -> i64 {
    let card = app.admin().get(&format!("/admin/gift-cards/{code}")).await;
    card.assert_status(StatusCode::OK);
    card.body["balance"].as_i64().expect("a balance")
}

/// A processed order of `mugs` mugs paid by `payments`, through every command.
pub(crate) fn paid_order(key: &str, mugs: u32, payments: Value) -> Value {
    json!({
        "idempotencyKey": key,
        "currency": "EUR",
        "lineItems": [{"sku": "MUG", "quantity": mugs}],
        "customer": {"email": "b2b@example.com", "firstName": "Grace", "lastName": "Hopper"},
        "shippingAddress": address_de(),
        "billingAddress": address_de(),
        "payments": payments,
        "commands": ["calculate_shipping", "calculate_tax_rates", "authorize_payments",
                     "process_order", "charge_payments"],
    })
}

pub(crate) fn integration(app: &App) -> Client {
    app.with_scope("erp-bridge", "orders:write")
}

async fn an_administrator_writes_and_reads_a_card(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "GIFT-100", "EUR", 10_000).await;
    let card = app.admin().get("/admin/gift-cards/GIFT-100").await;
    card.assert_status(StatusCode::OK);
    assert_eq!(
        card.body,
        json!({"code": "GIFT-100", "currency": "EUR", "balance": 10_000})
    );
    // Only administrators: a customer is forbidden, nobody is unauthorized.
    app.customer("mallory")
        .get("/admin/gift-cards/GIFT-100")
        .await
        .assert_problem(StatusCode::FORBIDDEN, "Forbidden");
    app.anonymous()
        .put(
            "/admin/gift-cards/GIFT-100",
            json!({"currency": "EUR", "balance": 1}),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.admin()
        .get("/admin/gift-cards/NOPE-0")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    let bad = app
        .admin()
        .put(
            "/admin/gift-cards/GIFT-100",
            json!({"currency": "XXX", "balance": -5}),
        )
        .await;
    assert_eq!(bad.pointers(), ["/currency", "/balance"]);
    assert_eq!(balance(&app, "GIFT-100").await, 10_000, "nothing written");
}

/// Twenty orders at once, each wanting the card's whole balance for itself (their totals are
/// above it; a card pays the rest): exactly one gets it, the others are refused with their
/// card authorizations cancelled, and the card never goes below zero.
async fn twenty_orders_racing_for_one_card_never_take_more_than_its_balance(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "RACE-50", "EUR", 5_000).await;
    let client = integration(&app);
    let mut racers = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        let body = paid_order(
            &format!("race-{i}"),
            5,
            json!([{"giftCard": "RACE-50"}, {"paymentMethod": "pm_card_visa"}]),
        );
        racers.push(tokio::spawn(async move {
            client.post("/admin/orders", body).await
        }));
    }
    let mut redeemed = 0;
    let mut created = 0;
    for racer in racers {
        let response = racer.await.expect("the task ran");
        match response.status {
            StatusCode::CREATED => {
                created += 1;
                let order = &response.body;
                assert_eq!(order["paymentState"], "Paid");
                let mut paid = 0;
                for payment in order["payments"].as_array().unwrap() {
                    paid += cents(&payment["amountPlanned"]);
                    if payment["psp"] == "giftCard" {
                        redeemed += cents(&payment["amountPlanned"]);
                    }
                }
                // An order that read the card after another took it pays by card alone.
                assert_eq!(paid, cents(&order["totals"]["total"]));
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(response.body["code"], "CommandFailed");
                assert_eq!(response.body["command"], "process_order");
                assert_eq!(response.body["cause"]["code"], "InsufficientPayment");
            }
            other => panic!("unexpected {other}: {}", response.body),
        }
    }
    let left = balance(&app, "RACE-50").await;
    println!("gift card race: {created} orders, {redeemed} redeemed of 5000, {left} left");
    assert!(redeemed <= 5_000, "redeemed {redeemed} of a 5000 balance");
    assert_eq!(redeemed + left, 5_000, "the ledger adds up");
    assert!(left >= 0);
    assert!(created >= 1);
    assert!(
        app.psp.open_authorizations().is_empty(),
        "every loser's authorization was cancelled, the winner's captured"
    );
}

/// An administrator's write conditioned on a card it read before an order redeemed it is
/// refused, and the redemption stays: no write erases another.
async fn an_administrators_stale_write_never_erases_a_redemption(backend: Backend) {
    use checkout_domain::model::gift_card::{GiftCard, GiftCardCode};
    let app = App::start(backend).await;
    put_card(&app, "LEDGER-1", "EUR", 10_000).await;
    let code = GiftCardCode::parse("LEDGER-1").unwrap();
    let read = app.store.gift_card(&code).await.unwrap().expect("the card");
    integration(&app)
        .post(
            "/admin/orders",
            paid_order("ledger-1", 2, json!([{"giftCard": "LEDGER-1"}])),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let redeemed = 10_000 - balance(&app, "LEDGER-1").await;
    assert_eq!(redeemed, 3_686, "two mugs to Germany");
    let topped_up = GiftCard {
        balance: 20_000,
        ..read.clone()
    };
    assert!(!app
        .store
        .write_gift_card(&topped_up, Some(&read))
        .await
        .unwrap());
    assert_eq!(balance(&app, "LEDGER-1").await, 10_000 - 3_686);
    // Through the API the write reads afresh, so it applies to the card as it is.
    put_card(&app, "LEDGER-1", "EUR", 500).await;
    assert_eq!(balance(&app, "LEDGER-1").await, 500);
}

on_both_stores!(
    multi_thread: an_administrators_stale_write_never_erases_a_redemption,
    an_administrator_writes_and_reads_a_card,
    twenty_orders_racing_for_one_card_never_take_more_than_its_balance,
);
