//! Summaries of timed samples.

use std::time::Duration;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub n: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentiles (no interpolation) of the samples, in milliseconds.
pub fn summarize(samples: &[Duration]) -> Summary {
    if samples.is_empty() {
        return Summary::default();
    }
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = |p: f64| {
        let index = ((p / 100.0) * ms.len() as f64).ceil() as usize;
        ms[index.clamp(1, ms.len()) - 1]
    };
    Summary {
        n: ms.len(),
        min_ms: ms[0],
        p50_ms: rank(50.0),
        p99_ms: rank(99.0),
        max_ms: ms[ms.len() - 1],
    }
}
