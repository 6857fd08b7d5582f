//! What the emulator reads from a request body (DynamoDB's JSON 1.0 protocol): which items an
//! operation touches, and how many write units each costs by DynamoDB's documented item-size
//! rules.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// One item of one table: the identity holds and throttling are kept by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    table: Arc<str>,
    /// The key attributes as canonical JSON (`{"pk":{"S":"…"},"sk":{"S":"…"}}`, names
    /// sorted), so one item has one spelling whatever order a request lists them in.
    key: String,
}

impl ItemKey {
    /// The key of `table` whose key attributes are `attributes` (name → AttributeValue JSON).
    pub fn new<'a>(
        table: &str,
        attributes: impl IntoIterator<Item = (&'a String, &'a Value)>,
    ) -> Self {
        let sorted: BTreeMap<&String, &Value> = attributes.into_iter().collect();
        ItemKey {
            table: Arc::from(table),
            key: serde_json::to_string(&sorted).unwrap_or_default(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// `table pk=CART#1 sk=CART`: the table and each key attribute's value (numbers as written,
/// binaries as `b64:` and their base64).
impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table)?;
        let attributes: BTreeMap<String, Value> =
            serde_json::from_str(&self.key).unwrap_or_default();
        for (name, value) in attributes {
            let shown = match value.as_object().and_then(|v| v.iter().next()) {
                Some((kind, Value::String(s))) if kind == "S" || kind == "N" => s.clone(),
                Some((kind, Value::String(s))) if kind == "B" => format!("b64:{s}"),
                _ => value.to_string(),
            };
            write!(f, " {name}={shown}")?;
        }
        Ok(())
    }
}

/// How a write names its item: by key, or (a Put) by the whole item, whose key attributes
/// the table's key schema picks out.
#[derive(Debug, Clone)]
pub enum KeySource {
    Key(Map<String, Value>),
    Item(Map<String, Value>),
}

/// One item an operation touches.
#[derive(Debug, Clone)]
pub struct Target {
    pub table: String,
    pub key: KeySource,
    /// Bytes by DynamoDB's item-size rules: the whole item for a Put; for an Update the key
    /// and the expression's values, for a Delete or ConditionCheck the key (the stored item
    /// is not in the request: see [`write_units`]).
    pub size: usize,
}

impl Target {
    /// The item's key, given the table's key attribute names (needed for a Put only).
    pub fn item_key(&self, schema: Option<&[String]>) -> Option<ItemKey> {
        match &self.key {
            KeySource::Key(key) if !key.is_empty() => Some(ItemKey::new(&self.table, key)),
            KeySource::Key(_) => None,
            KeySource::Item(item) => {
                let schema = schema?;
                let mut key = Vec::with_capacity(schema.len());
                for name in schema {
                    key.push(item.get_key_value(name)?);
                }
                Some(ItemKey::new(&self.table, key))
            }
        }
    }

    /// Whether resolving the key needs the table's key schema.
    pub fn needs_schema(&self) -> bool {
        matches!(self.key, KeySource::Item(_))
    }
}

/// The operations the emulator looks into; everything else is forwarded untouched.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `TransactWriteItems`: one target per action, in request order.
    TransactWrite(Vec<Target>),
    /// `TransactGetItems`: one target per Get, in request order.
    TransactGet(Vec<Target>),
    /// `PutItem`, `UpdateItem`, `DeleteItem`.
    Write(Target),
    /// `BatchWriteItem`: its items, for the transactional reads they conflict with.
    BatchWrite(Vec<Target>),
}

/// The DynamoDB operation named by an `X-Amz-Target` header value.
pub fn operation_name(target: &str) -> Option<&str> {
    target.strip_prefix("DynamoDB_20120810.")
}

/// Whether the emulator applies a rule to the operation `name`.
pub fn emulated(name: &str) -> bool {
    matches!(
        name,
        "TransactWriteItems"
            | "TransactGetItems"
            | "PutItem"
            | "UpdateItem"
            | "DeleteItem"
            | "BatchWriteItem"
    )
}

/// Reads the operation `name` from its request body. `None` when the operation is not one the
/// emulator applies a rule to, or when the body is not the shape DynamoDB accepts (DynamoDB
/// Local then answers with its own validation error).
pub fn parse(name: &str, body: &[u8]) -> Option<Operation> {
    if !emulated(name) {
        return None;
    }
    let body: Value = serde_json::from_slice(body).ok()?;
    let body = body.as_object()?;
    match name {
        "TransactWriteItems" => {
            let actions = body.get("TransactItems")?.as_array()?;
            let mut targets = Vec::with_capacity(actions.len());
            for action in actions {
                let (kind, request) = action.as_object()?.iter().next()?;
                targets.push(target(kind, request.as_object()?)?);
            }
            Some(Operation::TransactWrite(targets))
        }
        "TransactGetItems" => {
            let gets = body.get("TransactItems")?.as_array()?;
            let mut targets = Vec::with_capacity(gets.len());
            for get in gets {
                targets.push(target("Get", get.get("Get")?.as_object()?)?);
            }
            Some(Operation::TransactGet(targets))
        }
        "PutItem" => Some(Operation::Write(target("Put", body)?)),
        "UpdateItem" => Some(Operation::Write(target("Update", body)?)),
        "DeleteItem" => Some(Operation::Write(target("Delete", body)?)),
        "BatchWriteItem" => {
            let mut targets = Vec::new();
            for (table, requests) in body.get("RequestItems")?.as_object()? {
                for request in requests.as_array()? {
                    let (kind, inner) = request.as_object()?.iter().next()?;
                    let inner = inner.as_object()?;
                    let key = match kind.as_str() {
                        "PutRequest" => KeySource::Item(inner.get("Item")?.as_object()?.clone()),
                        "DeleteRequest" => KeySource::Key(inner.get("Key")?.as_object()?.clone()),
                        _ => return None,
                    };
                    targets.push(Target {
                        table: table.clone(),
                        size: 0,
                        key,
                    });
                }
            }
            Some(Operation::BatchWrite(targets))
        }
        _ => None,
    }
}

/// One action (`Put`, `Update`, `Delete`, `ConditionCheck`, `Get`) of `request`.
fn target(kind: &str, request: &Map<String, Value>) -> Option<Target> {
    let table = request.get("TableName")?.as_str()?.to_string();
    let object = |name: &str| request.get(name).and_then(Value::as_object);
    let (key, size) = match kind {
        "Put" => {
            let item = object("Item")?;
            (KeySource::Item(item.clone()), item_size(item))
        }
        "Update" => {
            let key = object("Key")?;
            let values = object("ExpressionAttributeValues")
                .map(|values| values.values().map(value_size).sum())
                .unwrap_or(0);
            (KeySource::Key(key.clone()), item_size(key) + values)
        }
        "Delete" | "ConditionCheck" | "Get" => {
            let key = object("Key")?;
            (KeySource::Key(key.clone()), item_size(key))
        }
        _ => return None,
    };
    Some(Target { table, key, size })
}

/// An item's size by DynamoDB's rules: each attribute's name (UTF-8 bytes) plus its value.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// One AttributeValue's size: strings by their UTF-8 bytes, binaries by their raw bytes,
/// numbers one byte per two significant digits plus one, booleans and nulls one byte, lists
/// and maps 3 bytes plus one byte per element (and a map entry's name), sets the sum of their
/// members.
pub fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else {
        return 0;
    };
    let strings = || {
        inner
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(0, number_size),
        "B" => inner.as_str().map_or(0, base64_len),
        "BOOL" | "NULL" => 1,
        "SS" => strings().map(str::len).sum(),
        "NS" => strings().map(number_size).sum(),
        "BS" => strings().map(base64_len).sum(),
        "L" => {
            3 + inner
                .as_array()
                .into_iter()
                .flatten()
                .map(|element| 1 + value_size(element))
                .sum::<usize>()
        }
        "M" => {
            3 + inner
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, element)| 1 + name.len() + value_size(element))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// A number's size: one byte per two significant digits (leading and trailing zeros do not
/// count), plus one.
fn number_size(number: &str) -> usize {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1);
    significant.div_ceil(2) + 1
}

/// The decoded length of base64 text (the wire's form of a binary).
fn base64_len(text: &str) -> usize {
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    (text.len() / 4 * 3).saturating_sub(padding)
}

/// Write units an item of `size` bytes costs: one per started KB for a plain write, two for a
/// transactional one (DynamoDB's rule; an item's units are rounded up on their own). For an
/// Update, Delete or ConditionCheck the stored item's size is not in the request, so this is
/// the units of what the request carries: exact for items under 1 KB, a lower bound above.
pub fn write_units(size: usize, transactional: bool) -> u64 {
    let units = (size as u64).div_ceil(1024).max(1);
    if transactional {
        2 * units
    } else {
        units
    }
}

/// The key attribute names (partition key first) of a `KeySchema` array in a `CreateTable`
/// request or a `TableDescription`.
pub fn key_schema(schema: &Value) -> Option<Vec<String>> {
    let mut elements: Vec<(bool, String)> = schema
        .as_array()?
        .iter()
        .map(|element| {
            let name = element.get("AttributeName")?.as_str()?.to_string();
            let hash = element.get("KeyType")?.as_str()? == "HASH";
            Some((!hash, name))
        })
        .collect::<Option<_>>()?;
    elements.sort();
    Some(elements.into_iter().map(|(_, name)| name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(value_size(&json!({"S": "héllo"})), 6);
        assert_eq!(value_size(&json!({"N": "12345"})), 4); // 5 digits: 3 + 1
        assert_eq!(value_size(&json!({"N": "-0.00120"})), 2); // "12": 1 + 1
        assert_eq!(value_size(&json!({"N": "1.5E+10"})), 2);
        assert_eq!(value_size(&json!({"B": "AAECAw=="})), 4);
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        assert_eq!(value_size(&json!({"NULL": true})), 1);
        assert_eq!(value_size(&json!({"L": []})), 3);
        assert_eq!(
            value_size(&json!({"L": [{"S": "ab"}, {"N": "7"}]})),
            3 + 3 + 3
        );
        assert_eq!(value_size(&json!({"M": {"a": {"S": "xy"}}})), 3 + 1 + 1 + 2);
        assert_eq!(value_size(&json!({"SS": ["a", "bc"]})), 3);
        let item = map(json!({"pk": {"S": "CART#1"}, "sk": {"S": "CART"}, "n": {"N": "10"}}));
        assert_eq!(item_size(&item), (2 + 6) + (2 + 4) + (1 + 2));
    }

    #[test]
    fn units_round_up_per_item_and_double_in_a_transaction() {
        assert_eq!(write_units(0, false), 1);
        assert_eq!(write_units(1024, false), 1);
        assert_eq!(write_units(1025, false), 2);
        assert_eq!(write_units(500, true), 2);
        assert_eq!(write_units(2500, true), 6);
    }

    #[test]
    fn one_item_has_one_key_whatever_the_attribute_order() {
        let a = ItemKey::new("t", &map(json!({"pk": {"S": "a"}, "sk": {"S": "b"}})));
        let item = map(json!({"sk": {"S": "b"}, "x": {"N": "1"}, "pk": {"S": "a"}}));
        let put = Target {
            table: "t".into(),
            size: 0,
            key: KeySource::Item(item),
        };
        let schema = vec!["pk".to_string(), "sk".to_string()];
        assert_eq!(put.item_key(Some(&schema)), Some(a.clone()));
        assert_eq!(put.item_key(None), None);
        assert_eq!(a.to_string(), "t pk=a sk=b");
    }

    #[test]
    fn a_transaction_names_its_items_in_order() {
        let body = json!({"TransactItems": [
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "1"}, "v": {"S": "x"}}}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "2"}}, "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "abc"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "3"}}}},
            {"ConditionCheck": {"TableName": "u", "Key": {"pk": {"S": "4"}}, "ConditionExpression": "attribute_exists(pk)"}}
        ]});
        let Some(Operation::TransactWrite(targets)) =
            parse("TransactWriteItems", body.to_string().as_bytes())
        else {
            panic!("not a transaction");
        };
        let schema = vec!["pk".to_string()];
        let keys: Vec<String> = targets
            .iter()
            .map(|t| t.item_key(Some(&schema)).unwrap().to_string())
            .collect();
        assert_eq!(keys, ["t pk=1", "t pk=2", "t pk=3", "u pk=4"]);
        assert_eq!(targets[1].size, 2 + 1 + 3);
        assert!(parse("Query", b"{}").is_none());
        assert!(parse("PutItem", b"not json").is_none());
    }

    #[test]
    fn the_key_schema_puts_the_partition_key_first() {
        let schema = json!([
            {"AttributeName": "sk", "KeyType": "RANGE"},
            {"AttributeName": "pk", "KeyType": "HASH"}
        ]);
        assert_eq!(key_schema(&schema).unwrap(), ["pk", "sk"]);
    }
}
