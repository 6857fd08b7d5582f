//! The outbox in process, over the embedded store: its change feed stands in for the table's
//! stream, channels for the SQS queues, a mailbox (listed at `GET /_dev/emails`) for SES, and
//! a log line for the ERP unless `CHECKOUT_ERP_ENDPOINT` names one. Guests' confirmations
//! carry claim links to `CLAIM_URL` (default `http://127.0.0.1:3000/claim`). The relay and the
//! subscribers are the same code the Lambda functions run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use checkout_adapters::dynamodb::order_from_image;
use checkout_adapters::memory::OrderChange;
use checkout_adapters::{HttpErp, MemoryStore};
use checkout_domain::model::events::{order_event, OrderEvent};
use checkout_domain::ports::erp::{Erp, ErpReceipt};
use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::ports::DeliveryError;
use checkout_domain::StoreError;
use checkout_outbox::relay::{Destination, Relay};
use checkout_outbox::{EmailConfirmation, ErpSync, SideEffect, Subscriber};

/// How long a failed message waits before it is handed over again (SQS: the visibility
/// timeout).
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// A queue as a channel of message bodies.
struct ChannelQueue(UnboundedSender<String>);

#[async_trait]
impl EventQueue for ChannelQueue {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        for message in messages {
            self.0
                .send(message.body.clone())
                .map_err(|_| StoreError::new("the consumer has stopped"))?;
        }
        Ok(Vec::new())
    }
}

/// A dead-letter queue that logs what it gets: locally, the log is where one looks.
struct LoggedDeadLetters(&'static str);

#[async_trait]
impl EventQueue for LoggedDeadLetters {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        for message in messages {
            tracing::error!(consumer = self.0, body = %message.body, "dead-lettered");
        }
        Ok(Vec::new())
    }
}

/// Sent emails, kept for `GET /_dev/emails`.
#[derive(Clone, Default)]
pub struct Mailbox(Arc<Mutex<Vec<OutgoingEmail>>>);

#[async_trait]
impl Mailer for Mailbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        tracing::info!(to = %email.to, subject = %email.subject, "email sent (kept locally)");
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(email.clone());
        Ok(())
    }
}

impl Mailbox {
    /// `GET /_dev/emails`: every email sent, oldest first.
    pub fn routes(&self) -> Router {
        let mailbox = self.clone();
        Router::new().route(
            "/_dev/emails",
            get(move || async move {
                let emails = mailbox.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
                Json(serde_json::json!({ "results": emails }))
            }),
        )
    }
}

/// The ERP as a log line.
struct LoggedErp;

#[async_trait]
impl Erp for LoggedErp {
    async fn push(&self, event: &OrderEvent) -> Result<ErpReceipt, DeliveryError> {
        tracing::info!(order = %event.order_number, kind = ?event.kind, sequence = event.sequence, "ERP sync (logged locally)");
        Ok(ErpReceipt::Created)
    }
}

/// Starts the relay and both subscribers over `store`; returns the mailbox.
pub fn spawn(
    store: Arc<MemoryStore>,
    claim_url: String,
) -> Result<Mailbox, Box<dyn std::error::Error>> {
    let mailbox = Mailbox::default();
    let erp: Arc<dyn Erp> = match std::env::var("CHECKOUT_ERP_ENDPOINT") {
        Ok(endpoint) => {
            let secret = std::env::var("CHECKOUT_ERP_SECRET").unwrap_or_else(|_| "erp-dev".into());
            Arc::new(HttpErp::new(endpoint, secret, Duration::from_secs(5))?)
        }
        Err(_) => Arc::new(LoggedErp),
    };
    let consumers: [(&'static str, Arc<dyn SideEffect>); 2] = [
        (
            "email",
            Arc::new(EmailConfirmation {
                mailer: Arc::new(mailbox.clone()),
                claims: store.clone(),
                claim_url,
            }),
        ),
        ("erp", Arc::new(ErpSync { erp })),
    ];
    let mut destinations = Vec::new();
    for (consumer, effect) in consumers {
        let (sender, receiver) = unbounded_channel();
        let subscriber =
            Subscriber::new(effect, store.clone(), Arc::new(LoggedDeadLetters(consumer)));
        tokio::spawn(consume(receiver, sender.clone(), subscriber));
        destinations.push(Destination {
            consumer: consumer.into(),
            queue: Arc::new(ChannelQueue(sender)),
        });
    }
    // The embedded feed carries orders, not stream images: the decoder is never called.
    tokio::spawn(relay(
        store.changes(),
        Relay::new(order_from_image, destinations),
    ));
    Ok(mailbox)
}

/// The stream: every order change, in commit order, through the relay.
async fn relay(mut changes: Receiver<OrderChange>, relay: Relay) {
    loop {
        match changes.recv().await {
            Ok((old, new)) => {
                if let Some(event) = order_event(old.as_ref(), new.as_ref()) {
                    let failed = relay.publish(&[(event.id.clone(), event)]).await;
                    if !failed.is_empty() {
                        tracing::error!(?failed, "events not queued");
                    }
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::error!(missed, "the relay fell behind the change feed")
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// A queue's event source: one message per invocation; a failed one comes back later.
async fn consume(
    mut receiver: UnboundedReceiver<String>,
    requeue: UnboundedSender<String>,
    subscriber: Subscriber,
) {
    while let Some(body) = receiver.recv().await {
        let mut message = SqsMessage::default();
        message.message_id = Some(uuid::Uuid::new_v4().to_string());
        message.body = Some(body.clone());
        let mut event = SqsEvent::default();
        event.records = vec![message];
        if !subscriber
            .handle(event)
            .await
            .batch_item_failures
            .is_empty()
        {
            let requeue = requeue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY_AFTER).await;
                let _ = requeue.send(body);
            });
        }
    }
}
