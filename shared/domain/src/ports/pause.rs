//! Waiting, as a port: the domain backs off between attempts at a write other writers hold
//! without knowing the async runtime (the adapters give it the runtime's timer).

use std::time::Duration;

#[async_trait::async_trait]
pub trait Pause: Send + Sync + 'static {
    /// Returns after `duration` (or at once, for a store that never contends).
    async fn pause(&self, duration: Duration);
}

/// No wait at all: for a store that never contends (the embedded one, unit tests). Every
/// deployed storefront is given the runtime's timer instead.
pub struct NoPause;

#[async_trait::async_trait]
impl Pause for NoPause {
    async fn pause(&self, _: Duration) {}
}
