//! Lambda: `POST /webhooks/stripe`. Verification, deduplication and recording live in
//! `checkout_http::webhook` and `checkout_domain::payments`; this wires them to the gateway.
//! The Stripe key and the webhook secrets (`whsec_new,whsec_old` during a rotation) come from
//! Secrets Manager, read once.

use std::sync::Arc;

use checkout_adapters::bootstrap::warm_up_dynamodb;
use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{required_env, DynamoStore, SecretStore};
use checkout_domain::service::Storefront;
use checkout_http::webhook::WebhookSecrets;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_adapters::bootstrap::init_tracing();
    let config = checkout_adapters::aws_config().await;
    let store = DynamoStore::from_config(&config, required_env("TABLE_NAME")?);
    // The DynamoDB connection opens while both secrets are read, side by side.
    let _warm_up = warm_up_dynamodb(store.client(), store.table(), "CART#warm-up");
    let secrets = SecretStore::from_config(&config);
    let (stripe_key, webhook_secrets) = tokio::try_join!(
        secrets.read_env("STRIPE_SECRET_KEY_ARN"),
        secrets.read_env("STRIPE_WEBHOOK_SECRETS_ARN"),
    )?;
    // Refunds and cancellations of payments that do not fit go back through Stripe.
    let stripe = StripeClient::new(required_env("STRIPE_API_BASE")?, stripe_key);
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    lambda_http::run(checkout_http::lambda::payment_webhook(
        storefront,
        WebhookSecrets::parse(&webhook_secrets),
    ))
    .await
}
