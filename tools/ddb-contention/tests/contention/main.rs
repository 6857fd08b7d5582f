//! The emulator against the real DynamoDB Local, through the real AWS SDK: it refuses what
//! DynamoDB would refuse, with the errors the SDK parses as DynamoDB's, and passes the rest
//! through unchanged.
//!
//! Needs `CHECKOUT_TEST_DYNAMODB_ENDPOINT`, which `scripts/test.sh` sets after starting
//! DynamoDB Local (or `scripts/backends.sh start && source .tools/run/backends.env`). Overlaps
//! are made with [`Emulator::pause`] (a request waits, holding its items, until the test lets
//! it go) or with a hold longer than the test, never by timing.

#[path = "../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, Get, KeySchemaElement,
    KeyType, Put, ScalarAttributeType, TransactGetItem, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use ddb_contention::{Emulator, HoldFrom, Pause, Settings, Stats, Throttle, CONFLICT_MESSAGE};
use serde_json::json;
use tokio::task::{JoinHandle, JoinSet};

use support::{bump, check, client_with, item, key, put, s, transact, upstream};

/// An SDK client as the product builds one (standard retries).
fn client(endpoint: &str) -> Client {
    client_with(endpoint, RetryConfig::standard())
}

async fn start(settings: Settings) -> Emulator {
    Emulator::start(&upstream(), settings)
        .await
        .expect("start the emulator")
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// A fresh table keyed `pk`/`sk` (strings), created through `client`.
async fn table(client: &Client) -> String {
    let name = unique("contention");
    support::create_table(client, &name).await;
    name
}

/// The key as the emulator's `is_held` takes it.
fn json_key(pk: &str) -> serde_json::Map<String, serde_json::Value> {
    json!({"pk": {"S": pk}, "sk": {"S": "ITEM"}})
        .as_object()
        .cloned()
        .expect("an object")
}

/// Sends `items` as a transaction that the emulator admits and then keeps waiting, its items
/// held, until the returned pause is resumed; the handle gives its outcome.
async fn held(
    emulator: &Emulator,
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> (
    Pause,
    JoinHandle<Result<(), SdkError<TransactWriteItemsError>>>,
) {
    let pause = emulator.pause();
    let client = client.clone();
    let transaction = tokio::spawn(async move { transact(&client, items).await });
    pause.parked(1).await;
    (pause, transaction)
}

/// The cancellation reasons of a cancelled transaction, as the production adapter reads them.
fn reasons(error: SdkError<TransactWriteItemsError>) -> Vec<CancellationReason> {
    match error.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            cancelled.cancellation_reasons.unwrap_or_default()
        }
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
}

fn codes(reasons: &[CancellationReason]) -> Vec<&str> {
    reasons
        .iter()
        .map(|reason| reason.code.as_deref().unwrap_or("(none)"))
        .collect()
}

/// The counter `n` of an item, read from DynamoDB Local directly.
async fn counter(table: &str, pk: &str) -> Option<i64> {
    let item = client(&upstream())
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk)))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item?;
    match item.get("n") {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => Some(0),
    }
}

async fn exists(table: &str, pk: &str) -> bool {
    counter(table, pk).await.is_some()
}

mod conflicts;
mod holds;
mod passthrough;
mod stats;
mod throttling;
