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
//! | 3.. | product per SKU | stock − quantity | stock suffices, price and tax category as priced |
//! | .. | discount code | redemptions + 1 | terms as priced, unexpired, redemptions left |
//! | .. | gift card `GIFTCARD#c` | balance − amount | same currency, balance ≥ amount |
//! | .. | pricing config | check | tax rates, shipping terms, minimum order value as priced |
//! | .. | guest customer `EMAIL#e` | `isGuest` record | not a registered customer's |
//! | .. | saved orders `SAVED#customer` | add the cart id | fewer than the limit (a customer's unpaid saved order) |
//! | .. | idempotency record | put (done) | its key free: absent, expired, or a lock that ran out |

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};

use checkout_domain::model::cart::Cart;
use checkout_domain::model::catalog::Product;
use checkout_domain::model::commit_plan::{CommitPlan, Origin, PricingExpectation, Rejection};
use checkout_domain::model::discount::DiscountDefinition;
use checkout_domain::model::error::StockShortage;
use checkout_domain::model::gift_card::GiftCardCode;
use checkout_domain::model::order::Order;
use checkout_domain::ports::orders::CommitError;
use checkout_domain::StoreError;

use super::codec::{encode, fields, from_item, order_item, time_rfc3339, to_item};
use super::expr::{check, put, reason_is_condition, update, Expr};
use super::gift_cards::{balance_update, Movement};
use super::schema::{
    cart_key, config_key, discount_key, email_key, idempotency_key, number_key, product_key,
    serde_names, SHIPPING_BY_ID, VALID_UNTIL_EPOCH,
};
use super::DynamoStore;

/// What each transaction item stands for, to read its cancellation reason.
enum Slot {
    Order,
    Number,
    Cart,
    Product(u32),
    Discount(String),
    GiftCard(GiftCardCode),
    Pricing,
    GuestEmail,
    SavedOrders(u32),
    Idempotency,
}

/// `#field = :value`, or `attribute_not_exists(#field)` when the term is absent.
fn equals_or_absent(expr: &mut Expr, field: &str, value: Option<AttributeValue>) -> String {
    let name = expr.name(field);
    match value {
        Some(value) => format!("{name} = {}", expr.value(value)),
        None => format!("attribute_not_exists({name})"),
    }
}

fn discount_redemption(
    table: &str,
    terms: &DiscountDefinition,
    now_epoch: i64,
) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let redemptions = e.name("redemptions");
    let one = e.number(1);
    let set = format!("SET {redemptions} = {redemptions} + {one}");
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
    let max = e.name("maxRedemptions");
    conditions.push(format!(
        "(attribute_not_exists({max}) OR {redemptions} < {max})"
    ));
    if terms.valid_until.is_some() {
        let epoch = e.name(VALID_UNTIL_EPOCH);
        let now = e.number(now_epoch);
        conditions.push(format!("{epoch} >= {now}"));
    }
    update(
        table,
        discount_key(&terms.code),
        &set,
        &conditions.join(" AND "),
        e,
    )
}

fn pricing_check(table: &str, p: &PricingExpectation) -> Result<TransactWriteItem, StoreError> {
    let currency = p.shipping_price.currency().code();
    let country = p.country.as_str();
    let mut e = Expr::default();
    let mut conditions = Vec::new();
    for (category, rate) in &p.tax_rates {
        let path = e.path(&["taxRates", country, category.as_str()]);
        let rate = e.number(rate);
        conditions.push(format!("{path} = {rate}"));
    }
    let method = p.shipping_method.as_str();
    let price = e.path(&[SHIPPING_BY_ID, method, "prices", currency]);
    let price_value = e.number(p.shipping_price.cent_amount);
    conditions.push(format!("{price} = {price_value}"));
    let countries = e.path(&[SHIPPING_BY_ID, method, "countries"]);
    let country_value = e.string(country);
    conditions.push(format!("contains({countries}, {country_value})"));
    let free = e.path(&[SHIPPING_BY_ID, method, "freeAbove", currency]);
    conditions.push(match p.shipping_free_above {
        Some(threshold) => format!("{free} = {}", e.number(threshold.cent_amount)),
        None => format!("attribute_not_exists({free})"),
    });
    let minimum = e.path(&["minOrderValue", currency]);
    let goods = e.number(p.goods_value.cent_amount);
    conditions.push(format!(
        "(attribute_not_exists({minimum}) OR {minimum} <= {goods})"
    ));
    check(table, config_key(), &conditions.join(" AND "), e)
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
    let set = format!("SET {state} = {ordered}, {version} = {next}, {number} = {number_value}, {updated} = {now} REMOVE {sweep_pk}, {sweep_sk}");
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
        for r in &plan.reservations {
            let mut e = Expr::default();
            let stock = e.name("stock");
            let quantity = e.number(r.quantity);
            let price = e.path(&["prices", r.unit_price.currency().code()]);
            let price_value = e.number(r.unit_price.cent_amount);
            let category = e.name("taxCategory");
            let category_value = e.string(r.tax_category.as_str());
            let set = format!("SET {stock} = {stock} - {quantity}");
            let condition =
                format!("{stock} >= {quantity} AND {price} = {price_value} AND {category} = {category_value}");
            items.push(update(table, product_key(&r.sku), &set, &condition, e)?);
            slots.push(Slot::Product(r.quantity));
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
            items.push(discount_redemption(
                table,
                terms,
                plan.now.unix_timestamp(),
            )?);
            slots.push(Slot::Discount(terms.code.to_string()));
        }
        if let Some(pricing) = &plan.pricing {
            items.push(pricing_check(table, pricing)?);
            slots.push(Slot::Pricing);
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

        // Concurrent transactions on one item (a popular SKU) cancel each other with
        // `TransactionConflict` rather than a failed condition: that is contention, retried
        // a few times with jittered backoff before it is reported.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let reasons = match self.transact(items.clone()).await? {
                Ok(_) => return Ok(()),
                Err(reasons) => reasons,
            };
            let rejections = rejections(&slots, reasons)?;
            if !rejections.is_empty() {
                return Err(CommitError::Rejected(rejections));
            }
            if attempt >= CONFLICT_ATTEMPTS {
                return Err(CommitError::Store(StoreError(
                    "transaction conflict persisted".into(),
                )));
            }
            let jitter = u64::from(uuid_byte()) % 20;
            tokio::time::sleep(std::time::Duration::from_millis((10 << attempt) + jitter)).await;
        }
    }
}

const CONFLICT_ATTEMPTS: u32 = 6;

/// A random byte for jitter, without another dependency.
fn uuid_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

fn rejections(
    slots: &[Slot],
    reasons: Vec<CancellationReason>,
) -> Result<Vec<Rejection>, StoreError> {
    let mut rejections = Vec::new();
    let mut shortages = Vec::new();
    for (slot, reason) in slots.iter().zip(reasons) {
        if !reason_is_condition(&reason) {
            continue;
        }
        let old = reason.item.filter(|item| !item.is_empty());
        match slot {
            Slot::Order => rejections.push(Rejection::Cart {
                current: None,
                order: old.map(from_item::<Order>).transpose()?.map(Box::new),
            }),
            Slot::Number => rejections.push(Rejection::OrderNumberTaken),
            Slot::Cart => rejections.push(Rejection::Cart {
                current: old.map(from_item::<Cart>).transpose()?.map(Box::new),
                order: None,
            }),
            Slot::Product(quantity) => match old.map(from_item::<Product>).transpose()? {
                Some(product) if product.stock < *quantity => shortages.push(StockShortage {
                    sku: product.sku.to_string(),
                    name: product.name.to_string(),
                    requested: *quantity,
                    available: product.stock,
                }),
                Some(product) => rejections.push(Rejection::ProductChanged(product.sku)),
                None => rejections.push(Rejection::PricingChanged),
            },
            Slot::Discount(code) => rejections.push(Rejection::DiscountUnavailable(code.clone())),
            Slot::GiftCard(code) => rejections.push(Rejection::GiftCardBalance(code.clone())),
            Slot::Pricing => rejections.push(Rejection::PricingChanged),
            Slot::GuestEmail => rejections.push(Rejection::EmailRegistered),
            Slot::SavedOrders(limit) => rejections.push(Rejection::TooManyOpenOrders(*limit)),
            Slot::Idempotency => rejections.push(Rejection::IdempotencyKeyHeld),
        }
    }
    if !shortages.is_empty() {
        rejections.push(Rejection::OutOfStock(shortages));
    }
    Ok(rejections)
}
