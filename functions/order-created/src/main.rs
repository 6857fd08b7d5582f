//! Lambda (SQS, with `ReportBatchItemFailures`): one order-created subscriber, chosen by
//! `CONSUMER`. `email`: the confirmation through SES v2 from `MAIL_FROM`, with a claim link to
//! `CLAIM_URL` for guests. `erp`: the order to
//! `ERP_ENDPOINT`, signed with the key in the Secrets Manager secret `ERP_SECRET_ARN`
//! (`ERP_TIMEOUT_MS`, default 5000). Both record
//! their effects in `TABLE_NAME` and send refused messages to `DLQ_URL`. The logic is
//! `checkout_outbox::subscriber`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use checkout_adapters::{required_env, DynamoStore, HttpErp, SecretStore, SesMailer, SqsQueue};
use checkout_outbox::{EmailConfirmation, ErpSync, SideEffect, Subscriber};
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    checkout_http::init_tracing();
    let config = checkout_adapters::aws_config().await;
    let store = DynamoStore::from_config(&config, required_env("TABLE_NAME")?);
    let effect: Arc<dyn SideEffect> = match required_env("CONSUMER")?.as_str() {
        "email" => Arc::new(EmailConfirmation {
            mailer: Arc::new(SesMailer::new(
                aws_sdk_sesv2::Client::new(&config),
                required_env("MAIL_FROM")?,
            )),
            claims: Arc::new(store.clone()),
            claim_url: required_env("CLAIM_URL")?,
        }),
        "erp" => {
            let timeout = std::env::var("ERP_TIMEOUT_MS")
                .ok()
                .and_then(|t| t.parse().ok())
                .unwrap_or(5000);
            let erp = HttpErp::new(
                required_env("ERP_ENDPOINT")?,
                SecretStore::from_config(&config)
                    .read_env("ERP_SECRET_ARN")
                    .await?,
                Duration::from_millis(timeout),
            )?;
            Arc::new(ErpSync { erp: Arc::new(erp) })
        }
        other => return Err(format!("CONSUMER must be 'email' or 'erp', not '{other}'").into()),
    };
    let dead_letters = SqsQueue::new(aws_sdk_sqs::Client::new(&config), required_env("DLQ_URL")?);
    let subscriber = Subscriber::new(effect, Arc::new(store), Arc::new(dead_letters));
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let subscriber = subscriber.clone();
        async move { Ok::<_, lambda_runtime::Error>(subscriber.handle(event.payload).await) }
    }))
    .await
}
