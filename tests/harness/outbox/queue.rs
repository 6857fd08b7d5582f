//! [`QueuePump`]: a moto SQS queue read into a subscriber, as Lambda's SQS event source
//! mapping does.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;

use checkout_outbox::Subscriber;

use super::{Pump, IDLE_POLL};

/// How the SQS event source mapping behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueOptions {
    /// Extra times each received batch is handed to the subscriber before acknowledging.
    pub extra_deliveries: usize,
    /// The first handling of each message "crashes" after the subscriber returned: nothing is
    /// acknowledged, so the message reappears after its visibility timeout.
    pub crash_before_ack_once: bool,
}

/// Reads a queue into a subscriber until dropped.
pub struct QueuePump;

impl QueuePump {
    pub fn start(
        sqs: &aws_sdk_sqs::Client,
        url: &str,
        subscriber: Subscriber,
        options: QueueOptions,
    ) -> Pump {
        Pump(tokio::spawn(pump_queue(
            sqs.clone(),
            url.to_string(),
            subscriber,
            options,
        )))
    }
}

async fn pump_queue(
    sqs: aws_sdk_sqs::Client,
    url: String,
    subscriber: Subscriber,
    options: QueueOptions,
) {
    let mut crashed: Vec<String> = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await;
        let messages = received.ok().and_then(|r| r.messages).unwrap_or_default();
        if messages.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.event_source = Some("aws:sqs".into());
                record
            })
            .collect();
        let mut failed: Vec<String> = Vec::new();
        let mut crash = false;
        for _ in 0..=options.extra_deliveries {
            let (subscriber, event) = (subscriber.clone(), event.clone());
            match tokio::spawn(async move { subscriber.handle(event).await }).await {
                Ok(response) => failed.extend(
                    response
                        .batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier),
                ),
                Err(_) => crash = true,
            }
        }
        if options.crash_before_ack_once {
            for m in &messages {
                let id = m.message_id.clone().unwrap_or_default();
                if !crashed.contains(&id) {
                    crashed.push(id);
                    crash = true;
                }
            }
        }
        if crash {
            continue;
        }
        let delete: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id.as_ref().unwrap()))
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        if !delete.is_empty() {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(delete))
                .send()
                .await;
        }
    }
}
