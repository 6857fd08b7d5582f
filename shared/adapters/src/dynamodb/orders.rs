//! The order port: the commit (its transaction is `commit`), lookups by number, a
//! customer's history and a guest's orders (index `gsi1`), the guest claim, and the release of
//! an unpaid order that expired (its stock and code redemptions given back in the same
//! transaction).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use time::OffsetDateTime;

use checkout_domain::model::cart::CartOwner;
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
use super::codec::{encode, from_item, time_rfc3339, to_item};
use super::expr::{
    cancellation_error, condition_held, put, reason_is_condition, store_error, update,
    update_expression, Expr, Item,
};
use super::schema::{
    cart_key, cart_partition, claim_ticket_key, customer_history, discount_replica_key, email_key,
    guest_history, history_entry_key, idempotency_key, number_key, order_key, product_key,
    serde_names, sweep_mark, HISTORY_INDEX, SK_CART, SK_HISTORY, SK_ORDER, SWEEP_ORDERS,
};
use super::DynamoStore;

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

/// The update of an order's item to `order.revision` with `sets`, `removes` and its sweep
/// mark (`Order::sweep_at`), iff the stored order is at `expected_revision` and `condition`
/// (if not empty) holds. Every order change moves the revision on: it is the change's event
/// id and sequence.
pub(super) fn order_update(
    table: &str,
    order: &Order,
    expected_revision: u64,
    mut e: Expr,
    mut sets: Vec<String>,
    mut removes: Vec<String>,
    condition: &str,
) -> Result<TransactWriteItem, StoreError> {
    let revision = e.name("revision");
    let (next, expected) = (e.number(order.revision), e.number(expected_revision));
    sets.push(format!("{revision} = {next}"));
    sweep_mark(
        &mut e,
        &mut sets,
        &mut removes,
        (SWEEP_ORDERS, &order.cart_id),
        order.sweep_at(),
    );
    let mut conditions = format!("{revision} = {expected}");
    if !condition.is_empty() {
        conditions.push_str(" AND ");
        conditions.push_str(condition);
    }
    update(
        table,
        order_key(&order.cart_id),
        &update_expression(&sets, &removes),
        &conditions,
        e,
    )
}

/// The put of the history entry `order`'s change made, if it notes one: its own item beside
/// the order, written in the same transaction as the change.
pub(super) fn history_put(
    table: &str,
    order: &Order,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let Some(entry) = &order.change else {
        return Ok(None);
    };
    let mut e = Expr::default();
    let sk = e.name("sk");
    let item = to_item(history_entry_key(&order.cart_id, entry.revision), entry)?;
    put(table, item, &format!("attribute_not_exists({sk})"), e).map(Some)
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
                    .map_err(|e| StoreError::new(format!("encode: {e}")))?,
            );
            let (history_pk, history_sk) = (
                e.string(customer_history(customer)),
                e.string(history_key(order)),
            );
            let (read_at, next, guest) = (
                e.number(order.revision),
                e.number(order.revision + 1),
                e.string(serde_names::GUEST),
            );
            // Items written before revisions existed count as revision 1.
            let at_revision = if order.revision == 1 {
                format!("(attribute_not_exists({revision}) OR {revision} = {read_at})")
            } else {
                format!("{revision} = {read_at}")
            };
            let claim = update(
                self.table(),
                order_key(&order.cart_id),
                &format!(
                    "SET {owner} = {owner_value}, {gsi1pk} = {history_pk}, \
                     {gsi1sk} = {history_sk}, {revision} = {next}"
                ),
                &format!("{at_revision} AND {owner}.{kind} = {guest}"),
                e,
            )?;
            let mut items = vec![claim];
            items.extend(history_put(self.table(), order)?);
            let result = match self.transact(items).await? {
                Ok(()) => Ok(()),
                Err(reasons) if reasons.first().is_some_and(reason_is_condition) => Err(()),
                Err(reasons) => return Err(cancellation_error("claim", &reasons)),
            };
            if result.is_ok() {
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
}
