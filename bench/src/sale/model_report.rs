//! The capacity model's part of the report: its lines in the table and its JSON.

use serde_json::{json, Value};

use super::thousands;
use crate::model::{self, DROP_TARGET, STORE_TARGET, WHOLE_DROP_ORDER, WHOLE_ORDER};
use crate::report::Report;

impl Report {
    pub(crate) fn model_lines(&self) -> Vec<String> {
        let (Some(drop), Some(store)) = (
            self.model_inputs(WHOLE_DROP_ORDER),
            self.model_inputs(WHOLE_ORDER),
        ) else {
            return Vec::new();
        };
        let hold_ms = drop.hold.as_secs_f64() * 1000.0;
        let mut lines = vec![
            format!(
                "Capacity model (docs/capacity.md): a transaction holds its items {hold_ms:.0} ms (the emulator's hold, standing for DynamoDB's), DynamoDB's documented limits, the units computed above"
            ),
            format!(
                "  one stock item: min(1 / {hold_ms:.0} ms = {}, 1,000 WCU/s / {} WCU a commit = {}) = {} orders/s",
                thousands(1000.0 / hold_ms),
                drop.stock_item_write_units,
                thousands(model::limits::ITEM_WRITE_UNITS / drop.stock_item_write_units),
                thousands(model::per_shard(&drop))
            ),
            format!(
                "  the SKU's product item, read by every buyer: 3,000 RCU/s / {} RCU an order = {} orders/s, whatever the shards",
                drop.product_item_read_units,
                thousands(model::by_product_reads(&drop))
            ),
            format!(
                "  the sweeper's index (gsi2): {} partitions × 1,000 WCU/s / {} writes an order = {} orders/s",
                model::limits::SWEEP_SHARDS,
                store.sweep_index_writes,
                thousands(model::by_sweep_partitions(&store))
            ),
            format!(
                "  the search index (gsi3): {} partitions a month × 1,000 WCU/s = {} orders/s",
                model::limits::SEARCH_SHARDS,
                thousands(model::by_search_partitions(&store))
            ),
            format!(
                "  the pricing configuration, read by every order: {} replicas × 3,000 RCU/s / {} RCU an order = {} orders/s",
                model::limits::CONFIG_REPLICAS,
                store.config_read_units,
                thousands(model::by_config_reads(&store))
            ),
        ];
        let shards = [1, 8, 16, 32, 64];
        lines.push(format!(
            "  one SKU, orders/s by stockShards: {}",
            shards
                .iter()
                .map(|&n| format!("{n}: {}", thousands(model::sku_orders(n, &drop))))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        lines.push(format!(
            "  {:<26} {:>14} {:>13} {:>20} {:>14} {:>12} {:>15} {:>13}",
            "target",
            "shards",
            "table WCU/s",
            "indexes WCU/s",
            "per gsi2 part.",
            "write quota",
            "by doubling",
            "warm (t / i)"
        ));
        let drop_shards = model::shards_for(DROP_TARGET, &drop);
        for (name, inputs, target, shards) in [
            (
                "one-SKU drop, 5,000/s",
                &drop,
                DROP_TARGET,
                drop_shards.map_or("none does".into(), |n| n.to_string()),
            ),
            ("store, 10,000/s", &store, STORE_TARGET, "-".into()),
        ] {
            let need = model::table_need(target, inputs);
            lines.push(format!(
                "  {:<26} {:>14} {:>13} {:>20} {:>14} {:>12} {:>15} {:>13}",
                name,
                shards,
                thousands(need.table_write_units),
                need.index_write_units
                    .iter()
                    .map(|(n, u)| format!("{n} {}", thousands(*u)))
                    .collect::<Vec<_>>()
                    .join(", "),
                thousands(need.sweep_partition_write_units),
                thousands(need.write_quota),
                format!("{:.0} min", need.minutes_by_doubling),
                format!(
                    "{}k / {}k",
                    need.table_warm_write_units / 1000.0,
                    need.index_warm_write_units / 1000.0
                )
            ));
        }
        lines.push(format!(
            "  (per order: table {} WCU, {} — the whole order plus two subscriber messages; the default write quota is 40,000 per table and per index)",
            store.table_write_units,
            store
                .index_write_units
                .iter()
                .map(|(n, u)| format!("{n} {u}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        lines
    }

    pub(crate) fn model_json(&self) -> Value {
        let inputs = |sample: &str| self.model_inputs(sample);
        let Some(drop) = inputs(WHOLE_DROP_ORDER) else {
            return Value::Null;
        };
        let Some(store) = inputs(WHOLE_ORDER) else {
            return Value::Null;
        };
        let by_shards: Vec<Value> = [1, 8, 16, 32, 64]
            .iter()
            .map(|&n| json!({"shards": n, "orders_per_second": model::sku_orders(n, &drop)}))
            .collect();
        json!({
            "drop_inputs": drop,
            "store_inputs": store,
            "per_shard_orders": model::per_shard(&drop),
            "product_item_orders": model::by_product_reads(&drop),
            "sweep_partition_orders": model::by_sweep_partitions(&store),
            "config_replica_orders": model::by_config_reads(&store),
            "sku_orders_by_shards": by_shards,
            "drop_target": {"orders_per_second": DROP_TARGET, "shards": model::shards_for(DROP_TARGET, &drop), "table": model::table_need(DROP_TARGET, &drop)},
            "store_target": {"orders_per_second": STORE_TARGET, "store_orders": model::store_orders(&store), "table": model::table_need(STORE_TARGET, &store)},
        })
    }
}
