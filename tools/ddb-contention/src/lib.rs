//! DynamoDB's contention, in front of DynamoDB Local.
//!
//! DynamoDB Local never cancels a transaction for a conflict and applies no throughput limit,
//! so a design that would fall over on one hot item passes every test against it
//! (architecture rule 12). This crate is an HTTP proxy the production adapter talks to
//! instead of DynamoDB Local: it forwards every request unchanged (method, path, headers with
//! the SigV4 `Authorization` and `Host`, body) and answers with DynamoDB Local's answer,
//! except where DynamoDB's documented rules would refuse the request. It then answers exactly
//! as DynamoDB does, so the AWS SDK parses the same typed errors.
//!
//! # The rules
//!
//! * A `TransactWriteItems` holds each of its items (`Put`, `Update`, `Delete` and
//!   `ConditionCheck` alike) from the moment the proxy accepts it until DynamoDB Local's
//!   answer, plus [`Settings::hold`] (the time DynamoDB keeps an item in a transaction;
//!   20 ms by default). The hold is kept when DynamoDB ran the transaction (committed, or
//!   cancelled by its own conditions); a request DynamoDB refused outright holds nothing.
//!   With [`HoldFrom::Acceptance`] the items are held for exactly the hold from acceptance
//!   instead, however long DynamoDB Local takes to answer (it runs transactions one after
//!   another, so under load its answer time is its queue): the bench measures that way.
//! * A `TransactWriteItems` with an item held by another is cancelled at once, without
//!   reaching DynamoDB Local: HTTP 400 `TransactionCanceledException`, one
//!   `CancellationReasons` entry per item in request order, `TransactionConflict` ("Transaction
//!   is ongoing for the item") on the held ones and `None` on the others. It holds nothing.
//! * A `PutItem`, `UpdateItem` or `DeleteItem` on a held item fails with HTTP 400
//!   `TransactionConflictException`. Plain reads are never blocked (DynamoDB Local answers
//!   with the last committed value, as DynamoDB does).
//! * A `TransactGetItems` is cancelled (`TransactionConflict` on the slots concerned) when one
//!   of its items is held, or is being written by a `PutItem`, `UpdateItem`, `DeleteItem` or
//!   `BatchWriteItem` at that moment, or when any write touches one of its items while it is
//!   with DynamoDB Local.
//! * With [`Settings::throttle`], each item has a token bucket of `units` write units that
//!   refills at `units` per `per` ([`Throttle::DYNAMODB`]: 1,000 a second, DynamoDB's
//!   per-item and per-partition limit). A plain write costs 1 unit per started KB of its
//!   item, a transaction 2 per started KB of each item, rounded up per item
//!   ([`request::write_units`]). A plain write over the rate fails with
//!   `ProvisionedThroughputExceededException` (throttling reason
//!   `TableWriteKeyRangeThroughputExceeded`; the SDK retries it as DynamoDB's throttling); a
//!   transaction is cancelled with `ThrottlingError` on the items over their rate. A refused
//!   request costs nothing.
//!
//! Items are named by table and key. For a `Put` the key attributes come from the table's key
//! schema, learned from `CreateTable`/`DescribeTable` answers through the proxy or, failing
//! that, from one `DescribeTable` the proxy sends upstream with the caller's headers.
//!
//! Not emulated: conflicts of `BatchWriteItem` items with held items (DynamoDB documents none;
//! they are forwarded), PartiQL (`ExecuteStatement`, `ExecuteTransaction`), throttling of
//! reads, of `BatchWriteItem`, of a partition shared by several items and of index
//! partitions, and the stored item's size for an `Update`, `Delete` or `ConditionCheck`
//! (their units are counted from what the request carries: exact under 1 KB). Transactions
//! are admitted whole, so of two overlapping ones the first accepted always goes through;
//! DynamoDB, which prepares item by item, may cancel both when they share several items.
//!
//! # Use
//!
//! In a test, in process, on a free loopback port:
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::time::Duration;
//! use ddb_contention::{Emulator, Settings, Throttle};
//!
//! let upstream = std::env::var("CHECKOUT_TEST_DYNAMODB_ENDPOINT").unwrap();
//! let emulator = Emulator::start(
//!     &upstream,
//!     Settings::default()
//!         .hold(Duration::from_millis(20))
//!         .throttle(Throttle::DYNAMODB),
//! )
//! .await?;
//! // Point the SDK client at `emulator.endpoint()` instead of DynamoDB Local, run the
//! // scenario, then read what happened:
//! let stats = emulator.stats();
//! println!("{} of {} transactions cancelled", stats.transactions_cancelled_conflict, stats.transactions);
//! # Ok(())
//! # }
//! ```
//!
//! As a process (for the bench or by hand), it prints `listening on http://ADDR`, serves
//! `GET /_stats` (the [`Stats`] as JSON; `DELETE /_stats` zeroes them) and prints the stats on
//! exit:
//!
//! ```sh
//! cargo run -p ddb-contention -- --upstream http://127.0.0.1:8000 --hold-ms 20
//! ```

mod proxy;
pub mod request;
mod rules;
pub mod stats;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use crate::request::ItemKey;
pub use crate::stats::{ItemStats, Stats};
pub use crate::wire::{CONFLICT_MESSAGE, THROTTLE_MESSAGE};

/// A per-item write rate: `units` write units per `per`, with a burst of `units`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub units: u32,
    pub per: Duration,
}

impl Throttle {
    /// DynamoDB's limit for one item (and one partition): 1,000 write units a second.
    pub const DYNAMODB: Throttle = Throttle::per_second(1000);

    /// `units` write units a second.
    pub const fn per_second(units: u32) -> Self {
        Throttle {
            units,
            per: Duration::from_secs(1),
        }
    }
}

/// When a transaction's hold starts counting down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HoldFrom {
    /// Items are held from acceptance until the upstream's answer, plus the hold: the
    /// upstream's own time counts as the transaction's (the rule as DynamoDB states it).
    #[default]
    Answer,
    /// Items are held for exactly the hold from acceptance, however long the upstream takes.
    /// For measuring over DynamoDB Local, which runs transactions one after another: under
    /// load its answer time is mostly its queue, which DynamoDB does not have, and a hold
    /// that grew with that queue would measure DynamoDB Local rather than the design.
    Acceptance,
}

/// How the emulator behaves. `Settings::default()`: a 20 ms hold after the answer, no
/// throttle, a free loopback port.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long an item stays held after its transaction's answer (or, with
    /// [`HoldFrom::Acceptance`], after its acceptance).
    pub hold: Duration,
    pub hold_from: HoldFrom,
    /// The per-item write rate; `None`: no throttling.
    pub throttle: Option<Throttle>,
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            hold: Duration::from_millis(20),
            hold_from: HoldFrom::Answer,
            throttle: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Settings {
    pub fn hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    pub fn hold_from(mut self, hold_from: HoldFrom) -> Self {
        self.hold_from = hold_from;
        self
    }

    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }
}

/// A running emulator. Dropping it stops the proxy (connections finish their request).
pub struct Emulator {
    addr: SocketAddr,
    endpoint: String,
    shared: Arc<proxy::Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Emulator {
    /// Starts the proxy for the DynamoDB endpoint `upstream` (e.g. DynamoDB Local's
    /// `http://127.0.0.1:8000`) on the current Tokio runtime.
    pub async fn start(upstream: &str, settings: Settings) -> io::Result<Emulator> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            .tcp_nodelay(true)
            .build()
            .map_err(io::Error::other)?;
        let core = rules::Core::new(settings.hold, settings.throttle).hold_from(settings.hold_from);
        let upstream = upstream.trim_end_matches('/').to_string();
        let shared = Arc::new(proxy::Shared::new(core, upstream, client));
        let listener = tokio::net::TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        let (shutdown, stop) = oneshot::channel::<()>();
        let router = proxy::router(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await
        });
        Ok(Emulator {
            addr,
            endpoint: format!("http://{addr}"),
            shared,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give the SDK client.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        self.shared.core().stats(Instant::now())
    }

    /// Zeroes the counters (holds and throttle buckets are kept).
    pub fn reset_stats(&self) {
        self.shared.core().reset_stats();
    }

    /// Whether the item of `table` with key attributes `key` (AttributeValue JSON, e.g.
    /// `{"pk": {"S": "CART#1"}, "sk": {"S": "CART"}}`) is part of an ongoing transaction now.
    pub fn is_held(&self, table: &str, key: &serde_json::Map<String, serde_json::Value>) -> bool {
        let key = ItemKey::new(table, key);
        self.shared.core().is_held(Instant::now(), &key)
    }

    /// For tests that need two requests to overlap without relying on timing: from now until
    /// the [`Pause`] is dropped, each request the emulator admits (a transaction, a plain
    /// write, a transactional read) waits before its upstream call, keeping what it claimed
    /// (a transaction held from acceptance only until its hold ends).
    /// Refusals are still answered at once, and other requests pass.
    pub fn pause(&self) -> Pause {
        self.shared.paused.send_replace(true);
        Pause {
            shared: self.shared.clone(),
        }
    }

    /// Stops accepting connections and waits for the open ones to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Admitted requests wait before their upstream call while this lives; see
/// [`Emulator::pause`].
pub struct Pause {
    shared: Arc<proxy::Shared>,
}

impl Pause {
    /// Waits until at least `n` admitted requests are waiting.
    pub async fn parked(&self, n: usize) {
        let mut parked = self.shared.parked.subscribe();
        let _ = parked.wait_for(|parked| *parked >= n).await;
    }

    /// Lets the waiting requests (and the next ones) go on: the same as dropping it.
    pub fn resume(self) {}
}

impl Drop for Pause {
    fn drop(&mut self) {
        self.shared.paused.send_replace(false);
    }
}
