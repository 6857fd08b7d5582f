//! A cancelled commit's reasons read back: each transaction item's slot, and the domain's
//! rejections its failed conditions mean (a stock shard short, a code used up, a cart moved
//! on, …); a cancellation with no failed condition is contention, not a refusal.

use aws_sdk_dynamodb::types::CancellationReason;

use checkout_domain::model::cart::Cart;
use checkout_domain::model::commit_plan::Rejection;
use checkout_domain::model::error::StockShortage;
use checkout_domain::model::gift_card::GiftCardCode;
use checkout_domain::model::order::Order;
use checkout_domain::model::values::Sku;
use checkout_domain::StoreError;

use crate::dynamodb::codec::from_item;
use crate::dynamodb::expr::reason_is_condition;

/// What a stock item held when the commit's condition on it failed.
#[derive(serde::Deserialize)]
pub(crate) struct TakenShard {
    pub(crate) stock: u32,
    /// The product's own item has its name; a shard item does not.
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// What each transaction item stands for, to read its cancellation reason.
pub(super) enum Slot {
    Order,
    Number,
    Cart,
    Product {
        sku: Sku,
        shard: u32,
        quantity: u32,
        sharded: bool,
    },
    Discount(String),
    GiftCard(GiftCardCode),
    GuestEmail,
    SavedOrders(u32),
    Idempotency,
    /// A hold of the cart's reservation, turned into the sale.
    Hold(Sku),
}

pub(super) fn rejections(
    slots: &[Slot],
    reasons: &[CancellationReason],
) -> Result<Vec<Rejection>, StoreError> {
    let mut rejections = Vec::new();
    let mut shortages = Vec::new();
    for (slot, reason) in slots.iter().zip(reasons) {
        if !reason_is_condition(reason) {
            continue;
        }
        let old = reason.item.clone().filter(|item| !item.is_empty());
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
            Slot::Product {
                sku,
                shard,
                quantity,
                sharded,
            } => match old.map(from_item::<TakenShard>).transpose()? {
                // One shard of several ran short: the commit takes from another.
                Some(taken) if taken.stock < *quantity && *sharded => {
                    rejections.push(Rejection::ShardShort {
                        sku: sku.clone(),
                        shard: *shard,
                        available: taken.stock,
                    })
                }
                Some(taken) if taken.stock < *quantity => shortages.push(StockShortage {
                    sku: sku.to_string(),
                    name: taken.name.unwrap_or_else(|| sku.to_string()),
                    requested: *quantity,
                    available: taken.stock,
                }),
                // Its price, tax category or configuration moved (or the shard is gone: the
                // SKU was spread anew): the cart is priced again.
                Some(_) => rejections.push(Rejection::ProductChanged(sku.clone())),
                None if *shard > 0 => rejections.push(Rejection::ProductChanged(sku.clone())),
                None => rejections.push(Rejection::PricingChanged),
            },
            Slot::Discount(code) => rejections.push(Rejection::DiscountUnavailable(code.clone())),
            Slot::GiftCard(code) => rejections.push(Rejection::GiftCardBalance(code.clone())),
            Slot::GuestEmail => rejections.push(Rejection::EmailRegistered),
            Slot::SavedOrders(limit) => rejections.push(Rejection::TooManyOpenOrders(*limit)),
            Slot::Idempotency => rejections.push(Rejection::IdempotencyKeyHeld),
            Slot::Hold(sku) => rejections.push(Rejection::HoldGone(sku.clone())),
        }
    }
    if !shortages.is_empty() {
        rejections.push(Rejection::OutOfStock(shortages));
    }
    Ok(rejections)
}
