//! The Stripe adapter: signatures against Stripe's own test vectors, real webhook payloads
//! into payment events, and the REST calls as a fake Stripe server sees them.

use checkout_adapters::stripe::{self, Interpretation, StripeClient};
use checkout_domain::model::money::{Currency, Money};
use checkout_domain::model::payment::TransactionState;
use checkout_domain::model::payment_event::{PaymentOutcome, ProviderRefund};
use checkout_domain::model::values::{CartId, CustomerId};
use checkout_domain::ports::psp::{IntentRequest, PaymentProvider, Reversal};
use checkout_tests::serde_json::{self, json, Value};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VECTORS: &str = include_str!("../fixtures/stripe/signature_vectors.json");

#[test]
fn every_signature_vector_gives_the_expected_answer() {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = vectors["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 28);
    for vector in vectors {
        let valid = stripe::verify_signature(
            vector["header"].as_str(),
            vector["payload"].as_str().unwrap().as_bytes(),
            &[vector["secret"].as_str().unwrap().to_string()],
            vector["now"].as_i64().unwrap(),
            vector["tolerance_s"].as_i64(),
        )
        .is_ok();
        assert_eq!(
            valid,
            vector["expected_valid"].as_bool().unwrap(),
            "vector {}",
            vector["name"]
        );
    }
}

#[test]
fn a_rotation_accepts_either_secret_and_nothing_else() {
    let body = br#"{"id":"evt_1"}"#;
    let header = stripe::sign(body, "whsec_old", 1_000);
    let both = ["whsec_new".to_string(), "whsec_old".to_string()];
    assert!(stripe::verify_signature(Some(&header), body, &both, 1_000, Some(300)).is_ok());
    assert_eq!(
        stripe::verify_signature(Some(&header), body, &both[..1], 1_000, Some(300)),
        Err(stripe::SignatureError::Mismatch)
    );
    assert_eq!(
        stripe::verify_signature(Some(&header), br#"{"id":"evt_2"}"#, &both, 1_000, Some(300)),
        Err(stripe::SignatureError::Mismatch)
    );
    assert_eq!(
        stripe::verify_signature(Some(&header), body, &both, 1_301, Some(300)),
        Err(stripe::SignatureError::Stale)
    );
    assert!(stripe::verify_signature(Some(&header), body, &both, 1_300, Some(300)).is_ok());
    assert_eq!(
        stripe::verify_signature(None, body, &both, 1_000, Some(300)),
        Err(stripe::SignatureError::Missing)
    );
}

/// A fixture event with our cart's id in its metadata, as our intents carry it.
fn fixture(name: &str, cart: &CartId) -> stripe::Event {
    let text = match name {
        "payment_intent.succeeded" => {
            include_str!("../fixtures/stripe/payment_intent.succeeded.json")
        }
        "payment_intent.payment_failed" => {
            include_str!("../fixtures/stripe/payment_intent.payment_failed.json")
        }
        "payment_intent.canceled" => {
            include_str!("../fixtures/stripe/payment_intent.canceled.json")
        }
        "payment_intent.amount_capturable_updated" => {
            include_str!("../fixtures/stripe/payment_intent.amount_capturable_updated.json")
        }
        "charge.refunded" => include_str!("../fixtures/stripe/charge.refunded.json"),
        other => panic!("no fixture {other}"),
    };
    let mut event: Value = serde_json::from_str(text).unwrap();
    event["data"]["object"]["metadata"] = json!({"cartId": cart.to_string()});
    if name == "charge.refunded" {
        event["data"]["object"]["payment_intent"] = json!("pi_000000000000000000000000");
    }
    serde_json::from_value(event).unwrap()
}

#[test]
fn real_stripe_payloads_become_payment_events() {
    let cart = CartId::new();
    let usd = |cents| Money::new(cents, Currency::USD);
    let cases = [
        (
            "payment_intent.succeeded",
            PaymentOutcome::Charged { amount: usd(2000) },
        ),
        (
            "payment_intent.amount_capturable_updated",
            PaymentOutcome::Authorized { amount: usd(2000) },
        ),
        (
            "payment_intent.canceled",
            PaymentOutcome::Canceled {
                amount: usd(2000),
                reversal: None,
            },
        ),
        (
            "charge.refunded",
            PaymentOutcome::Refunded {
                total_refunded: usd(100),
                // The 2020-08-27 API version lists the charge's refunds: matched by id.
                refunds: vec![ProviderRefund {
                    id: "re_000000000000000000000000".into(),
                    amount: usd(100),
                    state: TransactionState::Success,
                    failure: None,
                    key: None,
                }],
            },
        ),
    ];
    for (name, expected) in cases {
        let Interpretation::Payment(event) = stripe::interpret(&fixture(name, &cart)).unwrap()
        else {
            panic!("{name} is a payment event");
        };
        assert_eq!(event.outcome, expected, "{name}");
        assert_eq!(event.cart_id, cart);
        assert_eq!(event.reference, "pi_000000000000000000000000");
    }
    let Interpretation::Payment(failed) =
        stripe::interpret(&fixture("payment_intent.payment_failed", &cart)).unwrap()
    else {
        panic!("a payment event");
    };
    assert!(
        matches!(
            failed.outcome,
            PaymentOutcome::Failed {
                reason: Some(_),
                ..
            }
        ),
        "{failed:?}"
    );
    // The 2020 API's embedded charge names the charge interaction.
    let Interpretation::Payment(succeeded) =
        stripe::interpret(&fixture("payment_intent.succeeded", &cart)).unwrap()
    else {
        panic!();
    };
    assert!(
        succeeded.interaction_id.starts_with("charge:ch_"),
        "{}",
        succeeded.interaction_id
    );

    // Without our metadata (someone else's intent on the same account), it is ignored.
    let mut foreign: Value = serde_json::from_str(include_str!(
        "../fixtures/stripe/payment_intent.succeeded.json"
    ))
    .unwrap();
    foreign["data"]["object"]["metadata"] = json!({});
    let foreign: stripe::Event = serde_json::from_value(foreign).unwrap();
    assert!(matches!(
        stripe::interpret(&foreign).unwrap(),
        Interpretation::Ignored(_)
    ));
}

#[tokio::test]
async fn the_client_sends_what_stripe_expects_with_an_idempotency_key_on_every_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header("authorization", "Bearer sk_test_123"))
        .and(header("idempotency-key", "intent:key-1"))
        .and(body_string_contains("amount=2140"))
        .and(body_string_contains("currency=eur"))
        .and(body_string_contains("metadata%5BcartId%5D="))
        .and(body_string_contains("metadata%5BcartVersion%5D=7"))
        .and(body_string_contains("metadata%5BcustomerId%5D=alice"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "pi_123", "client_secret": "pi_123_secret_x"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund:pi_123"))
        .and(body_string_contains("payment_intent=pi_123"))
        .and(body_string_contains("amount=500"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "re_1", "status": "succeeded"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_123/cancel"))
        .and(header("idempotency-key", "cancel:pi_123"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "pi_123", "status": "canceled"})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let cart = CartId::new();
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_123"))
        .and(header("authorization", "Bearer sk_test_123"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "pi_123", "metadata": {"cartId": cart.to_string()}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_unknown"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"code": "resource_missing"}})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let client = StripeClient::new(server.uri(), "sk_test_123");
    assert_eq!(client.retrieve("pi_123").await.unwrap(), Some(cart));
    assert_eq!(client.retrieve("pi_unknown").await.unwrap(), None);
    let intent = client
        .create_intent(&IntentRequest {
            amount: Money::new(2140, Currency::EUR),
            cart_id: CartId::new(),
            cart_version: 7,
            customer_id: Some(CustomerId::parse("alice").unwrap()),
            idempotency_key: "intent:key-1".into(),
        })
        .await
        .unwrap();
    assert_eq!(intent.reference, "pi_123");
    assert_eq!(intent.client_secret, "pi_123_secret_x");
    let refund = client
        .refund(
            "pi_123",
            &CartId::new(),
            Money::new(500, Currency::EUR),
            "refund:pi_123",
        )
        .await
        .unwrap();
    assert_eq!(refund.interaction_id, "re_1");
    assert_eq!(
        refund.state,
        checkout_domain::model::payment::TransactionState::Success
    );
    client
        .cancel("pi_123", &CartId::new(), "cancel:pi_123")
        .await
        .unwrap();
}

#[tokio::test]
async fn stripe_errors_are_reported_not_swallowed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(402).set_body_json(json!({"error": {"code": "card_declined"}})),
        )
        .mount(&server)
        .await;
    let error = StripeClient::new(server.uri(), "sk")
        .cancel("pi_1", &CartId::new(), "k")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("402"), "{error}");
    assert!(error.to_string().contains("card_declined"), "{error}");
}

#[tokio::test]
async fn what_a_payment_has_refunded_now_is_its_charges_amount_refunded() {
    let server = MockServer::start().await;
    // The intent with its latest charge expanded, as Stripe answers it.
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_refunded"))
        .and(query_param("expand[]", "latest_charge"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_refunded",
            "object": "payment_intent",
            "status": "succeeded",
            "latest_charge": {"id": "ch_1", "object": "charge", "amount": 2826, "amount_refunded": 1200}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/payment_intents/pi_unpaid"))
        .and(query_param("expand[]", "latest_charge"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_unpaid", "object": "payment_intent", "status": "requires_payment_method",
            "latest_charge": null
        })))
        .mount(&server)
        .await;
    let client = StripeClient::new(server.uri(), "sk");
    assert_eq!(client.refunded_now("pi_refunded").await.unwrap(), 1200);
    assert_eq!(client.refunded_now("pi_unpaid").await.unwrap(), 0);
    let error = client.refunded_now("pi_unknown").await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test]
async fn a_refund_stripe_refuses_for_want_of_money_left_is_a_failed_reversal_and_any_other_400_an_error(
) {
    let server = MockServer::start().await;
    // Stripe's answers (type `invalid_request_error`) when the charge has nothing left.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund:pi_full"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "charge_already_refunded",
            "message": "Charge ch_1 has already been refunded.",
            "type": "invalid_request_error"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "mrefund:r1:p1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Refund amount (€28.26) is greater than unrefunded amount on charge (€0.00)",
            "param": "amount",
            "type": "invalid_request_error"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", "refund:pi_bad"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "parameter_missing",
            "message": "Missing required param: payment_intent.",
            "type": "invalid_request_error"
        }})))
        .mount(&server)
        .await;
    let client = StripeClient::new(server.uri(), "sk");
    let eur = |cents| Money::new(cents, Currency::EUR);
    for key in ["refund:pi_full", "mrefund:r1:p1"] {
        let answer = client
            .refund("pi_full", &CartId::new(), eur(2826), key)
            .await
            .unwrap();
        assert_eq!(answer, Reversal::refused(key), "{key}");
        assert_eq!(answer.state, TransactionState::Failure);
    }
    let error = client
        .refund("pi_bad", &CartId::new(), eur(100), "refund:pi_bad")
        .await
        .unwrap_err();
    assert!(error.to_string().contains("parameter_missing"), "{error}");
}
