//! Lambda (EventBridge schedule): the sweeper. Cancels saved orders whose hold ended unpaid
//! (giving back stock, codes and partial payments), gives back the money of paid carts never
//! ordered within `PAYMENT_GRACE_SECONDS`, and finishes reversals a crash left half done.
//! The work itself is `checkout_domain::sweeper`.

use std::sync::Arc;

use checkout_adapters::stripe::StripeClient;
use checkout_adapters::{payment_grace, required_env, DynamoStore, SecretStore};
use checkout_domain::usecases::Storefront;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    checkout_adapters::bootstrap::init_tracing();
    let config = checkout_adapters::aws_config().await;
    let store = DynamoStore::from_config(&config, required_env("TABLE_NAME")?);
    // Payments are given back through Stripe; its key comes from Secrets Manager, read once.
    let stripe = StripeClient::new(
        required_env("STRIPE_API_BASE")?,
        SecretStore::from_config(&config)
            .read_env("STRIPE_SECRET_KEY_ARN")
            .await?,
    );
    let storefront = Storefront::new(Arc::new(store)).with_psp(Arc::new(stripe));
    let grace = payment_grace()?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let storefront = storefront.clone();
        async move {
            let report = storefront
                .sweep(grace)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            tracing::info!(?report, "sweep");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
