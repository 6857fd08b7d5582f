//! What the emulator costs and what it shows, against DynamoDB Local:
//!
//! 1. the latency it adds per request (the same requests sent straight to DynamoDB Local and
//!    through the emulator, one at a time);
//! 2. transactions on disjoint items at a given concurrency, both ways (none may conflict);
//! 3. one hot item every transaction touches, then the same load spread over 16 shards,
//!    through the emulator: committed and cancelled transactions per second.
//!
//! ```sh
//! scripts/backends.sh start && source .tools/run/backends.env
//! cargo run -p ddb-contention --example measure                      # in-process emulator
//! cargo run -p ddb-contention --example measure -- http://127.0.0.1:PORT  # a running binary
//! ```
//!
//! The in-process emulator uses the default settings (20 ms hold) and DynamoDB's 1,000 WCU
//! per item. A running binary is used as it was started.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::Client;
use ddb_contention::{Emulator, Settings, Stats, Throttle};

use support::{bump, item, key, put_of};

const SEQUENTIAL: usize = 300;
const WORKERS: usize = 32;
const RUN: Duration = Duration::from_secs(5);
/// Bytes of data in each item written (every item stays under 1 KB).
const PADDING: usize = 200;

fn client(endpoint: &str) -> Client {
    support::client_with(endpoint, RetryConfig::disabled())
}

fn put(table: &str, pk: &str) -> aws_sdk_dynamodb::types::TransactWriteItem {
    put_of(table, pk, PADDING)
}

async fn create_table(client: &Client) -> String {
    let name = format!("measure-{}", std::process::id());
    support::create_table(client, &name).await;
    name
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| {
        let index = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:6.2}  p90 {:6.2}  p99 {:6.2} ms",
        at(0.50),
        at(0.90),
        at(0.99)
    )
}

/// One request kind, sent `SEQUENTIAL` times one after another; the latencies.
async fn sequential(client: &Client, table: &str, kind: &str, run: &str) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    for i in 0..SEQUENTIAL {
        let own = format!("{run}-{kind}-{i}");
        let started = Instant::now();
        match kind {
            "GetItem" => {
                client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(key(&own)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map(|_| ())
                    .expect("get");
            }
            "PutItem" => {
                client
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item(&own, PADDING)))
                    .send()
                    .await
                    .map(|_| ())
                    .expect("put");
            }
            _ => {
                client
                    .transact_write_items()
                    .transact_items(put(table, &format!("{own}-a")))
                    .transact_items(bump(table, &format!("{own}-b")))
                    .transact_items(put(table, &format!("{own}-c")))
                    .send()
                    .await
                    .map(|_| ())
                    .expect("transact");
            }
        }
        samples.push(started.elapsed());
    }
    samples
}

/// `WORKERS` clients sending transactions for `RUN`; `items(worker, i)` names the hot-side
/// item of each. Returns (committed, cancelled, seconds).
async fn load(
    client: &Client,
    table: &str,
    run: &str,
    items: fn(usize, usize) -> String,
) -> (u64, u64, f64) {
    let started = Instant::now();
    let deadline = started + RUN;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let (client, table, run) = (client.clone(), table.to_string(), run.to_string());
        workers.spawn(async move {
            let (mut committed, mut cancelled) = (0u64, 0u64);
            let mut i = 0;
            while Instant::now() < deadline {
                let order = format!("{run}-order-{worker}-{i}");
                let result = client
                    .transact_write_items()
                    .transact_items(put(&table, &order))
                    .transact_items(bump(&table, &items(worker, i)))
                    .send()
                    .await;
                match result {
                    Ok(_) => committed += 1,
                    Err(error) => {
                        let error = error.into_service_error();
                        assert!(error.is_transaction_canceled_exception(), "{error:?}");
                        cancelled += 1;
                    }
                }
                i += 1;
            }
            (committed, cancelled)
        });
    }
    let (mut committed, mut cancelled) = (0, 0);
    while let Some(result) = workers.join_next().await {
        let (c, x) = result.expect("worker");
        committed += c;
        cancelled += x;
    }
    (committed, cancelled, started.elapsed().as_secs_f64())
}

async fn stats(endpoint: &str) -> Stats {
    reqwest::get(format!("{endpoint}/_stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON")
}

async fn reset(endpoint: &str) {
    reqwest::Client::new()
        .delete(format!("{endpoint}/_stats"))
        .send()
        .await
        .expect("reset");
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let upstream = std::env::var("CHECKOUT_TEST_DYNAMODB_ENDPOINT")
        .expect("CHECKOUT_TEST_DYNAMODB_ENDPOINT (scripts/backends.sh start; source its env)");
    let external = std::env::args().nth(1);
    let in_process = match &external {
        Some(_) => None,
        None => Some(
            Emulator::start(&upstream, Settings::default().throttle(Throttle::DYNAMODB))
                .await
                .expect("start the emulator"),
        ),
    };
    let endpoint = external
        .clone()
        .or_else(|| in_process.as_ref().map(|e| e.endpoint().to_string()))
        .expect("an endpoint");
    println!(
        "emulator: {} ({endpoint}); load average {}",
        if external.is_some() {
            "external"
        } else {
            "in process"
        },
        load_average()
    );
    let direct = client(&upstream);
    let proxied = client(&endpoint);
    let table = create_table(&proxied).await;

    // Warm both paths (connections, DynamoDB Local's JIT).
    sequential(&direct, &table, "TransactWriteItems", "warm-d").await;
    sequential(&proxied, &table, "TransactWriteItems", "warm-p").await;

    println!("\n1. latency, {SEQUENTIAL} sequential requests each");
    for kind in ["GetItem", "PutItem", "TransactWriteItems"] {
        let straight = sequential(&direct, &table, kind, "direct").await;
        let through = sequential(&proxied, &table, kind, "proxied").await;
        println!("  {kind:<19} direct   {}", percentiles(straight));
        println!("  {kind:<19} emulated {}", percentiles(through));
    }

    println!(
        "\n2. disjoint transactions, {WORKERS} clients, {} s each way",
        RUN.as_secs()
    );
    fn own(worker: usize, i: usize) -> String {
        format!("own-{worker}-{i}")
    }
    for (name, client) in [("direct", &direct), ("emulated", &proxied)] {
        reset(&endpoint).await;
        let (committed, cancelled, seconds) = load(client, &table, name, own).await;
        println!(
            "  {name:<9} {:7.0} transactions/s committed, {cancelled} cancelled",
            committed as f64 / seconds
        );
    }

    println!("\n3. every transaction also updates a shared item, {WORKERS} clients, through the emulator");
    fn hot(_: usize, _: usize) -> String {
        "HOT".to_string()
    }
    fn sharded(worker: usize, i: usize) -> String {
        format!("HOT#{}", (worker * 7 + i) % 16)
    }
    for (name, items) in [
        ("1 item", hot as fn(usize, usize) -> String),
        ("16 shards", sharded),
    ] {
        reset(&endpoint).await;
        let (committed, cancelled, seconds) = load(&proxied, &table, name, items).await;
        let stats = stats(&endpoint).await;
        let hottest = stats
            .hottest(1)
            .first()
            .map(|item| format!("{} ({} conflicts)", item.item, item.conflicts))
            .unwrap_or_default();
        println!(
            "  {name:<9} {:6.0} committed/s, {:6.0} cancelled/s ({:.0} % of attempts); hottest {hottest}",
            committed as f64 / seconds,
            cancelled as f64 / seconds,
            100.0 * cancelled as f64 / (committed + cancelled).max(1) as f64,
        );
    }
    println!("\nload average {}", load_average());
}
