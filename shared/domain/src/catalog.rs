//! What the shop sells and on what terms: products, discount codes, shipping methods and tax
//! rates. Admin inputs arrive as `*Input` structs and are validated by `parse`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

use crate::error::{Error, FieldError, FieldErrors};
use crate::money::{Currency, Money, MAX_AMOUNT};
use crate::values::{CountryCode, DiscountCode, Name, ShippingMethodId, Sku, TaxCategory};

/// Prices per currency in minor units, net of tax.
pub type PriceList = BTreeMap<Currency, i64>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: Sku,
    pub name: Name,
    pub prices: PriceList,
    /// Units available to sell; commits decrement it conditionally, never below zero.
    pub stock: u32,
    pub tax_category: TaxCategory,
}

impl Product {
    pub fn price(&self, currency: Currency) -> Option<Money> {
        self.prices
            .get(&currency)
            .map(|&cents| Money::new(cents, currency))
    }
}

/// A product as an admin sends it. `stock` sets the stock (a new product's, or an existing
/// one's against the stock the service read); `stockDelta` adds to it atomically. At most one
/// of the two; with neither, an existing product keeps its stock and a new one starts at 0.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    pub prices: BTreeMap<String, i64>,
    #[serde(default)]
    pub stock: Option<i64>,
    #[serde(default)]
    pub stock_delta: Option<i64>,
    pub tax_category: String,
}

/// Everything about a product but its stock: what an admin update sets attribute by attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductTerms {
    pub sku: Sku,
    pub name: Name,
    pub prices: PriceList,
    pub tax_category: TaxCategory,
}

/// How an admin update changes the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// Leave it (a new product starts at 0).
    Keep,
    /// Set it to this, against the stock the service read.
    Set(u32),
    /// Add this (signed) atomically; the result must stay within 0..=u32::MAX.
    Delta(i64),
}

/// A validated `PUT /admin/products/{sku}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductUpdate {
    pub terms: ProductTerms,
    pub stock: StockChange,
}

/// The stock write a store performs, each conditioned on what it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockWrite {
    /// The product must not exist yet; it starts with this stock.
    Create(u32),
    /// The product must exist; its stock is untouched.
    Keep,
    /// The stock must still be `read`; it becomes `stock`.
    Replace { read: u32, stock: u32 },
    /// The stock (0 for a new product) plus `delta` must stay within 0..=u32::MAX.
    Add(i64),
}

impl StockChange {
    /// The write that applies this change to the product as read (`None`: it does not exist).
    pub fn write(self, read: Option<&Product>) -> StockWrite {
        match (self, read) {
            (StockChange::Keep, None) => StockWrite::Create(0),
            (StockChange::Keep, Some(_)) => StockWrite::Keep,
            (StockChange::Set(stock), None) => StockWrite::Create(stock),
            (StockChange::Set(stock), Some(read)) => StockWrite::Replace {
                read: read.stock,
                stock,
            },
            (StockChange::Delta(delta), _) => StockWrite::Add(delta),
        }
    }
}

impl StockWrite {
    /// The range the stock must be in before an `Add`, so the result stays within a `u32`.
    pub fn add_bounds(delta: i64) -> (i64, i64) {
        let max = i64::from(u32::MAX);
        ((-delta).max(0), (max - delta).min(max))
    }

    /// The stock after this write, given the stock now (`None`: no such product), or `None`
    /// if the write's condition does not hold. The embedded store's form of the conditions
    /// the DynamoDB adapter writes as expressions.
    pub fn apply(self, current: Option<u32>) -> Option<u32> {
        match (self, current) {
            (StockWrite::Create(stock), None) => Some(stock),
            (StockWrite::Keep, Some(stock)) => Some(stock),
            (StockWrite::Replace { read, stock }, Some(now)) if now == read => Some(stock),
            (StockWrite::Add(delta), now) => {
                let (low, high) = Self::add_bounds(delta);
                let now = i64::from(now.unwrap_or(0));
                (low..=high)
                    .contains(&now)
                    .then(|| u32::try_from(now + delta).ok())
                    .flatten()
            }
            _ => None,
        }
    }
}

fn parse_price_list(
    prices: &BTreeMap<String, i64>,
    pointer: &str,
    errors: &mut FieldErrors,
) -> PriceList {
    let mut list = PriceList::new();
    for (code, &cents) in prices {
        let here = format!("{pointer}/{code}");
        let currency = errors.check(&here, Currency::parse(code));
        let amount = errors.check(
            &here,
            if (0..=MAX_AMOUNT).contains(&cents) {
                Ok(cents)
            } else {
                Err(format!("must be between 0 and {MAX_AMOUNT} minor units"))
            },
        );
        if let (Some(currency), Some(amount)) = (currency, amount) {
            list.insert(currency, amount);
        }
    }
    list
}

impl Product {
    pub fn new(terms: ProductTerms, stock: u32) -> Self {
        Product {
            sku: terms.sku,
            name: terms.name,
            prices: terms.prices,
            stock,
            tax_category: terms.tax_category,
        }
    }
}

fn parse_stock_change(input: &ProductInput, errors: &mut FieldErrors) -> Option<StockChange> {
    const MAX: i64 = u32::MAX as i64;
    match (input.stock, input.stock_delta) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "/stockDelta",
                "cannot be combined with /stock; send one of them",
            ));
            None
        }
        (Some(stock), None) => errors
            .check(
                "/stock",
                u32::try_from(stock).map_err(|_| format!("must be between 0 and {MAX}")),
            )
            .map(StockChange::Set),
        (None, Some(delta)) => errors
            .check(
                "/stockDelta",
                if (-MAX..=MAX).contains(&delta) {
                    Ok(delta)
                } else {
                    Err(format!("must be between -{MAX} and {MAX}"))
                },
            )
            .map(StockChange::Delta),
        (None, None) => Some(StockChange::Keep),
    }
}

impl ProductUpdate {
    pub fn parse(sku: &str, input: &ProductInput, config: &PricingConfig) -> Result<Self, Error> {
        let mut errors = FieldErrors::new();
        let sku = errors.check("/sku", Sku::parse(sku));
        let name = errors.check("/name", Name::parse(&input.name));
        if input.prices.is_empty() {
            errors.push(FieldError::new("/prices", "needs at least one currency"));
        }
        let prices = parse_price_list(&input.prices, "/prices", &mut errors);
        let stock = parse_stock_change(input, &mut errors);
        let tax_category = errors
            .check("/taxCategory", TaxCategory::parse(&input.tax_category))
            .and_then(|category| {
                if config.knows_category(&category) {
                    Some(category)
                } else {
                    errors.push(FieldError::new(
                        "/taxCategory",
                        format!(
                            "unknown tax category; configured: {}",
                            config.categories().join(", ")
                        ),
                    ));
                    None
                }
            });
        let update = match (sku, name, stock, tax_category) {
            (Some(sku), Some(name), Some(stock), Some(tax_category)) => Some(ProductUpdate {
                terms: ProductTerms {
                    sku,
                    name,
                    prices,
                    tax_category,
                },
                stock,
            }),
            _ => None,
        };
        errors.finish(update)
    }
}

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
    pub min_order_value: Option<serde_json::Value>,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub valid_until: Option<String>,
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
            Some(serde_json::Value::Number(n)) => match (n.as_i64(), currency) {
                (Some(cents), Some(currency)) if (0..=MAX_AMOUNT).contains(&cents) => {
                    PriceList::from([(currency, cents)])
                }
                (_, None) => {
                    errors.push(FieldError::new(
                        "/minOrderValue",
                        "a plain amount needs `currency`; or give a map such as {\"EUR\": 2000}",
                    ));
                    PriceList::new()
                }
                _ => {
                    errors.push(FieldError::new(
                        "/minOrderValue",
                        "must be an amount in minor units",
                    ));
                    PriceList::new()
                }
            },
            Some(serde_json::Value::Object(map)) => {
                let mut raw = BTreeMap::new();
                for (k, v) in map {
                    match v.as_i64() {
                        Some(cents) => {
                            raw.insert(k.clone(), cents);
                        }
                        None => errors.push(FieldError::new(
                            format!("/minOrderValue/{k}"),
                            "must be an amount in minor units",
                        )),
                    }
                }
                parse_price_list(&raw, "/minOrderValue", &mut errors)
            }
            Some(_) => {
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

/// A shipping method as configured: where it ships, what it costs per currency, and from
/// which (discounted) subtotal it is free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingMethod {
    pub id: ShippingMethodId,
    pub name: Name,
    pub countries: BTreeSet<CountryCode>,
    pub prices: PriceList,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub free_above: PriceList,
    pub tax_category: TaxCategory,
}

impl ShippingMethod {
    pub fn serves(&self, country: &CountryCode, currency: Currency) -> bool {
        self.countries.contains(country) && self.prices.contains_key(&currency)
    }
}

/// Tax rates in basis points by country, then by tax category: `{"DE": {"standard": 1900}}`.
pub type TaxTable = BTreeMap<CountryCode, BTreeMap<TaxCategory, u32>>;

/// The configuration pricing depends on besides products and codes. Stored as one document
/// (see README, "Configuration"); `parse` checks it is complete before it is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingConfig {
    pub tax_rates: TaxTable,
    pub shipping_methods: Vec<ShippingMethod>,
    /// Minimum subtotal per currency for any order (enforced at commit).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_order_value: PriceList,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PricingConfigInput {
    pub tax_rates: BTreeMap<String, BTreeMap<String, i64>>,
    pub shipping_methods: Vec<ShippingMethodInput>,
    #[serde(default)]
    pub min_order_value: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShippingMethodInput {
    pub id: String,
    pub name: String,
    pub countries: Vec<String>,
    pub prices: BTreeMap<String, i64>,
    #[serde(default)]
    pub free_above: BTreeMap<String, i64>,
    pub tax_category: String,
}

impl PricingConfig {
    pub fn parse(input: &PricingConfigInput) -> Result<Self, Error> {
        let mut errors = FieldErrors::new();
        let mut tax_rates = TaxTable::new();
        for (country, rates) in &input.tax_rates {
            let here = format!("/taxRates/{country}");
            let Some(country) = errors.check(&here, CountryCode::parse(country)) else {
                continue;
            };
            let mut parsed = BTreeMap::new();
            for (category, &rate) in rates {
                let here = format!("{here}/{category}");
                let category = errors.check(&here, TaxCategory::parse(category));
                let rate = errors.check(
                    &here,
                    u32::try_from(rate)
                        .ok()
                        .filter(|r| *r <= 10_000)
                        .ok_or("must be between 0 and 10000 basis points"),
                );
                if let (Some(category), Some(rate)) = (category, rate) {
                    parsed.insert(category, rate);
                }
            }
            tax_rates.insert(country, parsed);
        }
        // Every country must know every category, or a product could be sold untaxed.
        let categories: BTreeSet<&TaxCategory> =
            tax_rates.values().flat_map(|r| r.keys()).collect();
        for (country, rates) in &tax_rates {
            for missing in categories.iter().filter(|c| !rates.contains_key(**c)) {
                errors.push(FieldError::new(
                    format!("/taxRates/{country}"),
                    format!("has no rate for tax category '{missing}'"),
                ));
            }
        }
        let mut shipping_methods = Vec::new();
        let mut seen = BTreeSet::new();
        for (index, method) in input.shipping_methods.iter().enumerate() {
            let here = format!("/shippingMethods/{index}");
            let id = errors.check(&format!("{here}/id"), ShippingMethodId::parse(&method.id));
            if let Some(id) = &id {
                if !seen.insert(id.clone()) {
                    errors.push(FieldError::new(format!("{here}/id"), "is used twice"));
                }
            }
            let name = errors.check(&format!("{here}/name"), Name::parse(&method.name));
            let mut countries = BTreeSet::new();
            for (i, country) in method.countries.iter().enumerate() {
                let pointer = format!("{here}/countries/{i}");
                if let Some(country) = errors.check(&pointer, CountryCode::parse(country)) {
                    if !tax_rates.contains_key(&country) {
                        errors.push(FieldError::new(pointer, "has no tax rates configured"));
                    }
                    countries.insert(country);
                }
            }
            let prices = parse_price_list(&method.prices, &format!("{here}/prices"), &mut errors);
            let free_above = parse_price_list(
                &method.free_above,
                &format!("{here}/freeAbove"),
                &mut errors,
            );
            let tax_category = errors.check(
                &format!("{here}/taxCategory"),
                TaxCategory::parse(&method.tax_category).and_then(|c| {
                    if categories.contains(&c) {
                        Ok(c)
                    } else {
                        Err("is not a configured tax category".to_string())
                    }
                }),
            );
            if let (Some(id), Some(name), Some(tax_category)) = (id, name, tax_category) {
                shipping_methods.push(ShippingMethod {
                    id,
                    name,
                    countries,
                    prices,
                    free_above,
                    tax_category,
                });
            }
        }
        let min_order_value =
            parse_price_list(&input.min_order_value, "/minOrderValue", &mut errors);
        errors.into_result()?;
        Ok(PricingConfig {
            tax_rates,
            shipping_methods,
            min_order_value,
        })
    }

    pub fn ships_to(&self, country: &CountryCode) -> bool {
        self.tax_rates.contains_key(country)
    }

    pub fn tax_rate(&self, country: &CountryCode, category: &TaxCategory) -> Option<u32> {
        self.tax_rates.get(country)?.get(category).copied()
    }

    pub fn knows_category(&self, category: &TaxCategory) -> bool {
        self.tax_rates
            .values()
            .any(|rates| rates.contains_key(category))
    }

    pub fn categories(&self) -> Vec<String> {
        let set: BTreeSet<_> = self
            .tax_rates
            .values()
            .flat_map(|rates| rates.keys().map(|c| c.to_string()))
            .collect();
        set.into_iter().collect()
    }

    pub fn shipping_method(&self, id: &ShippingMethodId) -> Option<&ShippingMethod> {
        self.shipping_methods.iter().find(|m| &m.id == id)
    }

    pub fn shipping_methods_for(
        &self,
        country: &CountryCode,
        currency: Currency,
    ) -> impl Iterator<Item = &ShippingMethod> {
        let country = country.clone();
        self.shipping_methods
            .iter()
            .filter(move |m| m.serves(&country, currency))
    }
}

#[cfg(test)]
mod stock_tests {
    use super::StockWrite;

    #[test]
    fn each_stock_write_holds_only_under_its_condition() {
        assert_eq!(StockWrite::Create(4).apply(None), Some(4));
        assert_eq!(StockWrite::Create(4).apply(Some(0)), None);
        assert_eq!(StockWrite::Keep.apply(Some(7)), Some(7));
        assert_eq!(StockWrite::Keep.apply(None), None);
        let replace = StockWrite::Replace { read: 5, stock: 9 };
        assert_eq!(replace.apply(Some(5)), Some(9));
        assert_eq!(replace.apply(Some(4)), None, "a sale since the read");
    }

    #[test]
    fn a_delta_keeps_the_stock_within_a_u32() {
        assert_eq!(StockWrite::Add(-3).apply(Some(3)), Some(0));
        assert_eq!(StockWrite::Add(-3).apply(Some(2)), None);
        assert_eq!(StockWrite::Add(-1).apply(None), None);
        assert_eq!(StockWrite::Add(2).apply(None), Some(2));
        assert_eq!(StockWrite::Add(1).apply(Some(u32::MAX)), None);
        assert_eq!(StockWrite::Add(1).apply(Some(u32::MAX - 1)), Some(u32::MAX));
    }
}
