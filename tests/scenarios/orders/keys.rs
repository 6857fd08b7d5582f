use super::*;

async fn keys_replay_refuse_other_payloads_and_wait_for_the_first(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let first = guest
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await;
    first.assert_status(StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = guest
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.body, first.body);
    let other = guest
        .post_with_key(
            "/orders",
            "k-1",
            json!({"cartId": cart.id, "cartVersion": cart.version, "orderNumber": "K1-OTHER"}),
        )
        .await;
    assert_eq!(
        other.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "IdempotencyKeyReused")["recovery"],
        "use_new_key"
    );
    // Another caller's identical key is another key: it never sees this order.
    let (stranger, _) = app.guest_with_cart("EUR", "DE").await;
    stranger
        .post_with_key("/orders", "k-1", order_request(&cart))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    let bad_key = guest
        .post_with_key("/orders", &"x".repeat(256), order_request(&cart))
        .await;
    assert_eq!(bad_key.pointers(), ["/headers/Idempotency-Key"]);
}

async fn a_refused_request_does_not_burn_its_key(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.ready_guest_cart().await;
    guest
        .post_with_key("/orders", "k-2", order_request(&cart))
        .await
        .assert_problem(StatusCode::PAYMENT_REQUIRED, "PaymentRequired");
    app.pay(&mut cart, None).await;
    // Same key, new version: the refusal was not stored, so this is a fresh request.
    guest
        .post_with_key("/orders", "k-2", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn a_crashed_request_unlocks_its_key_at_its_deadline(backend: Backend) {
    use checkout_domain::model::idempotency::{IdempotencyRecord, RecordState};
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    // What a crashed invocation leaves: the key held in flight until its deadline. The cart is
    // ordered through the API first (key k-3); then an invocation with key k-4 for the same
    // request takes its key and crashes. Keys are scoped to the caller.
    let body = order_request(&cart);
    let created = guest.post_with_key("/orders", "k-3", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    let now = app.storefront.now();
    let fingerprint = checkout_domain::model::idempotency::fingerprint(
        "POST /orders",
        &checkout_tests::serde_json::from_value::<
            checkout_domain::usecases::checkout::CreateOrderInput,
        >(body.clone())
        .unwrap(),
    );
    let session = guest_scope(&app, &cart).await;
    let record = IdempotencyRecord {
        key: format!("orders#guest:{session}#k-4"),
        fingerprint,
        state: RecordState::InFlight {
            locked_until: now + time::Duration::seconds(20),
        },
        expires_at: (now + time::Duration::hours(24)).unix_timestamp(),
    };
    assert!(app
        .store
        .claim_idempotency(&record, now)
        .await
        .unwrap()
        .is_none());
    let waiting = guest.post_with_key("/orders", "k-4", body.clone()).await;
    let problem = waiting.assert_problem(StatusCode::CONFLICT, "RequestInProgress");
    assert_eq!(problem["recovery"], "retry_later");
    assert_eq!(waiting.headers["retry-after"], "20");
    app.advance(time::Duration::seconds(21));
    let after = guest.post_with_key("/orders", "k-4", body).await;
    after.assert_status(StatusCode::OK);
    assert_eq!(
        after.body["orderNumber"], created.body["orderNumber"],
        "the cart replays its order"
    );
}

/// The stored session hash of a guest cart (how idempotency keys are scoped).
async fn guest_scope(app: &App, cart: &CartRef) -> String {
    let id = checkout_domain::model::values::CartId::parse(&cart.id).unwrap();
    match app.store.cart(&id).await.unwrap().unwrap().owner {
        checkout_domain::model::cart::CartOwner::Guest { session_hash } => session_hash.to_string(),
        other => panic!("a guest cart, got {other:?}"),
    }
}

async fn client_order_numbers_are_honoured_and_unique(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let mut body = order_request(&cart);
    body["orderNumber"] = json!("SHOP-1001");
    let created = guest.post("/orders", body.clone()).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["orderNumber"], "SHOP-1001");
    let (other, other_cart) = app.paid_guest_cart().await;
    let mut taken = order_request(&other_cart);
    taken["orderNumber"] = json!("SHOP-1001");
    let problem = other.post("/orders", taken).await;
    assert_eq!(
        problem.assert_problem(StatusCode::CONFLICT, "OrderNumberTaken")["recovery"],
        "choose_another_number"
    );
    assert_eq!(app.stock("MUG").await, 98, "the refused order took nothing");
    let mut bad = order_request(&other_cart);
    bad["orderNumber"] = json!("no spaces please");
    assert_eq!(
        other.post("/orders", bad).await.pointers(),
        ["/orderNumber"]
    );
}

on_both_stores!(
    keys_replay_refuse_other_payloads_and_wait_for_the_first,
    a_refused_request_does_not_burn_its_key,
    a_crashed_request_unlocks_its_key_at_its_deadline,
    client_order_numbers_are_honoured_and_unique,
);
