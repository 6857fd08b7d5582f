//! Lambda (DynamoDB stream of the table, with `ReportBatchItemFailures`): every order change
//! becomes an event on each consumer's queue. The relay itself is `checkout_outbox::relay`;
//! it reads stream images with the DynamoDB adapter's decoder.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use checkout_adapters::bootstrap::Environment;
use checkout_outbox::relay::{Destination, Relay};
use lambda_runtime::{service_fn, LambdaEvent};

/// Each consumer's queue URL comes from its own variable.
const QUEUES: [(&str, &str); 2] = [("email", "EMAIL_QUEUE_URL"), ("erp", "ERP_QUEUE_URL")];

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let env = Environment::load().await;
    let mut destinations = Vec::new();
    for (consumer, variable) in QUEUES {
        destinations.push(Destination {
            consumer: consumer.into(),
            queue: Arc::new(env.queue(variable)?),
        });
    }
    let relay = Relay::new(checkout_adapters::dynamodb::order_from_image, destinations);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let relay = relay.clone();
        async move { Ok::<_, lambda_runtime::Error>(relay.handle_stream(event.payload).await) }
    }))
    .await
}
