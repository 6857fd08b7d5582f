//! Lambda: the storefront API (catalog admin, shipping methods, carts) behind API Gateway's
//! HTTP API. Clients are built once per execution environment; requests go to the shared router.

use std::sync::Arc;

use axum::middleware::from_fn;
use checkout_adapters::DynamoStore;
use checkout_domain::service::Storefront;
use checkout_http::{identity, routes};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_http::init_tracing();
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let store = DynamoStore::from_config(&checkout_adapters::aws_config().await, table);
    let app = routes::with_problem_fallbacks(routes::storefront(Storefront::new(Arc::new(store))))
        .layer(from_fn(identity::from_lambda_context));
    lambda_http::run(app).await
}
