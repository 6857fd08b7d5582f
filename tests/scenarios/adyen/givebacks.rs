use super::*;

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

on_both_stores!(
    a_second_payment_is_given_back_through_adyen_and_settled_by_its_notification,
    a_reversal_adyen_refuses_is_money_outstanding_again,
    merchant_refunds_go_to_adyen_and_its_notifications_settle_them,
);
