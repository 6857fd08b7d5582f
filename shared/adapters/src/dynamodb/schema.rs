//! The table's layout: every key and index format, the derived attributes conditions compare
//! against, the serde names conditions compare with, and `create_table`.
//!
//! | item            | pk               | sk        |
//! |-----------------|------------------|-----------|
//! | product (its stock shard 0) | `PRODUCT#<sku>`  | `PRODUCT` |
//! | a product's stock shard k ≥ 1 | `PRODUCT#<sku>#<k>` | `STOCK` |
//! | discount code (copy 0: terms, `redemptions` and `quota` of a limited code) | `DISCOUNT#<code>`| `DISCOUNT`|
//! | discount code copy k ≥ 1 (the same) | `DISCOUNT#<code>#<k>`| `DISCOUNT`|
//! | pricing config (replica 0) | `CONFIG`  | `PRICING` |
//! | pricing config replica k ≥ 1 | `CONFIG#<k>` | `PRICING` |
//! | cart            | `CART#<id>`      | `CART`    |
//! | order           | `CART#<cart id>` | `ORDER`   |
//! | an order's history entry | `CART#<cart id>` | `HISTORY#<revision>` |
//! | order number    | `ORDERNUMBER#<n>`| `ORDERNUMBER` |
//! | email registry  | `EMAIL#<email>`  | `CUSTOMER`|
//! | idempotency record (`orders#…`, `webhook#…`, `effect#…`) | `IDEMPOTENCY#<k>`| `IDEMPOTENCY` |
//! | payment interaction | `INTERACTION#<id>` | `INTERACTION` |
//! | guest claim ticket | `CLAIM#<sha-256 of the token>` | `CLAIM` |
//! | gift card       | `GIFTCARD#<code>`| `GIFTCARD`|
//! | a customer's open saved orders | `SAVED#<customer id>` | `SAVED` |
//! | a reservation's hold of a SKU (one per owner) | `HOLD#<sku>#<owner>` | `HOLD` |
//!
//! An order lives in its cart's partition, so one Query reads a cart with its order (a replay
//! costs one read) and `attribute_not_exists` on it means one order per cart. Index `gsi1`
//! holds a customer's history (`CUSTOMER#<id>`, newest first) and guests' orders by email;
//! `gsi2` holds the sweeper's queues by due time; `gsi3` every order by month, write-sharded
//! (`ORDERS#<yyyy-mm>#<k>`, drafts under `DRAFTS#…`), for merchants' search. All keep keys
//! only (an item entering or leaving one costs one write unit, not its size). `expiresAt` (a
//! number) is the TTL.

mod create;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use checkout_domain::model::gift_card::GiftCardCode;
use checkout_domain::model::order::{Order, OrderState};
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::model::values::{CartId, CustomerId, DiscountCode, Email, SessionHash, Sku};

use super::expr::{Expr, Item};

pub(crate) use create::create_table;

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ])
}

/// The sort keys of a cart's partition: the cart, and its order once there is one.
pub(crate) const SK_CART: &str = "CART";
pub(crate) const SK_ORDER: &str = "ORDER";

/// The partition of a cart and its order.
pub(crate) fn cart_partition(id: &CartId) -> String {
    format!("CART#{id}")
}

pub(crate) fn product_key(sku: &Sku) -> Item {
    key(format!("PRODUCT#{sku}"), "PRODUCT")
}

/// Shard `shard` of a SKU's stock: the product's own item for shard 0, an item of its own
/// (its own partition) for each other.
pub(crate) fn stock_shard_key(sku: &Sku, shard: u32) -> Item {
    match shard {
        0 => product_key(sku),
        k => key(format!("PRODUCT#{sku}#{k}"), "STOCK"),
    }
}

/// Index `gsi1`'s partition of every product (its SKU the sort key): what a configuration
/// change stamps. Only an administrator's writes touch it.
pub(crate) const CATALOG_PRODUCTS: &str = "CATALOG#PRODUCTS";

pub(crate) fn discount_key(code: &DiscountCode) -> Item {
    key(format!("DISCOUNT#{code}"), "DISCOUNT")
}

/// A sale's code is read by every cart that carries it and checked by every order that uses
/// it, and a `ConditionCheck` takes part in its transaction like a write: so a code's terms
/// are kept on this many items, written together, each read or checked at random (rule 12).
/// A limited code's redemptions are counted over the copies too (`code_counters`).
pub(crate) const DISCOUNT_REPLICAS: u32 = 32;

/// Replica `k` of a discount code; replica 0 is the code's own item.
pub(crate) fn discount_replica_key(code: &DiscountCode, replica: u32) -> Item {
    match replica {
        0 => discount_key(code),
        k => key(format!("DISCOUNT#{code}#{k}"), "DISCOUNT"),
    }
}

/// On replica 0: how many replicas the code was written with (absent on a code written
/// before the replicas, which its first read then writes).
pub(crate) const REPLICAS: &str = "replicas";

pub(crate) fn gift_card_key(code: &GiftCardCode) -> Item {
    key(format!("GIFTCARD#{code}"), "GIFTCARD")
}

/// The set of a customer's unpaid saved orders (`openOrders`, their cart ids): rule 13's
/// per-owner cap is a condition on its size.
pub(crate) fn saved_orders_key(customer: &CustomerId) -> Item {
    key(format!("SAVED#{customer}"), "SAVED")
}

/// Every cart request reads the pricing configuration, so it is kept on this many items,
/// written together in one transaction and each read at random: no one item takes every
/// order's reads (rule 12; a partition serves 3,000 strongly consistent reads a second).
pub(crate) const CONFIG_REPLICAS: u32 = 32;

/// Replica `k` of the pricing configuration; replica 0 is the item a table made before
/// the replicas already has.
pub(crate) fn config_key(replica: u32) -> Item {
    match replica {
        0 => key("CONFIG".into(), "PRICING"),
        k => key(format!("CONFIG#{k}"), "PRICING"),
    }
}

pub(crate) fn cart_key(id: &CartId) -> Item {
    key(cart_partition(id), SK_CART)
}

pub(crate) fn number_key(number: &OrderNumber) -> Item {
    key(format!("ORDERNUMBER#{number}"), "ORDERNUMBER")
}

pub(crate) fn order_key(cart: &CartId) -> Item {
    key(cart_partition(cart), SK_ORDER)
}

/// The sort key prefix of an order's history entries, beside it in its cart's partition.
pub(crate) const SK_HISTORY: &str = "HISTORY#";

/// The history entry an order change at `revision` wrote.
pub(crate) fn history_entry_key(cart: &CartId, revision: u64) -> Item {
    key(cart_partition(cart), &format!("{SK_HISTORY}{revision:012}"))
}

pub(crate) fn email_key(email: &Email) -> Item {
    key(format!("EMAIL#{}", email.normalized()), "CUSTOMER")
}

pub(crate) fn claim_ticket_key(hash: &SessionHash) -> Item {
    key(format!("CLAIM#{hash}"), "CLAIM")
}

pub(crate) fn interaction_key(id: &str) -> Item {
    key(format!("INTERACTION#{id}"), "INTERACTION")
}

pub(crate) fn idempotency_key(key_: &str) -> Item {
    key(format!("IDEMPOTENCY#{key_}"), "IDEMPOTENCY")
}

/// A reservation's hold of `sku` for `owner` (`customer:<id>`, `session:<hash>`): one per
/// owner and SKU, so one owner cannot hold a SKU in two carts.
pub(crate) fn hold_key(sku: &Sku, owner: &str) -> Item {
    key(format!("HOLD#{sku}#{owner}"), "HOLD")
}

/// A SKU's holds in `gsi1`, write-sharded by cart over `HOLD_SHARDS` partitions
/// (`HOLDS#<sku>#<k>`), their end and cart the sort key (`<until, 20 digits>#<cart id>`): a
/// drop's holds never share one index partition (rule 12); a read of them fans out.
pub(crate) const HOLD_SHARDS: u32 = 16;
pub(crate) const SWEEP_HOLDS: &str = "SWEEP#HOLD";

pub(crate) fn hold_partition(sku: &Sku, shard: u32) -> String {
    format!("HOLDS#{sku}#{shard}")
}

pub(crate) fn hold_shard(cart: &CartId) -> u32 {
    fnv1a(cart) % HOLD_SHARDS
}

/// Index `gsi1`: order history, by owner, newest first.
pub(crate) const HISTORY_INDEX: &str = "gsi1";
/// Index `gsi2`: the sweeper's queues, by due time.
pub(crate) const SWEEP_INDEX: &str = "gsi2";
/// Index `gsi3`: every order, by month and shard, newest first (merchants' search).
pub(crate) const SEARCH_INDEX: &str = "gsi3";

/// A customer's history partition in `gsi1`.
pub(crate) fn customer_history(customer: &CustomerId) -> String {
    format!("CUSTOMER#{customer}")
}

/// A guest email's orders partition in `gsi1`.
pub(crate) fn guest_history(email: &Email) -> String {
    format!("GUEST#{}", email.normalized())
}

/// Derived attributes conditions compare against: a discount's expiry as a number, and the
/// shipping methods by id (the configuration keeps them as an ordered list).
pub(crate) const VALID_UNTIL_EPOCH: &str = "validUntilEpoch";
pub(crate) const SHIPPING_BY_ID: &str = "shippingById";

/// The sweeper's two queues in `gsi2`: orders by `Order::sweep_at`, carts by
/// `Cart::holding_since`. Each is write-sharded over `SWEEP_SHARDS` partitions by the cart
/// id (`SWEEP#CART#7`), so no index partition takes every paid cart's write (rule 12); the
/// sweeper reads the shards one after another.
pub(crate) const SWEEP_ORDERS: &str = "SWEEP#ORDER";
pub(crate) const SWEEP_CARTS: &str = "SWEEP#CART";
/// 32 partitions take 32,000 index writes a second: a store's 10,000 orders a second write
/// two entries each (the bench's capacity model). Raising it is safe on a live table: an
/// entry's partition is computed when it is written, and the sweeper reads every one.
pub(crate) const SWEEP_SHARDS: u32 = 32;

/// The `gsi2` partition of `cart`'s entry in `queue`.
pub(crate) fn sweep_partition(queue: &str, cart: &CartId) -> String {
    format!("{queue}#{}", sweep_shard(cart))
}

/// A stable shard of a cart id (FNV-1a: the same in every process, unlike std's hasher).
pub(crate) fn sweep_shard(cart: &CartId) -> u32 {
    fnv1a(cart) % SWEEP_SHARDS
}

fn fnv1a(cart: &CartId) -> u32 {
    cart.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Merchants' search index `gsi3`: every order under its creation month (UTC), write-sharded
/// over `SEARCH_SHARDS` partitions by its cart id (`ORDERS#2026-11#7`), its history key the
/// sort key. A day's (a sale's) orders spread over 16 partitions instead of sharing one (rule
/// 12); a search reads a month's shards and merges them. Drafts (programmatic orders not yet
/// processed) have partitions of their own (`DRAFTS#…`), so a search for placed orders never
/// reads past them; processing a draft moves it (its item is put again, created now).
pub(crate) const SEARCH_ORDERS: &str = "ORDERS";
pub(crate) const SEARCH_DRAFTS: &str = "DRAFTS";
pub(crate) const SEARCH_SHARDS: u32 = 16;

/// The calendar month (UTC) of a creation time in unix nanoseconds: `2026-11`.
pub(crate) fn search_month(nanos: i128) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}", at.year(), u8::from(at.month()))
}

/// Shard `shard` of `month`'s partitions of `kind` (`SEARCH_ORDERS`, `SEARCH_DRAFTS`).
pub(crate) fn search_partition(kind: &str, month: &str, shard: u32) -> String {
    format!("{kind}#{month}#{shard}")
}

/// The `gsi3` partition of `order`.
pub(crate) fn order_search_partition(order: &Order) -> String {
    let kind = match order.state {
        OrderState::Draft => SEARCH_DRAFTS,
        _ => SEARCH_ORDERS,
    };
    let month = search_month(order.created_at.unix_timestamp_nanos());
    search_partition(kind, &month, fnv1a(&order.cart_id) % SEARCH_SHARDS)
}

/// A `gsi2` sort key: zero-padded unix seconds, so lexical order is time order.
pub(crate) fn sweep_sort_key(at: OffsetDateTime) -> String {
    format!("{:020}", at.unix_timestamp().max(0))
}

/// Adds the sweeper's mark (`gsi2pk`/`gsi2sk`) of `cart` to an update: set when due at `at`,
/// removed otherwise.
pub(crate) fn sweep_mark(
    e: &mut Expr,
    sets: &mut Vec<String>,
    removes: &mut Vec<String>,
    (queue, cart): (&str, &CartId),
    at: Option<OffsetDateTime>,
) {
    let (pk, sk) = (e.name("gsi2pk"), e.name("gsi2sk"));
    match at {
        Some(at) => {
            let (queue, key) = (
                e.string(sweep_partition(queue, cart)),
                e.string(sweep_sort_key(at)),
            );
            sets.push(format!("{pk} = {queue}"));
            sets.push(format!("{sk} = {key}"));
        }
        None => {
            removes.push(pk);
            removes.push(sk);
        }
    }
}

/// The serde names conditions compare with, spelled once (the test in `tests` proves each is
/// what serde writes for its value).
pub(crate) mod serde_names {
    /// `CartState::Active`.
    pub const CART_ACTIVE: &str = "Active";
    /// `CartState::Ordered`.
    pub const CART_ORDERED: &str = "Ordered";
    /// `OrderState::Open`.
    pub const ORDER_OPEN: &str = "Open";
    /// `OrderState::Draft`.
    pub const ORDER_DRAFT: &str = "Draft";
    /// `OrderState::Cancelled`.
    pub const ORDER_CANCELLED: &str = "Cancelled";
    /// `RecordState::InFlight`, the idempotency record's `state` tag.
    pub const IN_FLIGHT: &str = "inFlight";
    /// `CartOwner::Guest`, the owner's `kind` tag.
    pub const GUEST: &str = "guest";
}
