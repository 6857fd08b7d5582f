//! The shop's pricing configuration: shipping methods, tax rates per destination and
//! category, minimum order values.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::money::Currency;
use crate::model::price_list::{parse_price_list, PriceList};
use crate::model::values::{CountryCode, Name, ShippingMethodId, TaxCategory};

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
/// (see docs/behaviour.md, "Configuration"); `parse` checks it is complete before it is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingConfig {
    pub tax_rates: TaxTable,
    pub shipping_methods: Vec<ShippingMethod>,
    /// Minimum subtotal per currency for any order (enforced at commit).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_order_value: PriceList,
    /// Counts the configuration's changes. Each change is stamped on every product's items,
    /// which every order writes: a commit priced with an older revision is refused there,
    /// with no item every order shares (rule 12).
    #[serde(default)]
    pub revision: u64,
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
            revision: 0,
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
