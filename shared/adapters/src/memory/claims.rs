//! Guest claim tickets, in memory.

use async_trait::async_trait;

use checkout_domain::model::claim::ClaimTicket;
use checkout_domain::ports::claims::ClaimTickets;
use checkout_domain::StoreError;

use super::{MemoryStore, StoredTicket};

#[async_trait]
impl ClaimTickets for MemoryStore {
    async fn save_claim_ticket(&self, ticket: &ClaimTicket) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.claim_tickets.contains_key(&ticket.token_hash) {
            return Err(StoreError::new("claim ticket exists"));
        }
        state.claim_tickets.insert(
            ticket.token_hash.clone(),
            StoredTicket {
                ticket: ticket.clone(),
                used: false,
            },
        );
        Ok(())
    }
}
