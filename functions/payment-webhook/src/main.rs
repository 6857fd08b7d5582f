//! Lambda: `POST /webhooks/stripe`. Verification, deduplication and recording live in
//! `checkout_http::webhook` and `checkout_domain::payments`; this wires them to the gateway.

use std::sync::Arc;

use axum::middleware::from_fn;
use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{required_env, DynamoStore};
use checkout_domain::service::Storefront;
use checkout_http::webhook::{self, WebhookSecrets};
use checkout_http::{identity, routes};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_http::init_tracing();
    let store = DynamoStore::from_config(
        &checkout_adapters::aws_config().await,
        required_env("TABLE_NAME")?,
    );
    // Refunds and cancellations of payments that do not fit go back through Stripe.
    let stripe = StripeClient::new(
        required_env("STRIPE_API_BASE")?,
        required_env("STRIPE_SECRET_KEY")?,
    );
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    let secrets = WebhookSecrets::parse(&required_env("STRIPE_WEBHOOK_SECRETS")?);
    let app = routes::with_problem_fallbacks(webhook::routes(storefront, secrets))
        .layer(from_fn(identity::from_lambda_context));
    lambda_http::run(app).await
}
