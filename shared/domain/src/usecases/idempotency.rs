//! The idempotency layer's one helper, used by `POST /orders`, the payment webhook's event
//! dedupe and the subscribers' effects: claim a key for a request (or learn what to answer
//! instead: the stored response, a reuse refusal, "in progress"), then complete it with the
//! response or release it so a retry runs afresh. A commit completes its record inside its
//! own transaction instead (`CommitPlan::idempotency`).

use time::OffsetDateTime;

use crate::model::error::{Error, StoreError};
use crate::model::idempotency::{
    IdempotencyRecord, IdempotentRequest, RecordState, StoredResponse, Ticket,
};
use crate::ports::idempotency::IdempotencyStore;

pub enum Begin {
    Proceed(Ticket),
    /// Done before: what it answered, if it answers with anything.
    Replay(Option<StoredResponse>),
}

/// Claims a request's key until `locked_until`, or says what to answer instead.
pub async fn begin(
    store: &dyn IdempotencyStore,
    request: IdempotentRequest,
    now: OffsetDateTime,
    locked_until: OffsetDateTime,
) -> Result<Begin, Error> {
    let IdempotentRequest {
        key,
        fingerprint,
        retention,
    } = request;
    let record = IdempotencyRecord {
        key: key.clone(),
        fingerprint: fingerprint.clone(),
        state: RecordState::InFlight { locked_until },
        expires_at: (now + retention).unix_timestamp(),
    };
    let existing = store.claim_idempotency(&record, now).await?;
    decide(
        IdempotentRequest {
            key,
            fingerprint,
            retention,
        },
        existing,
        now,
    )
}

/// What to do about a request given the record its key has (`None`, or one no longer live:
/// the key is free). `begin` claims first; a commit that writes its record in its own
/// transaction reads the record instead and claims nothing.
pub fn decide(
    request: IdempotentRequest,
    existing: Option<IdempotencyRecord>,
    now: OffsetDateTime,
) -> Result<Begin, Error> {
    match existing.filter(|record| record.is_live(now)) {
        None => Ok(Begin::Proceed(Ticket {
            key: request.key,
            fingerprint: request.fingerprint,
            retention: request.retention,
        })),
        Some(existing) if existing.fingerprint != request.fingerprint => {
            Err(Error::IdempotencyKeyReused)
        }
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

/// Marks the ticket's key done with `response`. `false`: it was done already (our lock ran
/// out and another invocation finished first).
pub async fn complete(
    store: &dyn IdempotencyStore,
    ticket: &Ticket,
    response: Option<StoredResponse>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    store
        .complete_idempotency(&ticket.completion(response, now))
        .await
}

/// Gives the key back after an attempt that did nothing, so a retry runs afresh. A failure
/// only delays that until the lock expires, so it is logged, not returned.
pub async fn release(store: &dyn IdempotencyStore, ticket: &Ticket) {
    if let Err(error) = store
        .release_idempotency(&ticket.key, &ticket.fingerprint)
        .await
    {
        tracing::warn!(%error, key = %ticket.key, "releasing an idempotency key failed; its lock expires");
    }
}

/// Runs `work` once per request key: claims the key until `locked_until`, records what
/// `work` answers (or gives the key back when it fails), and answers a request the key has
/// answered before with that answer again. The flag says whether the answer is a replay.
pub async fn once(
    store: &dyn IdempotencyStore,
    request: IdempotentRequest,
    now: OffsetDateTime,
    locked_until: OffsetDateTime,
    work: impl std::future::Future<Output = Result<StoredResponse, Error>>,
) -> Result<(StoredResponse, bool), Error> {
    let ticket = match begin(store, request, now, locked_until).await? {
        Begin::Replay(Some(response)) => return Ok((response, true)),
        Begin::Replay(None) => return Err(Error::internal("a keyed request stored no answer")),
        Begin::Proceed(ticket) => ticket,
    };
    match work.await {
        Ok(response) => {
            complete(store, &ticket, Some(response.clone()), now).await?;
            Ok((response, false))
        }
        Err(e) => {
            release(store, &ticket).await;
            Err(e)
        }
    }
}
