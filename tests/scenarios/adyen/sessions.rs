use super::*;

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

on_both_stores!(
    a_cart_paid_in_a_session_becomes_an_order_from_the_notification_alone,
    a_refused_attempt_is_recorded_and_the_shopper_pays_again_in_the_session,
);
