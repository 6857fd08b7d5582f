//! Idempotency records: the persistence half of the idempotency layer.

use async_trait::async_trait;

use time::OffsetDateTime;

use crate::model::error::StoreError;
use crate::model::idempotency::IdempotencyRecord;

/// Idempotency records: of `Idempotency-Key` requests, webhook events and subscribers' effects.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Takes an idempotency key unless a live record holds it; returns that record if so.
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Writes a done record unless the key is done already (done is final); returns whether
    /// it wrote.
    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<bool, StoreError>;
    /// Frees a key this request holds (by fingerprint), so it can be used again.
    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError>;
}
