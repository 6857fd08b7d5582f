//! Lambda (EventBridge schedule): the sweeper. Cancels saved orders whose hold ended unpaid
//! (giving back stock, codes and partial payments), gives back the money of paid carts never
//! ordered within `PAYMENT_GRACE_SECONDS`, and finishes reversals a crash left half done,
//! through Stripe. The work itself is the `Sweeper` (`checkout_domain::usecases::sweeper`):
//! the sweep queues, carts, orders, the holds it gives back and the `Reversals` it asks the
//! providers for.

use checkout_adapters::bootstrap::Environment;
use checkout_adapters::payment_grace;
use checkout_domain::usecases::sweeper::SweepBudget;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::time::{Duration, SystemTime};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Environment::load().await;
    let storefront = env.storefront().await?;
    let grace = payment_grace()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let storefront = storefront.clone();
        async move {
            // Stop starting work a few seconds before the invocation's deadline: what is
            // left is due again at the next run.
            let left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            let budget = left.saturating_sub(Duration::from_secs(5));
            let report = storefront
                .sweeper()
                .sweep(grace, SweepBudget::time(budget))
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))?;
            tracing::info!(?report, "sweep");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}
