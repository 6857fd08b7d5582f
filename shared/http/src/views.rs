//! What the API shows of carts and orders: explicit views, so what is stored can change
//! without clients noticing. Neither shows how ownership is proven (a guest's session hash);
//! both show the signed-in owner's id.

use serde::Serialize;
use time::OffsetDateTime;

use checkout_domain::model::address::Address;
use checkout_domain::model::cart::{
    AppliedDiscount, Cart, CartOwner, CartState, GuestDetails, LineItem, ShippingInfo,
};
use checkout_domain::model::cart_replicate::{NotReplicated, Replicated};
use checkout_domain::model::money::Currency;
use checkout_domain::model::order::Order;
use checkout_domain::model::order_snapshot::OrderSnapshot;
use checkout_domain::model::payment::Payment;
use checkout_domain::model::pricing::Totals;
use checkout_domain::model::values::{CartId, CountryCode, CustomerId, Email, SessionToken};

/// An order as its owner sees it: the order's snapshot, which the email and the ERP get too.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct OrderView(OrderSnapshot);

impl From<&Order> for OrderView {
    fn from(order: &Order) -> Self {
        OrderView(order.snapshot())
    }
}

impl From<OrderSnapshot> for OrderView {
    fn from(mut snapshot: OrderSnapshot) -> Self {
        snapshot.refunded_amount = Some(snapshot.refunded());
        OrderView(snapshot)
    }
}

/// A cart as its owner sees it; a new guest cart also carries its session token, once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CartView<'a> {
    id: &'a CartId,
    version: u64,
    state: &'a CartState,
    currency: Currency,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a CountryCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_id: Option<&'a CustomerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_email: Option<&'a Email>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guest: Option<&'a GuestDetails>,
    line_items: &'a [LineItem],
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_address: Option<&'a Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_address: Option<&'a Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shipping_method: Option<&'a ShippingInfo>,
    discount_codes: &'a [AppliedDiscount],
    payments: &'a [Payment],
    payment_revision: u64,
    totals: &'a Totals,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_number: Option<&'a str>,
    /// The cart's units of reserving products are held for its payment until then.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    reserved_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_token: Option<&'a str>,
}

impl<'a> CartView<'a> {
    pub fn new(cart: &'a Cart) -> Self {
        CartView {
            id: &cart.id,
            version: cart.version,
            state: &cart.state,
            currency: cart.currency,
            country: cart.country.as_ref(),
            customer_id: match &cart.owner {
                CartOwner::Customer { customer_id } => Some(customer_id),
                CartOwner::Guest { .. } => None,
            },
            customer_email: cart.customer_email.as_ref(),
            guest: cart.guest.as_ref(),
            line_items: &cart.line_items,
            shipping_address: cart.shipping_address.as_ref(),
            billing_address: cart.billing_address.as_ref(),
            shipping_method: cart.shipping_method.as_ref(),
            discount_codes: &cart.discount_codes,
            payments: &cart.payments,
            payment_revision: cart.payment_revision,
            totals: &cart.totals,
            order_number: cart.order_number.as_deref(),
            reserved_until: cart
                .reservation
                .as_ref()
                .filter(|_| cart.state == CartState::Active)
                .map(|r| r.until),
            created_at: cart.created_at,
            updated_at: cart.updated_at,
            session_token: None,
        }
    }

    /// The view of a guest's new cart: the token that proves ownership, shown this once.
    pub fn with_session(mut self, token: &'a SessionToken) -> Self {
        self.session_token = Some(token.expose());
        self
    }
}

/// The cart `POST /orders/{n}/replicate` made, with what of the order it leaves out.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicatedCartView<'a> {
    #[serde(flatten)]
    cart: CartView<'a>,
    not_replicated: &'a [NotReplicated],
}

impl<'a> ReplicatedCartView<'a> {
    pub fn new(replicated: &'a Replicated) -> Self {
        ReplicatedCartView {
            cart: CartView::new(&replicated.cart),
            not_replicated: &replicated.not_replicated,
        }
    }
}

/// A product as administrators see it: its total stock over its shards.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    sku: checkout_domain::model::values::Sku,
    name: checkout_domain::model::values::Name,
    prices: checkout_domain::model::price_list::PriceList,
    /// Units available over all shards.
    stock: u32,
    stock_shards: u32,
    tax_category: checkout_domain::model::values::TaxCategory,
    /// An order found every shard empty (any write that adds stock clears it).
    sold_out: bool,
    /// Units held by reservations whose hold has not ended (not in `stock`).
    reserved: u32,
    reserve_on_payment: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_per_order: Option<u32>,
}

impl ProductView {
    pub fn of(product: checkout_domain::model::catalog::Product, reserved: u32) -> Self {
        ProductView {
            reserved,
            reserve_on_payment: product.reserve_on_payment,
            max_per_order: product.max_per_order,
            sku: product.sku,
            name: product.name,
            prices: product.prices,
            stock: product.stock,
            stock_shards: product.stock_shards,
            tax_category: product.tax_category,
            sold_out: product.sold_out,
        }
    }
}
