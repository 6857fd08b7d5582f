//! The throttle: a token bucket of write units per item, refilled at the
//! [`crate::Throttle`]'s rate.

use std::time::{Duration, Instant};

use super::{Core, Slot};

#[derive(Debug)]
pub(super) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Core {
    /// Which slots the throttle refuses now; takes the units only when none is refused.
    pub(super) fn take_units(&mut self, now: Instant, slots: &[Slot]) -> Vec<bool> {
        let Some(throttle) = self.throttle else {
            return vec![false; slots.len()];
        };
        let capacity = throttle.units as f64;
        let rate = capacity / throttle.per.as_secs_f64().max(f64::MIN_POSITIVE);
        self.sweep_buckets(now, capacity, rate, throttle.per);
        let mut refused = Vec::with_capacity(slots.len());
        for slot in slots {
            let bucket = self.buckets.entry(slot.key.clone()).or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
            bucket.at = bucket.at.max(now);
            refused.push(bucket.tokens < slot.units as f64);
        }
        if !refused.contains(&true) {
            for slot in slots {
                if let Some(bucket) = self.buckets.get_mut(&slot.key) {
                    bucket.tokens -= slot.units as f64;
                }
            }
        }
        refused
    }

    /// Forgets the buckets that have refilled (a fresh one starts full), once per period.
    fn sweep_buckets(&mut self, now: Instant, capacity: f64, rate: f64, per: Duration) {
        if self
            .buckets_swept
            .is_some_and(|swept| now.saturating_duration_since(swept) < per)
        {
            return;
        }
        self.buckets_swept = Some(now);
        self.buckets.retain(|_, bucket| {
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            bucket.tokens + elapsed * rate < capacity
        });
    }
}
