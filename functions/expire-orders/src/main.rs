//! Lambda (EventBridge schedule): releases saved orders whose hold ended without payment.

use std::sync::Arc;

use checkout_adapters::{required_env, DynamoStore};
use checkout_domain::service::Storefront;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

/// Orders released per batch; batches repeat until one comes back short.
const BATCH: usize = 100;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    checkout_http::init_tracing();
    let table = required_env("TABLE_NAME")?;
    let store = DynamoStore::from_config(&checkout_adapters::aws_config().await, table);
    let storefront = Storefront::new(Arc::new(store));
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let storefront = storefront.clone();
        async move {
            let mut released = 0;
            loop {
                let batch = storefront
                    .expire_saved_orders(BATCH)
                    .await
                    .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
                released += batch;
                if batch < BATCH {
                    break;
                }
            }
            tracing::info!(released, "released expired saved orders");
            Ok::<_, lambda_runtime::Error>(json!({ "released": released }))
        }
    }))
    .await
}
