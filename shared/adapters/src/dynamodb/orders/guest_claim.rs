//! The guest claim: a guest's orders moved to a customer's history once the email is
//! registered to the customer, and the one-time redemption of a claim ticket.

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use checkout_domain::model::cart::CartOwner;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::values::{CustomerId, Email, SessionHash};
use checkout_domain::ports::orders::history_key;
use checkout_domain::StoreError;

use crate::dynamodb::expr::{
    cancellation_error, condition_held, reason_is_condition, update, Expr,
};
use crate::dynamodb::schema::{
    claim_ticket_key, customer_history, email_key, order_key, serde_names,
};
use crate::dynamodb::DynamoStore;

use super::history_put;

impl DynamoStore {
    /// The claim behind `OrderStore::claim_guest_orders`.
    pub(super) async fn claim_for(
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

    /// The redemption behind `OrderStore::redeem_claim_ticket`.
    pub(super) async fn redeem_ticket(
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
