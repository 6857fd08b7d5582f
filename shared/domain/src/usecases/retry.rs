//! One way to try a write again: jittered exponential backoff within a time budget. Every
//! loop that re-reads and writes again (a commit that met contention, a payment write whose
//! cart or order moved, a reversal) waits through it, and when the budget is spent the
//! answer is `Contended` (503, `Retry-After`), never a request "in progress".

use std::time::{Duration, Instant};

use crate::model::error::{Error, StoreError};
use crate::ports::pause::Pause;

/// The first wait's ceiling; each attempt doubles it, up to `MAX_STEP`.
const FIRST_STEP: Duration = Duration::from_millis(8);
const MAX_STEP: Duration = Duration::from_millis(400);

/// Attempts at most, whatever the budget (a store that answers at once cannot spin).
pub const MAX_ATTEMPTS: u32 = 12;

/// The waits of one piece of work.
pub(crate) struct Backoff<'a> {
    pause: &'a dyn Pause,
    started: Instant,
    budget: Duration,
    attempt: u32,
}

impl<'a> Backoff<'a> {
    pub(crate) fn new(pause: &'a dyn Pause, budget: Duration) -> Self {
        Backoff {
            pause,
            started: Instant::now(),
            budget,
            attempt: 0,
        }
    }

    /// Waits before the next attempt, a random time up to a ceiling that doubles with each
    /// (full jitter, so racing writers spread out). `Err(Contended)` when the budget or the
    /// attempts are spent: `what` says what could not be written.
    pub(crate) async fn wait(&mut self, what: &str) -> Result<(), Error> {
        self.attempt += 1;
        let ceiling = FIRST_STEP
            .saturating_mul(1 << self.attempt.min(10))
            .min(MAX_STEP);
        let wait = ceiling.mul_f64(crate::model::random::fraction());
        if self.attempt > MAX_ATTEMPTS || self.started.elapsed() + wait > self.budget {
            return Err(Error::Store(StoreError::contended(format!(
                "{what}: still contended after {} attempts in {:?}",
                self.attempt,
                self.started.elapsed()
            ))));
        }
        self.pause.pause(wait).await;
        Ok(())
    }
}
