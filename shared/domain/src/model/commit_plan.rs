//! What a commit writes and under which conditions (a `CommitPlan`), what may refuse it
//! (`Rejection`), and what a cart needs before it may become an order.

use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

use crate::model::cart::{Cart, CartOwner, DiscountState};
use crate::model::discount::DiscountDefinition;
use crate::model::error::{ChangedLine, Error, PriceChange, StockShortage};
use crate::model::gift_card::{GiftCardCode, GiftCardRedemption};
use crate::model::idempotency::{IdempotencyRecord, StoredResponse, Ticket};
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order};
use crate::model::payment::{self, PaymentState};
use crate::model::values::{
    CountryCode, CustomerId, DiscountCode, Email, ShippingMethodId, Sku, TaxCategory,
};

/// How long a `save_order` order holds its stock and codes while awaiting payment.
pub const SAVED_ORDER_HOLD: Duration = Duration::minutes(30);

/// Stock taken for one SKU, valid only while its price and tax category are as snapshotted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub sku: Sku,
    pub quantity: u32,
    pub unit_price: Money,
    pub tax_category: TaxCategory,
    /// Items the SKU's stock is spread over, as last read (shard 0: the product's own).
    pub shards: u32,
    /// Which shards held stock at the last read (bit k: shard k): where to look first.
    pub in_stock: u64,
    /// Where the units come from: `(shard, units)`, summing to `quantity`.
    pub takes: Vec<(u32, u32)>,
}

impl Reservation {
    /// The stock a cart's line takes, from one shard that held stock at the cart's last
    /// pricing (`hint`; none: the product's own item, assumed stocked).
    pub fn for_line(
        line: &crate::model::cart::LineItem,
        hint: Option<&crate::model::cart::StockHint>,
    ) -> Self {
        let mut reservation = Reservation {
            sku: line.sku.clone(),
            quantity: line.quantity.get(),
            unit_price: line.unit_price,
            tax_category: line.tax_category.clone(),
            shards: hint.map_or(1, |h| h.shards),
            in_stock: hint.map_or(u64::MAX, |h| h.in_stock),
            takes: Vec::new(),
        };
        reservation.take_from_one(0);
        reservation
    }

    /// Takes every unit from one shard: one that held stock at the last read, at random
    /// among those not in `tried` (any untried one when none is left).
    pub fn take_from_one(&mut self, tried: u64) {
        let shards = self
            .shards
            .clamp(1, crate::model::catalog::MAX_STOCK_SHARDS);
        let all = if shards == 64 {
            u64::MAX
        } else {
            (1u64 << shards) - 1
        };
        let untried = all & !tried;
        let hinted = self.in_stock & untried;
        let pool = if hinted != 0 { hinted } else { untried };
        let shard = match pool.count_ones() {
            0 => 0,
            n => {
                let nth = crate::model::random::below(u64::from(n)) as u32;
                (0..64)
                    .filter(|k| pool & (1 << k) != 0)
                    .nth(nth as usize)
                    .unwrap_or(0)
            }
        };
        self.takes = vec![(shard, self.quantity)];
    }
}

/// The pricing configuration the cart was priced with, as far as this order depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingExpectation {
    pub country: CountryCode,
    pub tax_rates: BTreeMap<TaxCategory, u32>,
    pub shipping_method: ShippingMethodId,
    pub shipping_price: Money,
    pub shipping_free_above: Option<Money>,
    /// Subtotal less discount, to be at least the configured minimum order value.
    pub goods_value: Money,
    /// The configuration revision the cart was priced with: each item the order takes stock
    /// from must not be stamped with a newer one.
    pub revision: u64,
}

/// Where the order comes from, which decides how its own items are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A customer's cart: it moves `Active → Ordered` at `expected_cart_version`.
    Cart,
    /// `POST /admin/orders`: no cart item exists. `draft_revision` is the stored draft this
    /// commit processes (its number is already claimed), `None` when it creates the order.
    Programmatic { draft_revision: Option<u64> },
}

/// Everything one commit writes, and every condition it writes under.
#[derive(Debug, Clone)]
pub struct CommitPlan {
    pub order: Order,
    pub origin: Origin,
    pub expected_cart_version: u64,
    /// The payments the order snapshots are all the cart has: none landed since the read.
    pub expected_payment_revision: u64,
    pub reservations: Vec<Reservation>,
    /// Holds of the cart's reservation that become the sale: their units left the shelf when
    /// the payment started, so the commit removes the holds and takes no stock for their lines.
    pub converted: Vec<crate::model::reservation::StoredHold>,
    /// Codes to redeem once each, valid only with these terms, unexpired, with redemptions left.
    pub redemptions: Vec<DiscountDefinition>,
    /// Money taken from gift cards, each valid only while the card holds it.
    pub gift_cards: Vec<GiftCardRedemption>,
    /// `None` for a draft, which is priced again when it is processed.
    pub pricing: Option<PricingExpectation>,
    /// For guests: this email must not belong to a registered customer.
    pub guest_email: Option<Email>,
    /// A saved order that awaits payment takes one of its customer's open-order slots, iff
    /// one is free (rule 13: a hold has an owner and a limit).
    pub saved_order_slot: Option<SavedOrderSlot>,
    /// The completed idempotency record, written in the same transaction iff its key is free
    /// (no live record): the commit claims and completes it at once.
    pub idempotency: Option<IdempotencyRecord>,
    pub now: OffsetDateTime,
}

/// One of a customer's slots for unpaid saved orders: the commit takes it iff the customer
/// holds fewer than `limit`; the order gives it back when it is paid or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedOrderSlot {
    pub customer: CustomerId,
    pub limit: u32,
}

/// One failed condition of a commit.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// The cart is not `Active` at the expected version (with what is there now).
    Cart {
        current: Option<Box<Cart>>,
        order: Option<Box<Order>>,
    },
    OrderNumberTaken,
    OutOfStock(Vec<StockShortage>),
    /// A product's price or tax category moved since the cart was priced.
    ProductChanged(Sku),
    /// A code's terms changed, it expired, or it ran out of redemptions.
    DiscountUnavailable(String),
    /// Tax rates, shipping terms or the minimum order value no longer fit.
    PricingChanged,
    EmailRegistered,
    /// The idempotency key is held: another request with it committed, or runs right now.
    IdempotencyKeyHeld,
    /// A gift card no longer holds what the order takes from it (another order took it).
    GiftCardBalance(GiftCardCode),
    /// The customer already holds as many unpaid saved orders as allowed.
    TooManyOpenOrders(u32),
    /// A hold the commit turns into the sale is no longer the cart's payment's (released).
    HoldGone(Sku),
    /// One shard of a sharded SKU had fewer units than taken from it (others may have more).
    ShardShort {
        sku: Sku,
        shard: u32,
        available: u32,
    },
}

/// Everything an order needs before it may be committed; every gap is named at once.
pub fn check_preconditions(cart: &Cart, action: CommitAction) -> Result<PaymentState, Error> {
    if cart.line_items.is_empty() {
        return Err(Error::EmptyCart);
    }
    let mut missing = Vec::new();
    if cart.shipping_address.is_none() {
        missing.push("shippingAddress");
    }
    if cart.shipping_method.is_none() {
        missing.push("shippingMethod");
    }
    if cart.billing_address.is_none() {
        missing.push("billingAddress");
    }
    match &cart.owner {
        CartOwner::Guest { .. } if cart.guest.is_none() => missing.push("guestDetails"),
        CartOwner::Customer { .. } if cart.customer_email.is_none() => {
            missing.push("customerEmail")
        }
        _ => {}
    }
    if !missing.is_empty() {
        return Err(Error::CartNotReady { missing });
    }
    let total = cart.totals.total;
    match action {
        // Only money that fits counts: never a payment being given back or paid for an older
        // total (the commit's payment-revision condition re-checks what this read saw).
        CommitAction::SaveOrder => {
            let fitting = payment::fitting(&cart.payments, total);
            if fitting.cent_amount > total.cent_amount {
                return Err(Error::PaymentAmountMismatch {
                    authorized: fitting,
                    total,
                });
            }
            Ok(payment::awaiting_state(&cart.payments, total))
        }
        // Nothing to pay (a 100 % discount): the order is paid as it is.
        CommitAction::Checkout if total.is_zero() => Ok(PaymentState::Paid),
        CommitAction::Checkout => {
            // Money that is being given back, or was paid for another total, pays for nothing.
            let secured = payment::fitting(&cart.payments, total);
            if secured.is_zero() {
                // A payment that took money and was given back did not fit this cart.
                if let Some(reversed) = cart
                    .payments
                    .iter()
                    .map(payment::Payment::captured)
                    .filter(|&c| c > 0)
                    .max()
                {
                    return Err(Error::PaymentAmountMismatch {
                        authorized: Money::new(reversed, cart.currency),
                        total,
                    });
                }
                let reported = cart.payments.iter().any(|p| !p.transactions.is_empty());
                return Err(
                    if reported && cart.payments.iter().any(|p| p.is_pending()) {
                        Error::PaymentPending
                    } else {
                        Error::PaymentRequired { total }
                    },
                );
            }
            if secured != total {
                return Err(Error::PaymentAmountMismatch {
                    authorized: secured,
                    total,
                });
            }
            Ok(PaymentState::Paid)
        }
    }
}

pub(crate) fn plan(
    cart: &Cart,
    order: Order,
    expected_cart_version: u64,
    ticket: Option<&Ticket>,
    now: OffsetDateTime,
) -> Result<CommitPlan, Error> {
    let country = cart
        .destination()
        .cloned()
        .ok_or_else(|| Error::internal("checked: has an address"))?;
    let shipping = cart
        .shipping_method
        .as_ref()
        .ok_or_else(|| Error::internal("checked: has shipping"))?;
    let mut tax_rates = BTreeMap::new();
    for (category, rate) in cart
        .line_items
        .iter()
        .map(|l| (&l.tax_category, l.tax_rate))
        .chain([(&shipping.tax_category, shipping.tax_rate)])
    {
        let rate =
            rate.ok_or_else(|| Error::internal("a priced cart with a destination has tax rates"))?;
        tax_rates.insert(category.clone(), rate);
    }
    // A reservation that fits the cart's lines is the sale of its SKUs' units; one that does
    // not (edited since) was given back before the commit, or will be when its hold ends.
    let converted = cart
        .reservation
        .as_ref()
        .filter(|r| r.matches(&cart.line_items))
        .map(|r| r.stored(&cart.id, &cart.owner))
        .unwrap_or_default();
    Ok(CommitPlan {
        origin: Origin::Cart,
        gift_cards: Vec::new(),
        expected_cart_version,
        expected_payment_revision: cart.payment_revision,
        reservations: cart
            .line_items
            .iter()
            .filter(|l| !converted.iter().any(|h| h.hold.sku == l.sku))
            .map(|l| Reservation::for_line(l, cart.stock_hints.get(&l.sku)))
            .collect(),
        converted,
        redemptions: order
            .discount_codes
            .iter()
            .map(|d| d.terms.clone())
            .collect(),
        pricing: Some(PricingExpectation {
            country,
            tax_rates,
            shipping_method: shipping.id.clone(),
            shipping_price: shipping.price,
            shipping_free_above: shipping.free_above,
            goods_value: cart.goods_value()?,
            revision: cart.config_revision,
        }),
        guest_email: order
            .is_guest()
            .then(|| order.customer_email.clone())
            .flatten(),
        saved_order_slot: None,
        idempotency: ticket
            .map(|t| t.completion(Some(StoredResponse::Order(Box::new(order.snapshot()))), now)),
        order,
        now,
    })
}

/// Whether `code` counts on the cart as priced (it matched the cart then).
pub fn cart_code_active(cart: &Cart, code: &DiscountCode) -> bool {
    cart.discount_codes
        .iter()
        .any(|d| &d.code == code && d.state == DiscountState::MatchesCart)
}

pub fn price_change(before: &Cart, after: &Cart) -> PriceChange {
    let lines = before
        .line_items
        .iter()
        .filter_map(|old| {
            let new = after.line_items.iter().find(|l| l.id == old.id)?;
            (old.unit_price != new.unit_price || old.tax_rate != new.tax_rate).then(|| {
                ChangedLine {
                    sku: old.sku.to_string(),
                    previous_unit_price: old.unit_price,
                    current_unit_price: new.unit_price,
                    previous_tax_rate: old.tax_rate,
                    current_tax_rate: new.tax_rate,
                }
            })
        })
        .collect();
    PriceChange {
        previous: before.totals,
        current: after.totals,
        lines,
    }
}
