//! Lambda (SQS, with `ReportBatchItemFailures`): one order-created subscriber, chosen by
//! `CONSUMER`. `email`: the customer's emails (the confirmation, with a claim link to
//! `CLAIM_URL` for guests; a cancellation, a refund, a shipment) through SES v2 from `MAIL_FROM`. `erp`: the order to `ERP_ENDPOINT`, signed with the key in the
//! Secrets Manager secret `ERP_SECRET_ARN` (`ERP_TIMEOUT_MS`, default 5000). Both record
//! their effects in `TABLE_NAME` and send refused messages to `DLQ_URL`. The logic is
//! `checkout_outbox::subscriber`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use checkout_adapters::bootstrap::Environment;
use checkout_adapters::required_env;
use checkout_outbox::{EmailConfirmation, ErpSync, SideEffect, Subscriber};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Environment::load().await;
    let store = Arc::new(env.store()?);
    let effect: Arc<dyn SideEffect> = match required_env("CONSUMER")?.as_str() {
        "email" => Arc::new(EmailConfirmation {
            mailer: Arc::new(env.mailer()?),
            claims: store.clone(),
            claim_url: required_env("CLAIM_URL")?,
        }),
        "erp" => Arc::new(ErpSync {
            erp: Arc::new(env.erp().await?),
        }),
        other => return Err(format!("CONSUMER must be 'email' or 'erp', not '{other}'").into()),
    };
    let subscriber = Subscriber::new(effect, store, Arc::new(env.queue("DLQ_URL")?));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let subscriber = subscriber.clone();
        async move { Ok::<_, lambda_runtime::Error>(subscriber.handle(event.payload).await) }
    }))
    .await
}
