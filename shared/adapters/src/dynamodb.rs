//! The DynamoDB single-table store. Items are the domain's serde forms (via `serde_dynamo`)
//! under a `pk`/`sk` key; every invariant is a condition expression, never a read-then-write.
//!
//! | item            | pk               | sk        |
//! |-----------------|------------------|-----------|
//! | product         | `PRODUCT#<sku>`  | `PRODUCT` |
//! | discount code   | `DISCOUNT#<code>`| `DISCOUNT`|
//! | pricing config  | `CONFIG`         | `PRICING` |
//! | cart            | `CART#<id>`      | `CART`    |

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, Projection, ProjectionType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use checkout_domain::cart::Cart;
use checkout_domain::catalog::{DiscountDefinition, PricingConfig, Product};
use checkout_domain::ports::{CartWriteError, Store};
use checkout_domain::values::{CartId, DiscountCode, Sku};
use checkout_domain::StoreError;

type Item = HashMap<String, AttributeValue>;

/// A domain value stored under its key. `flatten` keeps the value's fields top-level, so
/// conditions can name them (`version`, `state`, `stock`).
#[derive(Serialize, Deserialize)]
struct Keyed<T> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    value: T,
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

fn product_key(sku: &Sku) -> Item {
    key(format!("PRODUCT#{sku}"), "PRODUCT")
}

fn discount_key(code: &DiscountCode) -> Item {
    key(format!("DISCOUNT#{code}"), "DISCOUNT")
}

fn config_key() -> Item {
    key("CONFIG".into(), "PRICING")
}

fn cart_key(id: &CartId) -> Item {
    key(format!("CART#{id}"), "CART")
}

fn to_item<T: Serialize>(key: Item, value: &T) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError(format!("encode: {e}")))?;
    item.extend(key);
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item::<_, Keyed<T>>(item)
        .map(|keyed| keyed.value)
        .map_err(|e| StoreError(format!("decode: {e}")))
}

fn store_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError(DisplayErrorContext(&error).to_string())
}

/// Retries for unprocessed batch keys: DynamoDB returns them under throttling.
const BATCH_ATTEMPTS: usize = 8;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A store over `table`, with a client built from the shared SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as `template.yaml` declares it (keys, index, stream). For tests and
    /// the local server; deployments create it through CloudFormation.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("name and type are set")
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(vec![
                attribute("pk"),
                attribute("sk"),
                attribute("gsi1pk"),
                attribute("gsi1sk"),
            ]))
            .set_key_schema(Some(vec![
                key("pk", KeyType::Hash),
                key("sk", KeyType::Range),
            ]))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("gsi1")
                    .key_schema(key("gsi1pk", KeyType::Hash))
                    .key_schema(key("gsi1sk", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("index is complete"),
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream spec is complete"),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn get<T: DeserializeOwned>(&self, key: Item) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        output.item.map(from_item).transpose()
    }

    async fn batch_get<T: DeserializeOwned>(&self, keys: Vec<Item>) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError(e.to_string()))?,
            );
            let mut attempts = 0;
            while let Some(request) = pending.take() {
                attempts += 1;
                if attempts > BATCH_ATTEMPTS {
                    return Err(StoreError(
                        "batch read still throttled after retries".into(),
                    ));
                }
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(store_error)?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    found.push(from_item(item)?);
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .filter(|rest| !rest.keys.is_empty());
                if pending.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempts.min(6)))
                        .await;
                }
            }
        }
        Ok(found)
    }

    async fn put<T: Serialize>(&self, key: Item, value: &T) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(key, value)?))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// The optional attributes of a discount item that an update must clear when absent.
const DISCOUNT_OPTIONAL: [&str; 4] = ["minOrderValue", "maxRedemptions", "validUntil", "currency"];

#[async_trait]
impl Store for DynamoStore {
    async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        self.put(product_key(&product.sku), product).await
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>, StoreError> {
        self.batch_get(skus.iter().map(product_key).collect()).await
    }

    async fn put_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        // One UpdateItem that rewrites the terms but keeps the redemption count.
        let mut fields: Item =
            serde_dynamo::to_item(discount).map_err(|e| StoreError(format!("encode: {e}")))?;
        fields.remove("redemptions");
        let mut names = HashMap::from([("#redemptions".to_string(), "redemptions".to_string())]);
        let mut values = HashMap::from([(":zero".to_string(), AttributeValue::N("0".into()))]);
        let mut sets = vec!["#redemptions = if_not_exists(#redemptions, :zero)".to_string()];
        for (i, (name, value)) in fields.into_iter().enumerate() {
            names.insert(format!("#f{i}"), name);
            values.insert(format!(":f{i}"), value);
            sets.push(format!("#f{i} = :f{i}"));
        }
        let mut removes = Vec::new();
        for (i, name) in DISCOUNT_OPTIONAL.iter().enumerate() {
            if !names.values().any(|n| n == name) {
                names.insert(format!("#o{i}"), name.to_string());
                removes.push(format!("#o{i}"));
            }
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(discount_key(&discount.code)))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
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
        self.put(config_key(), config).await
    }

    async fn config(&self) -> Result<PricingConfig, StoreError> {
        Ok(self.get(config_key()).await?.unwrap_or_default())
    }

    async fn insert_cart(&self, cart: &Cart) -> Result<(), CartWriteError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(cart_key(&cart.id), cart)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(failed) if failed.is_conditional_check_failed_exception() => {
                    let current = match failed {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    };
                    Err(CartWriteError::Conflict(
                        current.map(from_item).transpose()?.map(Box::new),
                    ))
                }
                _ => Err(CartWriteError::Store(store_error(e))),
            },
        }
    }

    async fn cart(&self, id: &CartId) -> Result<Option<Cart>, StoreError> {
        self.get(cart_key(id)).await
    }

    async fn replace_cart(&self, cart: &Cart, expected_version: u64) -> Result<(), CartWriteError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(cart_key(&cart.id), cart)?))
            .condition_expression("#version = :expected AND #state = :active")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .expression_attribute_values(":active", AttributeValue::S("Active".into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => {
                    Err(CartWriteError::Conflict(failed.item.map(from_item).transpose()?.map(Box::new)))
                }
                other => Err(CartWriteError::Store(StoreError(DisplayErrorContext(&other).to_string()))),
            },
        }
    }
}
