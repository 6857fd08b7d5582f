//! The subscribers' effect log: one record per consumer and event, `pending` under a lease
//! while the effect is performed, `done` once it was; `done` is final.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use time::OffsetDateTime;

use checkout_domain::ports::effects::{EffectClaim, EffectLog};
use checkout_domain::StoreError;

use super::codec::epoch;
use super::expr::{conditional, Conditional, Item};
use super::schema::effect_key;
use super::DynamoStore;

/// How long an effect record is kept: longer than a message can live in SQS (14 days) or a
/// record in the stream (24 hours), so no redelivery outlives it.
const EFFECT_RETENTION: time::Duration = time::Duration::days(30);

/// An effect record's states (written by this adapter, not by serde).
const PENDING: &str = "pending";
const DONE: &str = "done";

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
    item.insert(field.into(), epoch(at));
    item.insert("expiresAt".into(), epoch(now + EFFECT_RETENTION));
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
            (PENDING, "leaseUntil", lease_until),
            now,
        );
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :pending AND leaseUntil <= :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
            .expression_attribute_values(":now", epoch(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match conditional(result)? {
            Conditional::Written(_) => EffectClaim::Claimed,
            Conditional::Failed(old) => {
                // A record without a pending state is a done one.
                let pending = old
                    .as_ref()
                    .and_then(|item| item.get("state"))
                    .is_some_and(|state| state == &AttributeValue::S(PENDING.into()));
                if pending {
                    EffectClaim::Held
                } else {
                    EffectClaim::Done
                }
            }
        })
    }

    async fn release_effect(&self, consumer: &str, event_id: &str) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(effect_key(consumer, event_id)))
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
            .send()
            .await;
        // Done meanwhile, or gone: nothing to release.
        conditional(result).map(|_| ())
    }

    async fn record_effect(
        &self,
        consumer: &str,
        event_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = effect_item(consumer, event_id, (DONE, "doneAt", now), now);
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            // Ours while pending (a lease), first if absent; done is final.
            .condition_expression("attribute_not_exists(pk) OR #state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
            .send()
            .await;
        Ok(matches!(conditional(result)?, Conditional::Written(_)))
    }
}
