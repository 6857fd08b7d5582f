//! Human-friendly order numbers: the UTC date and 8 Crockford base32 characters,
//! e.g. `20261123-7KQ2M9XD`. 40 random bits per day make a collision rare; the commit's
//! `attribute_not_exists` condition makes it harmless (the caller retries with a new one).

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct OrderNumber(String);

impl TryFrom<String> for OrderNumber {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        OrderNumber::parse(&value)
    }
}

impl From<OrderNumber> for String {
    fn from(value: OrderNumber) -> String {
        value.0
    }
}

/// How often a commit draws a generated order number before it gives up on collisions.
pub const DRAW_ATTEMPTS: usize = 3;

impl OrderNumber {
    pub fn generate(now: OffsetDateTime) -> Self {
        let mut bytes = [0u8; 5];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let bits = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        let suffix: String = (0..8)
            .rev()
            .map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize] as char)
            .collect();
        let date = now.date();
        OrderNumber(format!(
            "{:04}{:02}{:02}-{suffix}",
            date.year(),
            date.month() as u8,
            date.day()
        ))
    }

    /// Client-supplied numbers: 3–64 of `A–Z a–z 0–9 - _`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = (3..=64).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(OrderNumber(value.to_string()))
        } else {
            Err("must be 3–64 letters, digits, '-' or '_'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn generated_numbers_have_a_date_and_eight_crockford_characters() {
        let number = OrderNumber::generate(datetime!(2026-11-23 13:00 UTC));
        let (date, suffix) = number.as_str().split_once('-').unwrap();
        assert_eq!(date, "20261123");
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| CROCKFORD.contains(&b)));
        assert!(OrderNumber::parse(number.as_str()).is_ok());
    }

    #[test]
    fn generated_numbers_differ() {
        let now = OffsetDateTime::now_utc();
        let numbers: std::collections::HashSet<_> =
            (0..1000).map(|_| OrderNumber::generate(now)).collect();
        assert_eq!(numbers.len(), 1000);
    }
}
