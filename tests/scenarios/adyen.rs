//! Adyen, the second payment provider, end to end on both stores: a cart paid in a Checkout
//! session becomes an order from the notification alone; every event Adyen sends lands once
//! on the payment it is about (the session's, linked by `checkoutSessionId`); what the
//! system gives back goes to Adyen as a modification whose notification settles it; and a
//! notification that is not Adyen's, or not for us, records nothing. The Checkout API client
//! is checked against Adyen's documented request and answer shapes.

use checkout_adapters::adyen::client::{AdyenClient, AdyenSettings};
use checkout_adapters::adyen::notification::{Amount, Notification, NotificationItem};
use checkout_adapters::adyen::signature::{basic_credentials, HmacKey};
use checkout_adapters::adyen_simulator::notification_body;
use checkout_domain::model::money::{Currency, Money};
use checkout_domain::model::payment::{Payment, TransactionKind, TransactionState};
use checkout_domain::model::values::{CartId, CustomerId};
use checkout_domain::ports::metrics::Metric;
use checkout_domain::ports::psp::{
    Authorization, IntentRequest, PaymentProvider, SavedMethodRequest,
};
use checkout_tests::serde_json::json;
use checkout_tests::{
    on_both_stores, App, Backend, CartRef, Client, TestResponse, ADYEN_HMAC_KEY,
    ADYEN_HMAC_KEY_OLD, ADYEN_MERCHANT_ACCOUNT, ADYEN_PASSWORD, ADYEN_USER,
};
use http::StatusCode;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::merchant::support;

fn key() -> HmacKey {
    HmacKey::parse(ADYEN_HMAC_KEY).unwrap()
}

fn assert_accepted(response: &TestResponse) {
    response.assert_status(StatusCode::OK);
    assert_eq!(
        response.body,
        json!("[accepted]"),
        "Adyen's acknowledgement"
    );
}

/// `POST /carts/{id}/payments` with `"psp": "adyen"`: the session's id (`CS…`).
async fn start_session(guest: &Client, cart: &CartRef) -> String {
    let started = guest
        .post(
            &format!("/carts/{}/payments", cart.id),
            json!({"psp": "adyen"}),
        )
        .await;
    started.assert_status(StatusCode::CREATED);
    assert_eq!(started.body["psp"], "adyen");
    let session = started.body["pspReference"].as_str().unwrap().to_string();
    assert!(session.starts_with("CS"), "{session}");
    assert!(
        started.body["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("Ab02"),
        "the session's sessionData"
    );
    session
}

/// A guest's cart paid in an Adyen session, ordered by the notification alone: the cart,
/// the session and the shopper's payment in it.
async fn paid_through_adyen(app: &App) -> (Client, CartRef, String, String) {
    let (guest, cart) = app.ready_guest_cart().await;
    let session = start_session(&guest, &cart).await;
    let delivered = app
        .deliver_adyen(&app.adyen_notification(&session, true))
        .await;
    assert_accepted(&delivered);
    let payment = app.adyen.payment_of(&session).expect("authorised");
    (guest, cart, session, payment)
}

async fn order_payment(app: &App, cart: &CartRef) -> Payment {
    let order = app.stored(cart).await.1.expect("an order");
    order.payments[0].clone()
}

fn kinds(payment: &Payment) -> Vec<(TransactionKind, TransactionState)> {
    payment
        .transactions
        .iter()
        .map(|t| (t.kind, t.state))
        .collect()
}

/// A notification item as Adyen sends one for our test merchant account, about `cart`.
fn item(
    event_code: &str,
    psp_reference: &str,
    original: Option<&str>,
    cart: &str,
    cents: i64,
    success: bool,
) -> NotificationItem {
    NotificationItem {
        additional_data: Default::default(),
        amount: Some(Amount {
            currency: Some("EUR".into()),
            value: Some(cents.to_string()),
        }),
        event_code: event_code.into(),
        event_date: Some("2026-11-30T13:55:31+01:00".into()),
        merchant_account_code: ADYEN_MERCHANT_ACCOUNT.into(),
        merchant_reference: Some(cart.into()),
        original_reference: original.map(str::to_string),
        psp_reference: psp_reference.into(),
        reason: (!success).then(|| "Insufficient balance on payment".into()),
        success: success.to_string(),
    }
}

/// Adyen's successful `event_code` notification (signed with the current key) of the
/// modification `psp_reference` of the shopper's payment `payment` for `cart`.
fn report_on(
    payment: &str,
    cart: &CartRef,
    event_code: &str,
    psp_reference: &str,
    cents: i64,
) -> String {
    signed(
        vec![item(
            event_code,
            psp_reference,
            Some(payment),
            &cart.id,
            cents,
            true,
        )],
        &key(),
    )
}

fn signed(mut items: Vec<NotificationItem>, key: &HmacKey) -> String {
    for item in &mut items {
        item.sign(key);
    }
    notification_body(&items)
}

async fn a_cart_paid_in_a_session_becomes_an_order_from_the_notification_alone(backend: Backend) {
    let app = App::start(backend).await;
    let (_, cart, session, psp_payment) = paid_through_adyen(&app).await;

    let payment = order_payment(&app, &cart).await;
    assert_eq!(payment.psp, "adyen");
    assert_eq!(payment.psp_reference, session);
    assert_eq!(
        payment.provider_payment.as_deref(),
        Some(psp_payment.as_str()),
        "linked by checkoutSessionId"
    );
    assert_eq!(
        kinds(&payment),
        [(TransactionKind::Authorization, TransactionState::Success)]
    );
    let order = app.stored(&cart).await.1.unwrap();
    assert_eq!(
        format!("{:?}", order.payment_state),
        "Paid",
        "the authorization pays the order"
    );

    // Adyen delivers again (it did not see our answer): accepted, nothing new.
    let again = app
        .deliver_adyen(&app.adyen_notification(&session, true))
        .await;
    assert_accepted(&again);
    let after = app.stored(&cart).await.1.unwrap();
    assert_eq!(after.revision, order.revision);
    assert_eq!(after.payments, order.payments);
    assert!(
        app.adyen
            .requests()
            .iter()
            .all(|r| r.operation == "create_intent"),
        "nothing given back: {:?}",
        app.adyen.requests()
    );
}

async fn a_refused_attempt_is_recorded_and_the_shopper_pays_again_in_the_session(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let session = start_session(&guest, &cart).await;
    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&session, false))
            .await,
    );
    let (stored, order) = app.stored(&cart).await;
    assert!(order.is_none());
    let payment = &stored.payments[0];
    assert_eq!(payment.psp_reference, session, "on the session's payment");
    assert_eq!(payment.provider_payment, None, "a refusal links nothing");
    assert_eq!(
        kinds(payment),
        [(TransactionKind::Charge, TransactionState::Failure)]
    );

    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&session, true))
            .await,
    );
    let payment = order_payment(&app, &cart).await;
    assert_eq!(
        payment.provider_payment,
        app.adyen.payment_of(&session),
        "the authorised payment is the session's"
    );
    assert_eq!(payment.secured(), payment.amount_planned.cent_amount);
}

/// Two tabs: two sessions for one cart, and both shoppers pay. The first orders the cart; the
/// second is given back through Adyen's cancel-or-refund of the shopper's payment in it,
/// pending until Adyen says. The cart, both sessions and that reversal's `pspReference`.
async fn two_tabs_paid(app: &App) -> (CartRef, String, String, String) {
    let (guest, cart) = app.ready_guest_cart().await;
    let first = start_session(&guest, &cart).await;
    let second = start_session(&guest, &cart).await;
    assert_ne!(first, second);
    for session in [&first, &second] {
        assert_accepted(
            &app.deliver_adyen(&app.adyen_notification(session, true))
                .await,
        );
    }
    let second_payment = app.adyen.payment_of(&second).unwrap();
    let [reversal] = app
        .adyen
        .modifications("reversals", &second_payment)
        .try_into()
        .expect("one reversal asked");
    (cart, first, second, reversal)
}

async fn a_second_payment_is_given_back_through_adyen_and_settled_by_its_notification(
    backend: Backend,
) {
    let app = App::start(backend).await;
    let (cart, first, second, reversal) = two_tabs_paid(&app).await;
    let order = app.stored(&cart).await.1.unwrap();
    let given_back = order
        .payments
        .iter()
        .find(|p| p.psp_reference == second)
        .unwrap()
        .clone();
    let asked = given_back
        .transactions
        .iter()
        .find(|t| t.kind == TransactionKind::CancelAuthorization)
        .unwrap();
    assert_eq!(asked.state, TransactionState::Pending);
    assert_eq!(asked.provider_id.as_deref(), Some(reversal.as_str()));
    assert_eq!(given_back.kept(), 0, "on its way back");

    // Adyen cancelled it: the pending reversal is settled, not a second one recorded.
    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&reversal, true))
            .await,
    );
    let order = app.stored(&cart).await.1.unwrap();
    let given_back = order
        .payments
        .iter()
        .find(|p| p.psp_reference == second)
        .unwrap();
    assert_eq!(
        kinds(given_back),
        [
            (TransactionKind::Authorization, TransactionState::Success),
            (
                TransactionKind::CancelAuthorization,
                TransactionState::Success
            )
        ]
    );
    assert_eq!(given_back.secured(), 0);
    let first = order
        .payments
        .iter()
        .find(|p| p.psp_reference == first)
        .unwrap();
    assert_eq!(first.secured(), first.amount_planned.cent_amount);
    assert_eq!(format!("{:?}", order.payment_state), "Paid");
}

async fn a_reversal_adyen_refuses_is_money_outstanding_again(backend: Backend) {
    let app = App::start(backend).await;
    let (cart, _, second, reversal) = two_tabs_paid(&app).await;
    let failed_before = app.metrics.get(Metric::ReversalFailed);
    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&reversal, false))
            .await,
    );
    let order = app.stored(&cart).await.1.unwrap();
    let given_back = order
        .payments
        .iter()
        .find(|p| p.psp_reference == second)
        .unwrap();
    assert!(given_back.owes_reversal(), "{:?}", kinds(given_back));
    assert_eq!(given_back.secured(), given_back.amount_planned.cent_amount);
    assert_eq!(app.metrics.get(Metric::ReversalFailed), failed_before + 1);
}

async fn merchant_refunds_go_to_adyen_and_its_notifications_settle_them(backend: Backend) {
    let app = App::start(backend).await;
    let (_, cart, _, psp_payment) = paid_through_adyen(&app).await;
    let number = app.stored(&cart).await.1.unwrap().order_number.to_string();
    let refunds = format!("/admin/orders/{number}/refunds");

    let partial = support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r1", "amount": 500, "reason": "Scratched"}),
        )
        .await;
    partial.assert_status(StatusCode::CREATED);
    assert_eq!(partial.body["state"], "Pending", "Adyen answers `received`");
    let [refund] = app
        .adyen
        .modifications("refunds", &psp_payment)
        .try_into()
        .unwrap();
    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&refund, true))
            .await,
    );
    assert_eq!(refund_states(&app, &cart).await, ["Succeeded"]);
    let order = support(&app).get(&format!("/admin/orders/{number}")).await;
    assert_eq!(checkout_tests::cents(&order.body["refundedAmount"]), 500);

    // A second refund Adyen fails: that money is the order's again, and the refund says so.
    support(&app)
        .post(
            &refunds,
            json!({"idempotencyKey": "r2", "amount": 300, "reason": "Late"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let second = app
        .adyen
        .modifications("refunds", &psp_payment)
        .into_iter()
        .find(|r| *r != refund)
        .unwrap();
    assert_accepted(
        &app.deliver_adyen(&app.adyen_notification(&second, false))
            .await,
    );
    assert_eq!(refund_states(&app, &cart).await, ["Succeeded", "Failed"]);
    let order = support(&app).get(&format!("/admin/orders/{number}")).await;
    assert_eq!(checkout_tests::cents(&order.body["refundedAmount"]), 500);
}

/// The merchant refunds of the cart's order, as their views say they stand.
async fn refund_states(app: &App, cart: &CartRef) -> Vec<String> {
    let order = app.stored(cart).await.1.unwrap();
    order
        .refunds
        .iter()
        .map(|r| format!("{:?}", r.view(&order.payments).state))
        .collect()
}

async fn captures_and_chargebacks_are_recorded_once_and_a_chargeback_flags_the_order(
    backend: Backend,
) {
    let app = App::start(backend).await;
    let (_, cart, _, psp_payment) = paid_through_adyen(&app).await;
    let total = order_payment(&app, &cart).await.amount_planned.cent_amount;

    // A capture (a merchant account that captures later): recorded once, and not new money.
    let capture = report_on(&psp_payment, &cart, "CAPTURE", "8825408195409505", total);
    for _ in 0..2 {
        assert_accepted(&app.deliver_adyen(&capture).await);
    }
    let payment = order_payment(&app, &cart).await;
    assert_eq!(
        kinds(&payment),
        [
            (TransactionKind::Authorization, TransactionState::Success),
            (TransactionKind::Charge, TransactionState::Success)
        ]
    );
    assert_eq!(payment.secured(), total);

    // The shopper's bank takes it back: recorded for the merchant, and nothing reversed.
    let mut chargeback = item(
        "CHARGEBACK",
        "9915555555555555",
        Some(&psp_payment),
        &cart.id,
        total,
        true,
    );
    chargeback.reason = Some("Other Fraud-Card Absent Environment".into());
    let chargeback = signed(vec![chargeback], &key());
    for _ in 0..2 {
        assert_accepted(&app.deliver_adyen(&chargeback).await);
    }
    let order = app.stored(&cart).await.1.unwrap();
    let payment = &order.payments[0];
    let disputes: Vec<_> = payment
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::Chargeback)
        .collect();
    assert_eq!(disputes.len(), 1, "recorded once");
    assert_eq!(
        disputes[0].reason.as_deref(),
        Some("Other Fraud-Card Absent Environment")
    );
    assert_eq!(payment.secured(), total, "a dispute moves no sum we act on");
    let number = order.order_number.to_string();
    let view = support(&app).get(&format!("/admin/orders/{number}")).await;
    assert_eq!(view.body["disputed"], true, "the order is flagged");
    let history: Vec<&str> = view.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        history.iter().filter(|a| **a == "chargeback").count(),
        1,
        "{history:?}"
    );
    assert!(
        app.adyen
            .requests()
            .iter()
            .all(|r| r.operation == "create_intent"),
        "nothing given back because of it"
    );
}

/// `CAPTURE_FAILED`, a `CANCELLATION` made in Adyen's Customer Area, and `REFUND_FAILED` for
/// a refund support asked for: each lands once on the payment it is about.
async fn failed_captures_outside_cancellations_and_failed_refunds_land_once(backend: Backend) {
    let app = App::start(backend).await;
    let (_, cart, _, psp_payment) = paid_through_adyen(&app).await;
    let total = order_payment(&app, &cart).await.amount_planned.cent_amount;
    let number = app.stored(&cart).await.1.unwrap().order_number.to_string();

    // A refund support asks for, which Adyen then fails.
    support(&app)
        .post(
            &format!("/admin/orders/{number}/refunds"),
            json!({"idempotencyKey": "r1", "amount": 700, "reason": "Goodwill"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let [refund] = app
        .adyen
        .modifications("refunds", &psp_payment)
        .try_into()
        .unwrap();
    let refund_failed = report_on(&psp_payment, &cart, "REFUND_FAILED", &refund, 700);
    let capture_failed = report_on(
        &psp_payment,
        &cart,
        "CAPTURE_FAILED",
        "8825408195409599",
        total,
    );
    for body in [
        &refund_failed,
        &capture_failed,
        &refund_failed,
        &capture_failed,
    ] {
        assert_accepted(&app.deliver_adyen(body).await);
    }
    assert_eq!(refund_states(&app, &cart).await, ["Failed"]);
    let payment = order_payment(&app, &cart).await;
    assert_eq!(
        kinds(&payment),
        [
            (TransactionKind::Authorization, TransactionState::Success),
            (TransactionKind::Refund, TransactionState::Failure),
            (TransactionKind::Charge, TransactionState::Failure),
        ]
    );
    assert_eq!(
        payment.secured(),
        total,
        "a failed capture or refund takes nothing"
    );

    // The merchant cancels the payment in Adyen's Customer Area: recorded once, as it came.
    let cancelled = report_on(
        &psp_payment,
        &cart,
        "CANCELLATION",
        "8412534564722331",
        total,
    );
    for _ in 0..2 {
        assert_accepted(&app.deliver_adyen(&cancelled).await);
    }
    let payment = order_payment(&app, &cart).await;
    let cancels: Vec<_> = payment
        .transactions
        .iter()
        .filter(|t| t.kind == TransactionKind::CancelAuthorization)
        .collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].provider_id.as_deref(), Some("8412534564722331"));
    assert_eq!(payment.secured(), 0);
}

async fn notifications_not_from_adyen_or_not_for_us_record_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let session = start_session(&guest, &cart).await;
    let body = app.adyen_notification(&session, true);
    let unchanged = |app: &App| {
        let app = app.clone();
        let cart = cart.clone();
        async move {
            let (stored, order) = app.stored(&cart).await;
            assert!(order.is_none(), "no order");
            assert!(
                stored.payments[0].transactions.is_empty(),
                "nothing recorded"
            );
        }
    };

    // Credentials: missing, wrong, another scheme.
    for authorization in [
        None,
        Some(basic_credentials(ADYEN_USER, "guess")),
        Some(basic_credentials("admin", ADYEN_PASSWORD)),
        Some("Bearer abc".to_string()),
    ] {
        let client = match &authorization {
            Some(value) => app.anonymous().with_header("authorization", value),
            None => app.anonymous(),
        };
        client
            .post_raw("/webhooks/adyen", body.clone())
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    unchanged(&app).await;

    // A signature by a key that is not ours, and one good item beside a tampered one.
    let mut foreign = app.adyen.item(&session, true).unwrap();
    foreign.sign(&HmacKey::parse("ABCDEF").unwrap());
    app.deliver_adyen(&notification_body(&[foreign]))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    let mut good = app.adyen.item(&session, true).unwrap();
    good.sign(&key());
    let mut tampered = good.clone();
    tampered.amount.as_mut().unwrap().value = Some("1".into());
    let refused = app
        .deliver_adyen(&notification_body(&[good, tampered]))
        .await;
    refused.assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    assert!(refused.body["detail"].as_str().unwrap().contains("item 1"));
    unchanged(&app).await;

    // Not a notification.
    for malformed in [
        "not json".to_string(),
        "{}".to_string(),
        json!({"live": "false", "notificationItems": []}).to_string(),
        json!({"notificationItems": [{"NotificationRequestItem": {"eventCode": 5}}]}).to_string(),
        notification_body(&vec![app.adyen.item(&session, true).unwrap(); 101]),
    ] {
        app.deliver_adyen(&malformed)
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    }
    unchanged(&app).await;

    // Authentic but not ours to act on: another merchant account, an event code we do not
    // handle, a reference that is not a cart, a cart we do not have. Accepted, so Adyen stops.
    let mut other_account = app.adyen.item(&session, true).unwrap();
    other_account.merchant_account_code = "SomeoneElseECOM".into();
    let mut report = item("REPORT_AVAILABLE", "R1", None, &cart.id, 0, true);
    report.amount = None;
    let not_a_cart = item("AUTHORISATION", "P1", None, "order-2024-17", 100, true);
    let unknown_cart = item(
        "AUTHORISATION",
        "P2",
        None,
        CartId::new().as_ref(),
        100,
        true,
    );
    for items in [
        vec![other_account],
        vec![report],
        vec![not_a_cart],
        vec![unknown_cart],
    ] {
        assert_accepted(&app.deliver_adyen(&signed(items, &key())).await);
    }
    unchanged(&app).await;

    // The previous key still signs during a rotation.
    let rotated = signed(
        vec![app.adyen.item(&session, true).unwrap()],
        &HmacKey::parse(ADYEN_HMAC_KEY_OLD).unwrap(),
    );
    assert_accepted(&app.deliver_adyen(&rotated).await);
    assert!(app.stored(&cart).await.1.is_some(), "ordered");
}

on_both_stores!(
    a_cart_paid_in_a_session_becomes_an_order_from_the_notification_alone,
    a_refused_attempt_is_recorded_and_the_shopper_pays_again_in_the_session,
    a_second_payment_is_given_back_through_adyen_and_settled_by_its_notification,
    a_reversal_adyen_refuses_is_money_outstanding_again,
    merchant_refunds_go_to_adyen_and_its_notifications_settle_them,
    captures_and_chargebacks_are_recorded_once_and_a_chargeback_flags_the_order,
    failed_captures_outside_cancellations_and_failed_refunds_land_once,
    notifications_not_from_adyen_or_not_for_us_record_nothing,
);

fn settings(server: &MockServer) -> AdyenSettings {
    AdyenSettings {
        base_url: server.uri(),
        api_key: "AQE_test_key".into(),
        merchant_account: "TestShopECOM".into(),
        return_url: "https://shop.example/checkout/return".into(),
    }
}

/// Adyen's answers as its API reference shows them (Checkout API v71).
#[tokio::test]
async fn the_client_sends_what_adyen_expects_with_an_idempotency_key_on_every_call() {
    let server = MockServer::start().await;
    let cart = CartId::new();
    Mock::given(method("POST"))
        .and(path("/v71/sessions"))
        .and(header("x-api-key", "AQE_test_key"))
        .and(header("idempotency-key", "intent:key-1"))
        .and(body_partial_json(json!({
            "amount": {"currency": "EUR", "value": 2140},
            "merchantAccount": "TestShopECOM",
            "reference": cart.to_string(),
            "returnUrl": "https://shop.example/checkout/return",
            "metadata": {"cartVersion": "7", "customerId": "alice"},
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "amount": {"currency": "EUR", "value": 2140},
            "expiresAt": "2026-12-02T21:00:00+01:00",
            "id": "CSD9CAC34EBAE225DD",
            "merchantAccount": "TestShopECOM",
            "reference": cart.to_string(),
            "returnUrl": "https://shop.example/checkout/return",
            "sessionData": "Ab02b4c0!BQABAgCSZT7t..."
        })))
        .expect(1)
        .mount(&server)
        .await;
    for (operation, reference) in [
        ("captures", "993617895215577D"),
        ("reversals", "993617895204576J"),
        ("refunds", "993617895204576K"),
    ] {
        let mut expected =
            json!({"merchantAccount": "TestShopECOM", "reference": cart.to_string()});
        if operation != "reversals" {
            expected["amount"] = json!({"currency": "EUR", "value": 500});
        }
        Mock::given(method("POST"))
            .and(path(format!("/v71/payments/993617895204576J/{operation}")))
            .and(header("x-api-key", "AQE_test_key"))
            .and(header("idempotency-key", format!("{operation}:1").as_str()))
            .and(body_partial_json(expected))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "merchantAccount": "TestShopECOM",
                "paymentPspReference": "993617895204576J",
                "pspReference": reference,
                "reference": cart.to_string(),
                "status": "received"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/v71/payments"))
        .and(body_partial_json(json!({
            "paymentMethod": {"type": "scheme", "storedPaymentMethodId": "8416038790273850"},
            "shopperInteraction": "ContAuth",
            "recurringProcessingModel": "UnscheduledCardOnFile",
            "additionalData": {"manualCapture": "true"},
            "shopperReference": "alice",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "additionalData": {"authCode": "065696"},
            "pspReference": "993617895204576J",
            "resultCode": "Authorised",
            "amount": {"currency": "EUR", "value": 500},
            "merchantReference": cart.to_string()
        })))
        .mount(&server)
        .await;

    let client = AdyenClient::new(settings(&server));
    let money = |cents| Money::new(cents, Currency::EUR);
    let intent = client
        .create_intent(&IntentRequest {
            amount: money(2140),
            cart_id: cart.clone(),
            cart_version: 7,
            customer_id: Some(CustomerId::parse("alice").unwrap()),
            idempotency_key: "intent:key-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(intent.reference, "CSD9CAC34EBAE225DD");
    assert_eq!(intent.client_secret, "Ab02b4c0!BQABAgCSZT7t...");

    let capture = client
        .capture("993617895204576J", &cart, money(500), "captures:1")
        .await
        .unwrap();
    assert_eq!(capture.state, TransactionState::Pending);
    assert_eq!(capture.interaction_id, "adyen-capture:993617895215577D");
    let cancel = client
        .cancel("993617895204576J", &cart, "reversals:1")
        .await
        .unwrap();
    assert_eq!(
        (cancel.interaction_id.as_str(), cancel.state),
        ("993617895204576J", TransactionState::Pending)
    );
    let refund = client
        .refund("993617895204576J", &cart, money(500), "refunds:1")
        .await
        .unwrap();
    assert_eq!(
        (refund.interaction_id.as_str(), refund.state),
        ("993617895204576K", TransactionState::Pending)
    );
    // No lookup at Adyen: a refund stays pending until its notification.
    assert_eq!(
        client
            .refund_status("993617895204576K")
            .await
            .unwrap()
            .state,
        TransactionState::Pending
    );
    let authorization = client
        .authorize_saved(&SavedMethodRequest {
            amount: money(500),
            payment_method: "8416038790273850".into(),
            customer_id: Some(CustomerId::parse("alice").unwrap()),
            cart_id: cart.clone(),
            idempotency_key: "authorize:1".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        authorization,
        Authorization::Held {
            reference: "993617895204576J".into()
        }
    );
}

#[tokio::test]
async fn adyen_errors_are_reported_with_their_code_and_never_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "status": 422,
            "errorCode": "167",
            "message": "Original pspReference required for this operation",
            "errorType": "validation"
        })))
        .mount(&server)
        .await;
    let error = AdyenClient::new(settings(&server))
        .refund(
            "unknown",
            &CartId::new(),
            Money::new(100, Currency::EUR),
            "k",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("422"), "{error}");
    assert!(
        error.contains("167: Original pspReference required"),
        "{error}"
    );
    assert!(!error.contains("AQE_test_key"), "{error}");
    assert!(!format!("{:?}", AdyenClient::new(settings(&server))).contains("AQE_test_key"));
}

/// The simulator's notifications are Adyen's shape and verify as Adyen's do.
#[test]
fn the_simulators_notifications_parse_and_verify() {
    let body = signed(
        vec![item("AUTHORISATION", "P1", None, "c", 100, true)],
        &key(),
    );
    let parsed = Notification::parse(body.as_bytes()).unwrap();
    let item = parsed.items().next().unwrap();
    assert_eq!(item.verify(&[key()]), Ok(()));
    assert_eq!(item.amount.as_ref().unwrap().value.as_deref(), Some("100"));
}
