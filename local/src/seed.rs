//! The demo data the local server starts with (`demo.json`), loaded through the same admin
//! use cases and validation a real deployment's configuration goes through.

use std::collections::BTreeMap;

use checkout_domain::catalog::{DiscountInput, PricingConfigInput, ProductInput};
use checkout_domain::identity::Caller;
use checkout_domain::service::Storefront;
use checkout_domain::values::CustomerId;
use checkout_domain::Error;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    config: PricingConfigInput,
    products: BTreeMap<String, ProductInput>,
    discount_codes: BTreeMap<String, DiscountInput>,
}

pub const DEMO: &str = include_str!("../demo.json");

pub async fn load(storefront: &Storefront, json: &str) -> Result<(), Error> {
    let seed: Seed = serde_json::from_str(json).map_err(|e| Error::invalid("", e.to_string()))?;
    let admin = Caller {
        customer: Some(CustomerId::parse("seed").expect("a valid id")),
        admin: true,
        session: None,
    };
    storefront.put_config(&admin, &seed.config).await?;
    for (sku, product) in &seed.products {
        storefront.upsert_product(&admin, sku, product).await?;
    }
    for (code, discount) in &seed.discount_codes {
        storefront.upsert_discount(&admin, code, discount).await?;
    }
    Ok(())
}
