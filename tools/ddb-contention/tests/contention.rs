//! The emulator against the real DynamoDB Local, through the real AWS SDK: it refuses what
//! DynamoDB would refuse, with the errors the SDK parses as DynamoDB's, and passes the rest
//! through unchanged.
//!
//! Needs `CHECKOUT_TEST_DYNAMODB_ENDPOINT`, which `scripts/test.sh` sets after starting
//! DynamoDB Local (or `scripts/backends.sh start && source .tools/run/backends.env`). Overlaps
//! are made with [`Emulator::pause`] (a request waits, holding its items, until the test lets
//! it go) or with a hold longer than the test, never by timing.

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

#[tokio::test]
async fn two_transactions_on_one_item_one_commits_and_the_other_is_cancelled_on_that_slot() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let (pause, first) = held(
        &emulator,
        &client,
        vec![put(&table, "A"), bump(&table, "X")],
    )
    .await;
    let second = transact(
        &client,
        vec![put(&table, "B"), bump(&table, "X"), put(&table, "C")],
    )
    .await
    .expect_err("X is part of the first transaction");
    let reasons = reasons(second);
    assert_eq!(codes(&reasons), ["None", "TransactionConflict", "None"]);
    assert_eq!(reasons[1].message.as_deref(), Some(CONFLICT_MESSAGE));
    assert_eq!(reasons[0].message, None);
    pause.resume();
    first.await.expect("joined").expect("the first commits");

    assert_eq!(counter(&table, "X").await, Some(1));
    assert!(exists(&table, "A").await);
    assert!(!exists(&table, "B").await && !exists(&table, "C").await);
    let stats = emulator.stats();
    assert_eq!(stats.transactions, 2);
    assert_eq!(stats.transactions_cancelled_conflict, 1);
    assert_eq!(stats.hottest(1)[0].item, format!("{table} pk=X sk=ITEM"));
    assert_eq!(stats.hottest(1)[0].conflicts, 1);
    assert_eq!(stats.items.len(), 1);
}

#[tokio::test]
async fn concurrent_transactions_on_one_item_commit_exactly_once() {
    // Held far longer than the test runs: whichever is admitted first holds HOT for all others.
    let emulator = start(Settings::default().hold(Duration::from_secs(600))).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let mut all = JoinSet::new();
    for i in 0..16 {
        let (client, table) = (client.clone(), table.clone());
        all.spawn(async move {
            transact(
                &client,
                vec![put(&table, &format!("P{i}")), bump(&table, "HOT")],
            )
            .await
        });
    }
    let (mut committed, mut cancelled) = (0, 0);
    while let Some(result) = all.join_next().await {
        match result.expect("joined") {
            Ok(()) => committed += 1,
            Err(error) => {
                assert_eq!(codes(&reasons(error)), ["None", "TransactionConflict"]);
                cancelled += 1;
            }
        }
    }
    assert_eq!((committed, cancelled), (1, 15));
    assert_eq!(counter(&table, "HOT").await, Some(1));
    let stats = emulator.stats();
    assert_eq!(stats.transactions_cancelled_conflict, 15);
    assert_eq!(stats.hottest(1)[0].conflicts, 15);
}

#[tokio::test]
async fn transactions_on_disjoint_items_never_conflict() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    for round in 0..3 {
        let mut all = JoinSet::new();
        for i in 0..64 {
            let (client, table) = (client.clone(), table.clone());
            all.spawn(async move {
                let own = format!("R{round}-{i}");
                transact(
                    &client,
                    vec![
                        put(&table, &format!("{own}-order")),
                        bump(&table, &format!("{own}-stock")),
                        check(&table, &format!("{own}-config")),
                    ],
                )
                .await
            });
        }
        while let Some(result) = all.join_next().await {
            result
                .expect("joined")
                .expect("disjoint transactions commit");
        }
    }
    let stats = emulator.stats();
    assert_eq!(stats.transactions, 192);
    assert_eq!(stats.conflicts(), 0);
    assert!(stats.items.is_empty());
    // Three items under 1 KB each, 2 units each in a transaction.
    assert_eq!(stats.write_units, 192 * 3 * 2);
}

#[tokio::test]
async fn a_condition_check_holds_its_item_like_a_write() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    // A transaction that only checks X: X is part of it all the same.
    let (pause, checking) = held(
        &emulator,
        &client,
        vec![check(&table, "X"), put(&table, "A")],
    )
    .await;
    let error = transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["TransactionConflict"]);
    pause.resume();
    checking.await.expect("joined").expect("the check passes");

    // And a ConditionCheck on an item another transaction holds is cancelled.
    let (pause, writing) = held(&emulator, &client, vec![bump(&table, "Y")]).await;
    let error = transact(&client, vec![put(&table, "Z"), check(&table, "Y")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["None", "TransactionConflict"]);
    pause.resume();
    writing.await.expect("joined").expect("the write commits");
    assert!(!exists(&table, "Z").await);
    assert_eq!(emulator.stats().transactions_cancelled_conflict, 2);
}

#[tokio::test]
async fn a_plain_write_on_a_held_item_fails_with_transaction_conflict_exception() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let (pause, holding) = held(&emulator, &client, vec![bump(&table, "X")]).await;

    let put = client
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 10)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let PutItemError::TransactionConflictException(conflict) = put else {
        panic!("expected TransactionConflictException, got {put:?}");
    };
    assert_eq!(conflict.message.as_deref(), Some(CONFLICT_MESSAGE));
    let update = client
        .update_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("v"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        update,
        UpdateItemError::TransactionConflictException(_)
    ));
    let delete = client
        .delete_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        delete,
        DeleteItemError::TransactionConflictException(_)
    ));

    // Reads are not blocked (the last committed value: none yet).
    let read = client
        .get_item()
        .table_name(&table)
        .set_key(Some(key("X")))
        .consistent_read(true)
        .send()
        .await
        .expect("a read passes");
    assert!(read.item.is_none());
    // A write on another item is admitted (it waits behind the pause like the transaction).
    let other = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item("Y", 10)))
                .send()
                .await
        })
    };
    pause.parked(2).await;

    pause.resume();
    holding
        .await
        .expect("joined")
        .expect("the transaction commits");
    other
        .await
        .expect("joined")
        .expect("a free item is written");
    assert_eq!(counter(&table, "X").await, Some(1));
    let stats = emulator.stats();
    assert_eq!((stats.writes, stats.write_conflicts), (4, 3));
    assert_eq!(stats.hottest(1)[0].conflicts, 3);
}

#[tokio::test]
async fn after_the_hold_ends_the_item_is_free_again() {
    let hold = Duration::from_millis(1000);
    let emulator = start(Settings::default().hold(hold)).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let sent = Instant::now();
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    // Still held after the answer, for the hold time.
    assert!(emulator.is_held(&table, &json_key("X")));
    let error = transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["TransactionConflict"]);

    while emulator.is_held(&table, &json_key("X")) {
        assert!(sent.elapsed() < hold * 10, "the hold never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It ended no sooner than the hold time after the answer (itself after `sent`).
    assert!(sent.elapsed() >= hold);
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("free again");
    assert_eq!(counter(&table, "X").await, Some(2));
}

#[tokio::test]
async fn held_from_acceptance_an_item_is_free_after_the_hold_even_while_its_transaction_is_upstream(
) {
    let hold = Duration::from_millis(200);
    let emulator = start(
        Settings::default()
            .hold(hold)
            .hold_from(HoldFrom::Acceptance),
    )
    .await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;

    let accepted = Instant::now();
    // The first transaction stays "with DynamoDB Local" (parked) for as long as the test likes.
    let (pause, first) = held(&emulator, &client, vec![bump(&table, "X")]).await;
    assert!(emulator.is_held(&table, &json_key("X")));
    while emulator.is_held(&table, &json_key("X")) {
        assert!(accepted.elapsed() < hold * 25, "the hold never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(accepted.elapsed() >= hold);
    // Its answer is still outstanding, yet a second transaction on X is admitted.
    assert!(!first.is_finished());
    let second = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move { transact(&client, vec![bump(&table, "X")]).await })
    };
    pause.parked(2).await;
    pause.resume();
    first.await.expect("joins").expect("commits");
    second.await.expect("joins").expect("commits");
    assert_eq!(counter(&table, "X").await, Some(2));
    assert_eq!(emulator.stats().transactions_cancelled_conflict, 0);
}

#[tokio::test]
async fn a_transactional_read_of_a_held_item_is_cancelled() {
    // No hold after the answer: each step starts from free items.
    let emulator = start(Settings::default().hold(Duration::ZERO)).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    let get = |pk: &str| {
        let get = Get::builder()
            .table_name(&table)
            .set_key(Some(key(pk)))
            .build()
            .expect("get");
        TransactGetItem::builder().get(get).build()
    };

    let (pause, holding) = held(&emulator, &client, vec![bump(&table, "X")]).await;
    let error = client
        .transact_get_items()
        .transact_items(get("Y"))
        .transact_items(get("X"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let TransactGetItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons = cancelled.cancellation_reasons.unwrap_or_default();
    assert_eq!(codes(&reasons), ["None", "TransactionConflict"]);
    pause.resume();
    holding.await.expect("joined").expect("commits");

    // A write that lands while the read is with DynamoDB cancels the read too.
    let pause = emulator.pause();
    let reading = {
        let client = client.clone();
        let items = vec![get("X"), get("Y")];
        tokio::spawn(async move {
            client
                .transact_get_items()
                .set_transact_items(Some(items))
                .send()
                .await
        })
    };
    pause.parked(1).await;
    let writing = {
        let (client, table) = (client.clone(), table.clone());
        tokio::spawn(async move {
            client
                .put_item()
                .table_name(&table)
                .set_item(Some(item("Y", 10)))
                .send()
                .await
        })
    };
    pause.parked(2).await;
    pause.resume();
    writing.await.expect("joined").expect("the write passes");
    let error = reading
        .await
        .expect("joined")
        .unwrap_err()
        .into_service_error();
    let TransactGetItemsError::TransactionCanceledException(cancelled) = error else {
        panic!("expected TransactionCanceledException, got {error:?}");
    };
    let reasons = cancelled.cancellation_reasons.unwrap_or_default();
    assert_eq!(codes(&reasons), ["None", "TransactionConflict"]);

    let read = client
        .transact_get_items()
        .transact_items(get("X"))
        .transact_items(get("Y"))
        .send()
        .await
        .expect("nothing overlaps now");
    assert_eq!(read.responses.unwrap_or_default().len(), 2);
    let stats = emulator.stats();
    assert_eq!(
        (stats.transact_gets, stats.transact_gets_cancelled_conflict),
        (3, 2)
    );
}

/// Sends one raw JSON 1.0 request, as an SDK would, and returns the status and body.
async fn raw(endpoint: &str, operation: &str, body: serde_json::Value) -> (u16, String, String) {
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
        )
        .header("x-amz-date", "20260101T000000Z")
        .body(body.to_string())
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.expect("a body"))
}

#[tokio::test]
async fn other_traffic_passes_through_unchanged() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    let direct = upstream();
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 100)))
        .send()
        .await
        .expect("put");

    let requests = [
        (
            "GetItem",
            json!({"TableName": table, "Key": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}}, "ConsistentRead": true}),
        ),
        (
            "Query",
            json!({"TableName": table, "KeyConditionExpression": "pk = :pk",
                          "ExpressionAttributeValues": {":pk": {"S": "X"}}}),
        ),
        ("DescribeTable", json!({"TableName": table})),
        (
            "GetItem",
            json!({"TableName": "no-such-table", "Key": {"pk": {"S": "X"}}}),
        ),
        // An upstream refusal comes back as it was: a failed condition, a bad request.
        (
            "PutItem",
            json!({"TableName": table, "Item": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}),
        ),
        (
            "TransactWriteItems",
            json!({"TransactItems": [
            {"Update": {"TableName": table, "Key": {"pk": {"S": "X"}, "sk": {"S": "ITEM"}},
                        "UpdateExpression": "SET v = :v", "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":v": {"S": "v"}}}}]}),
        ),
        ("PutItem", json!({"TableName": table})),
        ("NoSuchOperation", json!({})),
    ];
    for (operation, body) in requests {
        let expected = raw(&direct, operation, body.clone()).await;
        let through = raw(emulator.endpoint(), operation, body).await;
        assert_eq!(through, expected, "{operation} through the emulator");
    }

    // The same item read back through the SDK both ways.
    let read = |endpoint: String| {
        let table = table.clone();
        async move {
            client_with(&endpoint, RetryConfig::disabled())
                .get_item()
                .table_name(&table)
                .set_key(Some(key("X")))
                .consistent_read(true)
                .send()
                .await
                .expect("get")
                .item
        }
    };
    assert_eq!(
        read(emulator.endpoint().to_string()).await,
        read(direct.clone()).await
    );
    let stats = emulator.stats();
    assert_eq!(stats.conflicts() + stats.throttles, 0);
    // The body DynamoDB refuses (no Item) could not be emulated; everything else was.
    assert_eq!(stats.unemulated, 1);
}

#[tokio::test]
async fn throttling_refuses_writes_over_an_items_rate_as_dynamodb_does() {
    // 10 units per minute: nothing refills during the test.
    let throttle = Throttle {
        units: 10,
        per: Duration::from_secs(60),
    };
    // No hold: back-to-back transactions on Z would conflict within it (this test is about
    // the rate alone).
    let emulator = start(Settings::default().hold(Duration::ZERO).throttle(throttle)).await;
    let client = client_with(emulator.endpoint(), RetryConfig::disabled());
    let table = table(&client).await;
    let put_item = |pk: &str, padding: usize| {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(item(pk, padding)))
            .send()
    };

    // A small item: 1 unit per write, 10 pass, the 11th is throttled.
    for _ in 0..10 {
        put_item("X", 10).await.expect("within the rate");
    }
    let error = put_item("X", 10).await.unwrap_err().into_service_error();
    let PutItemError::ProvisionedThroughputExceededException(throttled) = error else {
        panic!("expected ProvisionedThroughputExceededException, got {error:?}");
    };
    let reason = &throttled.throttling_reasons()[0];
    assert_eq!(
        reason.reason.as_deref(),
        Some("TableWriteKeyRangeThroughputExceeded")
    );
    assert_eq!(
        reason.resource.as_deref(),
        Some(format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}").as_str())
    );
    // Another item has its own rate.
    put_item("Y", 10).await.expect("another item");

    // A 2.5 KB item costs 3 units a write: three pass (9 units), the fourth does not.
    for _ in 0..3 {
        put_item("BIG", 2500).await.expect("within the rate");
    }
    assert!(put_item("BIG", 2500).await.is_err());

    // In a transaction each item costs 2 units per KB: five pass on Z, the sixth is
    // cancelled with ThrottlingError on Z only, and W is not charged for it.
    for _ in 0..5 {
        transact(&client, vec![bump(&table, "Z")])
            .await
            .expect("within the rate");
    }
    let error = transact(&client, vec![put(&table, "W"), bump(&table, "Z")])
        .await
        .unwrap_err();
    assert_eq!(codes(&reasons(error)), ["None", "ThrottlingError"]);
    for _ in 0..5 {
        transact(&client, vec![put(&table, "W")])
            .await
            .expect("W has its 10 units");
    }
    assert_eq!(counter(&table, "Z").await, Some(5));

    let stats = emulator.stats();
    assert_eq!(stats.writes_throttled, 2);
    assert_eq!(stats.transactions_cancelled_throttle, 1);
    assert_eq!(stats.throttles, 3);
    assert_eq!(stats.write_units, 10 + 1 + 9 + 5 * 2 + 5 * 2);

    // The SDK retries a throttled write as it retries DynamoDB's: three attempts, all seen.
    let retrying = client_with(
        emulator.endpoint(),
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1)),
    );
    let error = retrying
        .put_item()
        .table_name(&table)
        .set_item(Some(item("X", 10)))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        error,
        PutItemError::ProvisionedThroughputExceededException(_)
    ));
    assert_eq!(emulator.stats().writes_throttled, 2 + 3);
}

#[tokio::test]
async fn the_key_schema_is_asked_of_dynamodb_when_no_table_traffic_came_through() {
    let emulator = start(Settings::default()).await;
    let client = client(emulator.endpoint());
    // Created directly on DynamoDB Local, with a key named neither pk nor sk.
    let table = unique("elsewhere");
    client_with(&upstream(), RetryConfig::disabled())
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create the table");
    let row = |extra: &str| {
        HashMap::from([
            ("id".to_string(), AttributeValue::N("7".into())),
            ("v".to_string(), s(extra)),
        ])
    };

    let put = Put::builder()
        .table_name(&table)
        .set_item(Some(row("first")))
        .build()
        .expect("put");
    let (pause, holding) = held(
        &emulator,
        &client,
        vec![TransactWriteItem::builder().put(put).build()],
    )
    .await;
    let error = client
        .put_item()
        .table_name(&table)
        .set_item(Some(row("second")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(
        error,
        PutItemError::TransactionConflictException(_)
    ));
    pause.resume();
    holding.await.expect("joined").expect("commits");
    let stats = emulator.stats();
    assert_eq!(stats.unemulated, 0);
    assert_eq!(stats.hottest(1)[0].item, format!("{table} id=7"));
}

#[tokio::test]
async fn the_stats_are_served_as_json_and_can_be_zeroed() {
    let emulator = start(Settings::default().hold(Duration::from_secs(600))).await;
    let client = client(emulator.endpoint());
    let table = table(&client).await;
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    transact(&client, vec![bump(&table, "X")])
        .await
        .unwrap_err();

    let url = format!("{}/_stats", emulator.endpoint());
    let http = reqwest::Client::new();
    let served: Stats = http
        .get(&url)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(served, emulator.stats());
    assert_eq!(served.transactions_cancelled_conflict, 1);
    assert_eq!(served.held_items, 1);

    let zeroed = http.delete(&url).send().await.expect("reset");
    assert_eq!(zeroed.status().as_u16(), 204);
    let stats = emulator.stats();
    assert_eq!(
        (stats.requests, stats.transactions, stats.items.len()),
        (0, 0, 0)
    );
    // The hold is state, not a count: it stays.
    assert!(emulator.is_held(&table, &json_key("X")));
}

#[tokio::test]
async fn the_binary_prints_where_it_listens_and_serves_the_stats() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let mut child = Command::new(env!("CARGO_BIN_EXE_ddb-contention"))
        .args([
            "--upstream",
            &upstream(),
            "--hold-ms",
            "5",
            "--throttle-wcu",
            "1000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its first line");
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"));

    let client = client(&endpoint);
    let table = table(&client).await;
    transact(&client, vec![bump(&table, "X")])
        .await
        .expect("commits");
    let stats: Stats = reqwest::get(format!("{endpoint}/_stats"))
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(stats.transactions, 1);
    assert_eq!(stats.write_units, 2);

    child.kill().expect("stop the binary");
    child.wait().expect("reap the binary");
}
