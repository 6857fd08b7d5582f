//! [`StreamPump`]: a table's stream read from DynamoDB Local into the relay, as Lambda's
//! stream event source mapping does.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;

use checkout_adapters::DynamoStore;
use checkout_outbox::relay::Relay;

use super::{Pump, IDLE_POLL};
use crate::{local_aws, LocalService};

/// How the stream event source mapping behaves.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Records per invocation (Lambda's `BatchSize`).
    pub batch_size: usize,
    /// How often each batch is handed to the relay (at-least-once delivery, exaggerated).
    pub deliveries: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            batch_size: 20,
            deliveries: 1,
        }
    }
}

/// Reads a table's stream into the relay until dropped.
pub struct StreamPump;

impl StreamPump {
    pub async fn start(store: &DynamoStore, relay: Relay, options: StreamOptions) -> Pump {
        let streams = aws_sdk_dynamodbstreams::Client::new(local_aws(LocalService::DynamoDb));
        let arn = store
            .client()
            .describe_table()
            .table_name(store.table())
            .send()
            .await
            .expect("describe the table")
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect(
                "the table has a stream: call checkout_tests::keep_streams() before App::start",
            );
        Pump(tokio::spawn(pump_stream(streams, arn, relay, options)))
    }
}

/// Lambda's stream polling, for one table: shards in the order listed (parents first), each
/// read from its start; a batch is retried until the relay reports no failure.
async fn pump_stream(
    streams: aws_sdk_dynamodbstreams::Client,
    arn: String,
    relay: Relay,
    options: StreamOptions,
) {
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut pending: Vec<EventRecord> = Vec::new();
    for round in 0u64.. {
        // New shards, in listing order; they are rare, so not every round.
        let describe = round % 20 == 0 || order.is_empty();
        let described = if describe {
            streams.describe_stream().stream_arn(&arn).send().await.ok()
        } else {
            None
        };
        if let Some(described) = described {
            for shard in described
                .stream_description
                .and_then(|d| d.shards)
                .unwrap_or_default()
            {
                let Some(id) = shard.shard_id else { continue };
                if iterators.contains_key(&id) {
                    continue;
                }
                let iterator = streams
                    .get_shard_iterator()
                    .stream_arn(&arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.shard_iterator);
                iterators.insert(id.clone(), iterator);
                order.push(id);
            }
        }
        let mut found = false;
        for id in &order {
            let Some(Some(iterator)) = iterators.get(id).cloned() else {
                continue;
            };
            let Ok(output) = streams.get_records().shard_iterator(iterator).send().await else {
                continue;
            };
            let records = output.records.unwrap_or_default();
            found |= !records.is_empty();
            pending.extend(records.into_iter().map(to_lambda));
            iterators.insert(id.clone(), output.next_shard_iterator);
        }
        while !pending.is_empty() {
            let batch: Vec<EventRecord> =
                pending.iter().take(options.batch_size).cloned().collect();
            let mut retry_from: Option<usize> = None;
            for _ in 0..options.deliveries {
                let mut event = Event::default();
                event.records = batch.clone();
                let relay = relay.clone();
                // A panic in the handler is a crashed invocation: the whole batch comes again.
                match tokio::spawn(async move { relay.handle_stream(event).await }).await {
                    Ok(response) => {
                        let failed: Vec<String> = response
                            .batch_item_failures
                            .into_iter()
                            .filter_map(|f| f.item_identifier)
                            .collect();
                        if let Some(first) = batch.iter().position(|r| {
                            r.change
                                .sequence_number
                                .as_ref()
                                .is_some_and(|s| failed.contains(s))
                        }) {
                            retry_from = Some(retry_from.map_or(first, |r: usize| r.min(first)));
                        }
                    }
                    Err(_) => retry_from = Some(0),
                }
            }
            match retry_from {
                // Checkpoint: everything before the first failed record is done.
                Some(first) => {
                    pending.drain(..first);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => {
                    pending.drain(..batch.len());
                }
            }
        }
        if !found {
            tokio::time::sleep(IDLE_POLL).await;
        }
    }
}

/// A stream record as Lambda's event carries it.
fn to_lambda(record: aws_sdk_dynamodbstreams::types::Record) -> EventRecord {
    let stream = record
        .dynamodb
        .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
    let mut change = StreamRecord::default();
    change.keys = stream.keys.unwrap_or_default().into();
    change.new_image = stream.new_image.unwrap_or_default().into();
    change.old_image = stream.old_image.unwrap_or_default().into();
    change.sequence_number = stream.sequence_number;
    change.size_bytes = stream.size_bytes.unwrap_or_default();
    let mut event = EventRecord::default();
    event.change = change;
    event.event_id = record.event_id.unwrap_or_default();
    event.event_name = record
        .event_name
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    event.event_source = record.event_source;
    event.aws_region = record.aws_region.unwrap_or_default();
    event
}
