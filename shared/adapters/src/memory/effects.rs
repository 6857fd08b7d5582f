//! The subscribers' effect log, in memory.

use async_trait::async_trait;

use time::OffsetDateTime;

use checkout_domain::ports::effects::{EffectClaim, EffectLog};
use checkout_domain::StoreError;

use super::MemoryStore;

#[async_trait]
impl EffectLog for MemoryStore {
    async fn claim_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<EffectClaim, StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        match state.effects.get(&key) {
            Some(None) => Ok(EffectClaim::Done),
            Some(Some(lease)) if *lease > now => Ok(EffectClaim::Held),
            _ => {
                state.effects.insert(key, Some(lease_until));
                Ok(EffectClaim::Claimed)
            }
        }
    }

    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        if matches!(state.effects.get(&key), Some(Some(_))) {
            state.effects.remove(&key);
        }
        Ok(())
    }

    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let key = (consumer.to_string(), event_id.to_string());
        let first = !matches!(state.effects.get(&key), Some(None));
        state.effects.insert(key, None);
        Ok(first)
    }
}
