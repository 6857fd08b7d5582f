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

/// The merchant refunds of the cart's order, as their views say they stand.
async fn refund_states(app: &App, cart: &CartRef) -> Vec<String> {
    let order = app.stored(cart).await.1.unwrap();
    order
        .refunds
        .iter()
        .map(|r| format!("{:?}", r.view(&order.payments).state))
        .collect()
}

mod client;
mod givebacks;
mod notifications;
mod sessions;
