//! The payment helpers of [`App`]: charges recorded directly, payments started through the
//! API, and the providers' webhook events made, signed and delivered.

use http::StatusCode;
use serde_json::{json, Value};

use checkout_adapters::psp_simulator::record_charge;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::clock::Clock;

use crate::{
    App, CartRef, Client, TestResponse, ADYEN_HMAC_KEY, ADYEN_PASSWORD, ADYEN_USER,
    STRIPE_CHARGE_REFUNDED, WEBHOOK_SECRET,
};

impl App {
    /// Records a successful charge covering what the cart owes, as the payment webhook will;
    /// like any cart change it bumps the version. Returns the new version.
    pub async fn pay(&self, cart: &mut CartRef, cents: Option<i64>) -> u64 {
        let id = CartId::parse(&cart.id).unwrap();
        let stored = record_charge(self.store.as_ref(), &id, cents, self.clock.now()).await;
        cart.version = stored.version;
        stored.version
    }

    /// `POST /carts/{id}/payments` for what the cart owes (or `amount`); the intent's reference.
    pub async fn start_payment(
        &self,
        client: &Client,
        cart: &CartRef,
        amount: Option<i64>,
    ) -> String {
        let body = match amount {
            Some(amount) => json!({"amount": amount}),
            None => json!({}),
        };
        let response = client
            .post(&format!("/carts/{}/payments", cart.id), body)
            .await;
        response.assert_status(StatusCode::CREATED);
        response.body["pspReference"]
            .as_str()
            .expect("a reference")
            .to_string()
    }

    /// The signed webhook delivery of the simulator's success (or failure) event for `reference`.
    pub fn payment_event(&self, reference: &str, succeeded: bool) -> String {
        self.psp
            .event(reference, succeeded)
            .expect("a known intent")
    }

    /// `payment_intent.canceled` for the simulator's intent `reference`: the customer gave
    /// up, or an authorization nobody captured expired (Stripe's 7 days).
    pub fn canceled_event(&self, reference: &str) -> String {
        let mut event: Value = serde_json::from_str(&self.payment_event(reference, false)).unwrap();
        event["type"] = json!("payment_intent.canceled");
        event["data"]["object"]["status"] = json!("canceled");
        event["data"]["object"]["last_payment_error"] = Value::Null;
        event.to_string()
    }

    /// `charge.refunded` as Stripe sends it, with event id `id`: the charge `charge` of the
    /// intent `reference`, refunded `amount_refunded` in all so far, without the intent's
    /// metadata (the webhook looks the intent up for its cart).
    pub fn refunded_event(
        &self,
        reference: &str,
        charge: &str,
        amount_refunded: i64,
        id: &str,
    ) -> String {
        let mut event: Value = serde_json::from_str(STRIPE_CHARGE_REFUNDED).unwrap();
        event["id"] = json!(id);
        event["data"]["object"]["id"] = json!(charge);
        event["data"]["object"]["payment_intent"] = json!(reference);
        event["data"]["object"]["amount_refunded"] = json!(amount_refunded);
        event["data"]["object"]["currency"] = json!("eur");
        event["data"]["object"]["metadata"] = json!({});
        // As API versions since 2022-11-15 send it: the running total, no list of refunds.
        if let Some(charge) = event["data"]["object"].as_object_mut() {
            charge.remove("refunds");
        }
        event["created"] = json!(self.storefront.now().unix_timestamp());
        event.to_string()
    }

    /// Delivers a Stripe event body, signed now with the current webhook secret.
    pub async fn deliver(&self, body: &str) -> TestResponse {
        let header = checkout_adapters::stripe::sign(
            body.as_bytes(),
            WEBHOOK_SECRET,
            self.storefront.now().unix_timestamp(),
        );
        self.deliver_signed(body, &header).await
    }

    /// Adyen's notification of `reference`'s outcome (a session's payment, or a capture,
    /// cancel or refund Adyen received), signed with the current HMAC key.
    pub fn adyen_notification(&self, reference: &str, succeeded: bool) -> String {
        let key = checkout_adapters::adyen::signature::HmacKey::parse(ADYEN_HMAC_KEY).unwrap();
        self.adyen
            .notification(reference, succeeded, &key)
            .expect("a reference the Adyen simulator made")
    }

    /// Delivers an Adyen notification body with the webhook's Basic credentials.
    pub async fn deliver_adyen(&self, body: &str) -> TestResponse {
        self.anonymous()
            .with_header(
                "authorization",
                &checkout_adapters::adyen::signature::basic_credentials(ADYEN_USER, ADYEN_PASSWORD),
            )
            .post_raw("/webhooks/adyen", body.to_string())
            .await
    }

    pub async fn deliver_signed(&self, body: &str, header: &str) -> TestResponse {
        self.anonymous()
            .with_header("stripe-signature", header)
            .post_raw("/webhooks/stripe", body.to_string())
            .await
    }

    /// The PSP requests of one kind (`refund`, `cancel`, `create_intent`), repeats included.
    pub fn psp_requests(
        &self,
        operation: &str,
    ) -> Vec<checkout_adapters::psp_simulator::PspRequest> {
        self.psp
            .requests()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }
}
