//! Lambda: the storefront API (catalog admin, programmatic orders, gift cards, shipping
//! methods, carts, payments, order queries, the guest claim) behind API Gateway's HTTP API.
//! The table, the payment providers (Stripe, and Adyen when configured) and the identity
//! provider's keys are set up once per execution environment; requests go to the shared
//! router (`checkout_http::lambda`).

use std::sync::Arc;

use checkout_adapters::bootstrap::{storefront_over, warm_up_dynamodb, Environment};
use checkout_http::jwks::{Jwks, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let store = env.store()?;
    // The DynamoDB connection opens while the providers' keys are read.
    let _warm_up = warm_up_dynamodb(store.client(), store.table(), "CART#warm-up");
    let storefront = env
        .with_providers(storefront_over(Arc::new(store))?)
        .await?;
    let jwks = Jwks::new(JwtSettings::from_env()?);
    lambda_http::run(checkout_http::lambda::storefront(storefront, jwks)).await
}
