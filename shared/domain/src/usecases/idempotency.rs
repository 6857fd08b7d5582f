//! The idempotency layer's one wrapper, `run_once`, used by every keyed request (the
//! merchant's changes, programmatic orders, replication), the payment webhook's event dedupe
//! and the subscribers' effects: claim a key for a request (or learn what to answer instead:
//! the stored response, a reuse refusal, "in progress"), run, then complete the record with
//! the answer or release it so a retry runs afresh. Which key and fingerprint a request has
//! is said once, by `IdempotentRequest`'s constructors. A commit completes its record inside
//! its own transaction instead (`decide`, then `CommitPlan::idempotency`).

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
async fn begin(
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
async fn release(store: &dyn IdempotencyStore, ticket: &Ticket) {
    if let Err(error) = store
        .release_idempotency(&ticket.key, &ticket.fingerprint)
        .await
    {
        tracing::warn!(%error, key = %ticket.key, "releasing an idempotency key failed; its lock expires");
    }
}

/// What a run leaves in its key's record.
pub enum Record {
    /// Done, with the answer a replay gets (`None`: it only needs to be known done).
    Done(Option<StoredResponse>),
    /// Free again: the run did nothing, so a retry runs afresh.
    Free,
}

/// How a request with a key went.
pub enum Once<T> {
    /// It ran now; `recorded` is false when another run of the key finished first (our lock
    /// ran out), so this one's effect may repeat that one's.
    Ran { value: T, recorded: bool },
    /// It ran before: what it answered, if it answers with anything.
    Replayed(Option<StoredResponse>),
}

/// The idempotency layer's one wrapper: claims the request's key until `locked_until` (or
/// learns it ran before, is in flight, or is reused with another request), runs `work`, and
/// records what `work` says: done with its answer, or free. Every keyed operation but the
/// commit (which writes its record in its own transaction) goes through here.
pub async fn run_once<T>(
    store: &dyn IdempotencyStore,
    request: IdempotentRequest,
    now: OffsetDateTime,
    locked_until: OffsetDateTime,
    work: impl std::future::Future<Output = (T, Record)>,
) -> Result<Once<T>, Error> {
    let ticket = match begin(store, request, now, locked_until).await? {
        Begin::Replay(stored) => return Ok(Once::Replayed(stored)),
        Begin::Proceed(ticket) => ticket,
    };
    let (value, record) = work.await;
    let recorded = match record {
        Record::Done(response) => complete(store, &ticket, response, now).await?,
        Record::Free => {
            release(store, &ticket).await;
            true
        }
    };
    Ok(Once::Ran { value, recorded })
}

/// Runs a change once per request key: what `work` answers is stored for replays; a
/// failure frees the key. The flag says whether the answer is a replay.
pub async fn once(
    store: &dyn IdempotencyStore,
    request: IdempotentRequest,
    now: OffsetDateTime,
    locked_until: OffsetDateTime,
    work: impl std::future::Future<Output = Result<StoredResponse, Error>>,
) -> Result<(StoredResponse, bool), Error> {
    let work = async {
        match work.await {
            Ok(response) => (Ok(response.clone()), Record::Done(Some(response))),
            Err(e) => (Err(e), Record::Free),
        }
    };
    match run_once(store, request, now, locked_until, work).await? {
        Once::Ran { value, .. } => Ok((value?, false)),
        Once::Replayed(Some(response)) => Ok((response, true)),
        Once::Replayed(None) => Err(Error::internal("a keyed request stored no answer")),
    }
}
