//! The DynamoDB single-table store. Every invariant is a condition expression, never a
//! read-then-write.
//!
//! - [`schema`]: every key and index format, the serde names conditions use, `create_table`;
//! - [`codec`]: items (the domain's serde forms under a key) and stream images;
//! - [`expr`]: the expression builder, the failed-condition reading, SDK errors;
//! - one file per port: [`catalog`], [`carts`], [`commit`] and [`orders`], [`payments`],
//!   [`idempotency`] (requests, webhook events and the subscribers' effects), [`sweep`], [`claims`]
//!   (guest claim tickets), [`gift_cards`].

use aws_sdk_dynamodb::types::{CancellationReason, KeysAndAttributes, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

use checkout_domain::StoreError;

pub mod codec;
pub(crate) mod expr;
pub(crate) mod schema;

mod carts;
mod catalog;
mod claims;
mod code_counters;
mod commit;
mod gift_cards;
mod idempotency;
mod order_search;
mod orders;
mod payments;
mod reservations;
mod saved_orders;
mod sweep;

pub use codec::order_from_image;

use codec::from_item;
use expr::{store_error, Item};

/// Retries for unprocessed batch keys: DynamoDB returns them under throttling.
const BATCH_ATTEMPTS: usize = 8;

/// How a read is served: strongly consistent (1 read unit per 4 KB, by the partition's
/// leader), or eventually consistent (half that, by any replica).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Consistent,
    Eventual,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// At most this many items per paginated Query page (`None`: DynamoDB's own 1 MB cut).
    query_page_items: Option<usize>,
    /// What one merchant's search may read before it answers the page so far
    /// (`order_search::SEARCH_BUDGET` unless a test sets another).
    search_budget: usize,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            query_page_items: None,
            search_budget: order_search::SEARCH_BUDGET,
        }
    }

    /// The same store, with every paginated Query page cut after `items` items, as DynamoDB
    /// cuts a page at 1 MB (the reply carries `LastEvaluatedKey` either way). For tests: it
    /// makes the cut happen with small items.
    pub fn with_query_page_items(mut self, items: usize) -> Self {
        self.query_page_items = Some(items.max(1));
        self
    }

    /// The same store, whose merchants' searches stop at `reads` (index queries plus orders
    /// read) and answer the page so far with a cursor. For tests.
    pub fn with_search_budget(mut self, reads: usize) -> Self {
        self.search_budget = reads.max(1);
        self
    }

    /// The `Limit` of the next Query page when `wanted` more items are needed.
    fn page_limit(&self, wanted: usize) -> i32 {
        let items = self.query_page_items.map_or(wanted, |cap| wanted.min(cap));
        i32::try_from(items).unwrap_or(i32::MAX)
    }

    /// A store over `table`, with a client built from the shared SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as `template.yaml` declares it (keys, indexes, stream). For tests and
    /// the local server; deployments create it through CloudFormation.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        schema::create_table(&self.client, &self.table, true).await
    }

    /// The same table without its stream, for tests that never read it: DynamoDB Local's
    /// every write costs more with each stream it keeps (it looks the table's stream up in
    /// all of them), and a test run makes hundreds.
    pub async fn create_table_without_stream(&self) -> Result<(), StoreError> {
        schema::create_table(&self.client, &self.table, false).await
    }

    /// Writes `items` in one transaction: `Ok(Err(reasons))` when it was cancelled (one
    /// reason per item, in order), `Err` for every other failure.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<CancellationReason>>, StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        Ok(expr::transaction(result)?.map(|_| ()))
    }

    async fn get<T: DeserializeOwned>(&self, key: Item) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(from_item).transpose()
    }

    /// Every entry of `gsi1` partition `pk` (keys only, as the index projects), all pages.
    async fn gsi1_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::HISTORY_INDEX)
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            entries.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(entries);
            }
        }
    }

    async fn batch_get<T: DeserializeOwned>(&self, keys: Vec<Item>) -> Result<Vec<T>, StoreError> {
        self.batch_get_items(keys)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Strongly consistent items by key, any order, retrying what DynamoDB left unprocessed.
    async fn batch_get_items(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        self.batch_get_items_read(keys, Read::Consistent).await
    }

    /// Items by key, read as `read` says, any order, retrying what DynamoDB left unprocessed.
    async fn batch_get_items_read(
        &self,
        keys: Vec<Item>,
        read: Read,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(read == Read::Consistent)
                    .build()
                    .map_err(|e| StoreError::new(e.to_string()))?,
            );
            let mut attempts = 0;
            while let Some(request) = pending.take() {
                attempts += 1;
                if attempts > BATCH_ATTEMPTS {
                    return Err(StoreError::new("batch read still throttled after retries"));
                }
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(store_error)?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    found.push(item);
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .filter(|rest| !rest.keys.is_empty());
                if pending.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempts.min(6)))
                        .await;
                }
            }
        }
        Ok(found)
    }
}
