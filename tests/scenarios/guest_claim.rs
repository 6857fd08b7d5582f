//! Guest claims: a guest's orders move into an account only through the claim link their
//! confirmation email carries (stored hashed, 7 days, once, for that email alone). Nothing an
//! API response shows can claim anything.

use checkout_tests::outbox::claim_link;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{on_both_stores, order_request, ready_actions, App, Backend, CartRef, Client};
use http::StatusCode;

const ADA: &str = "ada@example.com";

/// A guest's cart, ready to order, with `email` as the guest's email.
async fn guest_cart_for(app: &App, email: &str) -> (Client, CartRef, Vec<Value>) {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(&[("MUG", 1)]);
    let details = actions.as_array_mut().unwrap().last_mut().unwrap();
    details["email"] = email.into();
    let updated = guest.update(&mut cart, actions).await;
    updated.assert_status(StatusCode::OK);
    (guest, cart, vec![updated.body])
}

/// A guest's paid order placed with `email`: its cart and the 201 body.
async fn paid_guest_order(app: &App, email: &str) -> (Client, CartRef, Value) {
    let (guest, mut cart, _) = guest_cart_for(app, email).await;
    app.pay(&mut cart, None).await;
    let order = guest.post("/orders", order_request(&cart)).await;
    order.assert_status(StatusCode::CREATED);
    (guest, cart, order.body)
}

async fn claim(client: &Client, email: &str, token: &str) -> checkout_tests::TestResponse {
    client
        .post("/customers/claim", json!({"email": email, "token": token}))
        .await
}

/// Every string anywhere in `value`, and every object key.
fn strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, into)),
        Value::Object(fields) => {
            for (key, v) in fields {
                into.push(key.clone());
                strings(v, into);
            }
        }
        _ => {}
    }
}

async fn a_guest_claims_their_orders_with_the_emailed_link_and_the_email_is_then_registered(
    backend: Backend,
) {
    let app = App::start(backend).await;
    let (_, first_cart, first) = paid_guest_order(&app, ADA).await;
    let (_, _, second) = paid_guest_order(&app, ADA).await;
    assert!(
        first.get("claimToken").is_none(),
        "no API response carries a claim token"
    );
    let (_, before) = app.stored(&first_cart).await;
    let before = before.unwrap();

    let email = app.confirmation_email(&first_cart).await;
    assert_eq!(email.to, ADA);
    let (address, token) = claim_link(&email);
    assert_eq!(address, ADA);

    claim(&app.anonymous(), ADA, &token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    let alice = app.customer("alice");
    assert_eq!(claim(&alice, "nope", &token).await.pointers(), ["/email"]);

    let claimed = claim(&alice, "Ada@Example.com", &token).await;
    claimed.assert_status(StatusCode::OK);
    let mut numbers: Vec<&str> = claimed.body["claimed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    numbers.sort();
    let mut expected = vec![
        first["orderNumber"].as_str().unwrap(),
        second["orderNumber"].as_str().unwrap(),
    ];
    expected.sort();
    assert_eq!(
        numbers, expected,
        "every guest order of that email, proven by one link"
    );

    let history = alice.get("/orders").await.body;
    assert_eq!(history["results"].as_array().unwrap().len(), 2);
    let number = first["orderNumber"].as_str().unwrap();
    let read = alice.get(&format!("/orders/{number}")).await;
    read.assert_status(StatusCode::OK);
    assert_eq!(read.body["customerId"], "alice");
    assert_eq!(read.body["isGuest"], false);
    let (_, after) = app.stored(&first_cart).await;
    let after = after.unwrap();
    assert_eq!(
        after.revision,
        before.revision + 1,
        "the claim is one change"
    );
    assert_eq!(
        after.payments, before.payments,
        "payments are not the claim's"
    );

    // The email is registered now: guests are asked to sign in.
    let (late_guest, late_cart) = app.paid_guest_cart().await;
    let refused = late_guest.post("/orders", order_request(&late_cart)).await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, "EmailAlreadyRegistered");
    assert_eq!(problem["recovery"], "sign_in");
    assert_eq!(
        app.stock("MUG").await,
        98,
        "the refused guest order took nothing"
    );
}

/// The attack from issue 9: an attacker places a guest order with the victim's email, takes
/// everything the API answers, signs in and tries to claim the victim's orders with it.
async fn nothing_an_api_response_shows_claims_a_victims_orders(backend: Backend) {
    let app = App::start(backend).await;
    let (_, victim_cart, victim_order) = paid_guest_order(&app, ADA).await;
    let victim_number = victim_order["orderNumber"].as_str().unwrap().to_string();

    let (attacker_guest, mut attacker_cart, mut seen) = guest_cart_for(&app, ADA).await;
    // A guest cannot save an unpaid order (an anonymous hold): the attacker pays.
    attacker_guest
        .post(
            "/orders",
            json!({"cartId": attacker_cart.id, "cartVersion": attacker_cart.version,
                   "action": "save_order"}),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    app.pay(&mut attacker_cart, None).await;
    let saved = attacker_guest
        .post("/orders", order_request(&attacker_cart))
        .await;
    saved.assert_status(StatusCode::CREATED);
    let number = saved.body["orderNumber"].as_str().unwrap().to_string();
    seen.push(saved.body.clone());
    seen.push(
        attacker_guest
            .get(&format!("/carts/{}", attacker_cart.id))
            .await
            .body,
    );
    seen.push(attacker_guest.get(&format!("/orders/{number}")).await.body);
    seen.push(
        app.anonymous()
            .post(
                "/orders/lookup",
                json!({"email": ADA, "orderNumber": number}),
            )
            .await
            .body,
    );
    let mut candidates = Vec::new();
    for body in &seen {
        strings(body, &mut candidates);
    }
    assert!(
        !candidates
            .iter()
            .any(|s| s.to_ascii_lowercase().contains("claim")),
        "no response names a claim token: {candidates:?}"
    );
    candidates.push(
        attacker_guest_session(&attacker_guest)
            .expect("the attacker's session token")
            .to_string(),
    );
    candidates.sort();
    candidates.dedup();

    let mallory = app.customer("mallory");
    for candidate in candidates.iter().filter(|c| !c.is_empty()) {
        let refused = claim(&mallory, ADA, candidate).await;
        assert!(
            refused.status.is_client_error(),
            "{candidate:?} claimed: {:#}",
            refused.body
        );
    }

    let history = mallory.get("/orders").await.body;
    assert_eq!(history["results"], json!([]), "nothing moved");
    let (_, victims) = app.stored(&victim_cart).await;
    assert!(victims.unwrap().is_guest(), "the victim's order is theirs");
    app.anonymous()
        .post(
            "/orders/lookup",
            json!({"email": ADA, "orderNumber": victim_number}),
        )
        .await
        .assert_status(StatusCode::OK);
    // The victim's email is not registered to the attacker: the victim still checks out.
    paid_guest_order(&app, ADA).await;
}

fn attacker_guest_session(client: &Client) -> Option<String> {
    client.header("x-session-id")
}

async fn wrong_expired_reused_and_other_email_tokens_move_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (_, ada_cart, _) = paid_guest_order(&app, ADA).await;
    let (_, bob_cart, _) = paid_guest_order(&app, "bob@example.com").await;
    let (_, ada_token) = claim_link(&app.confirmation_email(&ada_cart).await);
    let (bob_address, bob_token) = claim_link(&app.confirmation_email(&bob_cart).await);
    assert_eq!(bob_address, "bob@example.com");

    let alice = app.customer("alice");
    for (email, token) in [
        (ADA, bob_token.as_str()),
        (ADA, "wrong"),
        ("bob@example.com", ada_token.as_str()),
    ] {
        claim(&alice, email, token)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    }
    assert_eq!(alice.get("/orders").await.body["results"], json!([]));

    // A refused attempt spends nothing; a success spends the token for everyone.
    let carol = app.customer("carol");
    claim(&carol, "bob@example.com", &bob_token)
        .await
        .assert_status(StatusCode::OK);
    for customer in [&carol, &alice] {
        claim(customer, "bob@example.com", &bob_token)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    }
    assert_eq!(alice.get("/orders").await.body["results"], json!([]));

    // Seven days later the link no longer works.
    app.advance(time::Duration::days(7) + time::Duration::minutes(1));
    claim(&alice, ADA, &ada_token)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    let (_, ada_order) = app.stored(&ada_cart).await;
    assert!(ada_order.unwrap().is_guest(), "nothing moved");
}

on_both_stores!(
    a_guest_claims_their_orders_with_the_emailed_link_and_the_email_is_then_registered,
    nothing_an_api_response_shows_claims_a_victims_orders,
    wrong_expired_reused_and_other_email_tokens_move_nothing,
);
