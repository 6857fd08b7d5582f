//! The idempotency headers of the HTTP contract, shared by every keyed route.

/// The client's key for a retry-safe request.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the first answer to that key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
