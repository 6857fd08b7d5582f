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
//!   (billed as a write, not a read: observed against DynamoDB, see `docs/capacity.md`);
//! * each global secondary index the write affects (both of this table's keep keys only):
//!   an item entering the index 1 unit per KB of its index entry (the table's and the index's
//!   key attributes), leaving it 1, an index key changing 2 (delete and put), nothing when the
//!   item is in the index neither before nor after or its index keys stay as they were (no
//!   projected attribute besides the keys changes);
//! * reads: 1 read unit per started 4 KB of each item read (`GetItem`, `BatchGetItem`), of a
//!   `Query`'s items summed, half that when eventually consistent, twice in a transaction.
//!
//! Only requests DynamoDB Local answered with 200 are counted (a refused conditional write
//! also costs capacity in DynamoDB; the bench's samples have none).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ddb_contention::request::item_size;
use serde_json::{json, Map, Value};

/// The table's key attributes (`shared/adapters/src/dynamodb/schema.rs`, `create_table`).
pub const TABLE_KEYS: [&str; 2] = ["pk", "sk"];

/// The table's global secondary indexes: name, partition key, sort key. Both project keys
/// only. [`check_layout`] compares this with the table's description.
pub const INDEXES: [(&str, &str, &str); 2] =
    [("gsi1", "gsi1pk", "gsi1sk"), ("gsi2", "gsi2pk", "gsi2sk")];

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

/// The items a write request names: (action, key), and the new item of each put.
fn write_targets(operation: &str, body: &Value) -> Vec<(Action, Map<String, Value>)> {
    let key_of = |item: &Map<String, Value>| -> Map<String, Value> {
        TABLE_KEYS
            .iter()
            .filter_map(|k| Some((k.to_string(), item.get(*k)?.clone())))
            .collect()
    };
    let object = |v: &Value, name: &str| v.get(name).and_then(Value::as_object).cloned();
    match operation {
        "PutItem" => object(body, "Item")
            .map(|item| vec![(Action::Put, key_of(&item))])
            .unwrap_or_default(),
        "UpdateItem" => object(body, "Key")
            .map(|k| vec![(Action::Update, k)])
            .unwrap_or_default(),
        "DeleteItem" => object(body, "Key")
            .map(|k| vec![(Action::Delete, k)])
            .unwrap_or_default(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|slot| {
                let (kind, inner) = slot.as_object()?.iter().next()?;
                match kind.as_str() {
                    "Put" => Some((Action::Put, key_of(&object(inner, "Item")?))),
                    "Update" => Some((Action::Update, object(inner, "Key")?)),
                    "Delete" => Some((Action::Delete, object(inner, "Key")?)),
                    "ConditionCheck" => Some((Action::Check, object(inner, "Key")?)),
                    _ => None,
                }
            })
            .collect(),
        // BatchWriteItem: the commit path sends none; counted as nothing (said in the report).
        _ => Vec::new(),
    }
}

/// The table a write request is for (one table: the bench's).
fn table_of(operation: &str, body: &Value) -> Option<String> {
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()?
            .iter()
            .find_map(|slot| {
                slot.as_object()?
                    .values()
                    .next()?
                    .get("TableName")?
                    .as_str()
            })
            .map(str::to_string),
        _ => body["TableName"].as_str().map(str::to_string),
    }
}

/// The items a read request returned, and whether it read consistently.
fn read_items(
    operation: &str,
    request: &Value,
    response: &Value,
) -> Option<(bool, Vec<Map<String, Value>>)> {
    let objects = |v: &Value| -> Vec<Map<String, Value>> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_object().cloned())
            .collect()
    };
    let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
    match operation {
        "GetItem" => Some((
            consistent,
            response["Item"].as_object().cloned().into_iter().collect(),
        )),
        "Query" | "Scan" => Some((consistent, objects(&response["Items"]))),
        "BatchGetItem" => {
            let consistent = request["RequestItems"]
                .as_object()
                .into_iter()
                .flatten()
                .any(|(_, t)| t["ConsistentRead"].as_bool().unwrap_or(false));
            let items = response["Responses"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(_, items)| objects(items))
                .collect();
            Some((consistent, items))
        }
        "TransactGetItems" => Some((
            true,
            response["Responses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["Item"].as_object().cloned())
                .collect(),
        )),
        _ => None,
    }
}

#[derive(Default)]
struct Ledger {
    writes: Vec<Write>,
    reads: Vec<Read>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    ledger: Mutex<Ledger>,
}

/// The proxy. Dropping it stops it.
pub struct Sizer {
    endpoint: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sizer {
    /// Starts a proxy for DynamoDB Local at `upstream` on a free loopback port.
    pub async fn start(upstream: &str) -> Result<Sizer, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            ledger: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let router = Router::new().fallback(proxy).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Sizer {
            endpoint: format!("http://{addr}"),
            shared,
            _stop: stop,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The requests since the last call, computed, and forgets them.
    pub fn take(&self) -> Computed {
        let ledger = std::mem::take(&mut *self.shared.ledger.lock().unwrap());
        units(&ledger.writes, &ledger.reads)
    }
}

/// Headers a proxy does not pass on.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "te"
        ) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

impl Shared {
    /// The stored item under `key`, read consistently (DynamoDB Local takes the caller's
    /// credentials headers as they are).
    async fn get(
        &self,
        headers: &HeaderMap,
        table: &str,
        key: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, String> {
        let mut headers = forwarded(headers);
        headers.insert(
            "x-amz-target",
            "DynamoDB_20120810.GetItem".parse().expect("a header value"),
        );
        let body = json!({"TableName": table, "Key": key, "ConsistentRead": true});
        let response = self
            .client
            .post(format!("{}/", self.upstream))
            .headers(headers)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GetItem for sizing: {status} {body}"));
        }
        Ok(body["Item"].as_object().cloned())
    }

    async fn images(
        &self,
        headers: &HeaderMap,
        table: &str,
        targets: &[(Action, Map<String, Value>)],
    ) -> Result<Vec<Option<Map<String, Value>>>, String> {
        let mut images = Vec::with_capacity(targets.len());
        for (_, key) in targets {
            images.push(self.get(headers, table, key).await?);
        }
        Ok(images)
    }
}

async fn proxy(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match sized(&shared, method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, format!("bench sizer: {error}")).into_response(),
    }
}

async fn sized(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, String> {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let targets = write_targets(&operation, &request);
    let table = table_of(&operation, &request);
    let before = match (&table, targets.is_empty()) {
        (Some(table), false) => shared.images(&headers, table, &targets).await?,
        _ => Vec::new(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .headers(forwarded(&headers))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = upstream.status();
    let response_headers = upstream.headers().clone();
    let bytes = upstream.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        if let (Some(table), false) = (&table, targets.is_empty()) {
            let after = shared.images(&headers, table, &targets).await?;
            let items = targets
                .into_iter()
                .zip(before.into_iter().zip(after))
                .map(|((action, key), (before, after))| ItemWrite {
                    action,
                    key,
                    before,
                    after,
                })
                .collect();
            shared.ledger.lock().unwrap().writes.push(Write {
                transactional: operation == "TransactWriteItems",
                operation: operation.clone(),
                items,
            });
        } else {
            let response: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if let Some((consistent, items)) = read_items(&operation, &request, &response) {
                shared.ledger.lock().unwrap().reads.push(Read {
                    operation: operation.clone(),
                    consistent,
                    items,
                });
            }
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &response_headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(response)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn write(action: Action, before: Option<Value>, after: Option<Value>) -> ItemWrite {
        ItemWrite {
            action,
            key: map(json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}})),
            before: before.map(map),
            after: after.map(map),
        }
    }

    #[test]
    fn items_round_up_per_kb_and_double_in_a_transaction() {
        // 2 + 6 + 2 + 4 + 1 + 1000 = 1015 bytes: one KB.
        let small =
            json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "d": {"S": "x".repeat(1000)}});
        // 1030 bytes: two.
        let large =
            json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "d": {"S": "x".repeat(1015)}});
        let put = write(Action::Put, None, Some(small.clone()));
        let grown = write(Action::Update, Some(small.clone()), Some(large.clone()));
        let shrunk = write(Action::Update, Some(large.clone()), Some(small.clone()));
        let check = write(Action::Check, None, None);
        let computed = units(
            &[
                Write {
                    operation: "TransactWriteItems".into(),
                    transactional: true,
                    items: vec![put.clone(), grown, shrunk, check],
                },
                Write {
                    operation: "PutItem".into(),
                    transactional: false,
                    items: vec![put],
                },
            ],
            &[],
        );
        // 2 + 4 + 4 (the larger of before and after) + 2 (a check of a missing item: 1 KB), then 1.
        assert_eq!(computed.table_write_units, 2 + 4 + 4 + 2 + 1);
        assert_eq!(computed.index_total(), 0);
    }

    #[test]
    fn index_writes_follow_the_entry_not_the_item() {
        let keys = |gsi: Option<&str>| {
            let mut item =
                json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "big": {"S": "x".repeat(3000)}});
            if let Some(value) = gsi {
                item["gsi2pk"] = json!({"S": value});
                item["gsi2sk"] = json!({"S": "0001"});
            }
            item
        };
        let enters = write(
            Action::Update,
            Some(keys(None)),
            Some(keys(Some("SWEEP#CART#3"))),
        );
        let leaves = write(
            Action::Update,
            Some(keys(Some("SWEEP#CART#3"))),
            Some(keys(None)),
        );
        let moves = write(
            Action::Update,
            Some(keys(Some("SWEEP#CART#3"))),
            Some(keys(Some("SWEEP#ORDER#3"))),
        );
        let stays = write(
            Action::Update,
            Some(keys(Some("SWEEP#CART#3"))),
            Some(keys(Some("SWEEP#CART#3"))),
        );
        let never = write(Action::Update, Some(keys(None)), Some(keys(None)));
        assert_eq!(index_units(&enters, "gsi2pk", "gsi2sk"), 1);
        assert_eq!(index_units(&leaves, "gsi2pk", "gsi2sk"), 1);
        assert_eq!(index_units(&moves, "gsi2pk", "gsi2sk"), 2);
        assert_eq!(index_units(&stays, "gsi2pk", "gsi2sk"), 0);
        assert_eq!(index_units(&never, "gsi2pk", "gsi2sk"), 0);
        assert_eq!(index_units(&enters, "gsi1pk", "gsi1sk"), 0);
        // The item is 3 KB, its entry under 1: the table takes 3 units per write, the index 1.
        let computed = units(
            &[Write {
                operation: "UpdateItem".into(),
                transactional: false,
                items: vec![enters],
            }],
            &[],
        );
        assert_eq!(
            (
                computed.table_write_units,
                computed.index_write_units["gsi2"]
            ),
            (3, 1)
        );
    }

    #[test]
    fn reads_round_per_4_kb_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(100, true, false), 1.0);
        assert_eq!(read_units(100, false, false), 0.5);
        assert_eq!(read_units(4097, true, false), 2.0);
        assert_eq!(read_units(100, true, true), 2.0);
        let item = |pk: &str| map(json!({"pk": {"S": pk}, "sk": {"S": "X"}}));
        let computed = units(
            &[],
            &[
                Read {
                    operation: "BatchGetItem".into(),
                    consistent: false,
                    items: vec![item("A"), item("B")],
                },
                Read {
                    operation: "Query".into(),
                    consistent: true,
                    items: vec![item("C"), item("D")],
                },
            ],
        );
        // Two items at 0.5 each; a query's items summed, then rounded: 1.
        assert_eq!(computed.read_units, 2.0);
        assert_eq!(computed.reads_by_item["A/X"], 0.5);
    }

    #[test]
    fn targets_of_a_transaction_in_order() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "A"}, "sk": {"S": "1"}, "x": {"N": "1"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "B"}, "sk": {"S": "2"}}}},
            {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "C"}, "sk": {"S": "3"}}}}]});
        let targets = write_targets("TransactWriteItems", &body);
        assert_eq!(
            targets
                .iter()
                .map(|(a, k)| (*a, key_name(k)))
                .collect::<Vec<_>>(),
            vec![
                (Action::Put, "A/1".into()),
                (Action::Update, "B/2".into()),
                (Action::Check, "C/3".into())
            ]
        );
        assert_eq!(table_of("TransactWriteItems", &body).as_deref(), Some("t"));
        assert_eq!(
            kind(&map(
                json!({"pk": {"S": "PRODUCT#DROP#3"}, "sk": {"S": "STOCK"}})
            )),
            "PRODUCT/STOCK"
        );
    }
}
