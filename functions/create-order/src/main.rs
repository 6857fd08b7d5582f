//! Lambda: `POST /orders`. The commit itself is `checkout_domain::commit`; its DynamoDB
//! transaction is `checkout_adapters::dynamodb` (`commit.rs`). This only wires them to API Gateway.

use std::sync::Arc;

use checkout_adapters::{required_env, DynamoStore};
use checkout_domain::usecases::Storefront;
use checkout_http::jwks::{Jwks, JwtSettings};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    checkout_adapters::bootstrap::init_tracing();
    let table = required_env("TABLE_NAME")?;
    let store = DynamoStore::from_config(&checkout_adapters::aws_config().await, table);
    let jwks = Jwks::new(JwtSettings::from_env()?);
    let app = checkout_http::lambda::create_order(Storefront::new(Arc::new(store)), jwks);
    lambda_http::run(app).await
}
