//! Gift cards as a ledger: a code with a currency and a balance in minor units. A balance
//! only ever goes down by a redemption that is a condition of an order's own commit (never
//! below zero), and up by an administrator's write conditioned on the balance it read.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::model::error::{Error, FieldErrors};
use crate::model::money::{Currency, Money, MAX_AMOUNT};

/// A gift card's code: 4–64 of `A–Z a–z 0–9 - _`, case-sensitive as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct GiftCardCode(String);

impl TryFrom<String> for GiftCardCode {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        GiftCardCode::parse(&value)
    }
}

impl From<GiftCardCode> for String {
    fn from(value: GiftCardCode) -> String {
        value.0
    }
}

impl GiftCardCode {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = (4..=64).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if valid {
            Ok(GiftCardCode(value.to_string()))
        } else {
            Err("must be 4–64 characters of letters, digits, '-' or '_'".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GiftCardCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A gift card as stored and as `GET /admin/gift-cards/{code}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GiftCard {
    pub code: GiftCardCode,
    pub currency: Currency,
    /// What is left on the card, in the currency's minor units.
    pub balance: i64,
}

impl GiftCard {
    pub fn balance(&self) -> Money {
        Money::new(self.balance, self.currency)
    }
}

/// `PUT /admin/gift-cards/{code}` as the client sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GiftCardInput {
    pub currency: String,
    pub balance: i64,
}

impl GiftCardInput {
    /// The card this input describes, every field checked.
    pub fn parse(&self, code: &str) -> Result<GiftCard, Error> {
        let mut errors = FieldErrors::new();
        let code = errors.check("/code", GiftCardCode::parse(code));
        let currency = errors.check("/currency", Currency::parse(&self.currency));
        let balance = errors.check(
            "/balance",
            if (0..=MAX_AMOUNT).contains(&self.balance) {
                Ok(self.balance)
            } else {
                Err("must be between 0 and 10^13 minor units")
            },
        );
        errors.finish(
            code.zip(currency)
                .zip(balance)
                .map(|((code, currency), balance)| GiftCard {
                    code,
                    currency,
                    balance,
                }),
        )
    }
}

/// Money an order takes from a gift card: a condition of its commit (the card holds at least
/// `amount`, in its currency) and the write that takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardRedemption {
    pub code: GiftCardCode,
    pub amount: Money,
}

/// Money an order gives back to a gift card (its provider payments were refunded or their
/// authorizations ended): written with the order's payments in the one write that claims the
/// gift card payment's reversal key, so it lands once. The card must still exist in the
/// credit's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftCardCredit {
    pub code: GiftCardCode,
    pub amount: Money,
}

/// The payment provider name gift card payments are recorded under.
pub const GIFT_CARD_PSP: &str = "giftCard";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_balances_are_checked() {
        assert!(GiftCardCode::parse("GIFT-100").is_ok());
        assert!(GiftCardCode::parse("no").is_err());
        assert!(GiftCardCode::parse("a b c d").is_err());
        let input = GiftCardInput {
            currency: "EUR".into(),
            balance: -1,
        };
        assert!(input.parse("GIFT-100").is_err());
    }
}
