//! Catalog administration: products and stock, discount codes, the pricing configuration,
//! whole-catalog imports, and the shipping methods offered to a destination.

use crate::model::catalog::{
    spread, Product, ProductInput, ProductUpdate, ShardedWrite, StockChange, StockWrite,
};
use crate::model::discount::{DiscountDefinition, DiscountInput};
use crate::model::error::{Error, FieldErrors};
use crate::model::identity::Caller;
use crate::model::money::{Currency, Money};
use crate::model::pricing_config::{PricingConfig, PricingConfigInput, ShippingMethod};
use crate::model::values::CountryCode;
use crate::ports::catalog::CatalogStore;
use crate::ports::catalog::ProductWriteError;
use crate::ports::gift_cards::GiftCardStore;
use crate::usecases::env::Env;

/// A whole catalog in one document: configuration, products by SKU, discount codes by code.
/// The local server's demo data and test fixtures use this format (see docs/behaviour.md).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogImport {
    pub config: PricingConfigInput,
    pub products: std::collections::BTreeMap<String, ProductInput>,
    #[serde(default)]
    pub discount_codes: std::collections::BTreeMap<String, DiscountInput>,
    /// Gift cards to create (an existing card keeps its balance).
    #[serde(default)]
    pub gift_cards: std::collections::BTreeMap<String, crate::model::gift_card::GiftCardInput>,
}

/// A shipping method as offered for one destination and currency.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingOffer {
    pub id: String,
    pub name: String,
    pub price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_above: Option<Money>,
}

/// Catalog administration (products, discounts, the pricing configuration, a catalog's
/// import) and the shipping methods offered, over the catalog store (and the gift card
/// store an import writes cards to).
pub struct CatalogAdmin<'a> {
    pub(crate) catalog: &'a dyn CatalogStore,
    pub(crate) gift_cards: &'a dyn GiftCardStore,
    pub(crate) env: &'a Env,
}

impl CatalogAdmin<'_> {
    /// `GET /admin/products/{sku}`: the product with its total stock over its shards.
    pub async fn product(&self, caller: &Caller, sku: &str) -> Result<Product, Error> {
        caller.require_admin()?;
        let sku = crate::model::values::Sku::parse(sku).map_err(|e| Error::invalid("/sku", e))?;
        self.catalog
            .products(std::slice::from_ref(&sku))
            .await?
            .pop()
            .ok_or(Error::NotFound)
    }

    pub async fn upsert_product(
        &self,
        caller: &Caller,
        sku: &str,
        input: &ProductInput,
    ) -> Result<Product, Error> {
        caller.require_admin()?;
        let config = self.catalog.config().await?;
        let update = ProductUpdate::parse(sku, input, &config)?;
        let mut backoff = self.env.backoff();
        loop {
            let read = self
                .catalog
                .products(std::slice::from_ref(&update.terms.sku))
                .await?
                .pop();
            let shards_now = read.as_ref().map_or(1, |p| p.stock_shards);
            let shards = update.shards.unwrap_or(shards_now);
            if shards == 1 && shards_now == 1 {
                let write = update.stock.write(read.as_ref());
                return self
                    .catalog
                    .write_product(&update.terms, write)
                    .await
                    .map_err(|e| stock_refusal(&update, write, e));
            }
            let write = sharded_write(&update, read.as_ref(), shards, config.revision)?;
            match self
                .catalog
                .write_sharded_product(&update.terms, &write)
                .await
            {
                Ok(product) => return Ok(product),
                // The stock was set against what the administrator read: a sale since is theirs
                // to see.
                Err(ProductWriteError::StockConflict { .. })
                    if matches!(update.stock, StockChange::Set(_)) =>
                {
                    return Err(Error::StockChanged {
                        sku: update.terms.sku.to_string(),
                        current_stock: read.map_or(0, |p| p.stock),
                    })
                }
                // A sale moved a shard meanwhile: read them again.
                Err(ProductWriteError::StockConflict { .. }) => {
                    backoff.wait("the product's shards").await?
                }
                Err(ProductWriteError::Store(e)) => return Err(Error::Store(e)),
            }
        }
    }

    pub async fn upsert_discount(
        &self,
        caller: &Caller,
        code: &str,
        input: &DiscountInput,
    ) -> Result<DiscountDefinition, Error> {
        caller.require_admin()?;
        let discount = DiscountDefinition::parse(code, input)?;
        let mut backoff = self.env.backoff();
        loop {
            match self.catalog.put_discount(&discount).await {
                Ok(stored) => return Ok(stored),
                // Orders were checking the code's terms at that moment: write again shortly.
                Err(e) if e.contended => backoff.wait("the discount code").await?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn put_config(
        &self,
        caller: &Caller,
        input: &PricingConfigInput,
    ) -> Result<PricingConfig, Error> {
        caller.require_admin()?;
        let mut config = PricingConfig::parse(input)?;
        let mut backoff = self.env.backoff();
        loop {
            config.revision = self.catalog.config().await?.revision + 1;
            if self.catalog.put_config(&config).await? {
                return Ok(config);
            }
            // Another administrator's change came first: this one goes on top of it.
            backoff.wait("the configuration").await?;
        }
    }

    /// Loads a catalog document through the same validation as the single admin calls;
    /// the configuration goes first because products are checked against its tax categories.
    pub async fn import(&self, caller: &Caller, catalog: &CatalogImport) -> Result<(), Error> {
        self.put_config(caller, &catalog.config).await?;
        for (sku, product) in &catalog.products {
            self.upsert_product(caller, sku, product).await?;
        }
        for (code, discount) in &catalog.discount_codes {
            self.upsert_discount(caller, code, discount).await?;
        }
        for (code, card) in &catalog.gift_cards {
            caller.require_admin()?;
            let card = card.parse(code)?;
            // Created once: a restart never resets a balance orders have spent.
            self.gift_cards.write_gift_card(&card, None).await?;
        }
        Ok(())
    }

    pub async fn shipping_methods(
        &self,
        country: Option<&str>,
        currency: Option<&str>,
    ) -> Result<Vec<ShippingOffer>, Error> {
        let mut errors = FieldErrors::new();
        let country = errors.check(
            "/country",
            country
                .ok_or("is required".to_string())
                .and_then(CountryCode::parse),
        );
        let currency = errors.check(
            "/currency",
            currency
                .ok_or("is required".to_string())
                .and_then(Currency::parse),
        );
        let (country, currency) = errors.finish(country.zip(currency))?;
        let config = self.catalog.config().await?;
        Ok(config
            .shipping_methods_for(&country, currency)
            .map(|m: &ShippingMethod| ShippingOffer {
                id: m.id.to_string(),
                name: m.name.to_string(),
                price: Money::new(m.prices[&currency], currency),
                free_above: m
                    .free_above
                    .get(&currency)
                    .map(|&c| Money::new(c, currency)),
            })
            .collect())
    }
}

/// The refusal for a product write whose stock condition failed.
/// The write that spreads the product's new total stock over `shards`, against the shards as
/// read (the total keeps its meaning: `stock` sets it, `stockDelta` adds to it).
fn sharded_write(
    update: &ProductUpdate,
    read: Option<&Product>,
    shards: u32,
    config_revision: u64,
) -> Result<ShardedWrite, Error> {
    let total_now = read.map_or(0, |p| p.stock);
    let total = match update.stock {
        StockChange::Keep => Some(total_now),
        StockChange::Set(stock) => Some(stock),
        StockChange::Delta(delta) => u32::try_from(i64::from(total_now) + delta).ok(),
    }
    .ok_or_else(|| Error::StockOutOfRange {
        sku: update.terms.sku.to_string(),
        current_stock: total_now,
        stock_delta: match update.stock {
            StockChange::Delta(delta) => delta,
            _ => 0,
        },
    })?;
    Ok(ShardedWrite {
        read: read.map_or_else(Vec::new, |p| p.shard_stock.clone()),
        stock: spread(total, shards),
        config_revision: read.map_or(config_revision, |p| p.config_revision.max(config_revision)),
        stock_revision: read.map_or(0, |p| p.stock_revision),
    })
}

fn stock_refusal(update: &ProductUpdate, write: StockWrite, error: ProductWriteError) -> Error {
    let current_stock = match error {
        ProductWriteError::Store(e) => return Error::Store(e),
        ProductWriteError::StockConflict { current } => current.unwrap_or(0),
    };
    let sku = update.terms.sku.to_string();
    match write {
        StockWrite::Add(stock_delta) => Error::StockOutOfRange {
            sku,
            current_stock,
            stock_delta,
        },
        _ => Error::StockChanged { sku, current_stock },
    }
}
