//! Lambda (EventBridge schedule): the sweeper. Cancels saved orders whose hold ended unpaid
//! (giving back stock, codes and partial payments), gives back the money of paid carts never
//! ordered within `PAYMENT_GRACE_SECONDS`, and finishes reversals a crash left half done,
//! through Stripe. The work itself is `checkout_domain::usecases::sweeper`.

use checkout_adapters::bootstrap::Environment;
use checkout_adapters::payment_grace;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Environment::load().await;
    let storefront = env.storefront().await?;
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
