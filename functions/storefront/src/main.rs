//! Lambda: the storefront API (catalog admin, shipping methods, carts, payments, order
//! queries, the guest claim) behind API Gateway's HTTP API. The table, Stripe and the
//! identity provider's keys are set up once per execution environment; requests go to the
//! shared router (`checkout_http::lambda`).

use checkout_adapters::bootstrap::Environment;
use checkout_http::jwks::{Jwks, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let env = Environment::load().await;
    let storefront = env.storefront().await?;
    let jwks = Jwks::new(JwtSettings::from_env()?);
    lambda_http::run(checkout_http::lambda::storefront(storefront, jwks)).await
}
