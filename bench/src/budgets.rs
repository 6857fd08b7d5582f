//! The report's arithmetic: medians it compares, the cost per million orders from the dated
//! price table, and every budget of the issue against what was measured.

use crate::ddb::Usage;
use serde_json::{json, Value};

use crate::report::{mb, Report, ARCHITECTURE, MEMORY_MB};

impl Report {
    pub(crate) fn cold_p50(&self, function: &str) -> Option<f64> {
        self.cold
            .iter()
            .find(|(name, _, _, _, _)| name == function)
            .map(|(_, total, _, _, _)| total.p50_ms)
    }

    pub(crate) fn emulated_p50(&self, function: &str, group: &str) -> Option<f64> {
        self.emulated
            .iter()
            .find(|(name, _)| name == function)
            .and_then(|(_, run)| run.groups.iter().find(|(g, _)| g == group))
            .map(|(_, s)| s.p50_ms)
    }

    /// The most any sample of `what` used (samples should agree; the worst is reported).
    pub(crate) fn worst(&self, what: &str) -> Option<Usage> {
        self.usage.get(what)?.iter().cloned().max_by(|a, b| {
            (a.requests.len(), a.read_units + a.write_units)
                .partial_cmp(&(b.requests.len(), b.read_units + b.write_units))
                .unwrap()
        })
    }

    pub(crate) fn price(&self, path: &[&str]) -> f64 {
        let mut value = &self.prices;
        for key in path {
            value = &value[*key];
        }
        value.as_f64().unwrap_or(f64::NAN)
    }

    /// Per 1 million orders placed through `POST /orders`: create-order, the relay (one
    /// stream batch per order) and both subscribers (one SQS batch per message), at warm
    /// durations; SQS: a `SendMessageBatch` per queue, and Lambda's `ReceiveMessage` and
    /// `DeleteMessageBatch` per batch. Batches of one are the worst case (quiet traffic).
    pub(crate) fn cost(&self) -> Value {
        // DynamoDB's units by the documented rules when this run computed them; DynamoDB
        // Local's reported units otherwise (they leave out part of what transactions cost).
        match (
            self.computed_worst("new order, key"),
            self.computed_worst("subscriber message"),
        ) {
            (Some(order), Some(subscriber)) => self.cost_of(
                "by the documented rules",
                (order.read_units, order.write_total() as f64),
                (subscriber.read_units, subscriber.write_total() as f64),
            ),
            _ => self.reported_cost(),
        }
    }

    /// [`Report::cost`] with the units DynamoDB Local reports.
    pub(crate) fn reported_cost(&self) -> Value {
        let order = self.worst("new order, key").unwrap_or_default();
        let subscriber = self.worst("subscriber message").unwrap_or_default();
        self.cost_of(
            "as DynamoDB Local reports them",
            (order.read_units, order.write_units),
            (subscriber.read_units, subscriber.write_units),
        )
    }

    /// The cost per 1M orders with these read and write units per order and per
    /// subscriber message.
    fn cost_of(&self, units: &str, order: (f64, f64), subscriber: (f64, f64)) -> Value {
        let billed = |ms: Option<f64>| ms.map_or(f64::NAN, f64::ceil);
        let durations = [
            (
                "create-order",
                billed(self.emulated_p50("create-order", "new order")),
                1.0,
            ),
            (
                "outbox-relay",
                billed(self.emulated_p50("outbox-relay", "stream record")),
                1.0,
            ),
            (
                "order-created",
                billed(self.emulated_p50("order-created", "SQS message")),
                2.0,
            ),
        ];
        let invocations: f64 = durations.iter().map(|(_, _, n)| n).sum();
        let gb_seconds: f64 = durations
            .iter()
            .map(|(_, ms, n)| ms / 1000.0 * MEMORY_MB / 1024.0 * n)
            .sum();
        let read_units = order.0 + 2.0 * subscriber.0;
        let write_units = order.1 + 2.0 * subscriber.1;
        let sqs_requests = 2.0 * 3.0;
        let million = 1_000_000.0;
        let lambda_requests = invocations * self.price(&["lambda", "requests_per_million"]);
        let lambda_compute =
            gb_seconds * million * self.price(&["lambda", &format!("gb_second_{ARCHITECTURE}")]);
        let ddb_reads =
            read_units * self.price(&["dynamodb_on_demand", "read_request_units_per_million"]);
        let ddb_writes =
            write_units * self.price(&["dynamodb_on_demand", "write_request_units_per_million"]);
        let sqs = sqs_requests * self.price(&["sqs", "standard_requests_per_million"]);
        let total = lambda_requests + lambda_compute + ddb_reads + ddb_writes + sqs;
        json!({
            "units": units,
            "prices_date": self.prices["date"],
            "architecture": ARCHITECTURE,
            "per_order": {
                "lambda_invocations": invocations,
                "lambda_billed_ms": durations.iter().map(|(f, ms, n)| json!({"function": f, "ms": ms, "invocations": n})).collect::<Vec<_>>(),
                "lambda_gb_seconds": gb_seconds,
                "dynamodb_read_units": read_units,
                "dynamodb_write_units": write_units,
                "sqs_requests": sqs_requests,
            },
            "usd_per_million_orders": {
                "lambda_requests": lambda_requests,
                "lambda_compute": lambda_compute,
                "dynamodb_reads": ddb_reads,
                "dynamodb_writes": ddb_writes,
                "sqs": sqs,
                "total": total,
            }
        })
    }

    /// What the cost leaves out or would be with the other units: DynamoDB Local's reported
    /// units, and the writes of the whole order (cart, payment) at the same price.
    pub(crate) fn cost_notes(&self, cost: &Value) -> Vec<String> {
        let mut notes = Vec::new();
        let price = self.price(&["dynamodb_on_demand", "write_request_units_per_million"]);
        let reported = self.reported_cost();
        let total = |c: &Value| c["usd_per_million_orders"]["total"].as_f64();
        if cost["units"] != reported["units"] {
            if let (Some(ours), Some(theirs)) = (total(cost), total(&reported)) {
                notes.push(format!(
                    "  with DynamoDB Local's reported units instead: ${theirs:.2} ({:.1} write units an order and its two messages, {:.1} by the rules: ${ours:.2})",
                    reported["per_order"]["dynamodb_write_units"].as_f64().unwrap_or(f64::NAN),
                    cost["per_order"]["dynamodb_write_units"].as_f64().unwrap_or(f64::NAN),
                ));
            }
        }
        if let (Some(whole), Some(subscriber)) = (
            self.computed_worst(crate::model::WHOLE_ORDER),
            self.computed_worst("subscriber message"),
        ) {
            let units = whole.write_total() as f64 + 2.0 * subscriber.write_total() as f64;
            notes.push(format!(
                "  the whole order's DynamoDB writes (cart made and made ready, payment, webhook, commit, two messages): {units:.0} units = ${:.2} per 1M orders (API Gateway, the storefront's and webhook's Lambda time not included)",
                units * price
            ));
        }
        notes
    }

    pub(crate) fn budgets(&self, cost: &Value) -> Vec<(String, String, Option<bool>)> {
        let mut budgets = Vec::new();
        let rust = self.cold_p50("create-order");
        let python = self.cold_p50("create-order (Python)");
        if let (Some(rust), Some(python)) = (rust, python) {
            budgets.push((
                "cold start create-order <= 1/20 of the Python peer's (medians)".into(),
                format!("{rust:.1} ms vs {python:.1} ms = 1/{:.1}", python / rust),
                Some(rust * 20.0 <= python),
            ));
        } else if self.peer_skipped {
            budgets.push((
                "cold start create-order <= 1/20 of the Python peer's (medians)".into(),
                "not measured: the Python peer was skipped".into(),
                None,
            ));
        }
        for (what, limit) in [("new order, key", 2), ("replay, key", 1)] {
            // With an `Idempotency-Key` header.
            if let Some(usage) = self.worst(what) {
                budgets.push((
                    format!("{what}: <= {limit} DynamoDB round trips"),
                    format!("{} ({})", usage.requests.len(), usage.requests.join(", ")),
                    Some(usage.requests.len() <= limit),
                ));
            }
        }
        for (what, limit) in [("new order, no key", 2), ("replay, no key", 1)] {
            if let Some(usage) = self.worst(what) {
                budgets.push((
                    format!("{what}: <= {limit} DynamoDB round trips"),
                    format!("{} ({})", usage.requests.len(), usage.requests.join(", ")),
                    Some(usage.requests.len() <= limit),
                ));
            }
        }
        if let Some(usage) = self.worst("webhook-created order") {
            // The event dedupe is the idempotency record of the event id: its conditional
            // PutItem first, and the PutItem completing it last.
            let core = usage.requests.len().saturating_sub(2);
            budgets.push((
                "webhook-created order: <= 3 round trips besides the event dedupe".into(),
                format!(
                    "{core} besides the dedupe's first and last PutItem, {} in all ({})",
                    usage.requests.len(),
                    usage.requests.join(", ")
                ),
                Some(core <= 3),
            ));
        }
        if let Some((_, rows)) = self
            .in_process
            .iter()
            .find(|(store, _)| store == "embedded")
        {
            let worst = rows.iter().map(|(_, s)| s.p99_ms).fold(0.0_f64, f64::max);
            budgets.push((
                "handler overhead on the embedded store: p99 < 1 ms".into(),
                format!("worst p99 {worst:.3} ms"),
                Some(worst < 1.0),
            ));
        }
        if let Some(t) = &self.throughput {
            budgets.push((
                "checkout-local >= 3,000 orders/s on 2 cores".into(),
                format!("{:.0} orders/s", t.orders_per_second),
                Some(t.orders_per_second >= 3000.0),
            ));
        }
        if let Some(worst) = self.sizes.iter().max_by_key(|(_, _, z)| *z) {
            budgets.push((
                "each function <= 6 MB zipped".into(),
                format!("largest {} {:.2} MB", worst.0, mb(worst.2)),
                Some(worst.2 as f64 <= 6.0 * 1_000_000.0),
            ));
        }
        if let Some((name, run)) = self
            .emulated
            .iter()
            .filter(|(name, _)| !name.contains("Python"))
            .max_by(|a, b| a.1.peak_rss_mib.partial_cmp(&b.1.peak_rss_mib).unwrap())
        {
            budgets.push((
                "peak RSS <= 40 MB per function over its invocations".into(),
                format!("largest {name} {:.1} MiB", run.peak_rss_mib),
                Some(run.peak_rss_mib * 1.048_576 <= 40.0),
            ));
        }
        budgets.extend(self.sale_budgets());
        let total = cost["usd_per_million_orders"]["total"]
            .as_f64()
            .unwrap_or(f64::NAN);
        budgets.push((
            "cost per 1M orders (Lambda + DynamoDB + SQS) <= $8".into(),
            if total.is_nan() {
                "not measured in this run".into()
            } else {
                format!("${total:.2}")
            },
            (!total.is_nan()).then_some(total <= 8.0),
        ));
        budgets
    }
}
