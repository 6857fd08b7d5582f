//! The relay: DynamoDB stream records → order events → one SQS queue per consumer.
//!
//! Nothing is lost: a record counts as done only when every consumer's queue accepted its
//! event. Entries a batch send refused are retried by themselves; what still fails is reported
//! as a batch item failure (the record's sequence number), so Lambda retries the shard from
//! the first failed record, never skipping it. A record that cannot be decoded (a poison
//! record) is reported the same way, so it is retried and then, once the event source
//! mapping's retry limit is spent, sent to its on-failure destination instead of blocking the
//! shard. Retries repeat events already sent; consumers deduplicate by event id.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use checkout_domain::model::events::{order_event, OrderEvent};
use checkout_domain::model::order::Order;
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::StoreError;

/// SQS takes at most ten messages per batch.
const BATCH: usize = 10;
/// Tries per batch entry within one invocation before its record is reported as failed.
const ATTEMPTS: u32 = 4;

/// A consumer's queue, named for logs.
#[derive(Clone)]
pub struct Destination {
    pub consumer: String,
    pub queue: Arc<dyn EventQueue>,
}

/// Reads an order back from a stream image: `None` for items that are not orders. The
/// store's adapter provides it (`checkout_adapters::dynamodb::order_from_image`), so the relay
/// knows nothing of the table's layout.
pub type ImageDecoder = fn(serde_dynamo::Item) -> Result<Option<Order>, StoreError>;

#[derive(Clone)]
pub struct Relay {
    decode: ImageDecoder,
    destinations: Vec<Destination>,
}

impl Relay {
    pub fn new(decode: ImageDecoder, destinations: Vec<Destination>) -> Self {
        Relay {
            decode,
            destinations,
        }
    }

    /// One stream batch, as Lambda delivers it. Reports the records to retry.
    pub async fn handle_stream(&self, event: Event) -> DynamoDbEventResponse {
        let mut failed = Vec::new();
        let mut events = Vec::new();
        for record in event.records {
            let sequence = record.change.sequence_number.clone().unwrap_or_default();
            match self.decode(record) {
                Ok(Some(event)) => events.push((sequence, event)),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%sequence, %error, "undecodable stream record");
                    failed.push(sequence);
                }
            }
        }
        failed.extend(self.publish(&events).await);
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|sequence| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(sequence);
                failure
            })
            .collect();
        response
    }

    /// The event a stream record means, if any.
    fn decode(&self, record: EventRecord) -> Result<Option<OrderEvent>, StoreError> {
        let old = (self.decode)(record.change.old_image)?;
        let new = (self.decode)(record.change.new_image)?;
        Ok(order_event(old.as_ref(), new.as_ref()))
    }

    /// Sends each event to every destination; returns the keys (stream sequence numbers, or
    /// whatever the caller tracks events by) of those that did not reach all of them.
    pub async fn publish(&self, events: &[(String, OrderEvent)]) -> Vec<String> {
        let mut failed: Vec<String> = Vec::new();
        for destination in &self.destinations {
            for chunk in events.chunks(BATCH) {
                for index in send_with_retries(destination, chunk).await {
                    let key = &chunk[index].0;
                    if !failed.contains(key) {
                        failed.push(key.clone());
                    }
                }
            }
        }
        failed
    }
}

/// Sends up to ten events, retrying exactly the entries that were refused; returns the
/// indexes (into `chunk`) still refused after the last attempt.
async fn send_with_retries(
    destination: &Destination,
    chunk: &[(String, OrderEvent)],
) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..chunk.len()).collect();
    for attempt in 1..=ATTEMPTS {
        let messages: Vec<QueueMessage> = pending
            .iter()
            .map(|&i| QueueMessage {
                id: i.to_string(),
                body: serde_json::to_string(&chunk[i].1).expect("events serialize"),
            })
            .collect();
        pending = match destination.queue.send(&messages).await {
            Ok(refused) => pending
                .into_iter()
                .filter(|i| refused.contains(&i.to_string()))
                .collect(),
            Err(error) => {
                tracing::warn!(consumer = %destination.consumer, %error, attempt, "batch send failed");
                pending
            }
        };
        if pending.is_empty() {
            break;
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
    }
    for &i in &pending {
        tracing::error!(consumer = %destination.consumer, event = %chunk[i].1.id,
            "event not accepted by the queue; its record will be retried");
    }
    pending
}
