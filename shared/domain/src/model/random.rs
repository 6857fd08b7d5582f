//! Random draws where the domain spreads load (a shard to take stock from, a backoff's jitter),
//! from the operating system's source.

/// Uniform in `0..n` (`n > 0`); 0 when the source fails.
pub fn below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() || n == 0 {
        return 0;
    }
    u64::from_le_bytes(bytes) % n
}

/// Uniform in [0, 1); one half when the source fails.
pub fn fraction() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}
