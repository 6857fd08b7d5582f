//! A product's items: the update of one write, a sharded product's shard items, the reads
//! that sum a product's shards, and the configuration revision stamped on every product.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use checkout_domain::model::catalog::{Product, ProductTerms, StockWrite};
use checkout_domain::model::values::Sku;
use checkout_domain::StoreError;

use crate::dynamodb::codec::{encode, fields, from_item};
use crate::dynamodb::expr::{condition_held, store_error, update, update_expression, Expr, Item};
use crate::dynamodb::schema::{product_key, stock_shard_key, CATALOG_PRODUCTS, HISTORY_INDEX};
use crate::dynamodb::{DynamoStore, Read};

/// The update and condition expressions of one product write.
pub(super) fn product_expressions(
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
pub(super) fn shard_update(
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
    pub(super) async fn read_products(
        &self,
        skus: &[Sku],
        read: Read,
    ) -> Result<Vec<Product>, StoreError> {
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
    pub(super) async fn stamp_catalog(&self, revision: u64) -> Result<(), StoreError> {
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
