//! Money in minor units. Never a float: amounts are `i64` cents and every operation is checked.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::model::field_error::FieldError;

/// The ISO 4217 currencies the product prices in. Adding one is a code change on purpose:
/// it needs its minor-unit exponent and a review of every price and tax configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    EUR,
    USD,
    GBP,
    CHF,
    JPY,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::EUR,
        Currency::USD,
        Currency::GBP,
        Currency::CHF,
        Currency::JPY,
    ];

    pub fn parse(code: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.code() == code)
            .ok_or_else(|| {
                format!(
                    "unsupported currency '{code}'; supported: {}",
                    Self::ALL.map(|c| c.code()).join(", ")
                )
            })
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::EUR => "EUR",
            Currency::USD => "USD",
            Currency::GBP => "GBP",
            Currency::CHF => "CHF",
            Currency::JPY => "JPY",
        }
    }

    /// Digits after the decimal point (ISO 4217 minor unit), for display only.
    pub fn fraction_digits(self) -> u32 {
        match self {
            Currency::JPY => 0,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in the currency's minor unit, as the API writes it:
/// `{"centAmount": 1999, "currencyCode": "EUR"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub cent_amount: i64,
    pub currency_code: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    pub fn new(cent_amount: i64, currency: Currency) -> Self {
        Money {
            cent_amount,
            currency_code: currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Money::new(0, currency)
    }

    pub fn currency(&self) -> Currency {
        self.currency_code
    }

    pub fn is_zero(&self) -> bool {
        self.cent_amount == 0
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency_code == other.currency_code {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency_code,
                other.currency_code,
            ))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let sum = self
            .cent_amount
            .checked_add(other.cent_amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(sum, self.currency_code))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        let diff = self
            .cent_amount
            .checked_sub(other.cent_amount)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(diff, self.currency_code))
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        let product = self
            .cent_amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(product, self.currency_code))
    }

    /// `self × basis_points / 10 000`, rounded half away from zero: the one rounding rule the
    /// pricing engine uses for percentages and tax.
    pub fn basis_points(self, basis_points: u32) -> Result<Money, MoneyError> {
        let scaled = (self.cent_amount as i128) * (basis_points as i128);
        let rounded = round_half_away_from_zero(scaled, 10_000);
        let cents = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(cents, self.currency_code))
    }

    pub fn min(self, other: Money) -> Money {
        if other.cent_amount < self.cent_amount {
            other
        } else {
            self
        }
    }

    /// Parses a non-negative amount given in minor units for `currency`.
    pub fn parse_amount(cent_amount: i64, currency: Currency) -> Result<Money, FieldError> {
        if cent_amount < 0 {
            return Err(FieldError::new("", "must not be negative"));
        }
        if cent_amount > MAX_AMOUNT {
            return Err(FieldError::new("", "is too large"));
        }
        Ok(Money::new(cent_amount, currency))
    }
}

/// The largest single amount accepted from configuration or clients (10^13 minor units):
/// far above any real basket, far below where `quantity × price` could overflow `i64`.
pub const MAX_AMOUNT: i64 = 10_000_000_000_000;

pub(crate) fn round_half_away_from_zero(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency_code.fraction_digits();
        if digits == 0 {
            return write!(f, "{} {}", self.cent_amount, self.currency_code);
        }
        let unit = 10i64.pow(digits);
        let sign = if self.cent_amount < 0 { "-" } else { "" };
        let abs = self.cent_amount.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / unit as u64,
            abs % unit as u64,
            self.currency_code,
            width = digits as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        let m = |c| Money::new(c, Currency::EUR);
        // 1050 × 19 % = 199.5 → 200
        assert_eq!(m(1050).basis_points(1900).unwrap().cent_amount, 200);
        // 1049 × 19 % = 199.31 → 199
        assert_eq!(m(1049).basis_points(1900).unwrap().cent_amount, 199);
        // −2.5 → −3
        assert_eq!(m(-25).basis_points(1000).unwrap().cent_amount, -3);
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_overflow() {
        let eur = Money::new(1, Currency::EUR);
        let usd = Money::new(1, Currency::USD);
        assert_eq!(
            eur.checked_add(usd),
            Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::USD))
        );
        assert_eq!(
            Money::new(i64::MAX, Currency::EUR).checked_add(eur),
            Err(MoneyError::Overflow)
        );
        assert_eq!(eur.checked_mul(i64::MAX).unwrap().cent_amount, i64::MAX);
        assert_eq!(
            Money::new(2, Currency::EUR).checked_mul(i64::MAX),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn displays_with_the_currency_exponent() {
        assert_eq!(Money::new(1999, Currency::EUR).to_string(), "19.99 EUR");
        assert_eq!(Money::new(5, Currency::USD).to_string(), "0.05 USD");
        assert_eq!(Money::new(1999, Currency::JPY).to_string(), "1999 JPY");
    }

    #[test]
    fn serializes_as_the_api_writes_it() {
        let json = serde_json::to_string(&Money::new(1999, Currency::EUR)).unwrap();
        assert_eq!(json, r#"{"centAmount":1999,"currencyCode":"EUR"}"#);
    }
}
