//! Lambda: `POST /webhooks/stripe` and, when the deployment has Adyen, `POST /webhooks/adyen`.
//! Verification lives in `checkout_http::webhook` and `checkout_http::adyen_webhook`,
//! deduplication and recording in the `PaymentWebhook` use case
//! (`checkout_domain::usecases::payment_webhook`: event ids in the idempotency store, the
//! `PaymentEvents` it records with their reversals, holds and paid carts' checkout); this wires
//! them to the gateway. The providers' API keys (refunds and cancellations of payments that do
//! not fit), Stripe's webhook secrets (`whsec_new,whsec_old` during a rotation) and Adyen's
//! webhook credentials and HMAC keys come from Secrets Manager, read once, side by side.

use std::sync::Arc;

use checkout_adapters::bootstrap::{required_env, storefront_over, warm_up_dynamodb, Environment};
use checkout_http::adyen_webhook::AdyenWebhook;
use checkout_http::routes::Webhooks;
use checkout_http::webhook::WebhookSecrets;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let store = env.store()?;
    // The DynamoDB connection opens while the secrets are read.
    let _warm_up = warm_up_dynamodb(store.client(), store.table(), "CART#warm-up");
    let (storefront, stripe_secrets, adyen) = tokio::try_join!(
        env.with_providers(storefront_over(Arc::new(store))?),
        env.secret("STRIPE_WEBHOOK_SECRETS_ARN"),
        adyen_webhook(&env),
    )?;
    let webhooks = Webhooks {
        stripe: WebhookSecrets::parse(&stripe_secrets),
        adyen,
    };
    lambda_http::run(checkout_http::lambda::payment_webhook(
        storefront, &webhooks,
    ))
    .await
}

/// Adyen's webhook settings when the deployment has Adyen (`ADYEN_WEBHOOK_SECRET_ARN` set).
async fn adyen_webhook(env: &Environment) -> Result<Option<AdyenWebhook>, String> {
    if std::env::var("ADYEN_WEBHOOK_SECRET_ARN").map_or(true, |arn| arn.is_empty()) {
        return Ok(None);
    }
    let secret = env.secret("ADYEN_WEBHOOK_SECRET_ARN").await?;
    AdyenWebhook::from_secret(&secret, &required_env("ADYEN_MERCHANT_ACCOUNT")?).map(Some)
}
