//! The domain's counts as CloudWatch metrics, in the embedded metric format: one JSON line on
//! standard output per count, which Lambda's log delivery turns into a metric (no API call,
//! no extra latency). Namespace `METRICS_NAMESPACE` (default `Checkout`); each count is
//! published per function (dimension `Function`) and across all functions (no dimension),
//! which the template's alarms watch.

use std::io::Write;

use checkout_domain::ports::metrics::{Metric, Metrics};

pub struct EmfMetrics {
    namespace: String,
    function: String,
}

impl EmfMetrics {
    /// From `METRICS_NAMESPACE` and Lambda's `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn from_env() -> Self {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        EmfMetrics {
            namespace: var("METRICS_NAMESPACE", "Checkout"),
            function: var("AWS_LAMBDA_FUNCTION_NAME", "local"),
        }
    }

    /// The line that publishes `n` of `metric` at `timestamp_ms`.
    pub fn line(&self, metric: Metric, n: u64, timestamp_ms: i128) -> String {
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    // Per function, and across all functions (an empty set) for alarms.
                    "Dimensions": [["Function"], []],
                    "Metrics": [{"Name": metric.name(), "Unit": "Count"}],
                }],
            },
            "Function": self.function,
            metric.name(): n,
        })
        .to_string()
    }
}

impl Metrics for EmfMetrics {
    fn count(&self, metric: Metric, n: u64) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let line = self.line(metric, n, now);
        // One write per line, so concurrent counts never interleave.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_one_embedded_metric_format_line() {
        let emf = EmfMetrics {
            namespace: "Checkout".into(),
            function: "expire-orders".into(),
        };
        let line: serde_json::Value =
            serde_json::from_str(&emf.line(Metric::SweepFailures, 2, 1_700_000_000_000)).unwrap();
        assert_eq!(line["SweepFailures"], 2);
        assert_eq!(line["Function"], "expire-orders");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Checkout");
        assert_eq!(directive["Dimensions"][0][0], "Function");
        assert_eq!(directive["Dimensions"][1], serde_json::json!([]));
        assert_eq!(directive["Metrics"][0]["Name"], "SweepFailures");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
