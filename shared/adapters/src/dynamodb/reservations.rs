//! Reservations as DynamoDB items: each hold of a SKU is an item of its own keyed by SKU and
//! owner (`HOLD#<sku>#<owner>`), in `gsi1` under its SKU's hold partitions and in `gsi2`'s
//! hold queue by its end; the cart carries its reservation.
//!
//! Reserving is one transaction:
//!
//! | # | item | write | condition |
//! |---|---|---|---|
//! | 0 | cart | reservation set, payment revision + 1 | `Active`, at the payment revision read, no reservation |
//! | 1.. | a hold per SKU | put | none stored for this owner and SKU |
//! | .. | a stock shard per take | stock − units | stock suffices, price and tax category as priced, no newer configuration |
//!
//! Releasing is one too: each hold still the payment's removed and its units added to the
//! product's own item (shard 0, clearing a sold-out mark), and the cart's reservation cleared
//! at the payment revision read. The commit removes the holds it turns into the sale
//! (`commit.rs`); it writes no stock for them.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use time::OffsetDateTime;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::commit_plan::Reservation;
use checkout_domain::model::error::StockShortage;
use checkout_domain::model::reservation::{Hold, StoredHold};
use checkout_domain::model::values::{CartId, Sku};
use checkout_domain::ports::reservations::{ReleaseError, ReservationStore, ReserveError};
use checkout_domain::StoreError;

use super::codec::{encode, from_item, to_item};
use super::commit::{stock_take, TakenShard};
use super::expr::{cancellation_error, delete, put, reason_is_condition, update, Expr};
use super::schema::{
    cart_key, hold_key, hold_partition, hold_shard, product_key, serde_names, sweep_partition,
    HOLD_SHARDS, SWEEP_HOLDS,
};
use super::DynamoStore;

/// A hold item's attributes (its keys and index keys aside).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct HoldRecord {
    cart_id: CartId,
    owner: String,
    payment_id: String,
    /// Unix seconds.
    until: i64,
    sku: Sku,
    units: u32,
    takes: Vec<(u32, u32)>,
}

impl HoldRecord {
    fn of(held: &StoredHold) -> Self {
        HoldRecord {
            cart_id: held.cart_id.clone(),
            owner: held.owner.clone(),
            payment_id: held.payment_id.clone(),
            until: held.until.unix_timestamp(),
            sku: held.hold.sku.clone(),
            units: held.hold.units,
            takes: held.hold.takes.clone(),
        }
    }

    fn stored(self) -> StoredHold {
        StoredHold {
            cart_id: self.cart_id,
            owner: self.owner,
            payment_id: self.payment_id,
            until: OffsetDateTime::from_unix_timestamp(self.until)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            hold: Hold {
                sku: self.sku,
                units: self.units,
                takes: self.takes,
            },
        }
    }
}

/// `<until, 20 digits>#<cart id>`: an index sort key in end order that names its cart.
fn end_and_cart(held: &StoredHold) -> String {
    format!(
        "{:020}#{}",
        held.until.unix_timestamp().max(0),
        held.cart_id
    )
}

/// The cart id at the end of an `end_and_cart` key.
pub(crate) fn cart_of_end_key(key: &str) -> Option<CartId> {
    key.split_once('#')
        .and_then(|(_, cart)| CartId::parse(cart).ok())
}

fn hold_put(table: &str, held: &StoredHold) -> Result<TransactWriteItem, StoreError> {
    let mut item = to_item(hold_key(&held.hold.sku, &held.owner), &HoldRecord::of(held))?;
    let sort = AttributeValue::S(end_and_cart(held));
    item.insert(
        "gsi1pk".into(),
        AttributeValue::S(hold_partition(&held.hold.sku, hold_shard(&held.cart_id))),
    );
    item.insert("gsi1sk".into(), sort.clone());
    item.insert(
        "gsi2pk".into(),
        AttributeValue::S(sweep_partition(SWEEP_HOLDS, &held.cart_id)),
    );
    item.insert("gsi2sk".into(), sort);
    let mut e = Expr::default();
    let pk = e.name("pk");
    put(table, item, &format!("attribute_not_exists({pk})"), e)
}

/// Removes a hold iff it is still this payment's for this cart.
pub(crate) fn hold_removal(
    table: &str,
    held: &StoredHold,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let (payment, cart) = (e.name("paymentId"), e.name("cartId"));
    let condition = format!(
        "{payment} = {} AND {cart} = {}",
        e.string(&held.payment_id),
        e.string(held.cart_id.as_str())
    );
    delete(table, hold_key(&held.hold.sku, &held.owner), &condition, e)
}

/// A hold's units back on the product's own item (shard 0), clearing a sold-out mark.
fn units_back(table: &str, held: &StoredHold) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let (stock, sold_out, pk) = (e.name("stock"), e.name("soldOut"), e.name("pk"));
    let units = e.number(held.hold.units);
    update(
        table,
        product_key(&held.hold.sku),
        &format!("SET {stock} = {stock} + {units} REMOVE {sold_out}"),
        &format!("attribute_exists({pk})"),
        e,
    )
}

/// What a release's rows stand for, to read its cancellation reasons.
enum ReleaseRow {
    Hold(usize),
    Product(usize),
    Cart,
}

#[async_trait]
impl ReservationStore for DynamoStore {
    async fn reserve(
        &self,
        cart: &Cart,
        expected: u64,
        takes: &[Reservation],
        config_revision: u64,
    ) -> Result<(), ReserveError> {
        let table = self.table();
        let Some(reservation) = &cart.reservation else {
            return Err(ReserveError::Store(StoreError::new("nothing to reserve")));
        };
        let holds = reservation.stored(&cart.id, &cart.owner);
        let mut items = Vec::new();
        let mut e = Expr::default();
        let (field, revision, state) = (
            e.name("reservation"),
            e.name("paymentRevision"),
            e.name("state"),
        );
        let set = format!(
            "SET {field} = {}, {revision} = {}",
            e.value(encode(reservation)?),
            e.number(cart.payment_revision)
        );
        let condition = format!(
            "{state} = {} AND {revision} = {} AND attribute_not_exists({field})",
            e.string(serde_names::CART_ACTIVE),
            e.number(expected)
        );
        items.push(update(table, cart_key(&cart.id), &set, &condition, e)?);
        for held in &holds {
            items.push(hold_put(table, held)?);
        }
        let mut shard_rows = Vec::new();
        for take in takes {
            for &(shard, units) in &take.takes {
                items.push(stock_take(
                    table,
                    take,
                    shard,
                    units,
                    Some(config_revision),
                )?);
                shard_rows.push((take, shard, units));
            }
        }
        let reasons = match self.transact(items).await? {
            Ok(()) => return Ok(()),
            Err(reasons) => reasons,
        };
        let failed = |i: usize| reasons.get(i).is_some_and(reason_is_condition);
        let old = |i: usize| {
            reasons
                .get(i)
                .and_then(|r| r.item.clone())
                .filter(|i| !i.is_empty())
        };
        if failed(0) {
            return Err(ReserveError::Conflict);
        }
        for (i, held) in holds.iter().enumerate() {
            if failed(1 + i) {
                let other = old(1 + i)
                    .map(from_item::<HoldRecord>)
                    .transpose()?
                    .map_or_else(|| cart.id.clone(), |h| h.cart_id);
                return Err(ReserveError::HeldElsewhere {
                    sku: held.hold.sku.clone(),
                    cart: other,
                });
            }
        }
        let mut shortages = Vec::new();
        for (j, (take, shard, units)) in shard_rows.iter().enumerate() {
            let row = 1 + holds.len() + j;
            if !failed(row) {
                continue;
            }
            match old(row).map(from_item::<TakenShard>).transpose()? {
                Some(taken) if taken.stock < *units && take.shards > 1 => {
                    return Err(ReserveError::ShardShort {
                        sku: take.sku.clone(),
                        shard: *shard,
                    })
                }
                Some(taken) if taken.stock < *units => shortages.push(StockShortage {
                    sku: take.sku.to_string(),
                    name: taken.name.unwrap_or_else(|| take.sku.to_string()),
                    requested: *units,
                    available: taken.stock,
                }),
                _ => return Err(ReserveError::ProductChanged(take.sku.clone())),
            }
        }
        if !shortages.is_empty() {
            return Err(ReserveError::OutOfStock(shortages));
        }
        Err(cancellation_error("reservation", &reasons).into())
    }

    async fn release(
        &self,
        holds: &[StoredHold],
        cart: Option<(&Cart, u64)>,
    ) -> Result<(), ReleaseError> {
        let table = self.table();
        let mut left: Vec<&StoredHold> = holds.iter().collect();
        // Holds found gone (sold, or given back by another) leave the write; the rest is tried
        // again without them, at most once per hold.
        for _ in 0..=holds.len() {
            let mut items = Vec::new();
            let mut rows = Vec::new();
            for (i, held) in left.iter().enumerate() {
                items.push(hold_removal(table, held)?);
                rows.push(ReleaseRow::Hold(i));
                items.push(units_back(table, held)?);
                rows.push(ReleaseRow::Product(i));
            }
            if let Some((next, expected)) = cart {
                let mut e = Expr::default();
                let (field, revision, state) = (
                    e.name("reservation"),
                    e.name("paymentRevision"),
                    e.name("state"),
                );
                let payment = e.path(&["reservation", "paymentId"]);
                let payment_id = holds.first().map_or("", |h| h.payment_id.as_str());
                let set = format!(
                    "SET {revision} = {} REMOVE {field}",
                    e.number(next.payment_revision)
                );
                let condition = format!(
                    "{state} = {} AND {revision} = {} AND {payment} = {}",
                    e.string(serde_names::CART_ACTIVE),
                    e.number(expected),
                    e.string(payment_id)
                );
                items.push(update(table, cart_key(&next.id), &set, &condition, e)?);
                rows.push(ReleaseRow::Cart);
            }
            if items.is_empty() {
                return Ok(());
            }
            let reasons = match self.transact(items).await? {
                Ok(()) => return Ok(()),
                Err(reasons) => reasons,
            };
            let mut gone = Vec::new();
            for (row, reason) in rows.iter().zip(&reasons) {
                if !reason_is_condition(reason) {
                    continue;
                }
                match row {
                    ReleaseRow::Cart => return Err(ReleaseError::Conflict),
                    // A product deleted since has nothing to take its units back.
                    ReleaseRow::Hold(i) | ReleaseRow::Product(i) => gone.push(*i),
                }
            }
            if gone.is_empty() {
                return Err(cancellation_error("release", &reasons).into());
            }
            left = left
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !gone.contains(i))
                .map(|(_, h)| h)
                .collect();
        }
        Err(ReleaseError::Conflict)
    }

    async fn holds(&self, sku: &Sku) -> Result<Vec<StoredHold>, StoreError> {
        let mut keys = Vec::new();
        for shard in 0..HOLD_SHARDS {
            for entry in self.gsi1_partition(hold_partition(sku, shard)).await? {
                keys.push(
                    entry
                        .into_iter()
                        .filter(|(name, _)| name == "pk" || name == "sk")
                        .collect(),
                );
            }
        }
        Ok(self
            .batch_get::<HoldRecord>(keys)
            .await?
            .into_iter()
            .map(HoldRecord::stored)
            .collect())
    }
}
