//! The current time, as a port, so expiry can be tested without waiting.

use time::OffsetDateTime;

/// A source of the current time, so expiry can be tested without waiting.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
