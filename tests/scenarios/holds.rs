//! Holds have an owner and a limit (rule 13): who may take stock off sale before paying, how
//! much of it, and what the confirmation of such a hold may carry to the address they chose.

use checkout_domain::model::cart::CartState;
use checkout_domain::model::commit_plan::SAVED_ORDER_HOLD;
use checkout_domain::model::limits::DEFAULT_MAX_OPEN_SAVED_ORDERS;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{address_de, on_both_stores, order_request, App, Backend, CartRef, Client};
use http::StatusCode;

/// `POST /orders` saving `cart` as an order awaiting payment.
fn save(cart: &CartRef) -> Value {
    let mut body = order_request(cart);
    body["action"] = json!("save_order");
    body
}

/// A saved order of `sub`'s: its number.
async fn saved_by(app: &App, sub: &str) -> String {
    let (customer, cart) = app.ready_customer_cart(sub).await;
    let saved = customer.post("/orders", save(&cart)).await;
    saved.assert_status(StatusCode::CREATED);
    assert_eq!(saved.body["paymentState"], "Pending");
    saved.body["orderNumber"].as_str().unwrap().to_string()
}

/// Pays a saved order in full through its own payment and the webhook.
async fn pay_order(app: &App, customer: &Client, number: &str) {
    let payment = customer
        .post(&format!("/orders/{number}/payments"), json!({}))
        .await;
    payment.assert_status(StatusCode::CREATED);
    let reference = payment.body["pspReference"].as_str().unwrap();
    let paid = app.deliver(&app.payment_event(reference, true)).await;
    assert_eq!(paid.body["effect"]["paid"], number, "{:#}", paid.body);
}

async fn a_guests_saved_order_is_refused_and_holds_nothing(backend: Backend) {
    let app = App::start(backend).await;
    let (guest, cart) = app.ready_guest_cart().await;
    let refused = guest.post("/orders", save(&cart)).await;
    assert_eq!(
        refused.assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized")["recovery"],
        "sign_in"
    );
    assert_eq!(app.stock("MUG").await, 100, "no stock held");
    let (stored, order) = app.stored(&cart).await;
    assert!(order.is_none());
    assert_eq!(stored.state, CartState::Active);
    assert_eq!(stored.version, cart.version, "the cart is untouched");
    // The same guest still checks out by paying.
    let mut cart = cart;
    app.pay(&mut cart, None).await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn a_customer_holds_at_most_three_unpaid_saved_orders(backend: Backend) {
    let app = App::start(backend).await;
    let alice = app.customer("alice");
    let mut numbers = Vec::new();
    for _ in 0..DEFAULT_MAX_OPEN_SAVED_ORDERS {
        numbers.push(saved_by(&app, "alice").await);
    }
    let (_, fourth) = app.ready_customer_cart("alice").await;
    let refused = alice.post("/orders", save(&fourth)).await;
    let problem = refused.assert_problem(StatusCode::CONFLICT, "TooManyOpenOrders");
    assert_eq!(problem["recovery"], "pay_or_cancel");
    assert_eq!(problem["limit"], 3);
    assert_eq!(app.stock("MUG").await, 94, "the fourth holds nothing");
    assert!(app.stored(&fourth).await.1.is_none());
    // Another customer is not held to Alice's count; Alice's checkout never needs a slot.
    saved_by(&app, "bob").await;
    let (_, mut paid_cart) = app.ready_customer_cart("alice").await;
    app.pay(&mut paid_cart, None).await;
    alice
        .post("/orders", order_request(&paid_cart))
        .await
        .assert_status(StatusCode::CREATED);

    // Paying one gives its slot back.
    pay_order(&app, &alice, &numbers[0]).await;
    alice
        .post("/orders", save(&fourth))
        .await
        .assert_status(StatusCode::CREATED);
    let (_, fifth) = app.ready_customer_cart("alice").await;
    alice
        .post("/orders", save(&fifth))
        .await
        .assert_problem(StatusCode::CONFLICT, "TooManyOpenOrders");

    // Holds that end unpaid give theirs back too.
    app.advance(SAVED_ORDER_HOLD + time::Duration::seconds(1));
    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        4
    );
    alice
        .post("/orders", save(&fifth))
        .await
        .assert_status(StatusCode::CREATED);
}

async fn saves_racing_past_the_cap_never_pass_it(backend: Backend) {
    let app = App::start(backend).await;
    let mut carts = Vec::new();
    for _ in 0..8 {
        carts.push(app.ready_customer_cart("alice").await);
    }
    let tasks: Vec<_> = carts
        .into_iter()
        .map(|(alice, cart)| tokio::spawn(async move { alice.post("/orders", save(&cart)).await }))
        .collect();
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            StatusCode::CREATED => created += 1,
            _ => {
                answer.assert_problem(StatusCode::CONFLICT, "TooManyOpenOrders");
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (3, 5));
    assert_eq!(
        app.stock("MUG").await,
        94,
        "three orders hold two mugs each"
    );
}

async fn a_saved_orders_confirmation_can_only_greet_a_plain_name(backend: Backend) {
    let app = App::start(backend).await;
    let (alice, mut cart) = app.ready_customer_cart("alice").await;
    let version = cart.version;
    let mut phishing = address_de();
    phishing["firstName"] = json!("Claim your prize at evil.example");
    phishing["lastName"] = json!("<a href=\"https://evil.example\">here</a>");
    phishing["line1"] = json!("Visit https://evil.example");
    let refused = alice
        .update(
            &mut cart,
            json!([{"action": "setBillingAddress", "address": phishing},
                   {"action": "setGuestDetails", "email": "a@example.com",
                    "name": "Ada\nClick www.evil.example", "phone": "+49 30 1234567"}]),
        )
        .await;
    refused.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
    assert_eq!(
        refused.pointers(),
        [
            "/actions/0/address/firstName",
            "/actions/0/address/lastName",
            "/actions/0/address/line1",
            "/actions/1/name"
        ]
    );
    assert_eq!(
        app.stored(&cart).await.0.version,
        version,
        "nothing written"
    );
    // Names as people write them are welcome.
    let mut real = address_de();
    real["firstName"] = json!("Zoë-Anne J.");
    real["lastName"] = json!("O’Brien-Łukasiewicz 3rd");
    alice
        .update(
            &mut cart,
            json!([{"action": "setBillingAddress", "address": real}]),
        )
        .await
        .assert_status(StatusCode::OK);
}

on_both_stores!(
    a_guests_saved_order_is_refused_and_holds_nothing,
    a_customer_holds_at_most_three_unpaid_saved_orders,
    saves_racing_past_the_cap_never_pass_it,
    a_saved_orders_confirmation_can_only_greet_a_plain_name,
);
