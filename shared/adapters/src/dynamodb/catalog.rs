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

mod discounts;
mod products;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use checkout_domain::model::catalog::{Product, ProductTerms, ShardedWrite, StockWrite};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::pricing_config::{PricingConfig, ShippingMethod};
use checkout_domain::model::random;
use checkout_domain::model::values::{DiscountCode, Sku};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::StoreError;

use super::codec::{encode, fields, from_item, to_item};
use super::expr::{
    cancellation_error, cancelled_by_contention, condition_held, conditional, delete, plain_put,
    put, reason_is_condition, update, update_expression, Conditional, Expr,
};
use super::schema::{
    config_key, discount_key, discount_replica_key, product_key, stock_shard_key, CATALOG_PRODUCTS,
    CONFIG_REPLICAS, DISCOUNT_REPLICAS, REPLICAS, SHIPPING_BY_ID,
};
use super::{DynamoStore, Read};

use discounts::{discount_terms, DISCOUNT_OPTIONAL};
use products::{product_expressions, shard_update};

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
