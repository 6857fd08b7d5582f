//! Capacity counted by DynamoDB's documented rules, not as DynamoDB Local reports it (rule 12:
//! DynamoDB Local under-reports what transactions consume).
//!
//! A [`Sizer`] is an HTTP proxy in front of DynamoDB Local, only ever used by one piece of
//! work at a time (never under concurrency). For each write request it reads every item the
//! request names before and after (consistent `GetItem`s upstream, which it does not record),
//! so each item's size is known from its stored images; for each read it keeps the items
//! returned. [`units`] then applies the rules:
//!
//! * a plain write: 1 write unit per started KB of the item, a transactional one 2 (DynamoDB
//!   "performs two underlying reads or writes of every item in the transaction"); each item
//!   rounded up on its own, at least 1 KB;
//! * the item's size: a put's new item (the larger of old and new when it replaces one), an
//!   update's larger of the item before and after, a delete's item before;
//! * a `ConditionCheck` in a transaction: 2 write units per started KB of the item checked
//!   (counted as a transactional write, the conservative reading: the documentation bills
//!   every item of a `TransactWriteItems` at 2 units per KB; see `docs/capacity.md`);
//! * each global secondary index the write affects (all three of this table's keep keys only):
//!   an item entering the index 1 unit per KB of its index entry (the table's and the index's
//!   key attributes), leaving it 1, an index key changing 2 (delete and put), nothing when the
//!   item is in the index neither before nor after or its index keys stay as they were (no
//!   projected attribute besides the keys changes);
//! * reads: 1 read unit per started 4 KB of each item read (`GetItem`, `BatchGetItem`), of a
//!   `Query`'s items summed, half that when eventually consistent, twice in a transaction.
//!
//! Only requests DynamoDB Local answered with 200 are counted (a refused conditional write
//! also costs capacity in DynamoDB; the bench's samples have none).

mod sizer;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use ddb_contention::request::item_size;
use serde_json::{Map, Value};

pub use sizer::Sizer;

/// The table's key attributes (`shared/adapters/src/dynamodb/schema/create.rs`, `create_table`).
pub const TABLE_KEYS: [&str; 2] = ["pk", "sk"];

/// The table's global secondary indexes: name, partition key, sort key. All three project keys
/// only. [`check_layout`] compares this with the table's description.
pub const INDEXES: [(&str, &str, &str); 3] = [
    ("gsi1", "gsi1pk", "gsi1sk"),
    ("gsi2", "gsi2pk", "gsi2sk"),
    ("gsi3", "gsi3pk", "gsi3sk"),
];

const KB: usize = 1024;

/// What a transaction or a plain write does to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Action {
    Put,
    Update,
    Delete,
    Check,
}

/// One item of a write request, with its stored images.
#[derive(Debug, Clone)]
pub struct ItemWrite {
    pub action: Action,
    pub key: Map<String, Value>,
    pub before: Option<Map<String, Value>>,
    pub after: Option<Map<String, Value>>,
}

/// One write request DynamoDB Local carried out.
#[derive(Debug, Clone)]
pub struct Write {
    pub operation: String,
    pub transactional: bool,
    pub items: Vec<ItemWrite>,
}

/// One read request, with the items it returned.
#[derive(Debug, Clone)]
pub struct Read {
    pub operation: String,
    pub consistent: bool,
    pub items: Vec<Map<String, Value>>,
}

/// Bytes of an item as DynamoDB counts them (0 for none).
fn size(item: Option<&Map<String, Value>>) -> usize {
    item.map_or(0, item_size)
}

/// Started KB of `bytes`, at least one.
pub fn kilobytes(bytes: usize) -> u64 {
    (bytes.div_ceil(KB) as u64).max(1)
}

/// The size that counts for a write of `item`.
pub fn billed_size(item: &ItemWrite) -> usize {
    let (before, after) = (size(item.before.as_ref()), size(item.after.as_ref()));
    match item.action {
        Action::Put | Action::Update => before.max(after),
        Action::Delete | Action::Check => before,
    }
}

/// The index entry of `image` in the index with keys `pk`/`sk` (keys only), when it has one.
fn index_entry(
    image: Option<&Map<String, Value>>,
    pk: &str,
    sk: &str,
) -> Option<Map<String, Value>> {
    let image = image?;
    if !image.contains_key(pk) || !image.contains_key(sk) {
        return None;
    }
    Some(
        TABLE_KEYS
            .iter()
            .chain([pk, sk].iter())
            .filter_map(|name| Some((name.to_string(), image.get(*name)?.clone())))
            .collect(),
    )
}

/// Write units the index with keys `pk`/`sk` takes for `item` (keys only: nothing when the
/// item's entry stays the same).
pub fn index_units(item: &ItemWrite, pk: &str, sk: &str) -> u64 {
    if item.action == Action::Check {
        return 0;
    }
    let before = index_entry(item.before.as_ref(), pk, sk);
    let after = index_entry(item.after.as_ref(), pk, sk);
    match (before, after) {
        (None, None) => 0,
        (None, Some(entry)) | (Some(entry), None) => kilobytes(item_size(&entry)),
        (Some(old), Some(new)) if old == new => 0,
        (Some(old), Some(new)) => kilobytes(item_size(&old)) + kilobytes(item_size(&new)),
    }
}

/// One item's share of a write's capacity.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ItemCost {
    /// The item's kind: its partition key's prefix and its sort key (`CART/ORDER`).
    pub item: String,
    pub action: Action,
    pub bytes: usize,
    pub write_units: u64,
    /// Per index, the units it took (only indexes that took any).
    pub index_units: BTreeMap<String, u64>,
}

/// Capacity of a piece of work by the rules above.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Computed {
    /// The table's write units (indexes not included).
    pub table_write_units: u64,
    /// Per index.
    pub index_write_units: BTreeMap<String, u64>,
    pub read_units: f64,
    /// Per write request: the operation and each item's share.
    pub writes: Vec<(String, Vec<ItemCost>)>,
    /// Read units spent on each item read, by its key (`pk/sk`).
    pub reads_by_item: BTreeMap<String, f64>,
}

impl Computed {
    pub fn index_total(&self) -> u64 {
        self.index_write_units.values().sum()
    }

    pub fn write_total(&self) -> u64 {
        self.table_write_units + self.index_total()
    }

    /// The items written by transactions, with their units (the commit's breakdown).
    pub fn transaction_items(&self) -> impl Iterator<Item = &ItemCost> {
        self.writes
            .iter()
            .filter(|(op, _)| op == "TransactWriteItems")
            .flat_map(|(_, items)| items)
    }
}

/// `PRODUCT/STOCK` for `PRODUCT#SKU#3 / STOCK`: what kind of item a key names.
pub fn kind(key: &Map<String, Value>) -> String {
    let part = |name: &str| {
        key.get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let pk = part("pk");
    format!("{}/{}", pk.split('#').next().unwrap_or("?"), part("sk"))
}

/// `pk/sk` of an item or key.
pub fn key_name(item: &Map<String, Value>) -> String {
    let part = |name: &str| {
        item.get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    format!("{}/{}", part("pk"), part("sk"))
}

/// Read units of one item of `bytes` read (or summed by a query).
pub fn read_units(bytes: usize, consistent: bool, transactional: bool) -> f64 {
    let units = (bytes.div_ceil(4 * KB) as f64).max(1.0);
    match (transactional, consistent) {
        (true, _) => 2.0 * units,
        (false, true) => units,
        (false, false) => units / 2.0,
    }
}

/// The capacity of `writes` and `reads` by DynamoDB's rules.
pub fn units(writes: &[Write], reads: &[Read]) -> Computed {
    let mut computed = Computed::default();
    for write in writes {
        let factor = if write.transactional { 2 } else { 1 };
        let mut items = Vec::new();
        for item in &write.items {
            let bytes = billed_size(item);
            let write_units = factor * kilobytes(bytes);
            let mut index = BTreeMap::new();
            for (name, pk, sk) in INDEXES {
                let units = index_units(item, pk, sk);
                if units > 0 {
                    index.insert(name.to_string(), units);
                    *computed.index_write_units.entry(name.into()).or_default() += units;
                }
            }
            computed.table_write_units += write_units;
            items.push(ItemCost {
                item: kind(&item.key),
                action: item.action,
                bytes,
                write_units,
                index_units: index,
            });
        }
        computed.writes.push((write.operation.clone(), items));
    }
    for read in reads {
        let transactional = read.operation == "TransactGetItems";
        let summed = matches!(read.operation.as_str(), "Query" | "Scan");
        if summed {
            let total: usize = read.items.iter().map(item_size).sum();
            computed.read_units += read_units(total, read.consistent, false);
        }
        for item in &read.items {
            let units = read_units(item_size(item), read.consistent, transactional);
            if !summed {
                computed.read_units += units;
            }
            *computed.reads_by_item.entry(key_name(item)).or_default() += units;
        }
    }
    computed
}

/// Checks that the table's indexes are [`INDEXES`], keys only: the rules above assume it.
pub async fn check_layout(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    let description = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| format!("DescribeTable {table}: {e}"))?;
    let indexes = description
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default();
    let mut found: Vec<(String, String, String, String)> = indexes
        .iter()
        .map(|index| {
            let key = |kind: aws_sdk_dynamodb::types::KeyType| {
                index
                    .key_schema()
                    .iter()
                    .find(|k| k.key_type() == &kind)
                    .map(|k| k.attribute_name().to_string())
                    .unwrap_or_default()
            };
            (
                index.index_name().unwrap_or_default().to_string(),
                key(aws_sdk_dynamodb::types::KeyType::Hash),
                key(aws_sdk_dynamodb::types::KeyType::Range),
                index
                    .projection()
                    .and_then(|p| p.projection_type())
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    found.sort();
    let expected: Vec<(String, String, String, String)> = INDEXES
        .iter()
        .map(|(n, pk, sk)| {
            (
                n.to_string(),
                pk.to_string(),
                sk.to_string(),
                "KEYS_ONLY".to_string(),
            )
        })
        .collect();
    if found != expected {
        return Err(format!(
            "the table's indexes are {found:?}, the capacity rules assume {expected:?}: update bench/src/capacity.rs"
        ));
    }
    Ok(())
}
