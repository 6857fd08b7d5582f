//! Carts [`App`] makes ready for a scenario: fresh, ready to order, or paid.

use http::StatusCode;
use serde_json::json;

use crate::{ready_actions, App, CartRef, Client};

impl App {
    /// A guest cart ready to order: two mugs, addresses, standard shipping, guest details.
    pub async fn ready_guest_cart(&self) -> (Client, CartRef) {
        let (guest, mut cart) = self.guest_with_cart("EUR", "DE").await;
        guest
            .update(&mut cart, ready_actions(&[("MUG", 2)]))
            .await
            .assert_status(StatusCode::OK);
        (guest, cart)
    }

    /// A signed-in customer's cart ready to order, as `ready_guest_cart`'s (two mugs,
    /// addresses, standard shipping) with the customer's email: who may save an order.
    pub async fn ready_customer_cart(&self, sub: &str) -> (Client, CartRef) {
        let customer = self.customer(sub);
        let created = customer
            .post("/carts", json!({"currency": "EUR", "country": "DE"}))
            .await;
        created.assert_status(StatusCode::CREATED);
        let mut cart = CartRef::from(&created.body);
        let mut actions = ready_actions(&[("MUG", 2)]);
        let actions_list = actions.as_array_mut().expect("a list");
        actions_list.retain(|a| a["action"] != "setGuestDetails");
        actions_list
            .push(json!({"action": "setCustomerEmail", "email": format!("{sub}@example.com")}));
        customer
            .update(&mut cart, actions)
            .await
            .assert_status(StatusCode::OK);
        (customer, cart)
    }

    /// The same, paid in full.
    pub async fn paid_guest_cart(&self) -> (Client, CartRef) {
        let (guest, mut cart) = self.ready_guest_cart().await;
        self.pay(&mut cart, None).await;
        (guest, cart)
    }

    /// `count` guest carts, each ready to order one unit of `sku` and paid in full.
    pub async fn paid_carts_of_one(&self, sku: &str, count: usize) -> Vec<(Client, CartRef)> {
        let mut carts = Vec::with_capacity(count);
        for _ in 0..count {
            let (guest, mut cart) = self.guest_with_cart("EUR", "DE").await;
            guest
                .update(&mut cart, ready_actions(&[(sku, 1)]))
                .await
                .assert_status(StatusCode::OK);
            self.pay(&mut cart, None).await;
            carts.push((guest, cart));
        }
        carts
    }

    /// A guest with a fresh cart in `currency`, shipping to `country`.
    pub async fn guest_with_cart(&self, currency: &str, country: &str) -> (Client, CartRef) {
        let response = self
            .anonymous()
            .post("/carts", json!({"currency": currency, "country": country}))
            .await;
        response.assert_status(StatusCode::CREATED);
        let token = response.body["sessionToken"]
            .as_str()
            .expect("a session token")
            .to_string();
        let client = self.anonymous().with_header("x-session-id", &token);
        (client, CartRef::from(&response.body))
    }
}
