//! SQS: consumers' queues behind the `EventQueue` port, and the redrive of a dead-letter
//! queue back to its source queue.

use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::StoreError;

use crate::store_error;

/// One SQS queue, by URL.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// SQS takes at most ten messages per `SendMessageBatch`.
pub const MAX_BATCH: usize = 10;

#[async_trait]
impl EventQueue for SqsQueue {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let entries = messages
            .iter()
            .map(|m| {
                SendMessageBatchRequestEntry::builder()
                    .id(&m.id)
                    .message_body(&m.body)
                    .build()
                    .map_err(|e| StoreError::new(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(store_error)?;
        for failed in &output.failed {
            tracing::warn!(queue = %self.url, id = %failed.id, code = %failed.code,
                message = failed.message.as_deref().unwrap_or_default(), "message not accepted");
        }
        Ok(output.failed.into_iter().map(|f| f.id).collect())
    }
}

/// Moves every message in `from` (a dead-letter queue) back to `to`, deleting each from
/// `from` only after `to` accepted it (a crash in between repeats a message, never loses
/// one; consumers deduplicate). Returns how many moved.
pub async fn redrive(client: &Client, from: &str, to: &str) -> Result<usize, StoreError> {
    let target = SqsQueue::new(client.clone(), to);
    let mut moved = 0;
    loop {
        let received = client
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(MAX_BATCH as i32)
            .visibility_timeout(30)
            .send()
            .await
            .map_err(store_error)?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(moved);
        }
        let batch: Vec<QueueMessage> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| QueueMessage {
                id: i.to_string(),
                body: m.body.clone().unwrap_or_default(),
            })
            .collect();
        let failed = target.send(&batch).await?;
        let delete: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed.contains(&i.to_string()))
            .filter_map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .ok()
            })
            .collect();
        moved += delete.len();
        if !delete.is_empty() {
            client
                .delete_message_batch()
                .queue_url(from)
                .set_entries(Some(delete))
                .send()
                .await
                .map_err(store_error)?;
        }
        if !failed.is_empty() {
            return Err(StoreError::new(format!(
                "{} messages were not accepted by {to}; they stay in {from}",
                failed.len()
            )));
        }
    }
}
