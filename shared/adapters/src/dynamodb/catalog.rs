//! The catalog port: products, discount codes, the pricing configuration.
//!
//! An admin's product write is one `UpdateItem`: the terms are set attribute by attribute
//! (never a whole-item put over a product that sales decrement), and the stock changes only
//! under the condition of its `StockWrite`:
//!
//! | stock write | update | condition |
//! |---|---|---|
//! | `Create(n)` | `stock = n` | `attribute_not_exists(pk)` |
//! | `Keep` | — | `attribute_exists(pk)` |
//! | `Replace { read, stock }` | `stock = stock` | `stock = read` |
//! | `Add(d)` | `stock = if_not_exists(stock, 0) + d` | `stock BETWEEN low AND high` (or absent, when `d ≥ 0`) |
//!
//! A failed condition answers with the product as it is, so the refusal carries its stock.
//! Every stock write moves `stockRevision` on and clears the sold-out mark; every product is
//! in index `gsi1` under `CATALOG#PRODUCTS`, which a configuration change reads to stamp its
//! revision on each product's items.
//!
//! A product whose stock is spread over shards (`stockShards` > 1) keeps shard 0 on its own
//! item and shard k on `PRODUCT#<sku>#<k>`, each with a copy of the terms a commit checks
//! (prices, tax category, configuration revision). An administrator's write of such a
//! product is one transaction over all its shards, each against the stock read.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};

use checkout_domain::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::pricing_config::{PricingConfig, ShippingMethod};
use checkout_domain::model::random;
use checkout_domain::model::values::{DiscountCode, Sku};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::StoreError;

use super::codec::{encode, epoch, fields, from_item, to_item};
use super::expr::{
    cancellation_error, cancelled_by_contention, condition_held, conditional, delete, plain_put,
    put, reason_is_condition, store_error, update, update_expression, Conditional, Expr, Item,
};
use super::schema::{
    config_key, discount_key, discount_replica_key, product_key, stock_shard_key, CATALOG_PRODUCTS,
    CONFIG_REPLICAS, DISCOUNT_REPLICAS, HISTORY_INDEX, REPLICAS, SHIPPING_BY_ID, VALID_UNTIL_EPOCH,
};
use super::{DynamoStore, Read};

/// The optional attributes of a discount item that an update must clear when absent.
const DISCOUNT_OPTIONAL: [&str; 5] = [
    "minOrderValue",
    "maxRedemptions",
    "validUntil",
    "currency",
    VALID_UNTIL_EPOCH,
];

/// The update and condition expressions of one product write.
fn product_expressions(
    terms: &ProductTerms,
    stock: StockWrite,
) -> Result<(Expr, String, String), StoreError> {
    let mut expr = Expr::default();
    let mut sets: Vec<String> = fields(terms)?
        .into_iter()
        .map(|(name, value)| format!("{} = {}", expr.name(&name), expr.value(value)))
        .collect();
    let stock_name = expr.name("stock");
    let (gsi1pk, gsi1sk) = (expr.name("gsi1pk"), expr.name("gsi1sk"));
    let (catalog, sku) = (
        expr.string(CATALOG_PRODUCTS),
        expr.string(terms.sku.as_str()),
    );
    sets.push(format!("{gsi1pk} = {catalog}"));
    sets.push(format!("{gsi1sk} = {sku}"));
    let mut removes = Vec::new();
    if stock != StockWrite::Keep {
        let (revision, zero, one) = (expr.name("stockRevision"), expr.number(0), expr.number(1));
        sets.push(format!(
            "{revision} = if_not_exists({revision}, {zero}) + {one}"
        ));
        removes.push(expr.name("soldOut"));
    }
    let condition = match stock {
        StockWrite::Create(n) => {
            sets.push(format!("{stock_name} = {}", expr.number(n)));
            format!("attribute_not_exists({})", expr.name("pk"))
        }
        StockWrite::Keep => format!("attribute_exists({stock_name})"),
        StockWrite::Replace { read, stock } => {
            sets.push(format!("{stock_name} = {}", expr.number(stock)));
            format!("{stock_name} = {}", expr.number(read))
        }
        StockWrite::Add(delta) => {
            let zero = expr.number(0);
            sets.push(format!(
                "{stock_name} = if_not_exists({stock_name}, {zero}) + {}",
                expr.number(delta)
            ));
            let (low, high) = StockWrite::add_bounds(delta);
            let within = format!(
                "{stock_name} BETWEEN {} AND {}",
                expr.number(low),
                expr.number(high)
            );
            if low == 0 {
                format!("attribute_not_exists({stock_name}) OR {within}")
            } else {
                within
            }
        }
    };
    Ok((expr, update_expression(&sets, &removes), condition))
}

/// One shard item of a sharded product as stored (shard k ≥ 1 carries only its stock and the
/// terms a commit checks).
#[derive(serde::Deserialize)]
struct ShardItem {
    stock: u32,
}

/// The attributes a sharded product's shard k ≥ 1 carries: its stock and the commit's terms.
fn shard_update(
    table: &str,
    terms: &ProductTerms,
    shard: u32,
    stock: u32,
    config_revision: u64,
    read: Option<u32>,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let (stock_name, prices, category, revision) = (
        e.name("stock"),
        e.name("prices"),
        e.name("taxCategory"),
        e.name("configRevision"),
    );
    let set = format!(
        "SET {stock_name} = {}, {prices} = {}, {category} = {}, {revision} = {}",
        e.number(stock),
        e.value(encode(&terms.prices)?),
        e.string(terms.tax_category.as_str()),
        e.number(config_revision),
    );
    let condition = match read {
        Some(read) => format!("{stock_name} = {}", e.number(read)),
        None => format!("attribute_not_exists({})", e.name("pk")),
    };
    update(
        table,
        stock_shard_key(&terms.sku, shard),
        &set,
        &condition,
        e,
    )
}

impl DynamoStore {
    /// The products among `skus` with their shards' stock, read as `read` says.
    async fn read_products(&self, skus: &[Sku], read: Read) -> Result<Vec<Product>, StoreError> {
        let mut products = self
            .batch_get_items_read(skus.iter().map(product_key).collect(), read)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<Product>, _>>()?;
        self.read_shards(&mut products, read).await?;
        Ok(products)
    }

    /// Each shard's stock of the sharded products among `products` (shard 0 is the product's
    /// own), so `stock` is their sum; products marked sold out are not read further (their
    /// shards are all empty).
    async fn read_shards(&self, products: &mut [Product], read: Read) -> Result<(), StoreError> {
        let keys: Vec<Item> = products
            .iter()
            .filter(|p| p.stock_shards > 1 && !p.sold_out)
            .flat_map(|p| (1..p.stock_shards).map(|k| stock_shard_key(&p.sku, k)))
            .collect();
        let mut shards: HashMap<String, u32> = HashMap::new();
        if !keys.is_empty() {
            for item in self.batch_get_items_read(keys, read).await? {
                let pk = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => pk.clone(),
                    _ => continue,
                };
                shards.insert(pk, from_item::<ShardItem>(item)?.stock);
            }
        }
        for product in products.iter_mut() {
            let own = product.stock;
            // Marked sold out: every shard was read empty, and only writes that clear the
            // mark add stock since.
            product.shard_stock = if product.sold_out {
                vec![0; product.stock_shards as usize]
            } else {
                std::iter::once(own)
                    .chain((1..product.stock_shards).map(|k| {
                        shards
                            .get(&format!("PRODUCT#{}#{k}", product.sku))
                            .copied()
                            .unwrap_or(0)
                    }))
                    .collect()
            };
            product.stock = product.shard_stock.iter().sum();
        }
        Ok(())
    }

    /// Stamps configuration revision `revision` on every product's items (a product already
    /// stamped newer is left as it is).
    async fn stamp_catalog(&self, revision: u64) -> Result<(), StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(HISTORY_INDEX)
                .key_condition_expression("gsi1pk = :catalog")
                .expression_attribute_values(":catalog", AttributeValue::S(CATALOG_PRODUCTS.into()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            let keys: Vec<Item> = page
                .items()
                .iter()
                .map(|item| {
                    item.iter()
                        .filter(|(name, _)| *name == "pk" || *name == "sk")
                        .map(|(n, v)| (n.clone(), v.clone()))
                        .collect()
                })
                .collect();
            let products: Vec<Product> = self.batch_get(keys).await?;
            let mut tasks = tokio::task::JoinSet::new();
            for product in products {
                for shard in 0..product.stock_shards {
                    let (client, table) = (self.client().clone(), self.table().to_string());
                    let key = stock_shard_key(&product.sku, shard);
                    tasks.spawn(async move {
                        let result = client
                            .update_item()
                            .table_name(table)
                            .set_key(Some(key))
                            .update_expression("SET configRevision = :revision")
                            .condition_expression(
                                "attribute_exists(pk) AND (attribute_not_exists(configRevision) OR configRevision < :revision)",
                            )
                            .expression_attribute_values(
                                ":revision",
                                AttributeValue::N(revision.to_string()),
                            )
                            .send()
                            .await;
                        condition_held(result).map(|_| ())
                    });
                }
            }
            while let Some(done) = tasks.join_next().await {
                done.map_err(|e| StoreError::new(e.to_string()))??;
            }
            start = page.last_evaluated_key().cloned().filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(());
            }
        }
    }
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        let (expr, update, condition) = product_expressions(terms, stock)?;
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(product_key(&terms.sku)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional(result)? {
            Conditional::Written(output) => Ok(from_item(output.attributes.unwrap_or_default())?),
            Conditional::Failed(old) => {
                let current = old.map(from_item::<Product>).transpose()?;
                Err(ProductWriteError::StockConflict {
                    current: current.map(|p| p.stock),
                })
            }
        }
    }

    async fn write_sharded_product(
        &self,
        terms: &ProductTerms,
        write: &ShardedWrite,
    ) -> Result<Product, ProductWriteError> {
        let table = self.table();
        let shards = write.stock.len() as u32;
        let read_shards = write.read.len() as u32;
        let mut items = Vec::new();
        // Shard 0: the product's own item, with its terms and shard count.
        let mut e = Expr::default();
        let mut sets: Vec<String> = fields(terms)?
            .into_iter()
            .map(|(name, value)| format!("{} = {}", e.name(&name), e.value(value)))
            .collect();
        for (name, value) in [
            ("stock", e.number(write.stock[0])),
            ("stockShards", e.number(shards)),
            ("stockRevision", e.number(write.stock_revision + 1)),
            ("configRevision", e.number(write.config_revision)),
            ("gsi1pk", e.string(CATALOG_PRODUCTS)),
            ("gsi1sk", e.string(terms.sku.as_str())),
        ] {
            sets.push(format!("{} = {value}", e.name(name)));
        }
        let removes = vec![e.name("soldOut")];
        let condition = match write.read.first() {
            None => format!("attribute_not_exists({})", e.name("pk")),
            Some(&read) => format!("{} = {}", e.name("stock"), e.number(read)),
        };
        items.push(update(
            table,
            product_key(&terms.sku),
            &update_expression(&sets, &removes),
            &condition,
            e,
        )?);
        for shard in 1..shards.max(read_shards) {
            let read = write.read.get(shard as usize).copied();
            match write.stock.get(shard as usize) {
                Some(&stock) => items.push(shard_update(
                    table,
                    terms,
                    shard,
                    stock,
                    write.config_revision,
                    read,
                )?),
                // Beyond the new count: its units are in the others now.
                None => {
                    let mut e = Expr::default();
                    let stock_name = e.name("stock");
                    let condition = format!("{stock_name} = {}", e.number(read.unwrap_or(0)));
                    items.push(delete(
                        table,
                        stock_shard_key(&terms.sku, shard),
                        &condition,
                        e,
                    )?);
                }
            }
        }
        match self.transact(items).await? {
            Ok(()) => {
                let mut product = Product::new(terms.clone(), write.stock.iter().sum());
                product.stock_shards = shards;
                product.shard_stock = write.stock.clone();
                product.config_revision = write.config_revision;
                product.stock_revision = write.stock_revision + 1;
                Ok(product)
            }
            Err(reasons) if reasons.iter().any(reason_is_condition) => {
                Err(ProductWriteError::StockConflict { current: None })
            }
            Err(reasons) => Err(cancellation_error("product write", &reasons).into()),
        }
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.read_products(skus, Read::Consistent).await
    }

    async fn products_recent(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.read_products(skus, Read::Eventual).await
    }

    async fn restock(&self, sku: &Sku, units: u32) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(product_key(sku)))
            .update_expression("SET stock = stock + :units REMOVE soldOut")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":units", AttributeValue::N(units.to_string()))
            .send()
            .await;
        // A product deleted since has nothing to put back.
        condition_held(result).map(|_| ())
    }

    async fn mark_sold_out(&self, sku: &Sku, stock_revision: u64) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(product_key(sku)))
            .update_expression("SET soldOut = :yes")
            .condition_expression(
                "stock = :zero AND (attribute_not_exists(stockRevision) OR stockRevision = :revision)",
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":revision", AttributeValue::N(stock_revision.to_string()))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        // All 32 copies in one transaction, so every one shows the same terms; a limited
        // code's redemptions still left are dealt out over them again (`code_counters`).
        // Cancelled by orders checking a copy right now: a contended error, which the use
        // case tries again.
        let terms = discount_terms(discount)?;
        let written = self
            .write_code(
                &discount.code,
                Some(&terms),
                discount.max_redemptions,
                &DISCOUNT_OPTIONAL,
            )
            .await?;
        if !written {
            return Err(StoreError::contended(
                "the code's redemptions kept moving while it was written",
            ));
        }
        self.discounts(std::slice::from_ref(&discount.code))
            .await?
            .pop()
            .ok_or_else(|| StoreError::new("the discount code just written is gone"))
    }

    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        // Each code from a replica at random; replica 0 for a limited code (its redemption
        // count), for a code from before the replicas (whose replicas are written now), and
        // for one that does not exist.
        let picked: Vec<(DiscountCode, u32)> = codes
            .iter()
            .map(|code| {
                let replica = random::below(u64::from(DISCOUNT_REPLICAS)) as u32;
                (code.clone(), replica)
            })
            .collect();
        let mut found: HashMap<DiscountCode, DiscountDefinition> = HashMap::new();
        let replicas = self
            .batch_get::<DiscountDefinition>(
                picked
                    .iter()
                    .filter(|(_, replica)| *replica != 0)
                    .map(|(code, replica)| discount_replica_key(code, *replica))
                    .collect(),
            )
            .await?;
        for discount in replicas {
            if discount.max_redemptions.is_none() {
                found.insert(discount.code.clone(), discount);
            }
        }
        let primaries = self
            .batch_get_items(
                codes
                    .iter()
                    .filter(|code| !found.contains_key(*code))
                    .map(discount_key)
                    .collect(),
            )
            .await?;
        for item in primaries {
            let unreplicated = !item.contains_key(REPLICAS);
            let discount: DiscountDefinition = from_item(item)?;
            if unreplicated {
                self.replicate_discount(&discount).await?;
            }
            // A limited code's count is the sum over its copies.
            let discount = self.with_redemptions(discount).await?;
            found.insert(discount.code.clone(), discount);
        }
        Ok(codes.iter().filter_map(|code| found.remove(code)).collect())
    }

    async fn put_config(&self, config: &PricingConfig) -> Result<bool, StoreError> {
        let mut item = to_item(config_key(0), config)?;
        let by_id: HashMap<String, &ShippingMethod> = config
            .shipping_methods
            .iter()
            .map(|m| (m.id.to_string(), m))
            .collect();
        item.insert(SHIPPING_BY_ID.into(), encode(&by_id)?);
        // One revision after the stored one (or the first), on every replica at once.
        let mut e = Expr::default();
        let before = e.number(config.revision.saturating_sub(1));
        let mut items = vec![put(
            self.table(),
            item.clone(),
            &format!(
                "attribute_not_exists(pk) OR attribute_not_exists(revision) OR revision = {before}"
            ),
            e,
        )?];
        for replica in 1..CONFIG_REPLICAS {
            let mut copy = item.clone();
            copy.extend(config_key(replica));
            items.push(plain_put(self.table(), copy)?);
        }
        match self.transact(items).await? {
            Ok(()) => {}
            // Another administrator's write came first, or is under way: read and try again.
            Err(reasons)
                if reasons.iter().any(reason_is_condition) || cancelled_by_contention(&reasons) =>
            {
                return Ok(false)
            }
            Err(reasons) => return Err(cancellation_error("configuration write", &reasons)),
        }
        self.stamp_catalog(config.revision).await?;
        Ok(true)
    }

    /// A replica at random; a table whose configuration was written before the replicas
    /// has only replica 0, which then answers.
    async fn config(&self) -> Result<PricingConfig, StoreError> {
        let replica = random::below(u64::from(CONFIG_REPLICAS)) as u32;
        if replica != 0 {
            if let Some(config) = self.get(config_key(replica)).await? {
                return Ok(config);
            }
        }
        Ok(self.get(config_key(0)).await?.unwrap_or_default())
    }
}

/// A code's terms as its replicas carry them (no redemption count).
fn discount_terms(discount: &DiscountDefinition) -> Result<Item, StoreError> {
    let mut terms = fields(discount)?;
    terms.remove("redemptions");
    if let Some(until) = discount.valid_until {
        terms.insert(VALID_UNTIL_EPOCH.into(), epoch(until));
    }
    Ok(terms)
}

impl DynamoStore {
    /// Puts of replicas 1.. of a code with `terms`.
    fn discount_replicas(
        &self,
        code: &DiscountCode,
        terms: &Item,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        (1..DISCOUNT_REPLICAS)
            .map(|replica| {
                let mut item = terms.clone();
                item.extend(discount_replica_key(code, replica));
                plain_put(self.table(), item)
            })
            .collect()
    }

    /// Writes the replicas of a code stored before there were any, with the terms read, as
    /// long as replica 0 still has none (an administrator's write meanwhile wrote them all).
    async fn replicate_discount(&self, discount: &DiscountDefinition) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let marker = e.name(REPLICAS);
        let mark = update(
            self.table(),
            discount_key(&discount.code),
            &format!("SET {marker} = {}", e.number(DISCOUNT_REPLICAS)),
            &format!("attribute_exists(pk) AND attribute_not_exists({marker})"),
            e,
        )?;
        let mut items = vec![mark];
        items.extend(self.discount_replicas(&discount.code, &discount_terms(discount)?)?);
        // Cancelled: someone else wrote them (or is writing them); the terms read stand.
        let _ = self.transact(items).await?;
        Ok(())
    }
}
