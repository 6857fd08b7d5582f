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

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use checkout_domain::model::catalog::{Product, ProductTerms, StockWrite};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::pricing_config::{PricingConfig, ShippingMethod};
use checkout_domain::model::values::{DiscountCode, Sku};
use checkout_domain::ports::catalog::{CatalogStore, ProductWriteError};
use checkout_domain::StoreError;

use super::codec::{encode, epoch, fields, from_item, to_item};
use super::expr::{conditional, store_error, update_expression, Conditional, Expr};
use super::schema::{config_key, discount_key, product_key, SHIPPING_BY_ID, VALID_UNTIL_EPOCH};
use super::DynamoStore;

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
    Ok((expr, update_expression(&sets, &[]), condition))
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

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.batch_get(skus.iter().map(product_key).collect()).await
    }

    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        // One UpdateItem that rewrites the terms but keeps the redemption count.
        let mut terms = fields(discount)?;
        terms.remove("redemptions");
        if let Some(until) = discount.valid_until {
            terms.insert(VALID_UNTIL_EPOCH.into(), epoch(until));
        }
        let mut e = Expr::default();
        let (redemptions, zero) = (e.name("redemptions"), e.number(0));
        let mut sets = vec![format!(
            "{redemptions} = if_not_exists({redemptions}, {zero})"
        )];
        let removes: Vec<String> = DISCOUNT_OPTIONAL
            .iter()
            .filter(|name| !terms.contains_key(**name))
            .map(|name| e.name(name))
            .collect();
        for (name, value) in terms {
            sets.push(format!("{} = {}", e.name(&name), e.value(value)));
        }
        let output = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(discount_key(&discount.code)))
            .update_expression(update_expression(&sets, &removes))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(store_error)?;
        from_item(output.attributes.unwrap_or_default())
    }

    async fn discounts(
        &self,
        codes: &[DiscountCode],
    ) -> Result<Vec<DiscountDefinition>, StoreError> {
        self.batch_get(codes.iter().map(discount_key).collect())
            .await
    }

    async fn put_config(&self, config: &PricingConfig) -> Result<(), StoreError> {
        let mut item = to_item(config_key(), config)?;
        let by_id: HashMap<String, &ShippingMethod> = config
            .shipping_methods
            .iter()
            .map(|m| (m.id.to_string(), m))
            .collect();
        item.insert(SHIPPING_BY_ID.into(), encode(&by_id)?);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn config(&self) -> Result<PricingConfig, StoreError> {
        Ok(self.get(config_key()).await?.unwrap_or_default())
    }
}
