//! What use cases work with besides their ports.

use std::sync::Arc;
use time::OffsetDateTime;

use crate::model::limits::Limits;
use crate::ports::clock::Clock;
use crate::ports::metrics::{Metric, Metrics};
use crate::ports::pause::Pause;

/// What use cases work with besides their ports: the time, the caller limits, the counters
/// operators alarm on, and the pause between retries of contended writes.
#[derive(Clone)]
pub struct Env {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: Limits,
    pub(crate) metrics: Arc<dyn Metrics>,
    pub(crate) pause: Arc<dyn Pause>,
}

impl Env {
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Waits between the attempts of one piece of work, within the contention budget.
    pub(crate) fn backoff(&self) -> crate::usecases::retry::Backoff<'_> {
        crate::usecases::retry::Backoff::new(self.pause.as_ref(), self.limits.contention_budget)
    }

    pub(crate) fn count(&self, metric: Metric, n: u64) {
        if n > 0 {
            self.metrics.count(metric, n);
        }
    }
}
