//! [`NoDeadLetters`]: a dead-letter queue a test expects never to be used.

use checkout_domain::ports::queue::EventQueue;

/// A dead-letter queue that must never be used.
pub struct NoDeadLetters;

#[async_trait::async_trait]
impl EventQueue for NoDeadLetters {
    async fn send(
        &self,
        messages: &[checkout_domain::ports::queue::QueueMessage],
    ) -> Result<Vec<String>, checkout_domain::StoreError> {
        panic!("dead-lettered: {messages:?}")
    }
}
