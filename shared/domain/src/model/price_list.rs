//! Prices per currency, as the catalog's products, shipping methods and discounts carry them.

use std::collections::BTreeMap;

use crate::model::error::FieldErrors;
use crate::model::money::{Currency, MAX_AMOUNT};

/// Prices per currency in minor units, net of tax.
pub type PriceList = BTreeMap<Currency, i64>;

pub fn parse_price_list(
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
