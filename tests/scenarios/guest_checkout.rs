//! Guest checkout: guests order with their details, may look orders up, and later attach them
//! to an account with the claim token; a registered email then asks the guest to sign in.

use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, order_request, App, Backend};
use http::StatusCode;

async fn a_guest_claims_orders_into_an_account_and_the_email_is_then_registered(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.paid_guest_cart().await;
    let first = guest.post("/orders", order_request(&cart)).await.body;
    let (guest2, cart2) = app.paid_guest_cart().await;
    let second = guest2.post("/orders", order_request(&cart2)).await.body;
    let token = first["claimToken"].as_str().unwrap();

    let alice = app.customer("alice");
    app.anonymous()
        .post(
            "/customers/claim",
            json!({"email": "ada@example.com", "token": token}),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    alice
        .post(
            "/customers/claim",
            json!({"email": "ada@example.com", "token": "wrong"}),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    assert_eq!(
        alice
            .post("/customers/claim", json!({"email": "nope", "token": token}))
            .await
            .pointers(),
        ["/email"]
    );

    let claimed = alice
        .post(
            "/customers/claim",
            json!({"email": "Ada@Example.com", "token": token}),
        )
        .await;
    claimed.assert_status(StatusCode::OK);
    let mut numbers: Vec<_> = claimed.body["claimed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    numbers.sort();
    let mut expected = vec![
        first["orderNumber"].as_str().unwrap().to_string(),
        second["orderNumber"].as_str().unwrap().to_string(),
    ];
    expected.sort();
    assert_eq!(
        numbers, expected,
        "every guest order of that email, proven by one token"
    );

    let history = alice.get("/orders").await.body;
    assert_eq!(history["results"].as_array().unwrap().len(), 2);
    let number = first["orderNumber"].as_str().unwrap();
    let read = alice.get(&format!("/orders/{number}")).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(read.body["customerId"], "alice");
    assert_eq!(read.body["isGuest"], false);

    // The email is registered now: guests are asked to sign in, and nobody else can claim it.
    let (late_guest, late_cart) = app.paid_guest_cart().await;
    let refused = late_guest.post("/orders", order_request(&late_cart)).await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, "EmailAlreadyRegistered");
    assert_eq!(
        problem["detail"],
        "Email already registered. Please login to continue."
    );
    assert_eq!(problem["recovery"], "sign_in");
    assert_eq!(
        app.stock("MUG").await,
        96,
        "the refused guest order took nothing"
    );
    app.customer("mallory")
        .post(
            "/customers/claim",
            json!({"email": "ada@example.com", "token": token}),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
}

async fn a_guest_must_leave_details_before_ordering(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = checkout_tests::ready_actions(&[("MUG", 1)]);
    actions.as_array_mut().unwrap().pop();
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    let missing = guest.post("/orders", order_request(&cart)).await;
    assert_eq!(
        missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "CartNotReady")["missing"],
        json!(["guestDetails"])
    );
    let bad = guest
        .update(
            &mut cart,
            json!([{"action": "setGuestDetails", "email": "ada@", "name": "", "phone": "x"}]),
        )
        .await;
    assert_eq!(
        bad.pointers(),
        ["/actions/0/email", "/actions/0/name", "/actions/0/phone"]
    );
}

on_both_stores!(
    a_guest_claims_orders_into_an_account_and_the_email_is_then_registered,
    a_guest_must_leave_details_before_ordering,
);
