//! The order port: the commit (its transaction is `commit`), lookups by number, a
//! customer's history and a guest's orders (index `gsi1`), the guest claim, and the release of
//! an unpaid order that expired (its stock and code redemptions given back in the same
//! transaction).

mod changes;
mod guest_claim;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use time::OffsetDateTime;

use checkout_domain::model::commit_plan::CommitPlan;
use checkout_domain::model::fulfillment::HistoryEntry;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::values::{CartId, CustomerId, Email, SessionHash};
use checkout_domain::ports::orders::{
    history_key, CommitError, CommitRead, KeyRange, OrderFilter, OrderPage, OrderStore,
};
use checkout_domain::StoreError;

use super::code_counters;
use super::codec::{encode, from_item, time_rfc3339};
use super::expr::{cancellation_error, reason_is_condition, store_error, update, Expr, Item};
use super::schema::{
    cart_key, cart_partition, customer_history, discount_replica_key, guest_history,
    idempotency_key, number_key, order_key, product_key, serde_names, HISTORY_INDEX, SK_CART,
    SK_HISTORY, SK_ORDER,
};
use super::DynamoStore;

pub(super) use changes::{history_put, order_update};

impl DynamoStore {
    /// The orders behind a page of the history index, in the index's order. The index keeps
    /// keys only (an order entering it costs one write unit, not its size); the orders are
    /// read from the table itself, consistently.
    async fn orders_behind(&self, index_items: Vec<Item>) -> Result<Vec<Order>, StoreError> {
        let keys: Vec<Item> = index_items
            .into_iter()
            .map(|item| {
                item.into_iter()
                    .filter(|(name, _)| name == "pk" || name == "sk")
                    .collect()
            })
            .collect();
        let mut found: std::collections::HashMap<String, Order> = std::collections::HashMap::new();
        for item in self.batch_get_items(keys.clone()).await? {
            if let Some(AttributeValue::S(pk)) = item.get("pk") {
                found.insert(pk.clone(), from_item(item)?);
            }
        }
        Ok(keys
            .iter()
            .filter_map(|key| match key.get("pk") {
                Some(AttributeValue::S(pk)) => found.remove(pk),
                _ => None,
            })
            .collect())
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn commit(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        self.commit_plan(plan).await
    }

    async fn commit_read(&self, cart: &CartId, key: &str) -> Result<CommitRead, StoreError> {
        let items = self
            .batch_get_items(vec![cart_key(cart), order_key(cart), idempotency_key(key)])
            .await?;
        let mut read = CommitRead::default();
        for item in items {
            match item.get("sk") {
                Some(AttributeValue::S(sk)) if sk == SK_CART => read.cart = Some(from_item(item)?),
                Some(AttributeValue::S(sk)) if sk == SK_ORDER => {
                    read.order = Some(from_item(item)?)
                }
                _ => read.record = Some(from_item(item)?),
            }
        }
        Ok(read)
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
                .client()
                .query()
                .table_name(self.table())
                .index_name(HISTORY_INDEX)
                .scan_index_forward(false)
                .limit(self.page_limit(wanted - orders.len()))
                .set_exclusive_start_key(start)
                .expression_attribute_values(":pk", AttributeValue::S(customer_history(customer)));
            query = match after {
                Some(after) => query
                    .key_condition_expression("gsi1pk = :pk AND gsi1sk < :after")
                    .expression_attribute_values(":after", AttributeValue::S(after.to_string())),
                None => query.key_condition_expression("gsi1pk = :pk"),
            };
            let output = query.send().await.map_err(store_error)?;
            orders.extend(self.orders_behind(output.items.unwrap_or_default()).await?);
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if orders.len() >= wanted || start.is_none() {
                break;
            }
        }
        let next = (orders.len() > limit).then(|| history_key(&orders[limit - 1]));
        orders.truncate(limit);
        Ok(OrderPage { orders, next })
    }

    async fn search_orders(
        &self,
        filter: &OrderFilter,
        range: &KeyRange,
        limit: usize,
    ) -> Result<OrderPage, StoreError> {
        self.search(filter, range, limit).await
    }

    async fn release_order(
        &self,
        cancelled: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        let mut items = Vec::new();
        let mut e = Expr::default();
        let state = e.name("state");
        let (open, cancelled_state) = (
            e.string(serde_names::ORDER_OPEN),
            e.value(encode(&cancelled.state)?),
        );
        let mut sets = vec![format!("{state} = {cancelled_state}")];
        if let Some(at) = cancelled.cancelled_at {
            let (name, value) = (e.name("cancelledAt"), e.value(encode(&time_rfc3339(at))?));
            sets.push(format!("{name} = {value}"));
        }
        items.push(order_update(
            self.table(),
            cancelled,
            expected_revision,
            e,
            sets,
            Vec::new(),
            &format!("{state} = {open}"),
        )?);
        items.extend(history_put(self.table(), cancelled)?);
        let give_back = |key: Item,
                         field: &str,
                         amount: i64,
                         clear: &str|
         -> Result<TransactWriteItem, StoreError> {
            let mut e = Expr::default();
            let (f, pk) = (e.name(field), e.name("pk"));
            let n = e.number(amount);
            let remove = match clear {
                "" => String::new(),
                clear => format!(" REMOVE {}", e.name(clear)),
            };
            update(
                self.table(),
                key,
                &format!("SET {f} = {f} + {n}{remove}"),
                &format!("attribute_exists({pk})"),
                e,
            )
        };
        // Stock goes back to shard 0, the product's own item, clearing a sold-out mark.
        for (sku, units) in cancelled.units_held() {
            items.push(give_back(
                product_key(&sku),
                "stock",
                i64::from(units),
                "soldOut",
            )?);
        }
        // Only a limited code counts its redemptions: one back on a copy that counted some.
        for code in cancelled
            .discount_codes
            .iter()
            .filter(|c| c.terms.max_redemptions.is_some())
        {
            let copy = code_counters::copy_to_release(&self.code_copies(&code.code).await?);
            let mut e = Expr::default();
            let pk = e.name("pk");
            items.push(update(
                self.table(),
                discount_replica_key(&code.code, copy),
                &format!("SET {}", code_counters::count(&mut e, -1)),
                &format!("attribute_exists({pk})"),
                e,
            )?);
        }
        if let Some(customer) = cancelled.slot_owner() {
            items.push(super::saved_orders::give_back(
                self.table(),
                customer,
                &cancelled.cart_id,
            )?);
        }
        match self.transact(items).await? {
            Ok(_) => Ok(true),
            // The order moved on (its first item's condition): someone else released or paid it.
            Err(reasons) if reasons.first().is_some_and(reason_is_condition) => Ok(false),
            Err(reasons) => Err(cancellation_error("release", &reasons)),
        }
    }

    async fn write_fulfillments(
        &self,
        order: &Order,
        expected_revision: u64,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let (state, shipment, fulfillments) = (
            e.name("state"),
            e.name("shipmentState"),
            e.name("fulfillments"),
        );
        let sets = vec![
            format!("{state} = {}", e.value(encode(&order.state)?)),
            format!("{shipment} = {}", e.value(encode(&order.shipment_state)?)),
            format!("{fulfillments} = {}", e.value(encode(&order.fulfillments)?)),
        ];
        let cancelled = e.string(serde_names::ORDER_CANCELLED);
        let mut items = vec![order_update(
            self.table(),
            order,
            expected_revision,
            e,
            sets,
            Vec::new(),
            &format!("{state} <> {cancelled}"),
        )?];
        items.extend(history_put(self.table(), order)?);
        match self.transact(items).await? {
            Ok(_) => Ok(true),
            Err(reasons) if reasons.first().is_some_and(reason_is_condition) => Ok(false),
            Err(reasons) => Err(cancellation_error("fulfilment", &reasons)),
        }
    }

    async fn order_history(&self, cart: &CartId) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :history)")
                .expression_attribute_values(":pk", AttributeValue::S(cart_partition(cart)))
                .expression_attribute_values(":history", AttributeValue::S(SK_HISTORY.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for item in page.items.unwrap_or_default() {
                entries.push(from_item(item)?);
            }
            start = page.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(entries);
            }
        }
    }

    async fn guest_orders(&self, email: &Email) -> Result<Vec<Order>, StoreError> {
        let entries = self.gsi1_partition(guest_history(email)).await?;
        self.orders_behind(entries).await
    }

    async fn claim_guest_orders(
        &self,
        customer: &CustomerId,
        email: &Email,
        orders: &[Order],
    ) -> Result<Option<Vec<OrderNumber>>, StoreError> {
        self.claim_for(customer, email, orders).await
    }

    async fn redeem_claim_ticket(
        &self,
        token_hash: &SessionHash,
        email: &Email,
        customer: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.redeem_ticket(token_hash, email, customer, now).await
    }
}
