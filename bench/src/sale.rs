//! The report's sale figures: DynamoDB capacity by the documented rules beside what
//! DynamoDB Local reports, the contention scenarios, the capacity model, and their budgets.

mod model_report;
#[cfg(test)]
mod tests;

use crate::capacity::Computed;
use crate::model::{self, Inputs, DROP_TARGET, STORE_TARGET, WHOLE_DROP_ORDER, WHOLE_ORDER};
use crate::report::Report;

/// The operations the DynamoDB table shows, in order.
const OPERATIONS: [&str; 9] = [
    "new order, key",
    "replay, key",
    "new order, no key",
    "replay, no key",
    "webhook-created order",
    "subscriber message",
    WHOLE_ORDER,
    WHOLE_DROP_ORDER,
    model::WHOLE_RESERVED_ORDER,
];

/// `1,234` for 1234.4.
pub(crate) fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "unbounded".into();
    }
    let digits = format!("{:.0}", value.round());
    let (sign, digits) = digits
        .strip_prefix('-')
        .map_or(("", digits.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

impl Report {
    /// The sample of `what` that wrote the most by the rules.
    pub(crate) fn computed_worst(&self, what: &str) -> Option<&Computed> {
        self.computed.get(what)?.iter().max_by(|a, b| {
            (a.write_total(), a.read_units)
                .partial_cmp(&(b.write_total(), b.read_units))
                .unwrap()
        })
    }

    /// The model's inputs from the whole-order sample `sample` (plus two subscriber
    /// messages), and the emulator's hold.
    pub(crate) fn model_inputs(&self, sample: &str) -> Option<Inputs> {
        let order = self.computed_worst(sample)?;
        let subscriber = self
            .computed_worst("subscriber message")
            .cloned()
            .unwrap_or_default();
        let stock_item_write_units = self
            .computed
            .values()
            .flatten()
            .flat_map(Computed::transaction_items)
            .filter(|item| item.item.starts_with("PRODUCT/"))
            .map(|item| item.write_units)
            .max()? as f64;
        let product_item = format!("PRODUCT#{}/PRODUCT", model::SALE_SKU);
        let product_item_read_units = if sample == WHOLE_DROP_ORDER {
            self.computed[sample]
                .iter()
                .map(|c| c.reads_by_item.get(&product_item).copied().unwrap_or(0.0))
                .fold(0.0, f64::max)
        } else {
            // The store's orders share no SKU: no item is read by all of them.
            0.0
        };
        // Every order reads the pricing configuration, whichever replica answers.
        let config_read_units = self.computed[sample]
            .iter()
            .map(|c| {
                c.reads_by_item
                    .iter()
                    .filter(|(item, _)| item.starts_with("CONFIG"))
                    .map(|(_, units)| units)
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        let mut index_write_units: Vec<(String, f64)> = crate::capacity::INDEXES
            .iter()
            .map(|(name, _, _)| {
                let units = |c: &Computed| c.index_write_units.get(*name).copied().unwrap_or(0);
                (
                    name.to_string(),
                    (units(order) + 2 * units(&subscriber)) as f64,
                )
            })
            .collect();
        index_write_units.retain(|(_, units)| *units > 0.0);
        let sweep_index_writes = index_write_units
            .iter()
            .find(|(name, _)| name == "gsi2")
            .map_or(0.0, |(_, units)| *units);
        Some(Inputs {
            hold: self.hold,
            stock_item_write_units,
            product_item_read_units,
            table_write_units: (order.table_write_units + 2 * subscriber.table_write_units) as f64,
            index_write_units,
            sweep_index_writes,
            config_read_units,
        })
    }

    /// Each operation's capacity as DynamoDB Local reports it and by the rules, and the
    /// commit's items one by one.
    pub(crate) fn dynamodb_lines(&self) -> Vec<String> {
        let mut lines = vec![
            "DynamoDB per operation, in process, worst sample: as DynamoDB Local reports it (ReturnConsumedCapacity=INDEXES) | by DynamoDB's documented rules from the items' sizes (docs/capacity.md); WCU includes the GSIs'".into(),
            format!(
                "  {:<37} {:>4} {:>6} {:>6} {:>7} | {:>6} {:>6} {:>7}   {}",
                "operation", "reqs", "RCU", "WCU", "GSI WCU", "RCU", "WCU", "GSI WCU", "requests sent"
            ),
        ];
        for what in OPERATIONS {
            let Some(u) = self.worst(what) else { continue };
            let (rcu, wcu, gsi) = self.computed_worst(what).map_or(
                ("-".to_string(), "-".to_string(), "-".to_string()),
                |c| {
                    (
                        format!("{:.1}", c.read_units),
                        format!("{}", c.write_total()),
                        format!("{}", c.index_total()),
                    )
                },
            );
            let mut requests = u.requests.join(", ");
            if requests.len() > 60 {
                requests = format!("{} requests", u.requests.len());
            }
            lines.push(format!(
                "  {:<37} {:>4} {:>6.1} {:>6.1} {:>7.1} | {:>6} {:>6} {:>7}   {}",
                what,
                u.requests.len(),
                u.read_units,
                u.write_units,
                u.index_write_units,
                rcu,
                wcu,
                gsi,
                requests
            ));
        }
        if let Some(commit) = self.computed_worst("new order, key") {
            lines.push(String::new());
            lines.push(
                "The commit of a new order (POST /orders with a key), item by item, by the rules (transactional: 2 WCU per started KB; a ConditionCheck 2 per KB of the item checked)"
                    .into(),
            );
            lines.push(format!(
                "  {:<22} {:<7} {:>6} {:>4}   {}",
                "item", "action", "bytes", "WCU", "index WCU"
            ));
            for item in commit.transaction_items() {
                let index = item
                    .index_units
                    .iter()
                    .map(|(name, units)| format!("{name} {units}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                lines.push(format!(
                    "  {:<22} {:<7} {:>6} {:>4}   {}",
                    item.item,
                    format!("{:?}", item.action),
                    item.bytes,
                    item.write_units,
                    index
                ));
            }
        }
        lines
    }

    pub(crate) fn contention_lines(&self) -> Vec<String> {
        if self.contention.is_empty() {
            return Vec::new();
        }
        let mut lines = vec![
            format!(
                "Contention: POST /orders through the contention emulator (DynamoDB's conflict rule; an item is held {} ms from its transaction's acceptance, DynamoDB Local's queue apart), buyers send a 503 Contended again after Retry-After",
                self.hold.as_millis()
            ),
            format!(
                "  {:<44} {:>6} {:>5} {:>5} {:>5} {:>5} {:>4} {:>4} {:>9} {:>10} {:>8} {:>8} {:>7} {:>8} {:>6}",
                "scenario", "buyers", "conc", "stock", "sold", "OOS", "fail", "503", "orders/s", "confl/ord", "p50 ms", "p99 ms", "tx ms", "oversold", "unsold"
            ),
        ];
        for o in &self.contention {
            lines.push(format!(
                "  {:<44} {:>6} {:>5} {:>5} {:>5} {:>5} {:>4} {:>4} {:>9.1} {:>10.2} {:>8.1} {:>8.1} {:>7.1} {:>8} {:>6}",
                o.name,
                o.buyers,
                o.concurrency,
                o.stock,
                o.created,
                o.out_of_stock,
                o.failed,
                o.contended,
                o.orders_per_second,
                o.conflicts_per_order,
                o.latency.p50_ms,
                o.latency.p99_ms,
                o.transaction_round_trip.p50_ms,
                o.oversold,
                o.unsold
            ));
        }
        lines.push("  (sold: 201 answers; OOS: 409 OutOfStock; 503: Contended answers retried; orders/s: sold / the time to the last sale; confl/ord: transactions the emulator cancelled for a conflict per order; p50/p99: a buyer's first request to final answer; tx ms: p50 of a committed TransactWriteItems through the emulator, DynamoDB Local's queue included)".into());
        for o in &self.contention {
            let Some(shards) = o.shards else { continue };
            lines.push(format!(
                "  {}: {:.1} orders/s a shard against a ceiling of 1 / {} ms = {:.0} by the hold: DynamoDB Local's transaction rate (tx ms) bounds this run, not the shards",
                o.name,
                o.orders_per_second / f64::from(shards),
                self.hold.as_millis(),
                1.0 / self.hold.as_secs_f64()
            ));
        }
        for o in self.contention.iter().filter(|o| o.reserved) {
            lines.push(format!(
                "  {}: {} buyers, {} started paying, {} got orders, {} refunded after paying (must be 0), {} told OutOfStock before any payment existed",
                o.name, o.buyers, o.payments_started, o.created, o.refunded, o.out_of_stock
            ));
        }
        for o in self.contention.iter().filter(|o| o.hottest.is_some()) {
            if let Some((item, refusals)) = &o.hottest {
                lines.push(format!(
                    "  hottest in {}: {item} ({refusals} refusals), {} transactions, {} commit retries",
                    o.name, o.transactions, o.commit_retries
                ));
            }
        }
        if let Some(failure) = self.contention.iter().find_map(|o| o.first_failure.clone()) {
            lines.push(format!("  first failure: {failure}"));
        }
        lines
    }

    pub(crate) fn sale_budgets(&self) -> Vec<(String, String, Option<bool>)> {
        let mut budgets = Vec::new();
        if let Some(mix) = self.contention.iter().find(|o| o.shards.is_none()) {
            let conflicts = mix.conflicts + mix.other_conflicts;
            budgets.push((
                "orders sharing nothing: 0 conflicts at any concurrency".into(),
                format!(
                    "{conflicts} conflicts in {} transactions, {} orders, {} at once ({} sold, {} failed)",
                    mix.transactions, mix.buyers, mix.concurrency, mix.created, mix.failed
                ),
                Some(conflicts == 0 && mix.failed == 0 && mix.units_taken == mix.created),
            ));
        }
        for o in self.contention.iter().filter(|o| o.shards.is_some()) {
            budgets.push((
                format!(
                    "{}, {} buyers for {} units: every unit sold once, the rest OutOfStock, 0 oversold, 0 unsold",
                    o.name, o.buyers, o.stock
                ),
                format!(
                    "{} sold, {} OutOfStock, {} other; stock down by {}; {} oversold, {} unsold; {} Contended retried",
                    o.created, o.out_of_stock, o.failed, o.units_taken, o.oversold, o.unsold, o.contended
                ),
                Some(o.sold_exactly_once() && o.created == o.stock.min(o.buyers as u64)),
            ));
        }
        let per_order = |shards: u32| {
            self.contention
                .iter()
                .find(|o| o.shards == Some(shards))
                .map(|o| o.conflicts_per_order)
        };
        if let (Some(one), Some(eight)) = (per_order(1), per_order(8)) {
            let ratio = if eight > 0.0 {
                one / eight
            } else {
                f64::INFINITY
            };
            budgets.push((
                "one-SKU drop: 8 shards >= 3x fewer conflicts than 1".into(),
                format!(
                    "{one:.2} vs {eight:.2} conflicts per order: {}",
                    if ratio.is_finite() {
                        format!("{ratio:.1}x fewer")
                    } else {
                        "none with 8".into()
                    }
                ),
                Some(ratio >= 3.0),
            ));
        }
        if let (Some(drop), Some(store)) = (
            self.model_inputs(WHOLE_DROP_ORDER),
            self.model_inputs(WHOLE_ORDER),
        ) {
            let shards = model::shards_for(DROP_TARGET, &drop);
            let need = model::table_need(DROP_TARGET, &drop);
            let cap = model::limits::MAX_STOCK_SHARDS;
            let value = match shards {
                Some(n) if n <= cap => format!("{n} shards"),
                Some(n) => format!(
                    "{n} shards at {} orders/s a shard, over the API's {cap} ({} orders/s with {cap})",
                    thousands(model::per_shard(&drop)),
                    thousands(model::sku_orders(cap, &drop))
                ),
                None => format!(
                    "no shard count: the product item's reads allow {} orders/s, the sweeper's partitions {}, the search index's {}, the configuration's replicas {}",
                    thousands(model::by_product_reads(&drop)),
                    thousands(model::by_sweep_partitions(&drop)),
                    thousands(model::by_search_partitions(&drop)),
                    thousands(model::by_config_reads(&drop))
                ),
            };
            budgets.push((
                "model: a one-SKU drop at >= 5,000 orders/s within DynamoDB's limits".into(),
                format!(
                    "{value}; table {} WCU/s (write quota {}, warm throughput {} / indexes {})",
                    thousands(need.table_write_units),
                    thousands(need.write_quota),
                    thousands(need.table_warm_write_units),
                    thousands(need.index_warm_write_units)
                ),
                Some(shards.is_some_and(|n| n <= cap)),
            ));
            let need = model::table_need(STORE_TARGET, &store);
            let ceiling = model::store_orders(&store);
            budgets.push((
                "model: a store at >= 10,000 orders/s within DynamoDB's limits".into(),
                format!(
                    "the sweeper's gsi2 and the search's gsi3 partitions and the configuration's replicas allow {} orders/s ({} WCU/s on each gsi2 partition at 10,000/s, limit 1,000); table {} WCU/s, write quota {} (default 40,000), warm throughput {} / indexes {}",
                    thousands(ceiling),
                    thousands(need.sweep_partition_write_units),
                    thousands(need.table_write_units),
                    thousands(need.write_quota),
                    thousands(need.table_warm_write_units),
                    thousands(need.index_warm_write_units)
                ),
                Some(ceiling >= STORE_TARGET),
            ));
        }
        budgets
    }
}
