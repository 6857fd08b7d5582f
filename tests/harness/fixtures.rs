//! What every scenario starts from: the catalog and provider fixtures, the webhooks'
//! secrets, and the request bodies and addresses that make a cart orderable.

use checkout_http::adyen_webhook::AdyenWebhook;
use checkout_http::routes::Webhooks;
use checkout_http::webhook::WebhookSecrets;
use serde_json::{json, Value};

use crate::CartRef;

/// Stripe's `charge.refunded` event as the Stripe CLI produced it (see fixtures/stripe/SOURCES.md).
pub const STRIPE_CHARGE_REFUNDED: &str = include_str!("../fixtures/stripe/charge.refunded.json");

/// The catalog every scenario starts from (prices and rates chosen for hand computation).
pub const CATALOG: &str = include_str!("../fixtures/catalog.json");

pub(crate) const DEV_SECRET: &str = "test-secret";

/// The webhook endpoint's secrets: the current one, and the previous one during a rotation.
pub const WEBHOOK_SECRET: &str = "whsec_test_current";
pub const WEBHOOK_SECRET_OLD: &str = "whsec_test_previous";

/// The webhook endpoint's secrets, as a rotation configures them: `current,previous`.
pub fn webhook_secrets() -> WebhookSecrets {
    WebhookSecrets::parse(&format!("{WEBHOOK_SECRET},{WEBHOOK_SECRET_OLD}"))
}

/// The Adyen webhook's merchant account, credentials and HMAC keys (`current,previous`).
pub const ADYEN_MERCHANT_ACCOUNT: &str = "TestShopECOM";
pub const ADYEN_USER: &str = "adyen-test";
pub const ADYEN_PASSWORD: &str = "adyen-test-password";
pub const ADYEN_HMAC_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
pub const ADYEN_HMAC_KEY_OLD: &str =
    "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";

/// Both providers' webhooks, as the test deployment configures them.
pub fn webhooks() -> Webhooks {
    Webhooks {
        stripe: webhook_secrets(),
        adyen: Some(
            AdyenWebhook::new(
                ADYEN_USER,
                ADYEN_PASSWORD,
                &format!("{ADYEN_HMAC_KEY},{ADYEN_HMAC_KEY_OLD}"),
                ADYEN_MERCHANT_ACCOUNT,
            )
            .expect("the test webhook's settings"),
        ),
    }
}

/// Actions that make a cart orderable: the lines, German addresses, standard shipping, and
/// guest details (ignored for nobody: customers need an email too, which this sets).
pub fn ready_actions(lines: &[(&str, u32)]) -> Value {
    let mut actions: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity)| json!({"action": "addLineItem", "sku": sku, "quantity": quantity}))
        .collect();
    actions.extend([
        json!({"action": "setShippingAddress", "address": address_de()}),
        json!({"action": "setBillingAddress", "address": address_de()}),
        json!({"action": "setShippingMethod", "shippingMethodId": "standard"}),
        json!({"action": "setGuestDetails", "email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49 30 1234567"}),
    ]);
    Value::Array(actions)
}

/// The body of `POST /orders` for a cart at its last seen version.
pub fn order_request(cart: &CartRef) -> Value {
    json!({"cartId": cart.id, "cartVersion": cart.version})
}

/// A complete German shipping address.
pub fn address_de() -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "line1": "Hauptstr. 1",
           "city": "Berlin", "postalCode": "10115", "country": "DE"})
}

pub fn address_in(country: &str) -> Value {
    let mut address = address_de();
    address["country"] = country.into();
    address
}

/// The cent amount of a money value.
#[track_caller]
pub fn cents(money: &Value) -> i64 {
    money["centAmount"]
        .as_i64()
        .unwrap_or_else(|| panic!("money, got {money}"))
}
