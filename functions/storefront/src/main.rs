//! Lambda: the storefront API (catalog admin, shipping methods, carts) behind API Gateway's
//! HTTP API. Clients are built once per execution environment; requests go to the shared router.

use std::sync::Arc;

use axum::middleware::from_fn;
use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{required_env, DynamoStore};
use checkout_domain::service::Storefront;
use checkout_http::{identity, routes};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_http::init_tracing();
    let store = DynamoStore::from_config(
        &checkout_adapters::aws_config().await,
        required_env("TABLE_NAME")?,
    );
    let stripe = StripeClient::new(
        required_env("STRIPE_API_BASE")?,
        required_env("STRIPE_SECRET_KEY")?,
    );
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    let app = routes::with_problem_fallbacks(routes::storefront(storefront))
        .layer(from_fn(identity::from_lambda_context));
    lambda_http::run(app).await
}
