//! Waiting for the pipeline: [`eventually`] and [`settles`].

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `state` until `done` holds for it, and fails only when the state has not moved for
/// `stall` (or after ten times that in all): a machine busy with other suites gets the time
/// it needs, while a pipeline that stopped still fails, naming where it stood.
pub async fn settles<S, F, Fut>(
    what: &str,
    stall: Duration,
    mut state: F,
    done: impl Fn(&S) -> bool,
) -> S
where
    S: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let started = Instant::now();
    let mut last = state().await;
    let mut moved = Instant::now();
    loop {
        if done(&last) {
            return last;
        }
        assert!(
            moved.elapsed() < stall && started.elapsed() < stall * 10,
            "waiting for {what}: stuck at {last:?} for {:?} ({:?} in all)",
            moved.elapsed(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = state().await;
        if now != last {
            last = now;
            moved = Instant::now();
        }
    }
}
