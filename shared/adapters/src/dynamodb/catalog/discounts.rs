//! A discount code's replicas: the terms they carry, their puts, and the replication of a
//! code stored before there were any.

use aws_sdk_dynamodb::types::TransactWriteItem;

use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::values::DiscountCode;
use checkout_domain::StoreError;

use crate::dynamodb::codec::{epoch, fields};
use crate::dynamodb::expr::{plain_put, update, Expr, Item};
use crate::dynamodb::schema::{
    discount_key, discount_replica_key, DISCOUNT_REPLICAS, REPLICAS, VALID_UNTIL_EPOCH,
};
use crate::dynamodb::DynamoStore;

/// The optional attributes of a discount item that an update must clear when absent.
pub(super) const DISCOUNT_OPTIONAL: [&str; 5] = [
    "minOrderValue",
    "maxRedemptions",
    "validUntil",
    "currency",
    VALID_UNTIL_EPOCH,
];

/// A code's terms as its replicas carry them (no redemption count).
pub(super) fn discount_terms(discount: &DiscountDefinition) -> Result<Item, StoreError> {
    let mut terms = fields(discount)?;
    terms.remove("redemptions");
    if let Some(until) = discount.valid_until {
        terms.insert(VALID_UNTIL_EPOCH.into(), epoch(until));
    }
    Ok(terms)
}

impl DynamoStore {
    /// Puts of replicas 1.. of a code with `terms`.
    fn discount_replicas(
        &self,
        code: &DiscountCode,
        terms: &Item,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        (1..DISCOUNT_REPLICAS)
            .map(|replica| {
                let mut item = terms.clone();
                item.extend(discount_replica_key(code, replica));
                plain_put(self.table(), item)
            })
            .collect()
    }

    /// Writes the replicas of a code stored before there were any, with the terms read, as
    /// long as replica 0 still has none (an administrator's write meanwhile wrote them all).
    pub(super) async fn replicate_discount(
        &self,
        discount: &DiscountDefinition,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let marker = e.name(REPLICAS);
        let mark = update(
            self.table(),
            discount_key(&discount.code),
            &format!("SET {marker} = {}", e.number(DISCOUNT_REPLICAS)),
            &format!("attribute_exists(pk) AND attribute_not_exists({marker})"),
            e,
        )?;
        let mut items = vec![mark];
        items.extend(self.discount_replicas(&discount.code, &discount_terms(discount)?)?);
        // Cancelled: someone else wrote them (or is writing them); the terms read stand.
        let _ = self.transact(items).await?;
        Ok(())
    }
}
