//! Lambda: `POST /webhooks/stripe`. Verification lives in `checkout_http::webhook`,
//! deduplication and recording in `checkout_domain::usecases::payment_webhook`; this wires
//! them to the gateway. The Stripe key (refunds and cancellations of payments that do not
//! fit) and the webhook secrets (`whsec_new,whsec_old` during a rotation) come from Secrets
//! Manager, read once.

use checkout_adapters::bootstrap::Environment;
use checkout_http::webhook::WebhookSecrets;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let storefront = env.storefront().await?;
    let secrets = WebhookSecrets::parse(&env.secret("STRIPE_WEBHOOK_SECRETS_ARN").await?);
    lambda_http::run(checkout_http::lambda::payment_webhook(storefront, secrets)).await
}
