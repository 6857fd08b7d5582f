//! The idempotency port, in memory.

use async_trait::async_trait;

use time::OffsetDateTime;

use checkout_domain::model::idempotency::{IdempotencyRecord, RecordState};
use checkout_domain::ports::idempotency::IdempotencyStore;
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let mut state = self.lock();
        match state.idempotency.get(&record.key) {
            Some(existing) if existing.is_live(now) => Ok(Some(existing.clone())),
            _ => {
                state.idempotency.insert(record.key.clone(), record.clone());
                Ok(None)
            }
        }
    }

    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<bool, StoreError> {
        let mut state = self.lock();
        // Done is final.
        if state
            .idempotency
            .get(&record.key)
            .is_some_and(|r| matches!(r.state, RecordState::Done { .. }))
        {
            return Ok(false);
        }
        state.idempotency.insert(record.key.clone(), record.clone());
        Ok(true)
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.idempotency.get(key).is_some_and(|r| {
            r.fingerprint == fingerprint && matches!(r.state, RecordState::InFlight { .. })
        }) {
            state.idempotency.remove(key);
        }
        Ok(())
    }
}
