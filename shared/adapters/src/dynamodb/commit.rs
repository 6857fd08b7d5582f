//! The commit plan as one DynamoDB `TransactWriteItems`, and its cancellation reasons back as
//! the domain's rejections. Every item's position is fixed so a reason maps to its cause.
//!
//! | # | item | write | condition |
//! |---|---|---|---|
//! | 0 | order `CART#id / ORDER` | put | `attribute_not_exists(pk)`: one order per cart |
//! | 1 | number `ORDERNUMBER#n` | put | `attribute_not_exists(pk)`: numbers are unique |
//! | 2 | cart | `Active → Ordered`, version + 1 | at the client's version and payment revision, `Active` |
//!
//! A programmatic order (`Origin::Programmatic`) has no cart item: row 2 is left out. When it
//! processes a stored draft, row 0 replaces the draft iff it is still a `Draft` at the revision
//! read, and row 1 is left out (the draft claimed its number).
//! | 3.. | a stock shard per SKU (usually one) | stock − units | stock suffices, price and tax category as priced, no newer configuration revision stamped |
//! | .. | discount code: a limited one's copy with room (an unlimited one: a `ConditionCheck` of a copy) | redemptions + 1 | terms as priced, unexpired, below the copy's quota |
//! | .. | gift card `GIFTCARD#c` | balance − amount | same currency, balance ≥ amount |
//! | .. | guest customer `EMAIL#e` | `isGuest` record | not a registered customer's |
//!
//! No item every order shares (rule 12): the pricing configuration (tax rates, shipping terms,
//! minimum order value) is not checked on its own item; its revision is stamped on every
//! product's items when it changes, and each stock row checks it.
//! | .. | saved orders `SAVED#customer` | add the cart id | fewer than the limit (a customer's unpaid saved order) |
//! | .. | idempotency record | put (done) | its key free: absent, expired, or a lock that ran out |
//! | .. | a hold of the cart's reservation `HOLD#<sku>#<owner>` | delete (its units are the sale: no stock row for its line) | still this payment's |

mod rejections;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use checkout_domain::model::commit_plan::{CommitPlan, Origin, Reservation};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::order::Order;
use checkout_domain::model::random;
use checkout_domain::ports::orders::CommitError;
use checkout_domain::StoreError;

use super::code_counters;
use super::codec::{encode, fields, order_item, time_rfc3339, to_item};
use super::expr::{cancellation_error, check, put, update, Expr};
use super::gift_cards::{balance_update, Movement};
use super::schema::{
    cart_key, discount_replica_key, email_key, idempotency_key, number_key, serde_names,
    stock_shard_key, DISCOUNT_REPLICAS, VALID_UNTIL_EPOCH,
};
use super::DynamoStore;

pub(crate) use rejections::TakenShard;
use rejections::{rejections, Slot};

/// `#field = :value`, or `attribute_not_exists(#field)` when the term is absent.
fn equals_or_absent(expr: &mut Expr, field: &str, value: Option<AttributeValue>) -> String {
    let name = expr.name(field);
    match value {
        Some(value) => format!("{name} = {}", expr.value(value)),
        None => format!("attribute_not_exists({name})"),
    }
}

/// The code's check or redemption: `copy` is where a limited code redeems (one with room,
/// from a read of its copies: `code_counters`).
fn discount_redemption(
    table: &str,
    terms: &DiscountDefinition,
    now_epoch: i64,
    copy: u32,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let mut conditions = vec![];
    // The stored terms must be the terms the customer saw.
    let stored = fields(terms)?;
    for field in [
        "kind",
        "value",
        "currency",
        "minOrderValue",
        "maxRedemptions",
        "validUntil",
    ] {
        conditions.push(equals_or_absent(&mut e, field, stored.get(field).cloned()));
    }
    if terms.valid_until.is_some() {
        let epoch = e.name(VALID_UNTIL_EPOCH);
        let now = e.number(now_epoch);
        conditions.push(format!("{epoch} >= {now}"));
    }
    // A code without a redemption limit counts nothing: orders only check its terms, on one
    // of its copies at random, and write nothing to it (pricing read the code, which wrote
    // any missing copy; a check that finds none is a changed code, priced again). Never on
    // the code's own item: a code from before the copies has that one alone, and the check
    // must find it out every time, not one time in 32.
    if terms.max_redemptions.is_none() {
        let replica = 1 + random::below(u64::from(DISCOUNT_REPLICAS - 1)) as u32;
        return check(
            table,
            discount_replica_key(&terms.code, replica),
            &conditions.join(" AND "),
            e,
        );
    }
    let set = format!("SET {}", code_counters::count(&mut e, 1));
    conditions.push(code_counters::redemption_condition(&mut e));
    update(
        table,
        discount_replica_key(&terms.code, copy),
        &set,
        &conditions.join(" AND "),
        e,
    )
}

/// Units taken from one shard of a SKU's stock (shard 0 is the product's own item), valid only
/// while its price, tax category and configuration revision are as the cart was priced.
pub(crate) fn stock_take(
    table: &str,
    r: &Reservation,
    shard: u32,
    quantity: u32,
    revision: Option<u64>,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let stock = e.name("stock");
    let units = e.number(quantity);
    let price = e.path(&["prices", r.unit_price.currency().code()]);
    let price_value = e.number(r.unit_price.cent_amount);
    let category = e.name("taxCategory");
    let category_value = e.string(r.tax_category.as_str());
    let set = format!("SET {stock} = {stock} - {units}");
    let mut condition =
        format!("{stock} >= {units} AND {price} = {price_value} AND {category} = {category_value}");
    if let Some(revision) = revision {
        let stamp = e.name("configRevision");
        let priced = e.number(revision);
        condition.push_str(&format!(
            " AND (attribute_not_exists({stamp}) OR {stamp} <= {priced})"
        ));
    }
    update(table, stock_shard_key(&r.sku, shard), &set, &condition, e)
}

/// Row 1: the order number, claimed once.
fn number_claim(table: &str, order: &Order) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let pk = e.name("pk");
    let mut claim = number_key(&order.order_number);
    claim.insert(
        "cartId".into(),
        AttributeValue::S(order.cart_id.to_string()),
    );
    put(table, claim, &format!("attribute_not_exists({pk})"), e)
}

/// Row 2: the cart, `Active → Ordered` at the version and payment revision the order saw.
fn cart_ordered(table: &str, plan: &CommitPlan) -> Result<TransactWriteItem, StoreError> {
    let order = &plan.order;
    let mut e = Expr::default();
    let (state, version, number, updated) = (
        e.name("state"),
        e.name("version"),
        e.name("orderNumber"),
        e.name("updatedAt"),
    );
    let payment_revision = e.name("paymentRevision");
    let seen_payments = e.number(plan.expected_payment_revision);
    let (ordered, active) = (
        e.string(serde_names::CART_ORDERED),
        e.string(serde_names::CART_ACTIVE),
    );
    let (next, expected) = (
        e.number(plan.expected_cart_version + 1),
        e.number(plan.expected_cart_version),
    );
    let number_value = e.string(order.order_number.to_string());
    let now = e.value(encode(&time_rfc3339(plan.now))?);
    // An ordered cart's payments live on in the order: the sweeper has nothing to do here.
    let (sweep_pk, sweep_sk) = (e.name("gsi2pk"), e.name("gsi2sk"));
    let mut removes = vec![sweep_pk, sweep_sk];
    if !plan.converted.is_empty() {
        removes.push(e.name("reservation"));
    }
    let set = format!(
        "SET {state} = {ordered}, {version} = {next}, {number} = {number_value}, {updated} = {now} REMOVE {}",
        removes.join(", ")
    );
    let condition = format!(
        "{version} = {expected} AND {state} = {active} AND {payment_revision} = {seen_payments}"
    );
    update(table, cart_key(&order.cart_id), &set, &condition, e)
}

impl DynamoStore {
    pub(crate) async fn commit_plan(&self, plan: &CommitPlan) -> Result<(), CommitError> {
        let table = self.table();
        let order = &plan.order;
        let mut items = Vec::new();
        let mut slots = Vec::new();

        let mut e = Expr::default();
        let condition = match plan.origin {
            Origin::Programmatic {
                draft_revision: Some(revision),
            } => {
                let (state, rev) = (e.name("state"), e.name("revision"));
                let draft = e.string(serde_names::ORDER_DRAFT);
                format!("{state} = {draft} AND {rev} = {}", e.number(revision))
            }
            _ => format!("attribute_not_exists({})", e.name("pk")),
        };
        items.push(put(table, order_item(order)?, &condition, e)?);
        slots.push(Slot::Order);
        if let Origin::Cart
        | Origin::Programmatic {
            draft_revision: None,
        } = plan.origin
        {
            items.push(number_claim(table, order)?);
            slots.push(Slot::Number);
        }
        if plan.origin == Origin::Cart {
            items.push(cart_ordered(table, plan)?);
            slots.push(Slot::Cart);
        }
        // The configuration the cart was priced with: no item the order takes stock from may
        // carry a newer revision (a configuration change stamps every product's items).
        let revision = plan.pricing.as_ref().map(|p| p.revision);
        for r in &plan.reservations {
            for &(shard, quantity) in &r.takes {
                items.push(stock_take(table, r, shard, quantity, revision)?);
                slots.push(Slot::Product {
                    sku: r.sku.clone(),
                    shard,
                    quantity,
                    sharded: r.shards > 1,
                });
            }
        }
        // The reservation's units left the shelf when the payment started: its holds go, and
        // no stock row is written for their lines.
        for held in &plan.converted {
            items.push(super::reservations::hold_removal(table, held)?);
            slots.push(Slot::Hold(held.hold.sku.clone()));
        }
        for redemption in &plan.gift_cards {
            items.push(balance_update(
                table,
                &redemption.code,
                redemption.amount,
                Movement::Redeem,
            )?);
            slots.push(Slot::GiftCard(redemption.code.clone()));
        }
        for terms in &plan.redemptions {
            let copy = match terms.max_redemptions {
                Some(_) => code_counters::copy_with_room(
                    &self
                        .code_copies(&terms.code)
                        .await
                        .map_err(CommitError::Store)?,
                ),
                None => 0,
            };
            items.push(discount_redemption(
                table,
                terms,
                plan.now.unix_timestamp(),
                copy,
            )?);
            slots.push(Slot::Discount(terms.code.to_string()));
        }
        if let Some(email) = &plan.guest_email {
            let mut e = Expr::default();
            let customer = e.name("customerId");
            items.push(check(
                table,
                email_key(email),
                &format!("attribute_not_exists({customer})"),
                e,
            )?);
            slots.push(Slot::GuestEmail);
        }
        if let Some(slot) = &plan.saved_order_slot {
            items.push(super::saved_orders::take(table, slot, &order.cart_id)?);
            slots.push(Slot::SavedOrders(slot.limit));
        }
        if let Some(record) = &plan.idempotency {
            let mut e = Expr::default();
            let (pk, expires, state, locked) = (
                e.name("pk"),
                e.name("expiresAt"),
                e.name("state"),
                e.name("lockedUntil"),
            );
            let (now, in_flight) = (
                e.number(plan.now.unix_timestamp()),
                e.string(serde_names::IN_FLIGHT),
            );
            // The key is free: no record, an expired one, or a lock that ran out.
            let condition = format!(
                "attribute_not_exists({pk}) OR {expires} <= {now} OR ({state} = {in_flight} AND {locked} <= {now})"
            );
            items.push(put(
                table,
                to_item(idempotency_key(&record.key), record)?,
                &condition,
                e,
            )?);
            slots.push(Slot::Idempotency);
        }

        // Contention (another transaction holds an item, throttling) is not a refusal: the
        // domain's commit backs off and tries again within its budget.
        let reasons = match self.transact(items).await? {
            Ok(_) => return Ok(()),
            Err(reasons) => reasons,
        };
        let rejections = rejections(&slots, &reasons)?;
        if rejections.is_empty() {
            return Err(CommitError::Store(cancellation_error("commit", &reasons)));
        }
        Err(CommitError::Rejected(rejections))
    }
}
