//! The sweeper's port: carts and orders due for its attention, from index `gsi2`, a page at a
//! time; the cursor is the index's last evaluated key as JSON.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use checkout_domain::model::values::CartId;
use checkout_domain::ports::sweep::{SweepKind, SweepPage, SweepStore};
use checkout_domain::StoreError;

use super::expr::{store_error, Item};
use super::schema::{sweep_sort_key, SWEEP_CARTS, SWEEP_INDEX, SWEEP_ORDERS};
use super::DynamoStore;

/// The sweeper's cursor: the index's last evaluated key, as JSON (only string keys).
fn encode_sweep_cursor(key: &Item) -> String {
    let plain: BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.as_str(), v.as_str())))
        .collect();
    serde_json::to_string(&plain).unwrap_or_default()
}

fn decode_sweep_cursor(cursor: &str) -> Result<Item, StoreError> {
    let plain: HashMap<String, String> =
        serde_json::from_str(cursor).map_err(|e| StoreError(format!("sweep cursor: {e}")))?;
    Ok(plain
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
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
        };
        let start = cursor.map(decode_sweep_cursor).transpose()?;
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(SWEEP_INDEX)
            .key_condition_expression("gsi2pk = :queue AND gsi2sk <= :due")
            .expression_attribute_values(":queue", AttributeValue::S(queue.into()))
            .expression_attribute_values(":due", AttributeValue::S(sweep_sort_key(due_by)))
            .projection_expression("pk")
            .set_exclusive_start_key(start)
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        let carts = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk
                    .strip_prefix("CART#")
                    .and_then(|id| CartId::parse(id).ok()),
                _ => None,
            })
            .collect();
        let next = output
            .last_evaluated_key
            .map(|key| encode_sweep_cursor(&key));
        Ok(SweepPage { carts, next })
    }
}
