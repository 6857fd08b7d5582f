//! Guest claim tickets: one item per ticket, keyed by the SHA-256 of its token, saved when
//! the confirmation email is sent and redeemed once (see `orders`, `redeem_claim_ticket`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use checkout_domain::model::claim::ClaimTicket;
use checkout_domain::ports::claims::ClaimTickets;
use checkout_domain::StoreError;

use super::expr::store_error;
use super::schema::claim_ticket_key;
use super::DynamoStore;

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
