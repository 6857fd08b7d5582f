//! Lambda: `POST /orders`. It serves one use case, `Checkout`
//! (`checkout_domain::usecases::checkout`): the cart, order and idempotency stores, the
//! `Carts` it prices with and the `Commit` path (catalog, orders, the holds of drops), all
//! ports of the one table; its DynamoDB transaction is `checkout_adapters::dynamodb`
//! (`commit.rs`). This only wires them to API Gateway: the table, and the identity provider's
//! keys.

use std::sync::Arc;

use checkout_adapters::bootstrap::{storefront_over, warm_up_dynamodb, Environment};
use checkout_http::jwks::{Jwks, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let store = env.store()?;
    // The DynamoDB connection opens while the rest of init and the runtime's first poll run.
    let _warm_up = warm_up_dynamodb(store.client(), store.table(), "CART#warm-up");
    let storefront = storefront_over(Arc::new(store))?;
    let jwks = Jwks::new(JwtSettings::from_env()?);
    lambda_http::run(checkout_http::lambda::create_order(storefront, jwks)).await
}
