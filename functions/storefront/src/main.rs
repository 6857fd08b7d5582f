//! Lambda: the storefront API (catalog admin, shipping methods, carts, payments, order
//! queries, the guest claim) behind API Gateway's HTTP API. Clients and secrets are read once
//! per execution environment; requests go to the shared router (`checkout_http::lambda`).

use std::sync::Arc;

use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{required_env, DynamoStore, SecretStore};
use checkout_domain::usecases::Storefront;
use checkout_http::jwks::{Jwks, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_adapters::bootstrap::init_tracing();
    let config = checkout_adapters::aws_config().await;
    let store = DynamoStore::from_config(&config, required_env("TABLE_NAME")?);
    let stripe_key = SecretStore::from_config(&config)
        .read_env("STRIPE_SECRET_KEY_ARN")
        .await?;
    let stripe = StripeClient::new(required_env("STRIPE_API_BASE")?, stripe_key);
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    let jwks = Jwks::new(JwtSettings::from_env()?);
    lambda_http::run(checkout_http::lambda::storefront(storefront, jwks)).await
}
