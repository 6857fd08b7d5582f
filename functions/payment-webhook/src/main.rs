//! Lambda: `POST /webhooks/stripe`. Verification, deduplication and recording live in
//! `checkout_http::webhook` and `checkout_domain::payments`; this wires them to the gateway.
//! The Stripe key and the webhook secrets (`whsec_new,whsec_old` during a rotation) come from
//! Secrets Manager, read once.

use std::sync::Arc;

use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{required_env, DynamoStore, SecretStore};
use checkout_domain::usecases::Storefront;
use checkout_http::webhook::WebhookSecrets;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_adapters::bootstrap::init_tracing();
    let config = checkout_adapters::aws_config().await;
    let store = DynamoStore::from_config(&config, required_env("TABLE_NAME")?);
    let secrets = SecretStore::from_config(&config);
    // Refunds and cancellations of payments that do not fit go back through Stripe.
    let stripe = StripeClient::new(
        required_env("STRIPE_API_BASE")?,
        secrets.read_env("STRIPE_SECRET_KEY_ARN").await?,
    );
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    let webhook_secrets =
        WebhookSecrets::parse(&secrets.read_env("STRIPE_WEBHOOK_SECRETS_ARN").await?);
    lambda_http::run(checkout_http::lambda::payment_webhook(
        storefront,
        webhook_secrets,
    ))
    .await
}
