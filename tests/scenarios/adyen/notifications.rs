use super::*;

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
    captures_and_chargebacks_are_recorded_once_and_a_chargeback_flags_the_order,
    failed_captures_outside_cancellations_and_failed_refunds_land_once,
    notifications_not_from_adyen_or_not_for_us_record_nothing,
);
