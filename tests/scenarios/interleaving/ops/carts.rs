//! The customers' operations: cart edits, payments of carts and saved orders, commits,
//! and claims of guests' orders.

use checkout_domain::model::values::CartId;
use checkout_tests::serde_json::json;
use checkout_tests::{address_de, TestResponse};
use http::StatusCode;

use crate::interleaving::plan::{Edit, Key};
use crate::interleaving::world::{IntentModel, PspSide, World};
use crate::interleaving::{SHARED_NUMBERS, SKUS};

impl World {
    pub(super) async fn edit(&self, cart: usize, edit: Edit, stale: bool) {
        let slot = self.slot(cart);
        let Some(current) = self.read_cart(cart).await else {
            return;
        };
        let version = if stale {
            slot.state.lock().unwrap().version
        } else {
            current["version"].as_u64().unwrap_or_default()
        };
        let lines: Vec<String> = current["lineItems"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|l| l["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let email = |which: u64| format!("cart{cart}-{which}@example.com");
        let action = match edit {
            Edit::Add { sku, quantity } => {
                json!({"action": "addLineItem", "sku": SKUS[sku], "quantity": quantity})
            }
            Edit::Change { pick, quantity } if !lines.is_empty() => json!({
                "action": "changeLineItemQuantity",
                "lineItemId": lines[(pick % lines.len() as u64) as usize],
                "quantity": quantity,
            }),
            Edit::Remove { pick } if lines.len() > 1 => json!({
                "action": "removeLineItem",
                "lineItemId": lines[(pick % lines.len() as u64) as usize],
            }),
            Edit::Change { .. } | Edit::Remove { .. } => {
                json!({"action": "addLineItem", "sku": "PEN", "quantity": 1})
            }
            Edit::Email { which } => json!({"action": "setCustomerEmail", "email": email(which)}),
            Edit::Guest { which } => json!({
                "action": "setGuestDetails", "email": email(which),
                "name": "Ada Lovelace", "phone": "+49 30 1234567",
            }),
            Edit::Shipping => json!({"action": "setShippingAddress", "address": address_de()}),
            Edit::ShippingMethod { express } => json!({
                "action": "setShippingMethod",
                "shippingMethodId": if express { "express" } else { "standard" },
            }),
            Edit::Billing => json!({"action": "setBillingAddress", "address": address_de()}),
        };
        let response = slot
            .client
            .post(
                &format!("/carts/{}", slot.id),
                json!({"version": version, "actions": [action]}),
            )
            .await;
        self.record(
            &format!("edit:{}", action["action"].as_str().unwrap()),
            &response,
        );
        if response.status == StatusCode::OK {
            let mut state = slot.state.lock().unwrap();
            state.version = state
                .version
                .max(response.body["version"].as_u64().unwrap_or_default());
        }
    }

    pub(super) async fn pay(&self, cart: usize, part: Option<u64>, adyen: bool) {
        let slot = self.slot(cart);
        let mut body = match part {
            None => json!({}),
            Some(per_mille) => {
                let Some(current) = self.read_cart(cart).await else {
                    return;
                };
                let total = current["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or_default();
                json!({"amount": (total * per_mille as i64 / 1000).max(1)})
            }
        };
        if adyen {
            body["psp"] = json!("adyen");
        }
        let response = slot
            .client
            .post(&format!("/carts/{}/payments", slot.id), body)
            .await;
        self.record("pay", &response);
        self.remember_intent(cart, &response, false);
    }

    pub(super) async fn pay_order(&self, cart: usize, part: Option<u64>, adyen: bool) {
        let cart = self.ordered_cart(cart);
        let slot = self.slot(cart);
        let known = slot.state.lock().unwrap().numbers.iter().next().cloned();
        let number = match known {
            Some(number) => number,
            None => match self
                .read_cart(cart)
                .await
                .and_then(|c| c["orderNumber"].as_str().map(str::to_string))
            {
                Some(number) => number,
                None => return self.note("pay_order", "no order"),
            },
        };
        let mut body = match part {
            None => json!({}),
            Some(per_mille) => {
                let order = slot.client.get(&format!("/orders/{number}")).await;
                let total = order.body["totals"]["total"]["centAmount"]
                    .as_i64()
                    .unwrap_or(1000);
                json!({"amount": (total * per_mille as i64 / 1000).max(1)})
            }
        };
        if adyen {
            body["psp"] = json!("adyen");
        }
        let response = slot
            .client
            .post(&format!("/orders/{number}/payments"), body)
            .await;
        self.record("pay_order", &response);
        self.remember_intent(cart, &response, true);
    }

    /// The emailed link, as the email subscriber mints it, used by one of three customers
    /// (so one customer may claim several emails, and a claimed email stays claimed).
    pub(super) async fn claim(&self, cart: usize) {
        // A guest's order: among the next carts the API answered an order for.
        let mut guest_order = None;
        let ordered = (0..self.slots.len())
            .map(|i| (cart + i) % self.slots.len())
            .filter(|&c| !self.slot(c).state.lock().unwrap().numbers.is_empty())
            .take(10);
        for candidate in ordered {
            let id = CartId::parse(&self.slot(candidate).id).expect("a cart id");
            if let Ok((_, Some(order))) = self.app.store.cart_and_order(&id).await {
                if order.is_guest() {
                    guest_order = Some(order);
                    break;
                }
            }
        }
        let Some(order) = guest_order else {
            return self.note("claim", "no guest order");
        };
        let Some(email) = order.customer_email.clone() else {
            return self.note("claim", "no email");
        };
        let (token, ticket) =
            checkout_domain::model::claim::ClaimTicket::mint(&email, self.app.storefront.now());
        if self
            .app
            .claim_tickets()
            .save_claim_ticket(&ticket)
            .await
            .is_err()
        {
            return self.note("claim", "ticket not saved");
        }
        let response = self
            .app
            .customer(&format!("claimer-{}", cart % 3))
            .post(
                "/customers/claim",
                json!({"email": email.as_str(), "token": token.expose()}),
            )
            .await;
        self.record("claim", &response);
    }

    fn remember_intent(&self, cart: usize, response: &TestResponse, for_order: bool) {
        if response.status != StatusCode::CREATED {
            return;
        }
        let (Some(reference), Some(amount)) = (
            response.body["pspReference"].as_str(),
            response.body["amountPlanned"]["centAmount"].as_i64(),
        ) else {
            return;
        };
        self.slot(cart)
            .state
            .lock()
            .unwrap()
            .intents
            .push(IntentModel {
                reference: reference.to_string(),
                amount,
                side: PspSide::Open,
                events: Vec::new(),
                for_order,
                adyen: response.body["psp"] == "adyen",
            });
    }

    pub(super) async fn commit(
        &self,
        cart: usize,
        key: Key,
        save: bool,
        stale: bool,
        number: Option<u64>,
        retry: bool,
    ) {
        let slot = self.slot(cart);
        let version = if stale {
            slot.state.lock().unwrap().version
        } else {
            match self.read_cart(cart).await {
                Some(current) => current["version"].as_u64().unwrap_or_default(),
                None => return,
            }
        };
        let mut body = json!({"cartId": slot.id, "cartVersion": version});
        if save {
            body["action"] = json!("save_order");
        }
        if let Some(n) = number {
            body["orderNumber"] = json!(if n < SHARED_NUMBERS {
                format!("IL{}-{n}", self.seed)
            } else {
                format!("IL{}-c{cart}-{n}", self.seed)
            });
        }
        let key = match key {
            Key::None => None,
            Key::Fresh => {
                let n = self
                    .key_counter
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let key = format!("il-{}-{cart}-{n}", self.seed);
                slot.state
                    .lock()
                    .unwrap()
                    .keys
                    .push((key.clone(), body.clone()));
                Some(key)
            }
            Key::Reuse { pick, same } => {
                let state = slot.state.lock().unwrap();
                if state.keys.is_empty() {
                    None
                } else {
                    let (key, first) = &state.keys[(pick % state.keys.len() as u64) as usize];
                    body = first.clone();
                    if !same {
                        body["cartVersion"] = json!(version + 1);
                    }
                    Some(key.clone())
                }
            }
        };
        let operation = if save { "save_order" } else { "commit" };
        let operation = format!("{operation}{}", if key.is_some() { "+key" } else { "" });
        for attempt in 0..(if retry { 2 } else { 1 }) {
            let response = match &key {
                Some(key) => {
                    slot.client
                        .post_with_key("/orders", key, body.clone())
                        .await
                }
                None => slot.client.post("/orders", body.clone()).await,
            };
            self.record(
                &format!("{operation}{}", if attempt > 0 { " (retry)" } else { "" }),
                &response,
            );
            if response.status.is_success() {
                self.remember_order(cart, &response);
            }
            let again = response.status.is_server_error()
                || response.body["code"].as_str() == Some("RequestInProgress");
            if !again {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
