//! The idempotency headers of the HTTP contract, shared by every keyed route.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use checkout_domain::model::idempotency::{IdempotencyKey, KEY_FORMAT};
use checkout_domain::Error;

use crate::problem::ApiError;

/// The client's key for a retry-safe request.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the first answer to that key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// The request's `Idempotency-Key`, if it sent one; a malformed one is the client's 400,
/// pointed at the header.
pub struct KeyHeader(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for KeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get(IDEMPOTENCY_KEY)
            .map(|value| {
                value
                    .to_str()
                    .map_err(|_| KEY_FORMAT.to_string())
                    .and_then(IdempotencyKey::parse)
                    .map_err(|message| Error::invalid("/headers/Idempotency-Key", message))
            })
            .transpose()?;
        Ok(KeyHeader(key))
    }
}
