//! Discount codes: their terms, validation, and whether one applies to a subtotal now.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::money::{Currency, Money, MAX_AMOUNT};
use crate::model::price_list::{parse_price_list, PriceList};
use crate::model::values::DiscountCode;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum DiscountKind {
    /// Basis points off the subtotal: 1000 = 10 %.
    Percentage { value: u32 },
    /// A fixed amount off, in one currency.
    Fixed { value: i64, currency: Currency },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscountDefinition {
    pub code: DiscountCode,
    #[serde(flatten)]
    pub kind: DiscountKind,
    /// Minimum subtotal per currency for the code to apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_order_value: PriceList,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_redemptions: Option<u32>,
    /// How many orders have redeemed the code; commits increment it conditionally.
    #[serde(default)]
    pub redemptions: u32,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub valid_until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiscountInput {
    pub kind: String,
    pub value: i64,
    #[serde(default)]
    pub currency: Option<String>,
    /// Either minor units in `currency`, or a map of currency to minor units.
    #[serde(default)]
    pub min_order_value: Option<MinOrderValueInput>,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub valid_until: Option<String>,
}

/// `minOrderValue` as sent: a plain amount in the code's `currency`, amounts per currency,
/// or anything else (refused with a field message, not a type error).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MinOrderValueInput {
    Amount(i64),
    PerCurrency(BTreeMap<String, AmountInput>),
    Other(serde::de::IgnoredAny),
}

/// One amount of a `minOrderValue` map: minor units, or anything else.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AmountInput {
    Minor(i64),
    Other(serde::de::IgnoredAny),
}

/// Why a discount code does not apply to a cart right now, in words for `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplicable {
    Expired,
    Exhausted,
    WrongCurrency(Currency),
    BelowMinimum(Money),
}

impl std::fmt::Display for NotApplicable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotApplicable::Expired => f.write_str("has expired"),
            NotApplicable::Exhausted => f.write_str("has been fully redeemed"),
            NotApplicable::WrongCurrency(c) => write!(f, "is only valid for {c} carts"),
            NotApplicable::BelowMinimum(m) => write!(f, "needs a subtotal of at least {m}"),
        }
    }
}

impl DiscountDefinition {
    pub fn parse(code: &str, input: &DiscountInput) -> Result<Self, Error> {
        let mut errors = FieldErrors::new();
        let code = errors.check("/code", DiscountCode::parse(code));
        let currency = match input.currency.as_deref() {
            Some(c) => errors.check("/currency", Currency::parse(c)),
            None => None,
        };
        let kind = match input.kind.as_str() {
            "percentage" => errors
                .check(
                    "/value",
                    u32::try_from(input.value)
                        .ok()
                        .filter(|v| (1..=10_000).contains(v))
                        .ok_or("must be between 1 and 10000 basis points"),
                )
                .map(|value| DiscountKind::Percentage { value }),
            "fixed" => {
                let value = errors.check(
                    "/value",
                    if (1..=MAX_AMOUNT).contains(&input.value) {
                        Ok(input.value)
                    } else {
                        Err("must be a positive amount in minor units")
                    },
                );
                if input.currency.is_none() {
                    errors.push(FieldError::new(
                        "/currency",
                        "is required for fixed discounts",
                    ));
                }
                value
                    .zip(currency)
                    .map(|(value, currency)| DiscountKind::Fixed { value, currency })
            }
            _ => {
                errors.push(FieldError::new("/kind", "must be 'percentage' or 'fixed'"));
                None
            }
        };
        let min_order_value = match &input.min_order_value {
            None => PriceList::new(),
            Some(MinOrderValueInput::Amount(cents)) => match currency {
                Some(currency) if (0..=MAX_AMOUNT).contains(cents) => {
                    PriceList::from([(currency, *cents)])
                }
                None => {
                    errors.push(FieldError::new(
                        "/minOrderValue",
                        "a plain amount needs `currency`; or give a map such as {\"EUR\": 2000}",
                    ));
                    PriceList::new()
                }
                Some(_) => {
                    errors.push(FieldError::new(
                        "/minOrderValue",
                        "must be an amount in minor units",
                    ));
                    PriceList::new()
                }
            },
            Some(MinOrderValueInput::PerCurrency(map)) => {
                let mut raw = BTreeMap::new();
                for (k, v) in map {
                    match v {
                        AmountInput::Minor(cents) => {
                            raw.insert(k.clone(), *cents);
                        }
                        AmountInput::Other(_) => errors.push(FieldError::new(
                            format!("/minOrderValue/{k}"),
                            "must be an amount in minor units",
                        )),
                    }
                }
                parse_price_list(&raw, "/minOrderValue", &mut errors)
            }
            Some(MinOrderValueInput::Other(_)) => {
                errors.push(FieldError::new(
                    "/minOrderValue",
                    "must be an amount or a map of currency to amount",
                ));
                PriceList::new()
            }
        };
        let max_redemptions = match input.max_redemptions {
            None => None,
            Some(n) => errors
                .check(
                    "/maxRedemptions",
                    u32::try_from(n)
                        .ok()
                        .filter(|&n| n >= 1)
                        .map(Some)
                        .ok_or("must be a positive whole number"),
                )
                .flatten(),
        };
        let valid_until = match input.valid_until.as_deref() {
            None => None,
            Some(raw) => errors
                .check(
                    "/validUntil",
                    OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
                        .map(Some)
                        .map_err(|_| "must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z"),
                )
                .flatten(),
        };
        let definition = code.zip(kind).map(|(code, kind)| DiscountDefinition {
            code,
            kind,
            min_order_value,
            max_redemptions,
            redemptions: 0,
            valid_until,
        });
        errors.finish(definition)
    }

    /// Whether the code may apply to a cart in `currency` with `subtotal`, at `now`.
    pub fn check(&self, subtotal: Money, now: OffsetDateTime) -> Result<(), NotApplicable> {
        if self.valid_until.is_some_and(|until| now > until) {
            return Err(NotApplicable::Expired);
        }
        if !self.has_redemptions_left() {
            return Err(NotApplicable::Exhausted);
        }
        if let DiscountKind::Fixed { currency, .. } = self.kind {
            if currency != subtotal.currency() {
                return Err(NotApplicable::WrongCurrency(currency));
            }
        }
        if let Some(&minimum) = self.min_order_value.get(&subtotal.currency()) {
            if subtotal.cent_amount < minimum {
                return Err(NotApplicable::BelowMinimum(Money::new(
                    minimum,
                    subtotal.currency(),
                )));
            }
        }
        Ok(())
    }

    pub fn has_redemptions_left(&self) -> bool {
        self.max_redemptions
            .is_none_or(|max| self.redemptions < max)
    }
}
