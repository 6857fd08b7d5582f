//! An admin's product write as one `UpdateItem`: the terms are set attribute by attribute
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

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use checkout_domain::catalog::{Product, ProductTerms, StockWrite};
use checkout_domain::ports::ProductWriteError;
use checkout_domain::StoreError;

use crate::dynamodb::{from_item, product_key, DynamoStore};
use crate::dynamodb_commit::Expr;

/// The update and condition expressions of one product write.
fn expressions(
    terms: &ProductTerms,
    stock: StockWrite,
) -> Result<(Expr, String, String), StoreError> {
    let mut expr = Expr::default();
    let fields: crate::dynamodb::Item =
        serde_dynamo::to_item(terms).map_err(|e| StoreError(format!("encode: {e}")))?;
    let mut sets: Vec<String> = fields
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
    Ok((expr, format!("SET {}", sets.join(", ")), condition))
}

impl DynamoStore {
    pub(crate) async fn update_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        let (expr, update, condition) = expressions(terms, stock)?;
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
        match result {
            Ok(output) => Ok(from_item(output.attributes.unwrap_or_default())?),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let current = failed.item.map(from_item::<Product>).transpose()?;
                    Err(ProductWriteError::StockConflict {
                        current: current.map(|p| p.stock),
                    })
                }
                other => Err(ProductWriteError::Store(store_error_of(other))),
            },
        }
    }
}

fn store_error_of(error: UpdateItemError) -> StoreError {
    StoreError(aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string())
}
