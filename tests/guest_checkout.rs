//! Guest checkout: guests order with their details. Claiming guest orders into an account is
//! `guest_claim.rs`.

use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, order_request, App, Backend};
use http::StatusCode;

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

on_both_stores!(a_guest_must_leave_details_before_ordering,);
