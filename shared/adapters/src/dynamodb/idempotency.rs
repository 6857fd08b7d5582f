//! The idempotency port: a record per `Idempotency-Key`, taken with one conditional put
//! (absent, expired, or an in-flight record whose lock ran out), completed by the commit's
//! own transaction (see `commit`) or by a conditional put (done is final), released by a
//! conditional delete. Requests, webhook events and the subscribers' effects all live here.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use checkout_domain::model::idempotency::IdempotencyRecord;
use checkout_domain::ports::idempotency::IdempotencyStore;
use checkout_domain::StoreError;

use super::codec::{epoch, from_item, to_item};
use super::expr::{conditional, Conditional};
use super::schema::{idempotency_key, serde_names};
use super::DynamoStore;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        record: &IdempotencyRecord,
        now: OffsetDateTime,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(idempotency_key(&record.key), record)?))
            .condition_expression(
                "attribute_not_exists(pk) OR expiresAt <= :now OR (#state = :in_flight AND lockedUntil <= :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", epoch(now))
            .expression_attribute_values(
                ":in_flight",
                AttributeValue::S(serde_names::IN_FLIGHT.into()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match conditional(result)? {
            Conditional::Written(_) => Ok(None),
            Conditional::Failed(held) => held.map(from_item).transpose(),
        }
    }

    async fn complete_idempotency(&self, record: &IdempotencyRecord) -> Result<bool, StoreError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(to_item(idempotency_key(&record.key), record)?))
            // Ours while in flight (a lock), first if absent; done is final.
            .condition_expression("attribute_not_exists(pk) OR #state = :in_flight")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(
                ":in_flight",
                AttributeValue::S(serde_names::IN_FLIGHT.into()),
            )
            .send()
            .await;
        Ok(matches!(conditional(result)?, Conditional::Written(_)))
    }

    async fn release_idempotency(&self, key: &str, fingerprint: &str) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(idempotency_key(key)))
            .condition_expression("fingerprint = :fp AND #state = :in_flight")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":fp", AttributeValue::S(fingerprint.into()))
            .expression_attribute_values(
                ":in_flight",
                AttributeValue::S(serde_names::IN_FLIGHT.into()),
            )
            .send()
            .await;
        // Not ours, or not in flight any more: nothing to release.
        conditional(result).map(|_| ())
    }
}
