//! What the emulator's tests and its measurement example share: SDK clients, a `pk`/`sk`
//! table, items and transaction actions. (Used, through `#[path]`, by `tests/contention/main.rs`
//! and `examples/measure.rs`; not every user needs every helper.)
#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, KeySchemaElement, KeyType,
    Put, ScalarAttributeType, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

/// DynamoDB Local's endpoint, as the project's test harness finds it.
pub fn upstream() -> String {
    std::env::var("CHECKOUT_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "CHECKOUT_TEST_DYNAMODB_ENDPOINT is not set: run the suite with scripts/test.sh, which \
             starts DynamoDB Local (or `scripts/backends.sh start` and source its env)"
        )
    })
}

/// An SDK client for `endpoint` as the harness builds one (one region, test credentials).
pub fn client_with(endpoint: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "local"))
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

/// Creates the table `name` keyed `pk`/`sk` (strings) through `client`.
pub async fn create_table(client: &Client, name: &str) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .expect("create the table");
}

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

pub fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s("ITEM"))])
}

/// The item `pk` with `padding` bytes of data.
pub fn item(pk: &str, padding: usize) -> HashMap<String, AttributeValue> {
    let mut item = key(pk);
    item.insert("data".to_string(), s(&"x".repeat(padding)));
    item
}

/// A `Put` of the item `pk` with `padding` bytes of data.
pub fn put_of(table: &str, pk: &str, padding: usize) -> TransactWriteItem {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item(pk, padding)))
        .build()
        .expect("put");
    TransactWriteItem::builder().put(put).build()
}

/// A `Put` of a small item (under 1 KB).
pub fn put(table: &str, pk: &str) -> TransactWriteItem {
    put_of(table, pk, 10)
}

/// `ADD n 1` on the item: a counter, like a stock shard.
pub fn bump(table: &str, pk: &str) -> TransactWriteItem {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(pk)))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .expect("update");
    TransactWriteItem::builder().update(update).build()
}

/// A `ConditionCheck` of the item that passes unless it is `locked`.
pub fn check(table: &str, pk: &str) -> TransactWriteItem {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(pk)))
        .condition_expression("attribute_not_exists(locked)")
        .build()
        .expect("condition check");
    TransactWriteItem::builder().condition_check(check).build()
}

pub async fn transact(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), SdkError<TransactWriteItemsError>> {
    client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .map(|_| ())
}
