//! Gift cards as a ledger: an administrator writes a card, orders redeem it inside their own
//! commit transaction, no interleaving takes more than the balance, and an order's refund or
//! expiry gives its share back once — on both stores.

use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::payment::{Payment, PaymentState, TransactionKind, TransactionState};
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

/// An order of five mugs paid by the gift card `code` and a saved card, through `commands`;
/// returns its number and the card payment's intent and amount.
async fn split_order(
    app: &App,
    key: &str,
    code: &str,
    commands: Value,
) -> (OrderNumber, String, i64) {
    let mut body = paid_order(
        key,
        5,
        json!([{"giftCard": code}, {"paymentMethod": "pm_card_visa"}]),
    );
    body["commands"] = commands;
    let created = integration(app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    let card = created.body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["psp"] == "stripe")
        .expect("a card payment")
        .clone();
    let number = OrderNumber::parse(created.body["orderNumber"].as_str().unwrap()).unwrap();
    let reference = card["pspReference"].as_str().unwrap().to_string();
    (number, reference, cents(&card["amountPlanned"]))
}

fn every_command() -> Value {
    json!([
        "calculate_shipping",
        "calculate_tax_rates",
        "authorize_payments",
        "process_order",
        "charge_payments"
    ])
}

/// The order's gift card payment as stored.
async fn gift_card_payment(app: &App, number: &OrderNumber) -> (Payment, PaymentState) {
    let order = app.store.order(number).await.unwrap().expect("the order");
    let payment = order
        .payments
        .iter()
        .find(|p| p.is_gift_card())
        .expect("a gift card payment")
        .clone();
    (payment, order.payment_state)
}

/// A partial refund of the card leaves the gift card's share where it is; once the card is
/// refunded in full the order is refunded, and the gift card gets exactly its share back —
/// once, however often Stripe reports it.
async fn a_refunded_order_gives_its_gift_card_share_back_once(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "BACK-20", "EUR", 2_000).await;
    let (number, reference, card_amount) =
        split_order(&app, "back-1", "BACK-20", every_command()).await;
    assert_eq!(balance(&app, "BACK-20").await, 0);

    let partial = app.refunded_event(&reference, "ch_back", 1_000, "evt_back_partial");
    app.deliver(&partial).await.assert_status(StatusCode::OK);
    let (gift, state) = gift_card_payment(&app, &number).await;
    assert_eq!(state, PaymentState::PartiallyRefunded);
    assert_eq!(
        gift.secured(),
        2_000,
        "a partial refund is the card's money"
    );
    assert_eq!(balance(&app, "BACK-20").await, 0);

    let full = app.refunded_event(&reference, "ch_back", card_amount, "evt_back_full");
    app.deliver(&full).await.assert_status(StatusCode::OK);
    let (gift, state) = gift_card_payment(&app, &number).await;
    assert_eq!(state, PaymentState::Refunded);
    let given_back = gift.transactions.last().expect("a reversal");
    assert_eq!(
        (
            given_back.kind,
            given_back.state,
            given_back.amount.cent_amount
        ),
        (TransactionKind::Refund, TransactionState::Success, 2_000)
    );
    assert_eq!(balance(&app, "BACK-20").await, 2_000);

    // Stripe delivers the event again, and reports the same total in another event.
    app.deliver(&full).await.assert_status(StatusCode::OK);
    let again = app.refunded_event(&reference, "ch_back", card_amount, "evt_back_again");
    app.deliver(&again).await.assert_status(StatusCode::OK);
    assert_eq!(balance(&app, "BACK-20").await, 2_000, "given back once");
    let (gift, _) = gift_card_payment(&app, &number).await;
    assert_eq!(gift.refunded(), 2_000);
}

/// An order whose card was only authorized: when the authorization ends uncaptured (Stripe
/// cancels it after 7 days), the gift card gets its share back.
async fn an_expired_authorization_gives_the_gift_card_share_back(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "EXPIRE-20", "EUR", 2_000).await;
    let commands = json!([
        "calculate_shipping",
        "calculate_tax_rates",
        "authorize_payments",
        "process_order"
    ]);
    let (number, reference, _) = split_order(&app, "expire-1", "EXPIRE-20", commands).await;
    assert_eq!(balance(&app, "EXPIRE-20").await, 0);
    assert_eq!(
        app.psp.open_authorizations(),
        std::slice::from_ref(&reference)
    );

    app.deliver(&app.canceled_event(&reference))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(balance(&app, "EXPIRE-20").await, 2_000);
    let (_, state) = gift_card_payment(&app, &number).await;
    assert_eq!(state, PaymentState::Refunded);
    // Reported again (Stripe retries, with a new event id): nothing twice.
    app.deliver(&app.canceled_event(&reference))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(balance(&app, "EXPIRE-20").await, 2_000);
}

/// Eight reports of the full refund at once (redeliveries and separate events): the order's
/// write is conditioned on its revision and claims the gift card's reversal key, so the card
/// gets its share back exactly once.
async fn refund_reports_racing_give_the_share_back_once(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "RACE-BACK", "EUR", 2_000).await;
    let (number, reference, card_amount) =
        split_order(&app, "race-back", "RACE-BACK", every_command()).await;
    let app = std::sync::Arc::new(app);
    let mut reports = Vec::new();
    for i in 0..8 {
        let app = app.clone();
        let body = app.refunded_event(
            &reference,
            "ch_race",
            card_amount,
            &format!("evt_race_{}", i % 3),
        );
        reports.push(tokio::spawn(async move { app.deliver(&body).await }));
    }
    for report in reports {
        let status = report.await.expect("the task ran").status;
        // 409: another delivery of that event holds it; Stripe delivers it again later.
        assert!([200, 409].contains(&status.as_u16()), "{status}");
    }
    for i in 0..3 {
        let body = app.refunded_event(&reference, "ch_race", card_amount, &format!("evt_race_{i}"));
        app.deliver(&body).await.assert_status(StatusCode::OK);
    }
    assert_eq!(balance(&app, "RACE-BACK").await, 2_000);
    let (gift, state) = gift_card_payment(&app, &number).await;
    assert_eq!(state, PaymentState::Refunded);
    assert_eq!(gift.refunded(), 2_000);
}

/// An administrator rewrote the card in another currency after the order: the refund is
/// still recorded (never blocked by the card), and the gift card's share is recorded as a
/// failed reversal for a person to settle, the card untouched.
async fn a_card_rewritten_in_another_currency_never_blocks_the_refund(backend: Backend) {
    let app = App::start(backend).await;
    put_card(&app, "SWAP-20", "EUR", 2_000).await;
    let (number, reference, card_amount) =
        split_order(&app, "swap-1", "SWAP-20", every_command()).await;
    put_card(&app, "SWAP-20", "USD", 500).await;

    let full = app.refunded_event(&reference, "ch_swap", card_amount, "evt_swap");
    app.deliver(&full).await.assert_status(StatusCode::OK);
    let order = app.store.order(&number).await.unwrap().expect("the order");
    let card = order.payments.iter().find(|p| !p.is_gift_card()).unwrap();
    assert_eq!(card.refunded(), card_amount, "the refund is recorded");
    let (gift, _) = gift_card_payment(&app, &number).await;
    let attempt = gift.transactions.last().unwrap();
    assert_eq!(
        (attempt.kind, attempt.state),
        (TransactionKind::Refund, TransactionState::Failure)
    );
    assert!(attempt
        .reason
        .as_deref()
        .unwrap()
        .contains("no longer exists in EUR"));
    assert_eq!(balance(&app, "SWAP-20").await, 500, "the card untouched");
}

on_both_stores!(
    multi_thread: an_administrators_stale_write_never_erases_a_redemption,
    a_refunded_order_gives_its_gift_card_share_back_once,
    an_expired_authorization_gives_the_gift_card_share_back,
    refund_reports_racing_give_the_share_back_once,
    a_card_rewritten_in_another_currency_never_blocks_the_refund,
    an_administrator_writes_and_reads_a_card,
    twenty_orders_racing_for_one_card_never_take_more_than_its_balance,
);
