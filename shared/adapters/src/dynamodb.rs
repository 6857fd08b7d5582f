//! The DynamoDB single-table store. Items are the domain's serde forms (via `serde_dynamo`)
//! under a `pk`/`sk` key; every invariant is a condition expression, never a read-then-write.
//!
//! | item            | pk               | sk        |
//! |-----------------|------------------|-----------|
//! | product         | `PRODUCT#<sku>`  | `PRODUCT` |
//! | discount code   | `DISCOUNT#<code>`| `DISCOUNT`|
//! | pricing config  | `CONFIG`         | `PRICING` |
//! | cart            | `CART#<id>`      | `CART`    |
//! | order           | `CART#<cart id>` | `ORDER`   |
//! | order number    | `ORDERNUMBER#<n>`| `ORDERNUMBER` |
//! | email registry  | `EMAIL#<email>`  | `CUSTOMER`|
//! | idempotency key | `IDEMPOTENCY#<k>`| `IDEMPOTENCY` |
//! | side effect done| `EFFECT#<consumer>#<event id>` | `EFFECT` |
//! | payment interaction | `INTERACTION#<id>` | `INTERACTION` |
//! | guest claim ticket | `CLAIM#<sha-256 of the token>` | `CLAIM` |
//!
//! An order lives in its cart's partition, so one Query reads a cart with its order (a replay
//! costs one read) and `attribute_not_exists` on it means one order per cart. Index `gsi1`
//! holds a customer's history (`CUSTOMER#<id>`, newest first) and guests' orders by email;
//! `gsi2` holds saved orders awaiting payment by expiry. `expiresAt` (a number) is the TTL.
//!
//! The table's stream (new and old images) is the outbox: `order_from_image` reads an order
//! back from a stream image, and the relay turns each change into an event.

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

use time::OffsetDateTime;

use checkout_domain::cart::{Cart, CartOwner};
use checkout_domain::catalog::{
    DiscountDefinition, PricingConfig, Product, ProductTerms, StockWrite,
};
use checkout_domain::claim::{ClaimTicket, ClaimTickets};
use checkout_domain::commit::CommitPlan;
use checkout_domain::idempotency::IdempotencyRecord;
use checkout_domain::order::Order;
use checkout_domain::order_number::OrderNumber;
use checkout_domain::ports::{
    history_key, CartWriteError, CommitError, EffectClaim, EffectLog, OrderPage, PaymentWriteError,
    ProductWriteError, Store, SweepKind, SweepPage,
};
use checkout_domain::values::{CartId, CustomerId, DiscountCode, Email, SessionHash, Sku};
use checkout_domain::StoreError;

use crate::dynamodb_commit::{encode, send_payment_write, time_rfc3339, Expr};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// A domain value stored under its key. `flatten` keeps the value's fields top-level, so
/// conditions can name them (`version`, `state`, `stock`).
#[derive(Serialize, Deserialize)]
struct Keyed<T> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    value: T,
}

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

pub(crate) fn product_key(sku: &Sku) -> Item {
    key(format!("PRODUCT#{sku}"), "PRODUCT")
}

pub(crate) fn discount_key(code: &DiscountCode) -> Item {
    key(format!("DISCOUNT#{code}"), "DISCOUNT")
}

pub(crate) fn config_key() -> Item {
    key("CONFIG".into(), "PRICING")
}

pub(crate) fn cart_key(id: &CartId) -> Item {
    key(format!("CART#{id}"), "CART")
}

pub(crate) fn number_key(number: &OrderNumber) -> Item {
    key(format!("ORDERNUMBER#{number}"), "ORDERNUMBER")
}

pub(crate) fn order_key(cart: &CartId) -> Item {
    key(format!("CART#{cart}"), "ORDER")
}

pub(crate) fn email_key(email: &Email) -> Item {
    key(format!("EMAIL#{}", email.normalized()), "CUSTOMER")
}

pub(crate) fn claim_ticket_key(hash: &SessionHash) -> Item {
    key(format!("CLAIM#{hash}"), "CLAIM")
}

pub(crate) fn interaction_key(id: &str) -> Item {
    key(format!("INTERACTION#{id}"), "INTERACTION")
}

pub(crate) fn idempotency_key(key_: &str) -> Item {
    key(format!("IDEMPOTENCY#{key_}"), "IDEMPOTENCY")
}

pub(crate) fn effect_key(consumer: &str, event_id: &str) -> Item {
    key(format!("EFFECT#{consumer}#{event_id}"), "EFFECT")
}

/// How long an effect record is kept: longer than a message can live in SQS (14 days) or a
/// record in the stream (24 hours), so no redelivery outlives it.
const EFFECT_RETENTION: time::Duration = time::Duration::days(30);

/// The order in a stream image, if the image is an order item (`None` for every other item:
/// carts, products, effect records). `image` is in DynamoDB's JSON form, as Lambda's stream
/// events carry it.
pub fn order_from_image(image: serde_dynamo::Item) -> Result<Option<Order>, StoreError> {
    let is_order =
        matches!(image.get("sk"), Some(serde_dynamo::AttributeValue::S(sk)) if sk == "ORDER");
    if !is_order {
        return Ok(None);
    }
    serde_dynamo::from_item::<_, Keyed<Order>>(image)
        .map(|keyed| Some(keyed.value))
        .map_err(|e| StoreError(format!("decode order image: {e}")))
}

/// Derived attributes conditions compare against: a discount's expiry as a number, and the
/// shipping methods by id (the configuration keeps them as an ordered list).
pub(crate) const VALID_UNTIL_EPOCH: &str = "validUntilEpoch";
pub(crate) const SHIPPING_BY_ID: &str = "shippingById";
/// The sweeper's two queues in `gsi2`: orders by `Order::sweep_at`, carts by
/// `Cart::holding_since`.
const SWEEP_ORDERS: &str = "SWEEP#ORDER";
const SWEEP_CARTS: &str = "SWEEP#CART";

/// Serde's names for the states conditions compare with.
const CART_ACTIVE: &str = "Active";
const ORDER_OPEN: &str = "Open";

/// Cart attributes only payment writes change; a content write leaves them alone.
const CART_PAYMENT_ATTRIBUTES: &[&str] = &["payments", "paymentRevision", "gsi2pk", "gsi2sk"];

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

/// The sweeper's cursor: the index's last evaluated key, as JSON (only string keys).
fn encode_sweep_cursor(key: &Item) -> String {
    let plain: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(name, value)| value.as_s().ok().map(|v| (name.as_str(), v.as_str())))
        .collect();
    serde_json::to_string(&plain).unwrap_or_default()
}

fn decode_sweep_cursor(cursor: &str) -> Result<Item, StoreError> {
    let plain: HashMap<String, String> =
        serde_json::from_str(cursor).map_err(|e| StoreError(format!("sweep cursor: {e}")))?;
    Ok(plain
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

/// A `gsi2` sort key: zero-padded unix seconds, so lexical order is time order.
fn sweep_sort_key(at: OffsetDateTime) -> String {
    format!("{:020}", at.unix_timestamp().max(0))
}

/// Adds the sweeper's mark (`gsi2pk`/`gsi2sk`) to an update: set when due at `at`,
/// removed otherwise.
pub(crate) fn sweep_mark(
    e: &mut Expr,
    sets: &mut Vec<String>,
    removes: &mut Vec<String>,
    queue: &str,
    at: Option<OffsetDateTime>,
) {
    let (pk, sk) = (e.name("gsi2pk"), e.name("gsi2sk"));
    match at {
        Some(at) => {
            let (queue, key) = (e.string(queue), e.string(sweep_sort_key(at)));
            sets.push(format!("{pk} = {queue}"));
            sets.push(format!("{sk} = {key}"));
        }
        None => {
            removes.push(pk);
            removes.push(sk);
        }
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

/// An order with its index keys: history (customers), by email (guests), expiry (saved,
/// unpaid orders only, so the index stays small).
pub(crate) fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item = to_item(order_key(&order.cart_id), order)?;
    let owner_key = match &order.owner {
        CartOwner::Customer { customer_id } => Some(format!("CUSTOMER#{customer_id}")),
        CartOwner::Guest { .. } => order
            .customer_email
            .as_ref()
            .map(|e| format!("GUEST#{}", e.normalized())),
    };
    if let Some(owner_key) = owner_key {
        item.insert("gsi1pk".into(), AttributeValue::S(owner_key));
        item.insert("gsi1sk".into(), AttributeValue::S(history_key(order)));
    }
    if let Some(at) = order.sweep_at() {
        item.insert("gsi2pk".into(), AttributeValue::S(SWEEP_ORDERS.into()));
        item.insert("gsi2sk".into(), AttributeValue::S(sweep_sort_key(at)));
    }
    Ok(item)
}

pub(crate) fn to_item<T: Serialize>(key: Item, value: &T) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError(format!("encode: {e}")))?;
    item.extend(key);
    Ok(item)
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item::<_, Keyed<T>>(item)
        .map(|keyed| keyed.value)
        .map_err(|e| StoreError(format!("decode: {e}")))
}

pub(crate) fn store_error<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError(DisplayErrorContext(&error).to_string())
}

/// Whether a conditional write happened: `Ok(false)` when its condition failed.
pub(crate) fn condition_held<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Retries for unprocessed batch keys: DynamoDB returns them under throttling.
const BATCH_ATTEMPTS: usize = 8;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// At most this many items per paginated Query page (`None`: DynamoDB's own 1 MB cut).
    query_page_items: Option<usize>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            query_page_items: None,
        }
    }

    /// The same store, with every paginated Query page cut after `items` items, as DynamoDB
    /// cuts a page at 1 MB (the reply carries `LastEvaluatedKey` either way). For tests: it
    /// makes the cut happen with small items.
    pub fn with_query_page_items(mut self, items: usize) -> Self {
        self.query_page_items = Some(items.max(1));
        self
    }

    /// The `Limit` of the next Query page when `wanted` more items are needed.
    fn page_limit(&self, wanted: usize) -> i32 {
        let items = self.query_page_items.map_or(wanted, |cap| wanted.min(cap));
        i32::try_from(items).unwrap_or(i32::MAX)
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
                attribute("gsi2pk"),
                attribute("gsi2sk"),
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
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("gsi2")
                    .key_schema(key("gsi2pk", KeyType::Hash))
                    .key_schema(key("gsi2sk", KeyType::Range))
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
const DISCOUNT_OPTIONAL: [&str; 5] = [
    "minOrderValue",
    "maxRedemptions",
    "validUntil",
    "currency",
    VALID_UNTIL_EPOCH,
];

#[async_trait]
impl Store for DynamoStore {
    async fn write_product(
        &self,
        terms: &ProductTerms,
        stock: StockWrite,
    ) -> Result<Product, ProductWriteError> {
        self.update_product(terms, stock).await
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
        if let Some(until) = discount.valid_until {
            fields.insert(
                VALID_UNTIL_EPOCH.into(),
                AttributeValue::N(until.unix_timestamp().to_string()),
            );
        }
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
        let mut item = to_item(config_key(), config)?;
        let by_id: HashMap<String, &checkout_domain::catalog::ShippingMethod> = config
            .shipping_methods
            .iter()
            .map(|m| (m.id.to_string(), m))
            .collect();
        item.insert(
            SHIPPING_BY_ID.into(),
            serde_dynamo::to_attribute_value(by_id)
                .map_err(|e| StoreError(format!("encode: {e}")))?,
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
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
        // Attribute by attribute, leaving what payment writes own alone (rule 9).
        let mut item = to_item(cart_key(&cart.id), cart)?;
        for owned in ["pk", "sk"].iter().chain(CART_PAYMENT_ATTRIBUTES) {
            item.remove(*owned);
        }
        let present: std::collections::HashSet<String> = item.keys().cloned().collect();
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
        let (expected, active) = (e.number(expected_version), e.string(CART_ACTIVE));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(cart_key(&cart.id)))
            .update_expression(update)
            .condition_expression(format!("{version} = {expected} AND {state} = {active}"))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Err(CartWriteError::Conflict(failed.item.map(from_item).transpose()?.map(Box::new)))
                }
                other => Err(CartWriteError::Store(StoreError(DisplayErrorContext(&other).to_string()))),
            },
        }
    }

    async fn cart_and_order(
        &self,
        id: &CartId,
    ) -> Result<(Option<Cart>, Option<Order>), StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("CART#{id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        let (mut cart, mut order) = (None, None);
        for item in output.items.unwrap_or_default() {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == "CART" => cart = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk == "ORDER" => order = Some(from_item(item)?),
                _ => {}
            }
        }
        Ok((cart, order))
    }

    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        self.commit_plan(plan).await
    }

    async fn order(&self, number: &OrderNumber) -> Result<Option<Order>, StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct NumberClaim {
            cart_id: CartId,
        }
        let Some(claim) = self.get::<NumberClaim>(number_key(number)).await? else {
            return Ok(None);
        };
        self.get(order_key(&claim.cart_id)).await
    }

    async fn customer_orders(
        &self,
        customer: &CustomerId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        // One more than a page, to know whether another follows. DynamoDB may cut any Query
        // page short (at 1 MB) with `LastEvaluatedKey`; the history goes on from there.
        let wanted = limit + 1;
        let mut orders = Vec::with_capacity(wanted);
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .scan_index_forward(false)
                .limit(self.page_limit(wanted - orders.len()))
                .set_exclusive_start_key(start)
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("CUSTOMER#{customer}")),
                );
            query = match after {
                Some(after) => query
                    .key_condition_expression("gsi1pk = :pk AND gsi1sk < :after")
                    .expression_attribute_values(":after", AttributeValue::S(after.to_string())),
                None => query.key_condition_expression("gsi1pk = :pk"),
            };
            let output = query.send().await.map_err(store_error)?;
            for item in output.items.unwrap_or_default() {
                orders.push(from_item::<Order>(item)?);
            }
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if orders.len() >= wanted || start.is_none() {
                break;
            }
        }
        let next = (orders.len() > limit).then(|| history_key(&orders[limit - 1]));
        orders.truncate(limit);
        Ok(OrderPage { orders, next })
    }

    async fn due_for_sweep(
        &self,
        kind: SweepKind,
        due_by: OffsetDateTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SweepPage, StoreError> {
        let queue = match kind {
            SweepKind::Orders => SWEEP_ORDERS,
            SweepKind::Carts => SWEEP_CARTS,
        };
        let start = cursor.map(decode_sweep_cursor).transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("gsi2")
            .key_condition_expression("gsi2pk = :queue AND gsi2sk <= :due")
            .expression_attribute_values(":queue", AttributeValue::S(queue.into()))
            .expression_attribute_values(":due", AttributeValue::S(sweep_sort_key(due_by)))
            .projection_expression("pk")
            .set_exclusive_start_key(start)
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        let carts = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match item.get("pk") {
                Some(AttributeValue::S(pk)) => pk
                    .strip_prefix("CART#")
                    .and_then(|id| CartId::parse(id).ok()),
                _ => None,
            })
            .collect();
        let next = output
            .last_evaluated_key
            .map(|key| encode_sweep_cursor(&key));
        Ok(SweepPage { carts, next })
    }

    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::types::TransactWriteItem;
        let mut items = Vec::new();
        let mut e = Expr::default();
        let (state, revision) = (e.name("state"), e.name("revision"));
        let (open, cancelled_state, next, expected) = (
            e.string(ORDER_OPEN),
            e.value(
                serde_dynamo::to_attribute_value(cancelled.state)
                    .map_err(|e| StoreError(format!("encode: {e}")))?,
            ),
            e.number(cancelled.revision),
            e.number(expected_revision),
        );
        let mut sets = vec![
            format!("{state} = {cancelled_state}"),
            format!("{revision} = {next}"),
        ];
        let mut removes = Vec::new();
        sweep_mark(
            &mut e,
            &mut sets,
            &mut removes,
            SWEEP_ORDERS,
            cancelled.sweep_at(),
        );
        // Every order change bumps the revision: it is the change's event id and sequence.
        items.push(crate::dynamodb_commit::update(
            &self.table,
            order_key(&cancelled.cart_id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected} AND {state} = {open}"),
            e,
        )?);
        let give_back =
            |key: Item, field: &str, amount: i64| -> Result<TransactWriteItem, StoreError> {
                let mut e = Expr::default();
                let (f, pk) = (e.name(field), e.name("pk"));
                let n = e.number(amount);
                crate::dynamodb_commit::update(
                    &self.table,
                    key,
                    &format!("SET {f} = {f} + {n}"),
                    &format!("attribute_exists({pk})"),
                    e,
                )
            };
        for line in &cancelled.line_items {
            items.push(give_back(
                product_key(&line.sku),
                "stock",
                line.quantity.get() as i64,
            )?);
        }
        for code in &cancelled.discount_codes {
            items.push(give_back(discount_key(&code.code), "redemptions", -1)?);
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                    cancelled,
                ) if cancelled
                    .cancellation_reasons
                    .as_deref()
                    .and_then(|r| r.first())
                    .is_some_and(|r| r.code.as_deref() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                other => Err(StoreError(DisplayErrorContext(&other).to_string())),
            },
        }
    }

    async fn record_cart_payments(
        &self,
        cart: &Cart,
        expected_payment_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        let mut e = Expr::default();
        let (payments, revision, state) = (
            e.name("payments"),
            e.name("paymentRevision"),
            e.name("state"),
        );
        let (payments_value, next, expected, active) = (
            e.value(encode(&cart.payments)?),
            e.number(cart.payment_revision),
            e.number(expected_payment_revision),
            e.string(CART_ACTIVE),
        );
        let mut sets = vec![
            format!("{payments} = {payments_value}"),
            format!("{revision} = {next}"),
        ];
        let mut removes = Vec::new();
        sweep_mark(
            &mut e,
            &mut sets,
            &mut removes,
            SWEEP_CARTS,
            cart.holding_since(),
        );
        let item = crate::dynamodb_commit::update(
            &self.table,
            cart_key(&cart.id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected} AND {state} = {active}"),
            e,
        )?;
        send_payment_write(self, item, interactions).await
    }

    async fn record_order_payments(
        &self,
        order: &Order,
        expected_revision: u64,
        interactions: &[String],
    ) -> Result<(), PaymentWriteError> {
        // Only what payments own, so a concurrent claim or cancellation is never undone.
        let mut e = Expr::default();
        let (payments, payment_state, expires, revision) = (
            e.name("payments"),
            e.name("paymentState"),
            e.name("expiresAt"),
            e.name("revision"),
        );
        let (payments_value, state_value, next, expected) = (
            e.value(encode(&order.payments)?),
            e.value(encode(&order.payment_state)?),
            e.number(order.revision),
            e.number(expected_revision),
        );
        let mut sets = vec![
            format!("{payments} = {payments_value}"),
            format!("{payment_state} = {state_value}"),
            format!("{revision} = {next}"),
        ];
        let mut removes = Vec::new();
        match order.expires_at {
            Some(at) => {
                let at = e.value(encode(&time_rfc3339(at))?);
                sets.push(format!("{expires} = {at}"));
            }
            None => removes.push(expires),
        }
        sweep_mark(
            &mut e,
            &mut sets,
            &mut removes,
            SWEEP_ORDERS,
            order.sweep_at(),
        );
        let item = crate::dynamodb_commit::update(
            &self.table,
            order_key(&order.cart_id),
            &update_expression(&sets, &removes),
            &format!("{revision} = {expected}"),
            e,
        )?;
        send_payment_write(self, item, interactions).await
    }

    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        let mut orders = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(format!("GUEST#{}", email.normalized())),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for item in output.items.unwrap_or_default() {
                orders.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(orders);
            }
        }
    }

    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError> {
        // Register the email first: it is the claim's one condition that can fail.
        let registered = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(email_key(email)))
            .update_expression("SET customerId = :id, isGuest = :no, email = :email")
            .condition_expression("attribute_not_exists(customerId) OR customerId = :id")
            .expression_attribute_values(":id", AttributeValue::S(customer.to_string()))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":email", AttributeValue::S(email.normalized()))
            .send()
            .await;
        if !condition_held(registered)? {
            return Ok(None);
        }
        // Each order moves to the customer's history: its owner and history keys only (its
        // payments are another writer's), while it is still a guest's at the revision read.
        let mut moved = Vec::new();
        for order in orders {
            let mut claimed = order.clone();
            claimed.owner = CartOwner::Customer {
                customer_id: customer.clone(),
            };
            let mut e = Expr::default();
            let (owner, kind, gsi1pk, gsi1sk, revision) = (
                e.name("owner"),
                e.name("kind"),
                e.name("gsi1pk"),
                e.name("gsi1sk"),
                e.name("revision"),
            );
            let owner_value = e.value(
                serde_dynamo::to_attribute_value(&claimed.owner)
                    .map_err(|e| StoreError(format!("encode: {e}")))?,
            );
            let (history_pk, history_sk) = (
                e.string(format!("CUSTOMER#{customer}")),
                e.string(history_key(order)),
            );
            let (read_at, next, guest) = (
                e.number(order.revision),
                e.number(order.revision + 1),
                e.string("guest"),
            );
            // Items written before revisions existed count as revision 1.
            let at_revision = if order.revision == 1 {
                format!("(attribute_not_exists({revision}) OR {revision} = {read_at})")
            } else {
                format!("{revision} = {read_at}")
            };
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(order_key(&order.cart_id)))
                .update_expression(format!(
                    "SET {owner} = {owner_value}, {gsi1pk} = {history_pk}, \
                     {gsi1sk} = {history_sk}, {revision} = {next}"
                ))
                .condition_expression(format!("{at_revision} AND {owner}.{kind} = {guest}"))
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .send()
                .await;
            if condition_held(result)? {
                moved.push(order.order_number.clone());
            }
        }
        Ok(Some(moved))
    }

    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(claim_ticket_key(token_hash)))
            .update_expression("SET usedAt = :now, usedBy = :customer")
            .condition_expression(
                "attribute_exists(pk) AND email = :email AND expiresAt > :now \
                 AND attribute_not_exists(usedAt)",
            )
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .expression_attribute_values(":customer", AttributeValue::S(customer.to_string()))
            .expression_attribute_values(":email", AttributeValue::S(email.normalized()))
            .send()
            .await;
        condition_held(result)
    }

    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(idempotency_key(&record.key), record)?))
            .condition_expression(
                "attribute_not_exists(pk) OR expiresAt <= :now OR (#state = :in_flight AND lockedUntil <= :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", AttributeValue::N(now.unix_timestamp().to_string()))
            .expression_attribute_values(":in_flight", AttributeValue::S("inFlight".into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => {
                    failed.item.map(from_item).transpose()
                }
                other => Err(StoreError(DisplayErrorContext(&other).to_string())),
            },
        }
    }

    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<(), StoreError> {
        self.put(idempotency_key(&record.key), record).await
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(key)))
            .condition_expression("fingerprint = :fp AND #state = :in_flight")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fp", AttributeValue::S(fingerprint.into()))
            .expression_attribute_values(":in_flight", AttributeValue::S("inFlight".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error(e)),
        }
    }
}

/// An effect record in `state`, with that state's time (`leaseUntil` or `doneAt`) as a
/// number, and the record's TTL.
fn effect_item(
    consumer: &str,
    event_id: &str,
    (state, field, at): (&str, &str, OffsetDateTime),
    now: OffsetDateTime,
) -> Item {
    let mut item = effect_key(consumer, event_id);
    item.insert("state".into(), AttributeValue::S(state.into()));
    item.insert(
        field.into(),
        AttributeValue::N(at.unix_timestamp().to_string()),
    );
    item.insert(
        "expiresAt".into(),
        AttributeValue::N((now + EFFECT_RETENTION).unix_timestamp().to_string()),
    );
    item
}

#[async_trait]
impl EffectLog for DynamoStore {
    async fn claim_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<EffectClaim, StoreError> {
        let item = effect_item(
            consumer,
            event_id,
            ("pending", "leaseUntil", lease_until),
            now,
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :pending AND leaseUntil <= :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(
                ":now",
                AttributeValue::N(now.unix_timestamp().to_string()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(EffectClaim::Claimed),
            Err(e) => match e.into_service_error() {
                aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed) => {
                    // A record without a pending state is a done one.
                    let pending = failed
                        .item
                        .as_ref()
                        .and_then(|item| item.get("state"))
                        .is_some_and(|state| state == &AttributeValue::S("pending".into()));
                    Ok(if pending { EffectClaim::Held } else { EffectClaim::Done })
                }
                other => Err(StoreError(DisplayErrorContext(&other).to_string())),
            },
        }
    }

    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(effect_key(consumer, event_id)))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error(e)),
        }
    }

    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = effect_item(consumer, event_id, ("done", "doneAt", now), now);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Ours while pending (a lease), first if absent; done is final.
            .condition_expression("attribute_not_exists(pk) OR #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(store_error(e)),
        }
    }
}

#[async_trait]
impl ClaimTickets for DynamoStore {
    async fn save_claim_ticket(&self, ticket: &ClaimTicket) -> Result<(), StoreError> {
        let mut item = claim_ticket_key(&ticket.token_hash);
        item.insert("email".into(), AttributeValue::S(ticket.email.normalized()));
        // A number: the table's TTL deletes the ticket once it has expired.
        item.insert(
            "expiresAt".into(),
            AttributeValue::N(ticket.expires_at.unix_timestamp().to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
