//! Expressions and the SDK's answers, written once: the builder of expression names and
//! values, the transaction items made from it, the one reading of a failed condition, and the
//! one conversion of SDK errors into the domain's `StoreError`.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use checkout_domain::StoreError;

/// An item, or a key, as the SDK holds it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Names and values of one condition or update expression.
#[derive(Default)]
pub(crate) struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    /// A path of names, e.g. `taxRates.DE.standard`, each part its own placeholder.
    pub fn path(&mut self, parts: &[&str]) -> String {
        parts
            .iter()
            .map(|p| self.name(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub fn number(&mut self, n: impl ToString) -> String {
        self.value(AttributeValue::N(n.to_string()))
    }

    pub fn string(&mut self, s: impl Into<String>) -> String {
        self.value(AttributeValue::S(s.into()))
    }

    /// The names, or `None` when there are none (DynamoDB refuses an empty map).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The values, or `None` when there are none.
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// `SET a, b REMOVE c, d`, leaving out an empty half.
pub(crate) fn update_expression(sets: &[String], removes: &[String]) -> String {
    let mut update = String::new();
    if !sets.is_empty() {
        update = format!("SET {}", sets.join(", "));
    }
    if !removes.is_empty() {
        update.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    update.trim().to_string()
}

/// One conditional item of a transaction: the SDK's builder `$builder`, keyed by `$target`
/// (`set_item` for a put, `set_key` otherwise), with the expression's names and values, and
/// the old item returned when its condition fails.
macro_rules! transaction_item {
    ($builder:ident, $target:ident, $slot:ident, $table:expr, $item:expr, $condition:expr, $expr:expr $(, $extra:ident($value:expr))?) => {{
        let built = $builder::builder()
            .table_name($table)
            .$target(Some($item))
            $(.$extra($value))?
            .condition_expression($condition)
            .set_expression_attribute_names($expr.names())
            .set_expression_attribute_values($expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| StoreError::new(e.to_string()))?;
        Ok(TransactWriteItem::builder().$slot(built).build())
    }};
}

/// A conditional put, as one item of a transaction.
pub(crate) fn put(
    table: &str,
    item: Item,
    condition: &str,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    transaction_item!(Put, set_item, put, table, item, condition, expr)
}

/// A put without a condition, as one item of a transaction (a replica written beside the
/// item whose condition guards them all).
pub(crate) fn plain_put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::new(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A conditional update, as one item of a transaction.
pub(crate) fn update(
    table: &str,
    key: Item,
    set: &str,
    condition: &str,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    transaction_item!(
        Update,
        set_key,
        update,
        table,
        key,
        condition,
        expr,
        update_expression(set)
    )
}

/// An update that holds whatever the item is (or creates it), as one item of a transaction.
pub(crate) fn unconditional_update(
    table: &str,
    key: Item,
    set: &str,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    let built = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(set)
        .set_expression_attribute_names(expr.names())
        .set_expression_attribute_values(expr.values())
        .build()
        .map_err(|e| StoreError::new(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(built).build())
}

/// A conditional delete, as one item of a transaction.
pub(crate) fn delete(
    table: &str,
    key: Item,
    condition: &str,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    transaction_item!(Delete, set_key, delete, table, key, condition, expr)
}

/// A condition on an item the transaction does not write.
pub(crate) fn check(
    table: &str,
    key: Item,
    condition: &str,
    expr: Expr,
) -> Result<TransactWriteItem, StoreError> {
    transaction_item!(
        ConditionCheck,
        set_key,
        condition_check,
        table,
        key,
        condition,
        expr
    )
}

pub(crate) use crate::store_error;

/// An operation's own error, as the domain's storage failure.
pub(crate) fn service_store_error(
    error: impl ProvideErrorMetadata + std::error::Error,
) -> StoreError {
    let detail = DisplayErrorContext(&error).to_string();
    match error.code() {
        Some(code) if crate::is_contention(code) => StoreError::contended(detail),
        _ => StoreError::new(detail),
    }
}

/// Whether a cancelled transaction met only contention (a conflict with another transaction,
/// throttling) and no failed condition: the same write may pass if tried again.
pub(crate) fn cancelled_by_contention(reasons: &[CancellationReason]) -> bool {
    !reasons.iter().any(reason_is_condition)
        && reasons
            .iter()
            .any(|r| r.code.as_deref().is_some_and(crate::is_contention))
}

/// The storage failure a transaction cancelled without a failed condition stands for.
pub(crate) fn cancellation_error(what: &str, reasons: &[CancellationReason]) -> StoreError {
    let codes: Vec<&str> = reasons.iter().filter_map(|r| r.code.as_deref()).collect();
    let detail = format!("{what} cancelled: {codes:?}");
    if cancelled_by_contention(reasons) {
        StoreError::contended(detail)
    } else {
        StoreError::new(detail)
    }
}

/// The operations whose condition can fail, and the item they report when it does.
pub(crate) trait ConditionalError: ProvideErrorMetadata + std::error::Error + Sized {
    /// The operation's own error inside an SDK error.
    fn of(error: SdkError<Self, HttpResponse>) -> Self;
    /// `Ok(old item)` when this is a failed condition (the item as it was, if asked for and
    /// present), the error itself otherwise.
    fn condition_failed(self) -> Result<Option<Item>, Self>;
}

macro_rules! conditional_error {
    ($($error:ident),*) => {$(
        impl ConditionalError for $error {
            fn of(error: SdkError<Self, HttpResponse>) -> Self {
                error.into_service_error()
            }

            fn condition_failed(self) -> Result<Option<Item>, Self> {
                match self {
                    $error::ConditionalCheckFailedException(failed) => Ok(failed.item),
                    other => Err(other),
                }
            }
        }
    )*};
}

conditional_error!(PutItemError, UpdateItemError, DeleteItemError);

/// What a conditional write did.
pub(crate) enum Conditional<T> {
    Written(T),
    /// The condition failed; the item as it was, when the request asked for it.
    Failed(Option<Item>),
}

/// Reads a conditional write's result: written, refused by its condition, or failed.
pub(crate) fn conditional<T, E: ConditionalError>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Conditional<T>, StoreError> {
    match result {
        Ok(output) => Ok(Conditional::Written(output)),
        Err(error) => match E::of(error).condition_failed() {
            Ok(old) => Ok(Conditional::Failed(old)),
            Err(other) => Err(service_store_error(other)),
        },
    }
}

/// Whether a conditional write happened: `Ok(false)` when its condition failed.
pub(crate) fn condition_held<T, E: ConditionalError>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool, StoreError> {
    Ok(matches!(conditional(result)?, Conditional::Written(_)))
}

/// Whether a transaction item was cancelled by its own condition.
pub(crate) fn reason_is_condition(reason: &CancellationReason) -> bool {
    reason.code.as_deref() == Some("ConditionalCheckFailed")
}

/// Reads a transaction's result: `Ok(Ok(output))` written, `Ok(Err(reasons))` cancelled
/// (one reason per item, in order), `Err` for every other failure.
pub(crate) fn transaction<T>(
    result: Result<T, SdkError<TransactWriteItemsError, HttpResponse>>,
) -> Result<Result<T, Vec<CancellationReason>>, StoreError> {
    match result {
        Ok(output) => Ok(Ok(output)),
        Err(error) => match error.into_service_error() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                Ok(Err(cancelled.cancellation_reasons.unwrap_or_default()))
            }
            other => Err(service_store_error(other)),
        },
    }
}
