//! The sweeper's port: carts and orders due for its attention, from index `gsi2`, a page at a
//! time. Each queue is write-sharded over `SWEEP_SHARDS` index partitions; a page comes from
//! one shard, and the cursor is the shard with the index's last evaluated key in it, as JSON.
//! A full pass costs one Query per shard (17 with the legacy partition) however little is due.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use checkout_domain::model::values::CartId;
use checkout_domain::ports::sweep::{SweepKind, SweepPage, SweepStore};
use checkout_domain::StoreError;

use super::expr::{store_error, Item};
use super::schema::{
    sweep_sort_key, SWEEP_CARTS, SWEEP_HOLDS, SWEEP_INDEX, SWEEP_ORDERS, SWEEP_SHARDS,
};
use super::DynamoStore;

/// Where a queue's reading stands: the shard, and the last key read in it (`None`: its start).
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    shard: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<BTreeMap<String, String>>,
}

fn encode_sweep_cursor(shard: u32, key: Option<&Item>) -> String {
    let after = key.map(|key| {
        key.iter()
            .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.clone(), v.clone())))
            .collect()
    });
    serde_json::to_string(&Cursor { shard, after }).unwrap_or_default()
}

fn decode_sweep_cursor(cursor: &str) -> Result<(u32, Option<Item>), StoreError> {
    let cursor: Cursor =
        serde_json::from_str(cursor).map_err(|e| StoreError::new(format!("sweep cursor: {e}")))?;
    let after = cursor.after.map(|key| {
        key.into_iter()
            .map(|(name, value)| (name, AttributeValue::S(value)))
            .collect()
    });
    Ok((cursor.shard, after))
}

#[async_trait]
impl SweepStore for DynamoStore {
    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        let queue = match kind {
            SweepKind::Orders => SWEEP_ORDERS,
            SweepKind::Carts => SWEEP_CARTS,
            SweepKind::Holds => SWEEP_HOLDS,
        };
        let (mut shard, mut start) = match cursor {
            Some(cursor) => decode_sweep_cursor(cursor)?,
            None => (0, None),
        };
        // The page comes from the first shard with anything due, from where it stood. After
        // the shards, the unsharded partition an older version wrote (`SWEEP#CART`), so an
        // upgraded stack's queue is drained too.
        let partition = |shard: u32| match shard {
            SWEEP_SHARDS => queue.to_string(),
            shard => format!("{queue}#{shard}"),
        };
        // A hold's key goes on with its cart (`<end>#<cart>`): one ending at `due_by` is due.
        let due = match kind {
            SweepKind::Holds => format!("{}~", sweep_sort_key(due_by)),
            _ => sweep_sort_key(due_by),
        };
        while shard <= SWEEP_SHARDS {
            let output = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(SWEEP_INDEX)
                .key_condition_expression("gsi2pk = :queue AND gsi2sk <= :due")
                .expression_attribute_values(":queue", AttributeValue::S(partition(shard)))
                .expression_attribute_values(":due", AttributeValue::S(due.clone()))
                .projection_expression("pk, gsi2sk")
                .set_exclusive_start_key(start.take())
                .limit(limit as i32)
                .send()
                .await
                .map_err(store_error)?;
            let carts: Vec<CartId> = output
                .items
                .unwrap_or_default()
                .into_iter()
                .filter_map(|item| match (item.get("pk"), item.get("gsi2sk")) {
                    // A hold names its cart in its sort key.
                    (_, Some(AttributeValue::S(key))) if kind == SweepKind::Holds => {
                        super::reservations::cart_of_end_key(key)
                    }
                    (Some(AttributeValue::S(pk)), _) => pk
                        .strip_prefix("CART#")
                        .and_then(|id| CartId::parse(id).ok()),
                    _ => None,
                })
                .collect();
            let next = match output.last_evaluated_key.filter(|k| !k.is_empty()) {
                Some(key) => Some(encode_sweep_cursor(shard, Some(&key))),
                None if shard < SWEEP_SHARDS => Some(encode_sweep_cursor(shard + 1, None)),
                None => None,
            };
            if !carts.is_empty() || next.is_none() {
                return Ok(SweepPage { carts, next });
            }
            // Nothing due in this shard: on to the next one, in this same call.
            let (following, after) = decode_sweep_cursor(next.as_deref().unwrap_or_default())?;
            shard = following;
            start = after;
        }
        Ok(SweepPage::default())
    }
}
