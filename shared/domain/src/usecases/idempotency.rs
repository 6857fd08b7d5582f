//! The idempotency layer's one entry point: claim a key for a request, or learn what to
//! answer instead (the stored response, a reuse refusal, or "in progress").

use time::OffsetDateTime;

use crate::model::error::Error;
use crate::model::idempotency::{
    IdempotencyRecord, RecordState, StoredResponse, Ticket, RETENTION,
};
use crate::ports::Store;

pub enum Begin {
    Proceed(Ticket),
    Replay(StoredResponse),
}

/// Claims `key` for a request, or says what to answer instead.
pub async fn begin(
    store: &dyn Store,
    key: String,
    fingerprint: String,
    now: OffsetDateTime,
    locked_until: OffsetDateTime,
) -> Result<Begin, Error> {
    let record = IdempotencyRecord {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
        state: RecordState::InFlight { locked_until },
        expires_at: (now + RETENTION).unix_timestamp(),
    };
    match store.claim_idempotency(&record, now).await? {
        None => Ok(Begin::Proceed(Ticket { key, fingerprint })),
        Some(existing) if existing.fingerprint != fingerprint => Err(Error::IdempotencyKeyReused),
        Some(existing) => match existing.state {
            RecordState::Done { response } => Ok(Begin::Replay(response)),
            RecordState::InFlight { locked_until } => Err(Error::RequestInProgress {
                // Whole seconds, as stores keep the lock.
                retry_after: (locked_until.unix_timestamp() - now.unix_timestamp()).clamp(1, 30)
                    as u64,
            }),
        },
    }
}
