//! Merchants' search (`OrderStore::search_orders`) over index `gsi3`, or over a customer's
//! history in `gsi1` when the search names the customer.
//!
//! `gsi3` keeps every order under its creation month and one of 16 shards
//! (`schema::order_search_partition`), sorted by its history key. A search reads the months
//! from the newest its range reaches back to the oldest; within a month it queries the 16
//! shards side by side (newest first) and merges them, so the listing is in history-key order
//! across shards and months. The index keeps keys only: the orders behind a run of merged keys
//! are read by key (one consistent `BatchGetItem`) and the filters applied to them as they are
//! now. Filtered-out orders and DynamoDB's page cuts (`LastEvaluatedKey`) only mean reading on:
//! a page ends when it is full or the range is exhausted, or, so that no request runs
//! unbounded, when it has spent `SEARCH_BUDGET` reads; its cursor then says where it stopped
//! and the next page goes on from there.

use std::collections::{HashMap, VecDeque};

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use checkout_domain::model::order::Order;
use checkout_domain::ports::orders::{history_key, KeyRange, OrderFilter, OrderPage};
use checkout_domain::usecases::order_search::month_start;
use checkout_domain::StoreError;

use super::codec::from_item;
use super::expr::{store_error, Item};
use super::schema::{
    customer_history, search_month, search_partition, HISTORY_INDEX, SEARCH_DRAFTS, SEARCH_INDEX,
    SEARCH_ORDERS, SEARCH_SHARDS,
};
use super::DynamoStore;

/// What one search request may read before it answers the page so far: index Query requests
/// plus orders read by key. An empty month costs 16 (its shards); 24 empty months 384. At
/// this bound a request reads at most ~2,000 orders (about 20 `BatchGetItem`s), well inside
/// API Gateway's 30 s.
pub(crate) const SEARCH_BUDGET: usize = 2_000;

/// The most keys read by key in one `BatchGetItem`.
const MAX_BATCH: usize = 100;

/// An index and its key attributes.
#[derive(Clone, Copy)]
struct Index {
    name: &'static str,
    pk: &'static str,
    sk: &'static str,
}

const SEARCH: Index = Index {
    name: SEARCH_INDEX,
    pk: "gsi3pk",
    sk: "gsi3sk",
};

const HISTORY: Index = Index {
    name: HISTORY_INDEX,
    pk: "gsi1pk",
    sk: "gsi1sk",
};

/// Index partitions whose keys are merged into one order: a month's shards, or a customer's
/// history. Groups are read one after another, newest first.
struct Group {
    partitions: Vec<String>,
    /// The position every key of the groups after this one lies below (this month's first
    /// nanosecond); `None` for the last group of the range.
    floor: Option<String>,
}

/// One index partition, read newest first: its keys read and not yet merged, and where its
/// next Query page starts.
struct Partition {
    name: String,
    keys: VecDeque<(String, Item)>,
    start: Option<Item>,
    done: bool,
}

/// The month groups of `range` in the partitions of `kind`, newest month first.
fn month_groups(range: &KeyRange, kind: &str) -> Vec<Group> {
    let first = range.first_nanos();
    let mut at = range.last_nanos();
    let mut groups = Vec::new();
    loop {
        let month = search_month(at);
        let start = OffsetDateTime::from_unix_timestamp_nanos(at)
            .map(|at| month_start(at, 0).unix_timestamp_nanos())
            .unwrap_or_default();
        let floor = (start > first).then(|| format!("{start:020}"));
        groups.push(Group {
            partitions: (0..SEARCH_SHARDS)
                .map(|shard| search_partition(kind, &month, shard))
                .collect(),
            floor: floor.clone(),
        });
        if floor.is_none() {
            return groups;
        }
        at = start - 1;
    }
}

/// The first `limit` orders found, and the position after the last of them if more were.
fn page(mut found: Vec<(String, Order)>, limit: usize) -> OrderPage {
    let next = (found.len() > limit).then(|| found[limit - 1].0.clone());
    found.truncate(limit);
    OrderPage {
        orders: found.into_iter().map(|(_, order)| order).collect(),
        next,
    }
}

impl DynamoStore {
    pub(super) async fn search(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        if range.is_empty() || limit == 0 {
            return Ok(page(Vec::new(), limit));
        }
        // One more than a page, to know whether another follows.
        let wanted = limit + 1;
        let (index, groups) = match &filter.customer {
            Some(customer) => (
                HISTORY,
                vec![Group {
                    partitions: vec![customer_history(customer)],
                    floor: None,
                }],
            ),
            None => {
                let kind = match filter.drafts() {
                    true => SEARCH_DRAFTS,
                    false => SEARCH_ORDERS,
                };
                (SEARCH, month_groups(range, kind))
            }
        };
        let mut found: Vec<(String, Order)> = Vec::with_capacity(wanted);
        let mut budget = self.search_budget;
        // Keys read by key at once: what the page still needs, doubling while filters turn
        // orders away.
        let mut batch_size = wanted.min(MAX_BATCH);
        for group in groups {
            let mut partitions: Vec<Partition> = group
                .partitions
                .into_iter()
                .map(|name| Partition {
                    name,
                    keys: VecDeque::new(),
                    start: None,
                    done: false,
                })
                .collect();
            let mut batch: Vec<(String, Item)> = Vec::new();
            loop {
                // The newest key of the group is known once every partition that may still
                // hold keys has one at hand.
                let empty: Vec<usize> = (0..partitions.len())
                    .filter(|&i| partitions[i].keys.is_empty() && !partitions[i].done)
                    .collect();
                if !empty.is_empty() {
                    budget = budget.saturating_sub(empty.len());
                    self.read_partitions(index, range, &mut partitions, &empty, batch_size)
                        .await?;
                    continue;
                }
                let newest = partitions
                    .iter_mut()
                    .filter(|p| !p.keys.is_empty())
                    .max_by(|a, b| a.keys[0].0.cmp(&b.keys[0].0));
                let exhausted = newest.is_none();
                if let Some(partition) = newest {
                    batch.extend(partition.keys.pop_front());
                }
                if batch.len() >= batch_size || (exhausted && !batch.is_empty()) {
                    budget = budget.saturating_sub(batch.len());
                    let examined = batch.last().map(|(key, _)| key.clone());
                    found.extend(
                        self.orders_at(std::mem::take(&mut batch))
                            .await?
                            .into_iter()
                            .filter(|(_, order)| filter.matches(order)),
                    );
                    if found.len() >= wanted {
                        return Ok(page(found, limit));
                    }
                    if budget == 0 {
                        // Every key above `examined` was looked at: the next page goes on below.
                        let mut short = page(found, limit);
                        short.next = examined;
                        return Ok(short);
                    }
                    batch_size = (batch_size * 2).min(MAX_BATCH);
                }
                if exhausted {
                    break;
                }
            }
            if budget == 0 {
                if let Some(floor) = group.floor {
                    let mut short = page(found, limit);
                    short.next = Some(floor);
                    return Ok(short);
                }
            }
        }
        Ok(page(found, limit))
    }

    /// Reads the next Query page of each partition in `which`, side by side: keys in
    /// `range`, newest first.
    async fn read_partitions(
        &self,
        index: Index,
        range: &KeyRange,
        partitions: &mut [Partition],
        which: &[usize],
        batch_size: usize,
    ) -> Result<(), StoreError> {
        let limit = self.page_limit(batch_size);
        let mut queries = JoinSet::new();
        for &i in which {
            let partition = &partitions[i];
            // BETWEEN is inclusive: the key equal to `before` (a cursor's own) is dropped below.
            let query = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(index.name)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :before")
                .expression_attribute_names("#pk", index.pk)
                .expression_attribute_names("#sk", index.sk)
                .expression_attribute_values(":pk", AttributeValue::S(partition.name.clone()))
                .expression_attribute_values(":from", AttributeValue::S(range.from.clone()))
                .expression_attribute_values(":before", AttributeValue::S(range.before.clone()))
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(partition.start.clone());
            queries.spawn(async move { (i, query.send().await) });
        }
        while let Some(answer) = queries.join_next().await {
            let (i, output) = answer.map_err(|e| StoreError::new(format!("search query: {e}")))?;
            let output = output.map_err(store_error)?;
            let partition = &mut partitions[i];
            for item in output.items.unwrap_or_default() {
                let Some(AttributeValue::S(sort_key)) = item.get(index.sk) else {
                    continue;
                };
                if *sort_key == range.before {
                    continue;
                }
                let sort_key = sort_key.clone();
                let key: Item = item
                    .into_iter()
                    .filter(|(name, _)| name == "pk" || name == "sk")
                    .collect();
                partition.keys.push_back((sort_key, key));
            }
            partition.start = output.last_evaluated_key.filter(|key| !key.is_empty());
            partition.done = partition.start.is_none();
        }
        Ok(())
    }

    /// The orders behind merged index keys, in their order, read consistently. An index
    /// entry is eventually consistent: one whose order has moved on (a draft processed since,
    /// created anew) no longer matches its order's history key and is skipped.
    async fn orders_at(
        &self,
        batch: Vec<(String, Item)>,
    ) -> Result<Vec<(String, Order)>, StoreError> {
        let pk = |key: &Item| match key.get("pk") {
            Some(AttributeValue::S(pk)) => Some(pk.clone()),
            _ => None,
        };
        // A key listed twice (an entry and its stale copy) is read once.
        let mut keys: HashMap<String, Item> = HashMap::new();
        for (_, key) in &batch {
            if let Some(pk) = pk(key) {
                keys.entry(pk).or_insert_with(|| key.clone());
            }
        }
        let mut orders: HashMap<String, Order> = HashMap::new();
        for item in self.batch_get_items(keys.into_values().collect()).await? {
            if let Some(pk) = pk(&item) {
                orders.insert(pk, from_item(item)?);
            }
        }
        Ok(batch
            .into_iter()
            .filter_map(|(sort_key, key)| {
                let order = orders.get(&pk(&key)?)?;
                (history_key(order) == sort_key).then(|| (sort_key, order.clone()))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(at: OffsetDateTime) -> i128 {
        at.unix_timestamp_nanos()
    }

    #[test]
    fn a_range_reads_its_months_newest_first_with_their_floors() {
        use time::macros::datetime;
        let range = KeyRange {
            from: format!("{:020}", nanos(datetime!(2025-12-15 0:00 UTC))),
            before: format!("{:020}", nanos(datetime!(2026-02-01 0:00 UTC))),
        };
        let groups = month_groups(&range, SEARCH_ORDERS);
        let months: Vec<&str> = groups.iter().map(|g| g.partitions[0].as_str()).collect();
        assert_eq!(months, ["ORDERS#2026-01#0", "ORDERS#2025-12#0"]);
        assert_eq!(groups[0].partitions.len(), 16);
        assert_eq!(
            groups[0].floor.as_deref(),
            Some(format!("{:020}", nanos(datetime!(2026-01-01 0:00 UTC))).as_str())
        );
        assert_eq!(groups[1].floor, None);
        // A range inside one month is one group.
        let range = KeyRange {
            from: format!("{:020}", nanos(datetime!(2026-01-01 0:00 UTC))),
            before: format!("{:020}#A-1", nanos(datetime!(2026-01-31 23:59 UTC))),
        };
        assert_eq!(month_groups(&range, SEARCH_DRAFTS).len(), 1);
        assert_eq!(
            month_groups(&range, SEARCH_DRAFTS)[0].partitions[15],
            "DRAFTS#2026-01#15"
        );
    }
}
