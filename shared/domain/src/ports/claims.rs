//! Claim tickets: the one-time links that let a guest's orders be claimed.

use async_trait::async_trait;

use crate::model::claim::ClaimTicket;
use crate::model::error::StoreError;

/// Where claim tickets are kept (the table, or the embedded store), as the email subscriber
/// sees it: it only ever adds tickets. Redeeming one is [`crate::ports::Store`]'s.
#[async_trait]
pub trait ClaimTickets: Send + Sync + 'static {
    /// Stores a new ticket (its hash is fresh: an existing one is never overwritten).
    async fn save_claim_ticket(&self, ticket: &ClaimTicket) -> Result<(), StoreError>;
}
