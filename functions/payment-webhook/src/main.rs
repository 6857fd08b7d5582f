//! Lambda: `POST /webhooks/stripe`. Verification lives in `checkout_http::webhook`,
//! deduplication and recording in `checkout_domain::usecases::payment_webhook`; this wires
//! them to the gateway. The Stripe key (refunds and cancellations of payments that do not
//! fit) and the webhook secrets (`whsec_new,whsec_old` during a rotation) come from Secrets
//! Manager, read once, side by side.

use std::sync::Arc;

use checkout_adapters::bootstrap::{storefront_over, warm_up_dynamodb, Environment};
use checkout_http::webhook::WebhookSecrets;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let store = env.store()?;
    // The DynamoDB connection opens while both secrets are read.
    let _warm_up = warm_up_dynamodb(store.client(), store.table(), "CART#warm-up");
    let (stripe, secrets) =
        tokio::try_join!(env.stripe(), env.secret("STRIPE_WEBHOOK_SECRETS_ARN"))?;
    let storefront = storefront_over(Arc::new(store))?.with_psp(Arc::new(stripe));
    let secrets = WebhookSecrets::parse(&secrets);
    lambda_http::run(checkout_http::lambda::payment_webhook(storefront, secrets)).await
}
