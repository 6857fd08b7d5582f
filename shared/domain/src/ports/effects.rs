//! The consumers' effect log: which side effects were performed, so a redelivered message
//! does nothing twice.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::model::error::StoreError;

/// Which side effects consumers have performed, per consumer and event id, so a redelivered
/// message does nothing twice. Records are written after the effect succeeded.
/// Whether a delivery may perform an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectClaim {
    /// This delivery holds the lease: perform, then record (or release).
    Claimed,
    /// Performed and recorded before: nothing to do.
    Done,
    /// Another delivery is performing it right now: try again later.
    Held,
}

#[async_trait]
pub trait EffectLog: Send + Sync + 'static {
    /// Takes a lease on performing an effect until `lease_until`, unless the effect is done or
    /// another delivery holds a live lease on it.
    async fn claim_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<EffectClaim, StoreError>;
    /// Gives a lease back after an attempt that did nothing, so a redelivery may try again.
    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError>;
    /// Records the effect done; `false` if it was recorded already.
    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
