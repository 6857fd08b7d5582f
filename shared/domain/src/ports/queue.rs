//! A consumer's queue.

use async_trait::async_trait;

use crate::model::error::StoreError;

/// One message for a consumer's queue: `id` is unique within one `send` call, `body` is what
/// the consumer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
}

/// A consumer's queue (SQS in AWS, a channel in the local server).
#[async_trait]
pub trait EventQueue: Send + Sync + 'static {
    /// Sends up to ten messages; returns the ids of those that were not accepted, so the
    /// caller retries exactly those. `Err` means none is known to have been accepted.
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError>;
}
