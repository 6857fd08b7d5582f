//! What the shop sells and on what terms: products, discount codes, shipping methods and tax
//! rates. Admin inputs arrive as `*Input` structs and are validated by `parse`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::money::{Currency, Money};
use crate::model::not_null::not_null;
use crate::model::price_list::{parse_price_list, PriceList};
use crate::model::pricing_config::PricingConfig;
use crate::model::values::{Name, Sku, TaxCategory};

/// Most items a SKU's stock is spread over.
pub const MAX_STOCK_SHARDS: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub sku: Sku,
    pub name: Name,
    pub prices: PriceList,
    /// Units available to sell, over all shards (as stored on one item: that shard's);
    /// commits decrement a shard conditionally, never below zero.
    pub stock: u32,
    pub tax_category: TaxCategory,
    /// Items the stock is spread over (1–64), so concurrent orders for the SKU do not
    /// contend on one item (rule 12). Shard 0 is the product's own item.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub stock_shards: u32,
    /// Each shard's stock as last read (shard 0 first); `stock` is their sum.
    #[serde(skip)]
    pub shard_stock: Vec<u32>,
    /// The pricing configuration's revision stamped on the product's items when the
    /// configuration changed: a commit priced with an older one is refused.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub config_revision: u64,
    /// Every shard was found empty by an order: later reads need not look at the shards.
    /// Any write that adds stock clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sold_out: bool,
    /// Counts the administrator's stock writes, so the sold-out mark is never set over a
    /// restock it did not see.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stock_revision: u64,
    /// Starting a payment reserves the cart's units of this SKU (a drop).
    #[serde(default)]
    pub reserve_on_payment: bool,
    /// Most units of this SKU one cart may hold.
    #[serde(default)]
    pub max_per_order: Option<u32>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Product {
    /// Which shards held stock at the last read, as a bit set (bit k: shard k).
    pub fn shards_in_stock(&self) -> u64 {
        if self.shard_stock.is_empty() {
            return if self.stock > 0 { 1 } else { 0 };
        }
        self.shard_stock
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .fold(0, |bits, (k, _)| bits | (1 << k))
    }
}

/// `total` units spread over `shards` items as evenly as they go (the first get the rest).
pub fn spread(total: u32, shards: u32) -> Vec<u32> {
    let shards = shards.clamp(1, MAX_STOCK_SHARDS);
    (0..shards)
        .map(|k| total / shards + u32::from(k < total % shards))
        .collect()
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
    #[serde(default, deserialize_with = "not_null")]
    pub stock: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub stock_delta: Option<i64>,
    pub tax_category: String,
    /// Items to spread the stock over (1–64); absent: as it is (1 for a new product).
    #[serde(default, deserialize_with = "not_null")]
    pub stock_shards: Option<i64>,
    /// Reserve the cart's units when its payment starts; absent: off.
    #[serde(default)]
    pub reserve_on_payment: bool,
    /// Most units of the SKU in one cart (1–999); absent: no limit beyond the line's.
    #[serde(default)]
    pub max_per_order: Option<i64>,
}

/// Everything about a product but its stock: what an admin update sets attribute by attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductTerms {
    pub sku: Sku,
    pub name: Name,
    pub prices: PriceList,
    pub tax_category: TaxCategory,
    pub reserve_on_payment: bool,
    pub max_per_order: Option<u32>,
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
    /// The shard count asked for; `None`: as it is.
    pub shards: Option<u32>,
}

/// An administrator's write of a product whose stock is (or is to be) spread over shards:
/// every shard's stock, each against what was read, in one atomic write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedWrite {
    /// Each shard's stock as read (shard 0 first); empty: the product does not exist yet.
    pub read: Vec<u32>,
    /// Each shard's stock to be; its length is the new shard count.
    pub stock: Vec<u32>,
    /// The configuration revision the product's items carry (new shards get it too).
    pub config_revision: u64,
    /// The product's stock revision as read; the write moves it on.
    pub stock_revision: u64,
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

impl Product {
    pub fn new(terms: ProductTerms, stock: u32) -> Self {
        Product {
            sku: terms.sku,
            name: terms.name,
            prices: terms.prices,
            stock,
            tax_category: terms.tax_category,
            stock_shards: 1,
            shard_stock: vec![stock],
            config_revision: 0,
            sold_out: false,
            stock_revision: 0,
            reserve_on_payment: terms.reserve_on_payment,
            max_per_order: terms.max_per_order,
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
        let shards = match input.stock_shards {
            None => Some(None),
            Some(n) => errors
                .check(
                    "/stockShards",
                    u32::try_from(n)
                        .ok()
                        .filter(|n| (1..=MAX_STOCK_SHARDS).contains(n))
                        .ok_or_else(|| format!("must be between 1 and {MAX_STOCK_SHARDS}")),
                )
                .map(Some),
        };
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
        let max_per_order = match input.max_per_order {
            None => Some(None),
            Some(n) => errors
                .check(
                    "/maxPerOrder",
                    u32::try_from(n)
                        .ok()
                        .filter(|n| (1..=crate::model::quantity::Quantity::MAX).contains(n))
                        .ok_or_else(|| {
                            format!(
                                "must be between 1 and {}",
                                crate::model::quantity::Quantity::MAX
                            )
                        }),
                )
                .map(Some),
        };
        let update = match (sku, name, stock, tax_category, shards, max_per_order) {
            (
                Some(sku),
                Some(name),
                Some(stock),
                Some(tax_category),
                Some(shards),
                Some(max_per_order),
            ) => Some(ProductUpdate {
                terms: ProductTerms {
                    sku,
                    name,
                    prices,
                    tax_category,
                    reserve_on_payment: input.reserve_on_payment,
                    max_per_order,
                },
                stock,
                shards,
            }),
            _ => None,
        };
        errors.finish(update)
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
