use super::*;

/// A crash after the commit (the store wrote, the caller saw an error): the answer is a 503
/// and the key is free; the retry finds the order the first attempt committed, releases the
/// authorization it made for the amounts it now sees, and captures the order's own once.
async fn a_crash_after_the_commit_is_finished_by_the_retry(backend: Backend) {
    crash_and_retry(backend, 2, "commit").await;
}

/// A crash after the capture was recorded: the retry captures nothing more.
async fn a_crash_after_the_capture_is_finished_by_the_retry(backend: Backend) {
    crash_and_retry(backend, 3, "record_order_payments").await;
}

async fn crash_and_retry(backend: Backend, nth_write: u32, method: &str) {
    let (app, faults) = FaultyStore::app(backend).await;
    put_card(&app, "GIFT-20", "EUR", 2_000).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order(
        "crash-1",
        5,
        json!([{"giftCard": "GIFT-20"}, {"paymentMethod": "pm_card_visa"}]),
    );
    let client = integration(&app);
    let spec = FaultSpec {
        nth: nth_write,
        point: FaultPoint::After,
    };
    let crashed = FaultyStore::scoped(Some(spec), client.post("/admin/orders", body.clone())).await;
    crashed.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    assert_eq!(faults.injected()[0].method, method);
    let retried = client.post("/admin/orders", body.clone()).await;
    retried.assert_status(StatusCode::CREATED);
    assert_eq!(retried.body["paymentState"], "Paid");
    let card = retried.body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["psp"] == "stripe")
        .unwrap()
        .clone();
    let reference = card["pspReference"].as_str().unwrap();
    assert_eq!(app.psp.captured(reference), FIVE_MUGS - 2_000);
    assert_eq!(app.psp_requests("capture").len(), 1, "captured once");
    assert!(
        app.psp.open_authorizations().is_empty(),
        "nothing held for nothing"
    );
    assert_eq!(balance(&app, "GIFT-20").await, 0, "redeemed once");
    assert_eq!(app.stock("MUG").await, mugs - 5, "one order's stock");
    let replay = client.post("/admin/orders", body).await;
    replay.assert_status(StatusCode::OK);
    assert_eq!(replay.body["orderNumber"], retried.body["orderNumber"]);
}

/// The same request delivered twice at once: one runs, the other is told to wait or gets
/// its answer; one order, one capture.
async fn the_same_key_twice_at_once_makes_one_order(backend: Backend) {
    let app = App::start(backend).await;
    let mugs = app.stock("MUG").await;
    let body = paid_order("twice-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    let client = integration(&app);
    let (a, b) = tokio::join!(
        client.post("/admin/orders", body.clone()),
        client.post("/admin/orders", body.clone())
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert!(
        statuses == [200, 201] || statuses == [201, 409],
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert_eq!(app.stock("MUG").await, mugs - 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
}

/// Two integrations carrying the same draft on at once: it is processed once (one order,
/// one capture, the stock taken once); the other is told to retry or sees the order.
async fn a_draft_processed_twice_at_once_is_processed_once(backend: Backend) {
    let app = App::start(backend).await;
    let mugs = app.stock("MUG").await;
    let mut body = paid_order("draft-race", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    body["commands"] = json!(["calculate_shipping"]);
    let client = integration(&app);
    let draft = client.post("/admin/orders", body).await;
    draft.assert_status(StatusCode::CREATED);
    let path = format!(
        "/admin/orders/{}/commands",
        draft.body["orderNumber"].as_str().unwrap()
    );
    let commands = json!({"commands": ["authorize_payments", "process_order", "charge_payments"]});
    let (a, b) = tokio::join!(
        client.post(&path, commands.clone()),
        client.post(&path, commands.clone())
    );
    let statuses = [a.status.as_u16(), b.status.as_u16()];
    assert!(
        statuses.contains(&200),
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}: {} {}",
        a.body,
        b.body
    );
    assert_eq!(app.stock("MUG").await, mugs - 2);
    // Both may ask to capture, under the same provider key: one capture, recorded once.
    let order = if a.status == StatusCode::OK {
        &a.body
    } else {
        &b.body
    };
    let reference = order["payments"][0]["pspReference"].as_str().unwrap();
    assert_eq!(
        app.psp.captured(reference),
        cents(&order["totals"]["total"])
    );
    let number = OrderNumber::parse(order["orderNumber"].as_str().unwrap()).unwrap();
    let stored = app.store.order(&number).await.unwrap().unwrap();
    let charges = stored.payments[0]
        .transactions
        .iter()
        .filter(|t| t.kind == checkout_domain::model::payment::TransactionKind::Charge)
        .count();
    assert_eq!(charges, 1);
    let keys: std::collections::BTreeSet<_> = app
        .psp_requests("capture")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 1, "one capture key");
    assert!(app.psp.open_authorizations().is_empty());
}

/// An `idempotencyKey`'s record is kept 24 hours; the order the key made lives on and
/// remembers the request it was made for. After the record expired, the same body replays
/// that order (nothing runs again) and another body is still a 422 — a draft's key too.
async fn a_key_reused_after_its_record_expired_answers_only_its_own_body(backend: Backend) {
    let app = App::start(backend).await;
    let body = paid_order("expiring-1", 1, json!([{"paymentMethod": "pm_card_visa"}]));
    let mut draft = paid_order("expiring-2", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    draft["commands"] = json!(["calculate_shipping"]);
    let client = integration(&app);
    let order = client.post("/admin/orders", body.clone()).await;
    order.assert_status(StatusCode::CREATED);
    let saved = client.post("/admin/orders", draft.clone()).await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["state"], "Draft");
    let mugs = app.stock("MUG").await;

    app.advance(time::Duration::hours(24) + time::Duration::minutes(1));
    for (first, answered) in [(&body, &order), (&draft, &saved)] {
        let mut other = first.clone();
        other["lineItems"][0]["quantity"] = 3.into();
        other["sendReceipt"] = false.into();
        client
            .post("/admin/orders", other.clone())
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
        let replay = client.post("/admin/orders", first.clone()).await;
        replay.assert_status(StatusCode::OK);
        assert_eq!(replay.headers["idempotent-replayed"], "true");
        assert_eq!(replay.body["orderNumber"], answered.body["orderNumber"]);
        assert_eq!(replay.body["state"], answered.body["state"]);
        assert_eq!(replay.body["totals"], answered.body["totals"]);
        // The replay stored the key's answer again; the other body is still refused.
        client
            .post("/admin/orders", other)
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused");
    }
    assert_eq!(app.stock("MUG").await, mugs, "nothing taken again");
    assert_eq!(app.psp_requests("authorize").len(), 1);
    assert_eq!(app.psp_requests("capture").len(), 1);
    assert!(app.psp.open_authorizations().is_empty());
}

on_both_stores!(
    a_crash_after_the_commit_is_finished_by_the_retry,
    a_crash_after_the_capture_is_finished_by_the_retry,
    the_same_key_twice_at_once_makes_one_order,
    a_draft_processed_twice_at_once_is_processed_once,
    a_key_reused_after_its_record_expired_answers_only_its_own_body,
);
