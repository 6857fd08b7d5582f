//! Everything measured, the cost derived from it, the budgets checked against it: printed as
//! one table and written as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::capacity::Computed;
use crate::contention::Outcome;
use crate::ddb::Usage;
use crate::lambda::Run;
use crate::load::Throughput;
use crate::stats::Summary;

/// Lambda memory of every function (`template.yaml`, `Globals.Function.MemorySize`).
pub(crate) const MEMORY_MB: f64 = 256.0;

/// The functions' architecture as deployed by default (`template.yaml`, `Architecture`); the
/// durations are measured on the bench machine's.
pub(crate) const ARCHITECTURE: &str = "arm64";

#[derive(Default)]
pub struct Report {
    pub(crate) prices: Value,
    /// Per function: spawn → first answer, spawn → first poll, the process's CPU time until
    /// it answered, and every run's total (ms).
    pub(crate) cold: Vec<(String, Summary, Summary, Summary, Vec<f64>)>,
    pub(crate) emulated: Vec<(String, Run)>,
    pub(crate) sizes: Vec<(String, u64, u64)>,
    pub(crate) in_process: Vec<(String, Vec<(String, Summary)>)>,
    pub(crate) usage: BTreeMap<String, Vec<Usage>>,
    /// The same samples' capacity by DynamoDB's documented rules (`capacity`).
    pub(crate) computed: BTreeMap<String, Vec<Computed>>,
    /// The contention section's scenarios.
    pub(crate) contention: Vec<Outcome>,
    /// The emulator's hold, which the model takes as a transaction's hold time.
    pub(crate) hold: std::time::Duration,
    pub(crate) throughput: Option<Throughput>,
    /// No Python peer in this run (`BENCH_PYTHON` unset): no ratio.
    pub(crate) peer_skipped: bool,
    /// The deflate level the bootstraps were zipped with (9; 1 in the smoke).
    pub(crate) zip_level: u32,
    /// A smoke run: its figures prove the bench runs and measure nothing.
    pub(crate) smoke: bool,
}

/// Megabytes (10^6 bytes), as the size budget is stated.
pub(crate) fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

impl Report {
    pub fn new(prices: &Path) -> Result<Report, String> {
        let text =
            std::fs::read_to_string(prices).map_err(|e| format!("{}: {e}", prices.display()))?;
        Ok(Report {
            prices: serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", prices.display()))?,
            ..Report::default()
        })
    }

    pub fn cold(
        &mut self,
        function: &str,
        runs: &[std::time::Duration],
        inits: &[std::time::Duration],
        cpu: &[std::time::Duration],
    ) {
        let ms = runs.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        self.cold.push((
            function.into(),
            crate::stats::summarize(runs),
            crate::stats::summarize(inits),
            crate::stats::summarize(cpu),
            ms,
        ));
    }

    pub fn smoke(&mut self) {
        self.smoke = true;
    }

    pub fn peer_skipped(&mut self) {
        self.peer_skipped = true;
    }

    pub fn emulated(&mut self, function: &str, run: Run) {
        self.emulated.push((function.into(), run));
    }

    pub fn size(&mut self, function: &str, size: u64, zipped: u64, zip_level: u32) {
        self.zip_level = zip_level;
        self.sizes.push((function.into(), size, zipped));
    }

    pub fn in_process(&mut self, store: &str, rows: Vec<(String, Summary)>) {
        self.in_process.push((store.into(), rows));
    }

    pub fn usage(&mut self, what: &str, usage: Usage) {
        self.usage.entry(what.into()).or_default().push(usage);
    }

    pub fn computed(&mut self, what: &str, computed: Computed) {
        self.computed.entry(what.into()).or_default().push(computed);
    }

    pub fn contention(&mut self, outcome: Outcome) {
        eprintln!(
            "bench: {}: {} created, {} OutOfStock, {} failed, {:.1} orders/s, {} conflicts",
            outcome.name,
            outcome.created,
            outcome.out_of_stock,
            outcome.failed,
            outcome.orders_per_second,
            outcome.conflicts
        );
        self.contention.push(outcome);
    }

    pub fn hold(&mut self, hold: std::time::Duration) {
        self.hold = hold;
    }

    pub fn throughput(&mut self, throughput: Throughput) {
        self.throughput = Some(throughput);
    }

    pub fn finish(&self, out: &Path) -> Result<(), String> {
        let cost = self.cost();
        let budgets = self.budgets(&cost);
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        let now = time::OffsetDateTime::now_utc();
        line(format!(
            "checkout bench, {} UTC, {} cores",
            now.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ));
        if self.smoke {
            line("SMOKE RUN (BENCH_SMOKE=1): one cold start and a few warm invocations of each; these figures prove the bench runs, they measure nothing".into());
        }
        line(String::new());
        line("Cold start: spawn -> first answer, under the bench's Runtime API emulator, DynamoDB Local (ms)".into());
        line(format!(
            "  {:<24} {:>5} {:>8} {:>8} {:>8}   {:>14} {:>13}",
            "function", "runs", "min", "median", "max", "init (median)", "CPU (median)"
        ));
        for (name, total, init, cpu, _) in &self.cold {
            line(format!(
                "  {:<24} {:>5} {:>8.1} {:>8.1} {:>8.1}   {:>14.1} {:>13.1}",
                name, total.n, total.min_ms, total.p50_ms, total.max_ms, init.p50_ms, cpu.p50_ms
            ));
        }
        if let (Some(rust), Some(python)) = (
            self.cold_p50("create-order"),
            self.cold_p50("create-order (Python)"),
        ) {
            line(format!(
                "  ratio (Python / Rust, medians): {:.1}x",
                python / rust
            ));
        }
        if self.peer_skipped {
            line("  create-order (Python)    skipped (no BENCH_PYTHON): no ratio".into());
        }
        line(String::new());
        line("One process per function, invocations back to back: warm latency (dispatch -> answer) and peak RSS".into());
        line(format!(
            "  {:<24} {:<20} {:>5} {:>8} {:>8} {:>8} {:>10}",
            "function", "invocation", "n", "p50", "p99", "max", "RSS MiB"
        ));
        for (name, run) in &self.emulated {
            for (i, (group, s)) in run.groups.iter().enumerate() {
                let rss = if i == 0 {
                    format!("{:.1}", run.peak_rss_mib)
                } else {
                    String::new()
                };
                line(format!(
                    "  {:<24} {:<20} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>10}",
                    if i == 0 { name.as_str() } else { "" },
                    group,
                    s.n,
                    s.p50_ms,
                    s.p99_ms,
                    s.max_ms,
                    rss
                ));
            }
        }
        line(String::new());
        line("In process, through the router (no runtime, no socket): warm latency (ms)".into());
        line(format!(
            "  {:<16} {:<30} {:>5} {:>8} {:>8} {:>8}",
            "store", "operation", "n", "p50", "p99", "max"
        ));
        for (store, rows) in &self.in_process {
            for (i, (op, s)) in rows.iter().enumerate() {
                line(format!(
                    "  {:<16} {:<30} {:>5} {:>8.3} {:>8.3} {:>8.3}",
                    if i == 0 { store.as_str() } else { "" },
                    op,
                    s.n,
                    s.p50_ms,
                    s.p99_ms,
                    s.max_ms
                ));
            }
        }
        line(String::new());
        for text in self.dynamodb_lines() {
            line(text);
        }
        line(String::new());
        if let Some(t) = &self.throughput {
            line(format!(
                "checkout-local, embedded store: {:.0} orders/s ({} clients, {:.1} s, {} orders, {} requests each, {:.0} requests/s, {} failures), peak RSS {:.1} MiB",
                t.orders_per_second, t.clients, t.seconds, t.orders, t.requests_per_order, t.requests_per_second, t.failures, t.peak_rss_mib
            ));
            line(String::new());
        }
        line(format!(
            "Bootstrap size (stripped) and zipped (deflate -{}), MB",
            self.zip_level
        ));
        for (name, size, zipped) in &self.sizes {
            line(format!(
                "  {:<24} {:>8.2} {:>8.2}",
                name,
                mb(*size),
                mb(*zipped)
            ));
        }
        line(String::new());
        for section in [self.contention_lines(), self.model_lines()] {
            if !section.is_empty() {
                for text in section {
                    line(text);
                }
                line(String::new());
            }
        }
        let usd = &cost["usd_per_million_orders"];
        // A part this run did not measure (BENCH_ONLY) has no figure.
        let dollars = |part: &str| match usd[part].as_f64().filter(|v| v.is_finite()) {
            Some(v) => format!("${v:.2}"),
            None => "n/a".to_string(),
        };
        line(format!(
            "Cost per 1M orders (prices of {}, {}, {} MB; DynamoDB units {}): Lambda requests {} + compute {} + DynamoDB reads {} + writes {} + SQS {} = {}",
            cost["prices_date"].as_str().unwrap_or("?"),
            ARCHITECTURE,
            MEMORY_MB,
            cost["units"].as_str().unwrap_or("?"),
            dollars("lambda_requests"),
            dollars("lambda_compute"),
            dollars("dynamodb_reads"),
            dollars("dynamodb_writes"),
            dollars("sqs"),
            dollars("total"),
        ));
        for text in self.cost_notes(&cost) {
            line(text);
        }
        line(String::new());
        line("Budgets".into());
        for (budget, value, held) in &budgets {
            let mark = match held {
                Some(true) => "ok  ",
                Some(false) => "MISS",
                None => "see ",
            };
            line(format!("  {mark} {budget}: {value}"));
        }
        print!("{text}");

        let json = json!({
            "date": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "smoke": self.smoke,
            "peer_skipped": self.peer_skipped,
            "cold_start_ms": self.cold.iter().map(|(n, t, i, cpu, runs)| json!({"function": n, "total": t, "init": i, "cpu": cpu, "runs": runs})).collect::<Vec<_>>(),
            "emulated": self.emulated.iter().map(|(n, r)| json!({"function": n, "run": r})).collect::<Vec<_>>(),
            "in_process_ms": self.in_process.iter().map(|(s, rows)| json!({"store": s, "operations": rows.iter().map(|(op, s)| json!({"operation": op, "latency": s})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "dynamodb": self.usage,
            "dynamodb_by_the_rules": self.computed,
            "contention": self.contention,
            "model": self.model_json(),
            "throughput": self.throughput,
            "sizes_bytes": self.sizes.iter().map(|(n, s, z)| json!({"function": n, "stripped": s, "zipped": z})).collect::<Vec<_>>(),
            "cost": cost,
            "budgets": budgets.iter().map(|(b, v, h)| json!({"budget": b, "value": v, "held": h})).collect::<Vec<_>>(),
            "table": text,
        });
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&json).unwrap())
            .map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!("bench: wrote {}", out.display());
        Ok(())
    }
}
