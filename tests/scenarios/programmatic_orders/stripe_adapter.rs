use super::*;

/// The Stripe adapter under the pipeline, against a fake Stripe: the authorization sends the
/// saved method, the Stripe customer, `confirm`, `off_session` and manual capture under a key
/// derived from the order's; the capture takes exactly the card's share; a declined card
/// (HTTP 402) fails `authorize_payments` with nothing held.
#[tokio::test]
async fn the_stripe_adapter_authorizes_and_captures_a_saved_card() {
    use checkout_adapters::stripe::StripeClient;
    use checkout_domain::model::identity::Caller;
    use checkout_domain::model::programmatic_order::ProgrammaticOrderInput;
    use checkout_domain::model::values::CustomerId;
    use wiremock::matchers::{body_string_contains, header, header_regex, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(header_regex(
            "idempotency-key",
            "^order:[0-9a-f]{32}:authorize:1:5729$",
        ))
        .and(body_string_contains("amount=5729"))
        .and(body_string_contains("currency=eur"))
        .and(body_string_contains("payment_method=pm_card_visa"))
        .and(body_string_contains("customer=cus_test"))
        .and(body_string_contains("confirm=true"))
        .and(body_string_contains("off_session=true"))
        .and(body_string_contains("capture_method=manual"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "pi_saved", "status": "requires_capture"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents/pi_saved/capture"))
        .and(header("idempotency-key", "capture:pi_saved"))
        .and(body_string_contains("amount_to_capture=5729"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "pi_saved", "status": "succeeded", "latest_charge": "ch_saved"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/payment_intents"))
        .and(body_string_contains("payment_method=pm_card_chargeDeclined"))
        .respond_with(ResponseTemplate::new(402).set_body_json(
            json!({"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let app = App::start(Backend::Memory).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let storefront = app
        .storefront
        .clone()
        .with_psp(Arc::new(StripeClient::new(server.uri(), "sk_test_123")));
    let caller = Caller {
        customer: Some(CustomerId::parse("erp-bridge").unwrap()),
        scopes: vec!["orders:write".into()],
        ..Caller::default()
    };
    let input = |body: &Value| -> ProgrammaticOrderInput {
        checkout_tests::serde_json::from_value(body.clone()).expect("a valid body")
    };
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
    let mut body = paid_order(
        "stripe-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    body["customer"]["customerId"] = "cus_test".into();
    let answer = storefront
        .programmatic_orders()
        .create_admin_order(&caller, &input(&body), deadline)
        .await
        .expect("the order is made");
    let checkout_domain::usecases::programmatic::AdminAnswer::Created(order) = answer else {
        panic!("a new order");
    };
    let card = order.payments.iter().find(|p| p.psp == "stripe").unwrap();
    assert_eq!(card.psp_reference, "pi_saved");
    let interactions: Vec<_> = card
        .transactions
        .iter()
        .map(|t| t.interaction_id.as_str())
        .collect();
    assert_eq!(interactions, ["authorization:pi_saved", "charge:ch_saved"]);
    assert_eq!(balance(&app, "GIFT-20").await, 0);

    let mut declined = paid_order(
        "stripe-2",
        1,
        json!([{"paymentMethod": "pm_card_chargeDeclined"}]),
    );
    declined["customer"]["customerId"] = "cus_test".into();
    let refused = storefront
        .programmatic_orders()
        .create_admin_order(&caller, &input(&declined), deadline)
        .await
        .unwrap_err();
    match refused {
        checkout_domain::Error::CommandFailed { command, cause, .. } => {
            assert_eq!(command, "authorize_payments");
            assert!(matches!(
                *cause,
                checkout_domain::Error::PaymentDeclined { .. }
            ));
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
}
