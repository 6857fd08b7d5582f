//! The capacity model of `docs/capacity.md`: from a transaction's hold time, what one order
//! costs (computed by `capacity`) and DynamoDB's documented limits, how many orders a second
//! one SKU and the whole store can take, and the shard counts and table settings a target
//! needs. Pure arithmetic, checked against hand-computed values below.

use std::time::Duration;

/// The SKU of the drop's sample order (spread over 8 shards in the sample table).
pub const SALE_SKU: &str = "SALE-SAMPLE";
/// The samples the model reads: a whole order of the store's standard cart, and of one unit
/// of [`SALE_SKU`].
pub const WHOLE_ORDER: &str = "whole order, standard cart";
pub const WHOLE_DROP_ORDER: &str = "whole order, 1 unit of a sharded SKU";
/// The SKU of the reserving drop's sample order (`reserveOnPayment`, 8 shards), and its
/// sample: the reservation when the payment starts, the commit turning it into the sale.
pub const RESERVED_SKU: &str = "DROP-SAMPLE";
pub const WHOLE_RESERVED_ORDER: &str = "whole order, reserved on payment";

/// The targets the model is held to (issue 18).
pub const DROP_TARGET: f64 = 5000.0;
pub const STORE_TARGET: f64 = 10_000.0;

/// DynamoDB's documented limits the model uses (sources in `docs/capacity.md`).
pub mod limits {
    /// Write units a second one item (and one partition, of the table or of an index) takes.
    pub const ITEM_WRITE_UNITS: f64 = 1000.0;
    /// Read units a second one partition takes.
    pub const PARTITION_READ_UNITS: f64 = 3000.0;
    /// A new on-demand table serves this many write units a second at once (without warm
    /// throughput), and about double its previous peak within this many minutes.
    pub const ON_DEMAND_INITIAL_WRITE_UNITS: f64 = 4000.0;
    pub const DOUBLING_MINUTES: f64 = 30.0;
    /// The default table-level write throughput quota of an on-demand table (and of each of
    /// its indexes): raised through Service Quotas; warm throughput cannot exceed it.
    pub const TABLE_WRITE_QUOTA: f64 = 40_000.0;
    /// `stockShards` goes up to this (the API's bound, not DynamoDB's).
    pub const MAX_STOCK_SHARDS: u32 = 64;
    /// The sweeper's queues in `gsi2` are write-sharded over this many partitions each
    /// (`SWEEP_SHARDS` in the adapter's schema).
    pub const SWEEP_SHARDS: f64 = 32.0;
    /// The pricing configuration, which every cart request reads, is kept on this many
    /// items, each read at random (`CONFIG_REPLICAS` in the DynamoDB adapter's schema).
    pub const CONFIG_REPLICAS: f64 = 32.0;
    /// Merchants' search index `gsi3` spreads a month's orders over this many partitions
    /// (`SEARCH_SHARDS` in the adapter's schema).
    pub const SEARCH_SHARDS: f64 = 16.0;
    /// The search index's name in [`Inputs::index_write_units`].
    pub const SEARCH_INDEX: &str = "gsi3";
}

use limits::*;

/// What the model starts from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inputs {
    /// How long a transaction keeps its items (the emulator's hold; see the docs for the
    /// figure used).
    pub hold: Duration,
    /// Write units one commit spends on the SKU's stock item it takes from.
    pub stock_item_write_units: f64,
    /// Read units one order spends on the SKU's product item (every shard but 0 lives
    /// elsewhere; the product item is read by every buyer of the SKU, sharded or not).
    pub product_item_read_units: f64,
    /// Write units of one whole order on the table (its cart's writes, payment, commit and
    /// the subscribers' records), indexes apart.
    pub table_write_units: f64,
    /// The same on each index: (name, units).
    pub index_write_units: Vec<(String, f64)>,
    /// Of those, writes to the sweeper's index (`gsi2`) per order: they land on one of its
    /// [`SWEEP_SHARDS`] partitions.
    pub sweep_index_writes: f64,
    /// Read units one whole order spends on the pricing configuration, all replicas
    /// together: every order of the store reads it.
    pub config_read_units: f64,
}

/// Orders a second one stock item (a shard) takes: one transaction holds it at a time
/// (`1 / hold`), and it takes at most [`ITEM_WRITE_UNITS`] a second.
pub fn per_shard(inputs: &Inputs) -> f64 {
    let by_hold = 1.0 / inputs.hold.as_secs_f64();
    let by_units = ITEM_WRITE_UNITS / inputs.stock_item_write_units;
    by_hold.min(by_units)
}

/// Orders a second the product's own item lets through: every buyer reads it, and its
/// partition serves [`PARTITION_READ_UNITS`] a second (infinite when orders do not read it).
pub fn by_product_reads(inputs: &Inputs) -> f64 {
    if inputs.product_item_read_units <= 0.0 {
        return f64::INFINITY;
    }
    PARTITION_READ_UNITS / inputs.product_item_read_units
}

/// Orders a second the pricing configuration's replicas let through: every order reads
/// them, spread over [`CONFIG_REPLICAS`] items of [`PARTITION_READ_UNITS`] a second each.
pub fn by_config_reads(inputs: &Inputs) -> f64 {
    if inputs.config_read_units <= 0.0 {
        return f64::INFINITY;
    }
    CONFIG_REPLICAS * PARTITION_READ_UNITS / inputs.config_read_units
}

/// Orders a second the sweeper's index partitions let through: each of the
/// [`SWEEP_SHARDS`] partitions takes [`ITEM_WRITE_UNITS`] a second (its entries are under
/// 1 KB: one unit each).
pub fn by_sweep_partitions(inputs: &Inputs) -> f64 {
    if inputs.sweep_index_writes <= 0.0 {
        return f64::INFINITY;
    }
    SWEEP_SHARDS * ITEM_WRITE_UNITS / inputs.sweep_index_writes
}

/// Orders a second the search index's partitions let through: an order's `gsi3` entries
/// land on one of a month's [`SEARCH_SHARDS`] partitions (infinite without the index).
pub fn by_search_partitions(inputs: &Inputs) -> f64 {
    let units = inputs
        .index_write_units
        .iter()
        .find(|(name, _)| name == SEARCH_INDEX)
        .map_or(0.0, |(_, units)| *units);
    if units <= 0.0 {
        return f64::INFINITY;
    }
    SEARCH_SHARDS * ITEM_WRITE_UNITS / units
}

/// Orders a second one SKU with `shards` stock items takes.
pub fn sku_orders(shards: u32, inputs: &Inputs) -> f64 {
    (f64::from(shards) * per_shard(inputs))
        .min(by_product_reads(inputs))
        .min(store_orders(inputs))
}

/// The stock shards one SKU needs for `orders` a second, if any number does (the product
/// item's reads and the sweeper's partitions do not grow with shards).
pub fn shards_for(orders: f64, inputs: &Inputs) -> Option<u32> {
    if by_product_reads(inputs) < orders || store_orders(inputs) < orders {
        return None;
    }
    Some((orders / per_shard(inputs)).ceil() as u32)
}

/// What a rate of orders asks of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableNeed {
    pub orders_per_second: f64,
    /// Write units a second on the table, indexes apart.
    pub table_write_units: f64,
    /// On each index.
    pub index_write_units: Vec<(String, f64)>,
    /// On each of the sweeper's index partitions.
    pub sweep_partition_write_units: f64,
    /// `TableWarmWriteUnitsPerSecond` and `IndexWarmWriteUnitsPerSecond` (the template sets
    /// one value for both indexes): the rate, so the table serves it at once.
    pub table_warm_write_units: f64,
    pub index_warm_write_units: f64,
    /// The table-level write quota it takes (the default, or more: a Service Quotas request).
    pub write_quota: f64,
    pub within_default_quota: bool,
    /// Without warm throughput: how long a new on-demand table takes to get there by
    /// doubling from [`ON_DEMAND_INITIAL_WRITE_UNITS`], at best.
    pub minutes_by_doubling: f64,
}

/// Rounds up to a multiple of `step`.
fn round_up(value: f64, step: f64) -> f64 {
    (value / step).ceil() * step
}

/// The table settings `orders` a second need.
pub fn table_need(orders: f64, inputs: &Inputs) -> TableNeed {
    let table = orders * inputs.table_write_units;
    let indexes: Vec<(String, f64)> = inputs
        .index_write_units
        .iter()
        .map(|(name, units)| (name.clone(), orders * units))
        .collect();
    let largest_index = indexes.iter().map(|(_, u)| *u).fold(0.0, f64::max);
    let largest = table.max(largest_index);
    let doublings = if largest <= ON_DEMAND_INITIAL_WRITE_UNITS {
        0.0
    } else {
        (largest / ON_DEMAND_INITIAL_WRITE_UNITS).log2().ceil()
    };
    TableNeed {
        orders_per_second: orders,
        table_write_units: table,
        sweep_partition_write_units: orders * inputs.sweep_index_writes / SWEEP_SHARDS,
        index_write_units: indexes,
        table_warm_write_units: round_up(table, 1000.0),
        index_warm_write_units: round_up(largest_index, 1000.0),
        write_quota: round_up(largest, 1000.0).max(TABLE_WRITE_QUOTA),
        within_default_quota: largest <= TABLE_WRITE_QUOTA,
        minutes_by_doubling: doublings * DOUBLING_MINUTES,
    }
}

/// The store's ceiling: what the sweeper's and the search index's partitions and the
/// configuration's replicas allow (the table's own write units grow with warm throughput
/// and the quota, which can be raised).
pub fn store_orders(inputs: &Inputs) -> f64 {
    by_sweep_partitions(inputs)
        .min(by_search_partitions(inputs))
        .min(by_config_reads(inputs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit takes 2 units of a sub-KB stock shard; a buyer reads the product item twice,
    /// eventually consistent (0.5 each); an order writes 30 units to the table, 3 to `gsi1`
    /// and 2 to `gsi2` (both `gsi2` writes counted as sweeper writes).
    fn inputs(hold_ms: u64) -> Inputs {
        Inputs {
            hold: Duration::from_millis(hold_ms),
            stock_item_write_units: 2.0,
            product_item_read_units: 1.0,
            table_write_units: 30.0,
            index_write_units: vec![("gsi1".into(), 3.0), ("gsi2".into(), 2.0)],
            sweep_index_writes: 2.0,
            config_read_units: 0.0,
        }
    }

    #[test]
    fn a_shard_takes_one_order_per_hold_until_its_write_units_run_out() {
        // 20 ms: 50 a second (50 × 2 = 100 units, far below 1,000).
        assert_eq!(per_shard(&inputs(20)), 50.0);
        // 1 ms: 1,000 by the hold, but 1,000 units / 2 = 500 by throughput.
        assert_eq!(per_shard(&inputs(1)), 500.0);
        let mut large = inputs(20);
        large.stock_item_write_units = 40.0; // a 20 KB item: 1,000 / 40 = 25 < 50
        assert_eq!(per_shard(&large), 25.0);
    }

    #[test]
    fn a_sku_scales_with_shards_up_to_its_product_items_reads() {
        let i = inputs(20);
        assert_eq!(sku_orders(1, &i), 50.0);
        assert_eq!(sku_orders(8, &i), 400.0);
        // 3,000 read units / 1 per order: 3,000 a second, however many shards; 64 shards
        // would take 3,200.
        assert_eq!(by_product_reads(&i), 3000.0);
        assert_eq!(sku_orders(64, &i), 3000.0);
        assert_eq!(shards_for(2000.0, &i), Some(40));
        // 5,000 a second: 5,000 / 50 = 100 shards by the hold, but the reads cap it at 3,000.
        assert_eq!(shards_for(5000.0, &i), None);
        let mut cheap_reads = inputs(20);
        cheap_reads.product_item_read_units = 0.5; // 6,000 a second
        assert_eq!(sku_orders(64, &cheap_reads), 3200.0);
        assert_eq!(shards_for(5000.0, &cheap_reads), Some(100));
        // A 10 ms hold: 100 a second a shard, 50 shards.
        cheap_reads.hold = Duration::from_millis(10);
        assert_eq!(shards_for(5000.0, &cheap_reads), Some(50));
        // No reads of a shared item at all (the store's orders): only the shards bound it.
        let mut none = inputs(20);
        none.product_item_read_units = 0.0;
        assert_eq!(by_product_reads(&none), f64::INFINITY);
    }

    #[test]
    fn the_configurations_replicas_bound_the_store() {
        // No configuration reads in the sample: no bound.
        assert_eq!(by_config_reads(&inputs(20)), f64::INFINITY);
        // 8 strongly consistent reads an order over 32 replicas: 32 × 3,000 / 8 = 12,000
        // orders a second, below the sweeper's 16,000: the store's ceiling.
        let mut reading = inputs(20);
        reading.config_read_units = 8.0;
        assert_eq!(by_config_reads(&reading), 12_000.0);
        assert_eq!(store_orders(&reading), 12_000.0);
        // And a SKU's, whatever its shards.
        reading.product_item_read_units = 0.0;
        assert_eq!(sku_orders(64, &reading), 3200.0);
        reading.hold = Duration::from_millis(1);
        assert_eq!(sku_orders(64, &reading), 12_000.0);
        assert_eq!(shards_for(13_000.0, &reading), None);
    }

    #[test]
    fn the_sweepers_partitions_bound_the_store() {
        // 32 partitions × 1,000 units / 2 writes an order = 16,000 orders a second.
        assert_eq!(by_sweep_partitions(&inputs(20)), 16_000.0);
        let need = table_need(10_000.0, &inputs(20));
        assert_eq!(need.sweep_partition_write_units, 625.0);
        let mut one = inputs(20);
        one.sweep_index_writes = 1.0;
        assert_eq!(by_sweep_partitions(&one), 32_000.0);
    }

    #[test]
    fn the_search_index_partitions_bound_the_store_too() {
        // No gsi3 in the sample: no bound.
        assert_eq!(by_search_partitions(&inputs(20)), f64::INFINITY);
        // One entry an order over 16 partitions: 16,000 a second; two entries: 8,000, below
        // the sweeper's 16,000, so the store's ceiling.
        let mut with_search = inputs(20);
        with_search.index_write_units.push(("gsi3".into(), 1.0));
        assert_eq!(by_search_partitions(&with_search), 16_000.0);
        with_search.index_write_units[2].1 = 2.0;
        assert_eq!(store_orders(&with_search), 8_000.0);
        assert_eq!(sku_orders(64, &with_search), 3_000.0);
    }

    #[test]
    fn table_settings_for_a_rate() {
        let need = table_need(10_000.0, &inputs(20));
        assert_eq!(need.table_write_units, 300_000.0);
        assert_eq!(
            need.index_write_units,
            vec![("gsi1".into(), 30_000.0), ("gsi2".into(), 20_000.0)]
        );
        assert_eq!(need.table_warm_write_units, 300_000.0);
        assert_eq!(need.index_warm_write_units, 30_000.0);
        assert_eq!(need.write_quota, 300_000.0);
        assert!(!need.within_default_quota);
        // 300,000 / 4,000 = 75 = 2^6.2: 7 doublings of 30 minutes.
        assert_eq!(need.minutes_by_doubling, 210.0);
        let small = table_need(100.0, &inputs(20));
        assert_eq!(small.table_write_units, 3000.0);
        assert_eq!(small.write_quota, 40_000.0);
        assert!(small.within_default_quota);
        assert_eq!(small.minutes_by_doubling, 0.0);
        // 1,234.5 units round up to the next thousand.
        assert_eq!(round_up(1234.5, 1000.0), 2000.0);
    }
}
