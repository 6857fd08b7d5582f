//! How many of a product a line holds.

use serde::{Deserialize, Serialize};

/// A quantity on a line: 1 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "i64")]
pub struct Quantity(u32);

impl TryFrom<i64> for Quantity {
    type Error = String;

    fn try_from(value: i64) -> Result<Self, String> {
        Quantity::parse(value)
    }
}

impl From<Quantity> for u32 {
    fn from(value: Quantity) -> u32 {
        value.0
    }
}

impl Quantity {
    pub const MAX: u32 = 999;

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=Self::MAX as i64).contains(&value) {
            Ok(Quantity(value as u32))
        } else {
            Err(format!("must be between 1 and {}", Self::MAX))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_between_one_and_the_maximum() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-2).is_err());
        assert_eq!(Quantity::parse(999).unwrap().get(), 999);
        assert!(Quantity::parse(1000).is_err());
    }
}
