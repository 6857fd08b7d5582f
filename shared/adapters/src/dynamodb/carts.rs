//! The cart port: a cart is created once and its contents replaced under its version; its
//! payments are not its contents (see `payments`), so a content write leaves them alone.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use checkout_domain::model::cart::Cart;
use checkout_domain::model::order::Order;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::carts::{CartStore, CartWriteError};
use checkout_domain::StoreError;

use super::codec::{from_item, to_item};
use super::expr::{
    conditional, store_error, update_expression, Conditional, ConditionalError, Expr,
};
use super::schema::{cart_key, cart_partition, serde_names, SK_CART, SK_ORDER};
use super::DynamoStore;

/// Cart attributes only payment writes change; a content write leaves them alone.
/// What payment writes, reservations and commits own on a cart item: a cart edit leaves them.
const CART_PAYMENT_ATTRIBUTES: &[&str] = &[
    "payments",
    "paymentRevision",
    "gsi2pk",
    "gsi2sk",
    "reservation",
];

/// Cart attributes serde leaves out when empty: a content write removes them then.
const CART_OPTIONAL_ATTRIBUTES: &[&str] = &[
    "country",
    "customerEmail",
    "guest",
    "shippingAddress",
    "billingAddress",
    "shippingMethod",
    "orderNumber",
];

/// A cart write's outcome: a refusal carries the cart as it is now, if the store said.
fn cart_written<T, E: ConditionalError>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<(), CartWriteError> {
    match conditional(result)? {
        Conditional::Written(_) => Ok(()),
        Conditional::Failed(old) => Err(CartWriteError::Conflict(
            old.map(from_item).transpose()?.map(Box::new),
        )),
    }
}

#[async_trait]
impl CartStore for DynamoStore {
    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(cart_key(&cart.id), cart)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        cart_written(result)
    }

    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        self.get(cart_key(id)).await
    }

    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        // Attribute by attribute, leaving what payment writes own alone (rule 9).
        let mut item = to_item(cart_key(&cart.id), cart)?;
        for owned in ["pk", "sk"].iter().chain(CART_PAYMENT_ATTRIBUTES) {
            item.remove(*owned);
        }
        let present: HashSet<String> = item.keys().cloned().collect();
        let mut e = Expr::default();
        let mut sets: Vec<String> = item
            .into_iter()
            .map(|(name, value)| format!("{} = {}", e.name(&name), e.value(value)))
            .collect();
        sets.sort();
        let removes: Vec<String> = CART_OPTIONAL_ATTRIBUTES
            .iter()
            .filter(|name| !present.contains(**name))
            .map(|name| e.name(name))
            .collect();
        let update = update_expression(&sets, &removes);
        let (version, state) = (e.name("version"), e.name("state"));
        let (expected, active) = (
            e.number(expected_version),
            e.string(serde_names::CART_ACTIVE),
        );
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(cart_key(&cart.id)))
            .update_expression(update)
            .condition_expression(format!("{version} = {expected} AND {state} = {active}"))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        cart_written(result)
    }

    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(cart_partition(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let (mut cart, mut order) = (None, None);
        for item in output.items.unwrap_or_default() {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == SK_CART => cart = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk == SK_ORDER => order = Some(from_item(item)?),
                _ => {}
            }
        }
        Ok((cart, order))
    }
}
