//! A limited discount code's redemptions, spread over the code's 32 items (rule 12) the way a
//! hot SKU's stock is spread over its shards: copy `k` counts the `redemptions` taken on it
//! and may take up to its `quota`; the quotas add up to the code's `maxRedemptions`. An order
//! redeems on one copy with room, picked at random from a read of the copies, on the
//! condition `redemptions < quota` there: no copy ever goes past its quota, so the code is
//! never redeemed more than its limit, and orders redeeming one code meet on 32 items rather
//! than one. A release (a saved order expired or cancelled) takes one back on any copy (a
//! copy's count may go below zero; the sum is what counts). Writing the code deals the
//! redemptions still left out again, each copy's quota its own count plus an even share,
//! conditioned on the counts read, in one transaction.
//!
//! A code from before the spread has its count on its own item (copy 0) and no quotas: an
//! order redeems there against `maxRedemptions` as before, and the code's next read deals the
//! quotas out.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::random;
use checkout_domain::model::values::DiscountCode;
use checkout_domain::StoreError;

use super::expr::{reason_is_condition, update, update_expression, Expr, Item};
use super::schema::{discount_replica_key, DISCOUNT_REPLICAS, REPLICAS};
use super::DynamoStore;

pub(crate) const REDEMPTIONS: &str = "redemptions";
pub(crate) const QUOTA: &str = "quota";

/// Attempts at dealing quotas out while orders redeem the code meanwhile.
const WRITE_ATTEMPTS: usize = 8;

/// One copy of a code as read: its index, the redemptions counted on it, its quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Copy {
    pub index: u32,
    pub redemptions: Option<i64>,
    pub quota: Option<i64>,
}

fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// The redemptions counted over all copies.
pub(crate) fn redeemed(copies: &[Copy]) -> i64 {
    copies.iter().filter_map(|c| c.redemptions).sum()
}

/// Whether the copies carry quotas (a code dealt out since the spread exists).
pub(crate) fn dealt(copies: &[Copy]) -> bool {
    copies.len() == DISCOUNT_REPLICAS as usize && copies.iter().all(|c| c.quota.is_some())
}

/// The quota of each copy for a limit of `max`: what it counted so far plus an even share of
/// what is left (none when the limit is already reached), indexed by copy.
pub(crate) fn quotas(copies: &[Copy], max: u32) -> Vec<i64> {
    let counted = |k: u32| {
        copies
            .iter()
            .find(|c| c.index == k)
            .and_then(|c| c.redemptions)
            .unwrap_or(0)
    };
    let left = (i64::from(max) - redeemed(copies)).max(0);
    let n = i64::from(DISCOUNT_REPLICAS);
    (0..DISCOUNT_REPLICAS)
        .map(|k| counted(k) + left / n + i64::from(i64::from(k) < left % n))
        .collect()
}

/// The copy an order redeems on: one with room, at random; copy 0 (the rule from before the
/// spread, or a refusal there when none has room).
pub(crate) fn copy_with_room(copies: &[Copy]) -> u32 {
    let with_room: Vec<u32> = copies
        .iter()
        .filter(|c| matches!((c.redemptions, c.quota), (r, Some(q)) if r.unwrap_or(0) < q))
        .map(|c| c.index)
        .collect();
    match with_room.len() {
        0 => 0,
        n => with_room[random::below(n as u64) as usize],
    }
}

/// The copy a release gives a redemption back on: one that counted some, at random, else
/// copy 0.
pub(crate) fn copy_to_release(copies: &[Copy]) -> u32 {
    let counted: Vec<u32> = copies
        .iter()
        .filter(|c| c.redemptions.unwrap_or(0) > 0)
        .map(|c| c.index)
        .collect();
    match counted.len() {
        0 => 0,
        n => counted[random::below(n as u64) as usize],
    }
}

/// The condition an order's redemption on a copy holds to: below the copy's quota, or, on a
/// code from before the spread, below the code's limit.
pub(crate) fn redemption_condition(e: &mut Expr) -> String {
    let (redemptions, quota, max) = (e.name(REDEMPTIONS), e.name(QUOTA), e.name("maxRedemptions"));
    format!(
        "({redemptions} < {quota} OR (attribute_not_exists({quota}) AND {redemptions} < {max}))"
    )
}

/// `SET redemptions = if_not_exists(redemptions, 0) + delta`.
pub(crate) fn count(e: &mut Expr, delta: i64) -> String {
    let (redemptions, zero, delta) = (e.name(REDEMPTIONS), e.number(0), e.number(delta));
    format!("{redemptions} = if_not_exists({redemptions}, {zero}) + {delta}")
}

impl DynamoStore {
    /// The code's copies as they stand (strongly consistent), those that exist.
    pub(crate) async fn code_copies(&self, code: &DiscountCode) -> Result<Vec<Copy>, StoreError> {
        let keys = (0..DISCOUNT_REPLICAS)
            .map(|k| discount_replica_key(code, k))
            .collect();
        let items = self.batch_get_items(keys).await?;
        let mut copies: Vec<Copy> = items
            .iter()
            .filter_map(|item| {
                let index = match item.get("pk") {
                    Some(AttributeValue::S(pk)) => match pk.rsplit_once('#') {
                        Some((_, k)) if pk.matches('#').count() == 2 => k.parse().ok()?,
                        _ => 0,
                    },
                    _ => return None,
                };
                Some(Copy {
                    index,
                    redemptions: number(item, REDEMPTIONS),
                    quota: number(item, QUOTA),
                })
            })
            .collect();
        copies.sort_by_key(|c| c.index);
        Ok(copies)
    }

    /// Writes the code's 32 copies: the terms when given (copy 0 also marked as replicated),
    /// each copy's quota for a limited code (none for an unlimited one), each conditioned on
    /// the count read, in one transaction; read again and retried while orders redeem
    /// meanwhile. `Ok(false)`: the copies moved on every attempt.
    pub(crate) async fn write_code(
        &self,
        code: &DiscountCode,
        terms: Option<&Item>,
        max_redemptions: Option<u32>,
        optional: &[&str],
    ) -> Result<bool, StoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let copies = self.code_copies(code).await?;
            let quotas = max_redemptions.map(|max| quotas(&copies, max));
            let items = (0..DISCOUNT_REPLICAS)
                .map(|k| {
                    let read = copies.iter().find(|c| c.index == k);
                    self.copy_write(
                        code,
                        k,
                        terms,
                        quotas.as_ref().map(|q| q[k as usize]),
                        read,
                        optional,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            match self.transact(items).await? {
                Ok(_) => return Ok(true),
                // A count moved since the read (an order redeemed): deal again.
                Err(reasons) if reasons.iter().any(reason_is_condition) => continue,
                Err(reasons) => {
                    return Err(super::expr::cancellation_error(
                        "discount code write",
                        &reasons,
                    ))
                }
            }
        }
        Ok(false)
    }

    fn copy_write(
        &self,
        code: &DiscountCode,
        k: u32,
        terms: Option<&Item>,
        quota: Option<i64>,
        read: Option<&Copy>,
        optional: &[&str],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let mut sets = vec![count(&mut e, 0)];
        let mut removes = Vec::new();
        match quota {
            Some(q) => sets.push(format!("{} = {}", e.name(QUOTA), e.number(q))),
            None => removes.push(e.name(QUOTA)),
        }
        if let Some(terms) = terms {
            for (name, value) in terms {
                sets.push(format!("{} = {}", e.name(name), e.value(value.clone())));
            }
            removes.extend(
                optional
                    .iter()
                    .filter(|name| !terms.contains_key(**name))
                    .map(|name| e.name(name)),
            );
            if k == 0 {
                sets.push(format!(
                    "{} = {}",
                    e.name(REPLICAS),
                    e.number(DISCOUNT_REPLICAS)
                ));
            }
        }
        let redemptions = e.name(REDEMPTIONS);
        let mut condition = match read.and_then(|c| c.redemptions) {
            Some(n) => format!("{redemptions} = {}", e.number(n)),
            None => format!("attribute_not_exists({redemptions})"),
        };
        // Dealing quotas out alone never creates a copy: the terms write does.
        if terms.is_none() {
            condition = format!("attribute_exists({}) AND {condition}", e.name("pk"));
        }
        update(
            self.table(),
            discount_replica_key(code, k),
            &update_expression(&sets, &removes),
            &condition,
            e,
        )
    }

    /// A limited code read: its redemptions summed over the copies, its quotas dealt out
    /// first if it has none yet (a code from before the spread).
    pub(crate) async fn with_redemptions(
        &self,
        mut discount: DiscountDefinition,
    ) -> Result<DiscountDefinition, StoreError> {
        let Some(max) = discount.max_redemptions else {
            return Ok(discount);
        };
        let mut copies = self.code_copies(&discount.code).await?;
        if !dealt(&copies)
            && self
                .write_code(&discount.code, None, Some(max), &[])
                .await?
        {
            copies = self.code_copies(&discount.code).await?;
        }
        discount.redemptions = redeemed(&copies).clamp(0, i64::from(u32::MAX)) as u32;
        Ok(discount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(index: u32, redemptions: i64, quota: Option<i64>) -> Copy {
        Copy {
            index,
            redemptions: Some(redemptions),
            quota,
        }
    }

    #[test]
    fn quotas_add_up_to_the_limit_and_keep_what_each_copy_counted() {
        let copies: Vec<Copy> = (0..32)
            .map(|k| copy(k, i64::from(k % 3), Some(0)))
            .collect();
        let counted = redeemed(&copies);
        for max in [0, 1, 31, 32, 33, 100, 1_000] {
            let q = quotas(&copies, max);
            assert_eq!(q.len(), 32);
            let total: i64 = q.iter().sum();
            assert_eq!(total, counted.max(i64::from(max)), "max {max}");
            for (k, quota) in q.iter().enumerate() {
                assert!(
                    *quota >= copies[k].redemptions.unwrap(),
                    "no copy below its count"
                );
            }
        }
        // A code from before the spread: all on copy 0, others missing.
        let legacy = [Copy {
            index: 0,
            redemptions: Some(7),
            quota: None,
        }];
        let q = quotas(&legacy, 10);
        assert_eq!(q[0], 7 + 1);
        assert_eq!(q.iter().sum::<i64>(), 10);
        assert!(!dealt(&legacy));
    }

    #[test]
    fn an_order_redeems_where_there_is_room_and_a_release_where_there_was_a_count() {
        let copies = [
            copy(0, 2, Some(2)),
            copy(1, 0, Some(1)),
            copy(2, 5, Some(5)),
        ];
        for _ in 0..50 {
            assert_eq!(copy_with_room(&copies), 1);
            assert_ne!(copy_to_release(&copies), 1);
        }
        let full = [copy(0, 2, Some(2)), copy(1, 1, Some(1))];
        assert_eq!(
            copy_with_room(&full),
            0,
            "none has room: a refusal on copy 0"
        );
        assert_eq!(copy_to_release(&[copy(0, 0, Some(1))]), 0);
    }
}
