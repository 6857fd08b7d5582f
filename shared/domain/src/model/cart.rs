//! The versioned cart and its update actions. A cart keeps snapshots of everything its price
//! depends on (unit prices, tax rates, the shipping method, discount terms) so its totals can
//! be shown without the catalog, and so a commit can tell when the catalog moved on.

use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

use crate::model::address::Address;
use crate::model::catalog::Product;
use crate::model::discount::{DiscountDefinition, DiscountKind};
use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::money::{Currency, Money};
use crate::model::payment::Payment;
use crate::model::pricing::{self, DiscountRule, PricedLineInput, ShippingInput, Totals};
use crate::model::pricing_config::PricingConfig;
use crate::model::quantity::Quantity;
use crate::model::values::{
    CartId, CountryCode, CustomerId, DiscountCode, Email, LineItemId, Name, Phone, SessionHash,
    ShippingMethodId, Sku, TaxCategory,
};

mod repricing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartState {
    Active,
    Ordered,
}

/// Who may use a cart: a signed-in customer, or whoever holds the guest session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum CartOwner {
    Customer { customer_id: CustomerId },
    Guest { session_hash: SessionHash },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestDetails {
    pub email: Email,
    pub name: Name,
    pub phone: Phone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub id: LineItemId,
    pub sku: Sku,
    pub name: Name,
    pub quantity: Quantity,
    /// Net unit price, as the catalog had it at the cart's last update.
    pub unit_price: Money,
    pub tax_category: TaxCategory,
    /// Basis points for the cart's destination; absent until a country is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<u32>,
    pub subtotal: Money,
    pub discount: Money,
    pub tax: Money,
    pub total: Money,
    /// The product reserves its units when a payment starts (as last priced): a checkout
    /// sells such a line only from the cart's reservation, never from the shelf.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reserve_on_payment: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingInfo {
    pub id: ShippingMethodId,
    pub name: Name,
    /// The method's list price for the cart's currency.
    pub price: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_above: Option<Money>,
    pub tax_category: TaxCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<u32>,
    /// What the customer pays for shipping (zero above the free threshold), net of tax.
    pub amount: Money,
    pub tax: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountState {
    /// The code takes effect.
    MatchesCart,
    /// Kept on the cart but not taking effect (expired, minimum not met, exhausted).
    DoesNotMatchCart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedDiscount {
    pub code: DiscountCode,
    /// The code's terms when the cart was last priced.
    pub terms: DiscountDefinition,
    pub state: DiscountState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    pub id: CartId,
    pub version: u64,
    pub state: CartState,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    pub owner: CartOwner,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<GuestDetails>,
    pub line_items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<ShippingInfo>,
    pub discount_codes: Vec<AppliedDiscount>,
    #[serde(default)]
    pub payments: Vec<Payment>,
    /// Counts payment changes. They do not bump `version` (a customer's concurrent edit is
    /// not invalidated by a webhook), but a commit is conditioned on both.
    #[serde(default)]
    pub payment_revision: u64,
    pub totals: Totals,
    /// Set when the cart became an order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The pricing configuration's revision the cart was last priced with.
    #[serde(default)]
    pub config_revision: u64,
    /// Where each SKU's stock was at the last pricing, for the commit to pick a shard that
    /// has some without reading them all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stock_hints: BTreeMap<Sku, StockHint>,
    /// Units of reserving SKUs held for the cart's payment (`reserveOnPayment`). Written only
    /// by reserving, releasing and committing, never by a cart edit (rule 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<crate::model::reservation::CartReservation>,
}

/// A SKU's stock layout as last read: how many shards, and which held stock (bit k: shard k).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockHint {
    pub shards: u32,
    pub in_stock: u64,
}

/// Everything in the catalog a cart's prices depend on, loaded once per request.
#[derive(Debug, Clone, Default)]
pub struct CatalogView {
    pub products: HashMap<Sku, Product>,
    pub discounts: HashMap<DiscountCode, DiscountDefinition>,
    pub config: PricingConfig,
}

impl CatalogView {
    /// The same catalog with no stock limit: a programmatic order is built line by line
    /// without holding stock; its commit checks the stock.
    pub fn without_stock_limits(mut self) -> CatalogView {
        for product in self.products.values_mut() {
            product.stock = u32::MAX;
        }
        self
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCartInput {
    pub currency: String,
    #[serde(default)]
    pub country: Option<String>,
}

impl Cart {
    /// What the goods cost after discounts: the minimum order value applies to this.
    pub fn goods_value(&self) -> Result<Money, Error> {
        self.totals
            .subtotal
            .checked_sub(self.totals.discount)
            .map_err(Error::internal)
    }

    /// Refuses goods worth less than `config`'s minimum order value in the cart's currency.
    pub fn check_minimum_order(&self, config: &PricingConfig) -> Result<(), Error> {
        let goods = self.goods_value()?;
        match config.min_order_value.get(&self.currency) {
            Some(&minimum) if goods.cent_amount < minimum => Err(Error::BelowMinimumOrderValue {
                minimum: Money::new(minimum, self.currency),
                total: goods,
            }),
            _ => Ok(()),
        }
    }

    pub fn create(
        input: &CreateCartInput,
        owner: CartOwner,
        config: &PricingConfig,
        now: OffsetDateTime,
    ) -> Result<Cart, Error> {
        let mut errors = FieldErrors::new();
        let currency = errors.check("/currency", Currency::parse(&input.currency));
        let country = match input.country.as_deref() {
            None => None,
            Some(c) => errors
                .check("/country", CountryCode::parse(c))
                .and_then(|country| {
                    if config.ships_to(&country) {
                        Some(country)
                    } else {
                        errors.push(FieldError::new(
                            "/country",
                            format!("we do not ship to {country}"),
                        ));
                        None
                    }
                }),
        };
        let currency = errors.finish(currency)?;
        Ok(Cart {
            id: CartId::new(),
            version: 1,
            state: CartState::Active,
            currency,
            country,
            owner,
            customer_email: None,
            guest: None,
            line_items: Vec::new(),
            shipping_address: None,
            billing_address: None,
            shipping_method: None,
            discount_codes: Vec::new(),
            payments: Vec::new(),
            payment_revision: 0,
            totals: Totals::zero(currency),
            order_number: None,
            created_at: now,
            updated_at: now,
            config_revision: 0,
            reservation: None,
            stock_hints: BTreeMap::new(),
        })
    }

    /// Since when this cart holds money that is neither in an order nor given back: the
    /// sweeper gives it back once that is longer ago than the payment grace period.
    pub fn holding_since(&self) -> Option<OffsetDateTime> {
        if self.state != CartState::Active {
            return None;
        }
        crate::model::payment::holding_since(&self.payments)
    }

    /// Where the goods go, for tax and shipping: the shipping address, else the cart's country.
    pub fn destination(&self) -> Option<&CountryCode> {
        self.shipping_address
            .as_ref()
            .map(|a| &a.country)
            .or(self.country.as_ref())
    }

    pub fn skus(&self) -> impl Iterator<Item = &Sku> {
        self.line_items.iter().map(|l| &l.sku)
    }

    pub fn codes(&self) -> impl Iterator<Item = &DiscountCode> {
        self.discount_codes.iter().map(|d| &d.code)
    }

    pub(crate) fn subtotal(&self) -> Result<Money, crate::model::money::MoneyError> {
        self.line_items
            .iter()
            .try_fold(Money::zero(self.currency), |acc, l| {
                acc.checked_add(l.unit_price.checked_mul(l.quantity.get() as i64)?)
            })
    }
}
