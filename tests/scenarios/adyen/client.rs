use super::*;

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
