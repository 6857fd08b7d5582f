//! The versioned cart and its update actions. A cart keeps snapshots of everything its price
//! depends on (unit prices, tax rates, the shipping method, discount terms) so its totals can
//! be shown without the catalog, and so a commit can tell when the catalog moved on.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

use crate::catalog::{DiscountDefinition, DiscountKind, PricingConfig, Product};
use crate::error::{Error, FieldError, FieldErrors, StockShortage};
use crate::money::{Currency, Money};
use crate::payment::Payment;
use crate::pricing::{self, DiscountRule, PricedLineInput, ShippingInput, Totals};
use crate::values::{
    Address, AddressInput, CartId, CountryCode, CustomerId, DiscountCode, Email, LineItemId, Name,
    Phone, Quantity, SessionHash, ShippingMethodId, Sku, TaxCategory,
};

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
}

/// Everything in the catalog a cart's prices depend on, loaded once per request.
#[derive(Debug, Clone, Default)]
pub struct CatalogView {
    pub products: HashMap<Sku, Product>,
    pub discounts: HashMap<DiscountCode, DiscountDefinition>,
    pub config: PricingConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCartInput {
    pub currency: String,
    #[serde(default)]
    pub country: Option<String>,
}

impl Cart {
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
        })
    }

    /// Since when this cart holds money that is neither in an order nor given back: the
    /// sweeper gives it back once that is longer ago than the payment grace period.
    pub fn holding_since(&self) -> Option<OffsetDateTime> {
        if self.state != CartState::Active {
            return None;
        }
        crate::payment::holding_since(&self.payments)
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

    /// Applies every action in order, all or nothing, then reprices against `catalog`.
    /// The result carries the next version.
    pub fn apply(
        &self,
        actions: &[CartAction],
        catalog: &CatalogView,
        now: OffsetDateTime,
    ) -> Result<Cart, Error> {
        let mut next = self.clone();
        for (index, action) in actions.iter().enumerate() {
            next.apply_one(action, catalog, now)
                .map_err(|e| e.at_action(index))?;
        }
        next.reprice(catalog, now)?;
        next.version = self.version + 1;
        next.updated_at = now;
        Ok(next)
    }

    fn apply_one(
        &mut self,
        action: &CartAction,
        catalog: &CatalogView,
        now: OffsetDateTime,
    ) -> Result<(), ActionError> {
        match action {
            CartAction::AddLineItem { sku, quantity } => {
                let product = catalog
                    .products
                    .get(sku)
                    .ok_or_else(|| ActionError::field("/sku", format!("unknown SKU '{sku}'")))?;
                let unit_price = product.price(self.currency).ok_or_else(|| {
                    ActionError::field("/sku", format!("'{sku}' is not sold in {}", self.currency))
                })?;
                let existing = self.line_items.iter().position(|l| &l.sku == sku);
                if existing.is_none() && self.line_items.len() >= MAX_LINES {
                    return Err(ActionError::field(
                        "/sku",
                        format!("a cart holds at most {MAX_LINES} different items"),
                    ));
                }
                let merged =
                    existing.map_or(0, |i| self.line_items[i].quantity.get()) + quantity.get();
                let merged = Quantity::parse(merged as i64).map_err(|m| {
                    ActionError::field("/quantity", format!("the line's total quantity {m}"))
                })?;
                check_stock(product, merged)?;
                match existing {
                    Some(i) => self.line_items[i].quantity = merged,
                    None => self.line_items.push(LineItem {
                        id: LineItemId::new(),
                        sku: sku.clone(),
                        name: product.name.clone(),
                        quantity: merged,
                        unit_price,
                        tax_category: product.tax_category.clone(),
                        tax_rate: None,
                        subtotal: Money::zero(self.currency),
                        discount: Money::zero(self.currency),
                        tax: Money::zero(self.currency),
                        total: Money::zero(self.currency),
                    }),
                }
            }
            CartAction::ChangeLineItemQuantity {
                line_item_id,
                quantity,
            } => {
                let line = self.line_mut(line_item_id)?;
                if let Some(product) = catalog.products.get(&line.sku) {
                    check_stock(product, *quantity)?;
                }
                line.quantity = *quantity;
            }
            CartAction::RemoveLineItem { line_item_id } => {
                self.line_mut(line_item_id)?;
                self.line_items.retain(|l| &l.id != line_item_id);
            }
            CartAction::SetShippingAddress { address } => {
                if !catalog.config.ships_to(&address.country) {
                    return Err(ActionError::field(
                        "/address/country",
                        format!("we do not ship to {}", address.country),
                    ));
                }
                self.shipping_address = Some(address.clone());
            }
            CartAction::SetBillingAddress { address } => {
                self.billing_address = Some(address.clone());
            }
            CartAction::SetShippingMethod { shipping_method_id } => {
                let method = catalog
                    .config
                    .shipping_method(shipping_method_id)
                    .ok_or_else(|| {
                        ActionError::field("/shippingMethodId", "unknown shipping method")
                    })?;
                let country = self.destination().ok_or_else(|| {
                    ActionError::field(
                        "/shippingMethodId",
                        "set a shipping address (or the cart's country) first",
                    )
                })?;
                if !method.serves(country, self.currency) {
                    return Err(ActionError::field(
                        "/shippingMethodId",
                        format!(
                            "'{}' does not ship to {country} in {}",
                            method.id, self.currency
                        ),
                    ));
                }
                self.shipping_method = Some(ShippingInfo {
                    id: method.id.clone(),
                    name: method.name.clone(),
                    price: Money::zero(self.currency),
                    free_above: None,
                    tax_category: method.tax_category.clone(),
                    tax_rate: None,
                    amount: Money::zero(self.currency),
                    tax: Money::zero(self.currency),
                });
            }
            CartAction::AddDiscountCode { code } => {
                if self.discount_codes.iter().any(|d| &d.code == code) {
                    return Ok(());
                }
                if self.discount_codes.len() >= MAX_CODES {
                    return Err(ActionError::field(
                        "/code",
                        format!("a cart takes at most {MAX_CODES} discount codes"),
                    ));
                }
                let terms = catalog.discounts.get(code).ok_or_else(|| {
                    ActionError::Domain(Error::DiscountCodeNonApplicable {
                        code: code.to_string(),
                        reason: "does not exist".into(),
                        change: None,
                    })
                })?;
                let subtotal = self
                    .subtotal()
                    .map_err(|e| ActionError::Domain(Error::internal(e)))?;
                terms.check(subtotal, now).map_err(|reason| {
                    ActionError::Domain(Error::DiscountCodeNonApplicable {
                        code: code.to_string(),
                        reason: reason.to_string(),
                        change: None,
                    })
                })?;
                self.discount_codes.push(AppliedDiscount {
                    code: code.clone(),
                    terms: terms.clone(),
                    state: DiscountState::MatchesCart,
                    reason: None,
                    amount: Money::zero(self.currency),
                });
            }
            CartAction::RemoveDiscountCode { code } => {
                if !self.discount_codes.iter().any(|d| &d.code == code) {
                    return Err(ActionError::field("/code", "is not on the cart"));
                }
                self.discount_codes.retain(|d| &d.code != code);
            }
            CartAction::SetCustomerEmail { email } => {
                self.customer_email = Some(email.clone());
            }
            CartAction::SetGuestDetails(details) => {
                self.customer_email = Some(details.email.clone());
                self.guest = Some(details.clone());
            }
            // Every update re-prices; this action asks for nothing else.
            CartAction::Recalculate => {}
        }
        Ok(())
    }

    fn line_mut(&mut self, id: &LineItemId) -> Result<&mut LineItem, ActionError> {
        self.line_items
            .iter_mut()
            .find(|l| &l.id == id)
            .ok_or_else(|| ActionError::field("/lineItemId", "no such line item in this cart"))
    }

    fn subtotal(&self) -> Result<Money, crate::money::MoneyError> {
        self.line_items
            .iter()
            .try_fold(Money::zero(self.currency), |acc, l| {
                acc.checked_add(l.unit_price.checked_mul(l.quantity.get() as i64)?)
            })
    }

    /// Refreshes every snapshot from the catalog (prices, names, tax rates, shipping terms,
    /// discount terms) and recomputes all amounts.
    pub fn reprice(&mut self, catalog: &CatalogView, now: OffsetDateTime) -> Result<(), Error> {
        let destination = self.destination().cloned();
        let config = &catalog.config;
        let rate = |category: &TaxCategory| {
            destination
                .as_ref()
                .and_then(|country| config.tax_rate(country, category))
        };
        for line in &mut self.line_items {
            if let Some(product) = catalog.products.get(&line.sku) {
                if let Some(price) = product.price(self.currency) {
                    line.unit_price = price;
                }
                line.name = product.name.clone();
                line.tax_category = product.tax_category.clone();
            }
            line.tax_rate = rate(&line.tax_category);
        }
        // A method that no longer serves the destination is dropped, not silently kept.
        self.shipping_method = self.shipping_method.take().and_then(|current| {
            let method = config.shipping_method(&current.id)?;
            let country = destination.as_ref()?;
            method.serves(country, self.currency).then(|| ShippingInfo {
                id: method.id.clone(),
                name: method.name.clone(),
                price: Money::new(method.prices[&self.currency], self.currency),
                free_above: method
                    .free_above
                    .get(&self.currency)
                    .map(|&c| Money::new(c, self.currency)),
                tax_category: method.tax_category.clone(),
                tax_rate: rate(&method.tax_category),
                amount: current.amount,
                tax: current.tax,
            })
        });
        let subtotal = self.subtotal().map_err(Error::internal)?;
        for applied in &mut self.discount_codes {
            if let Some(terms) = catalog.discounts.get(&applied.code) {
                applied.terms = terms.clone();
            }
            match applied.terms.check(subtotal, now) {
                Ok(()) => {
                    applied.state = DiscountState::MatchesCart;
                    applied.reason = None;
                }
                Err(reason) => {
                    applied.state = DiscountState::DoesNotMatchCart;
                    applied.reason = Some(reason.to_string());
                }
            }
        }
        self.recompute()
    }

    /// Recomputes amounts from the snapshots alone, without the catalog.
    pub fn recompute(&mut self) -> Result<(), Error> {
        let currency = self.currency;
        let lines: Vec<PricedLineInput> = self
            .line_items
            .iter()
            .map(|l| PricedLineInput {
                unit_price: l.unit_price,
                quantity: l.quantity.get(),
                tax_rate: l.tax_rate,
            })
            .collect();
        let active: Vec<usize> = (0..self.discount_codes.len())
            .filter(|&i| self.discount_codes[i].state == DiscountState::MatchesCart)
            .collect();
        let rules: Vec<DiscountRule> = active
            .iter()
            .map(|&i| match self.discount_codes[i].terms.kind {
                DiscountKind::Percentage { value } => DiscountRule::Percentage(value),
                DiscountKind::Fixed { value, currency } => {
                    DiscountRule::Fixed(Money::new(value, currency))
                }
            })
            .collect();
        let shipping = self.shipping_method.as_ref().map(|s| ShippingInput {
            price: s.price,
            free_above: s.free_above,
            tax_rate: s.tax_rate,
        });
        let priced = pricing::price(currency, &lines, &rules, shipping).map_err(Error::internal)?;
        for (line, amounts) in self.line_items.iter_mut().zip(&priced.lines) {
            line.subtotal = amounts.subtotal;
            line.discount = amounts.discount;
            line.tax = amounts.tax;
            line.total = amounts.total;
        }
        for applied in &mut self.discount_codes {
            applied.amount = Money::zero(currency);
        }
        for (&i, &amount) in active.iter().zip(&priced.discounts) {
            self.discount_codes[i].amount = amount;
        }
        if let Some(shipping) = &mut self.shipping_method {
            shipping.amount = priced.shipping;
            shipping.tax = priced.shipping_tax;
        }
        self.totals = priced.totals;
        Ok(())
    }
}

fn check_stock(product: &Product, quantity: Quantity) -> Result<(), ActionError> {
    if quantity.get() > product.stock {
        return Err(ActionError::Domain(Error::OutOfStock(vec![
            StockShortage {
                sku: product.sku.to_string(),
                name: product.name.to_string(),
                requested: quantity.get(),
                available: product.stock,
            },
        ])));
    }
    Ok(())
}

/// A failure while applying one action: a field of that action, or a domain refusal.
enum ActionError {
    Field(FieldError),
    Domain(Error),
}

impl ActionError {
    fn field(pointer: &str, message: impl Into<String>) -> Self {
        ActionError::Field(FieldError::new(pointer, message))
    }

    fn at_action(self, index: usize) -> Error {
        match self {
            ActionError::Field(error) => {
                Error::Invalid(vec![error.under(&format!("/actions/{index}"))])
            }
            ActionError::Domain(error) => error,
        }
    }
}

/// A validated cart update action.
#[derive(Debug, Clone, PartialEq)]
pub enum CartAction {
    AddLineItem {
        sku: Sku,
        quantity: Quantity,
    },
    ChangeLineItemQuantity {
        line_item_id: LineItemId,
        quantity: Quantity,
    },
    RemoveLineItem {
        line_item_id: LineItemId,
    },
    SetShippingAddress {
        address: Address,
    },
    SetBillingAddress {
        address: Address,
    },
    SetShippingMethod {
        shipping_method_id: ShippingMethodId,
    },
    AddDiscountCode {
        code: DiscountCode,
    },
    RemoveDiscountCode {
        code: DiscountCode,
    },
    SetCustomerEmail {
        email: Email,
    },
    SetGuestDetails(GuestDetails),
    /// Re-prices against the current catalog; how a customer confirms a changed total.
    Recalculate,
}

/// An action as the client sends it: an object whose `action` member names it. Numbers are
/// wide so that a negative or huge quantity gets a field message rather than a type error.
#[derive(Debug, Clone)]
pub enum CartActionInput {
    AddLineItem {
        sku: String,
        quantity: i64,
    },
    ChangeLineItemQuantity {
        line_item_id: String,
        quantity: i64,
    },
    RemoveLineItem {
        line_item_id: String,
    },
    SetShippingAddress {
        address: AddressInput,
    },
    SetBillingAddress {
        address: AddressInput,
    },
    SetShippingMethod {
        shipping_method_id: String,
    },
    AddDiscountCode {
        code: String,
    },
    RemoveDiscountCode {
        code: String,
    },
    SetCustomerEmail {
        email: String,
    },
    SetGuestDetails {
        email: String,
        name: String,
        phone: String,
    },
    Recalculate {},
}

/// Declares one fields struct per action and the dispatch from the `action` member to it.
/// Dispatching by hand (not serde's internally tagged enums, which buffer) keeps the JSON
/// pointer of a wrongly typed field exact: `/actions/1/quantity`, not `/actions/1`.
macro_rules! action_inputs {
    ($($name:literal => $variant:ident { $($field:ident : $ty:ty),* }),* $(,)?) => {
        mod action_fields {
            use super::*;
            $(
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase", deny_unknown_fields)]
                #[allow(non_camel_case_types)]
                pub struct $variant { $(pub $field: $ty),* }
            )*
        }

        impl CartActionInput {
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// Parses one action object; errors point below `/actions/{index}`.
            pub fn from_json(index: usize, value: &serde_json::Value) -> Result<Self, Vec<FieldError>> {
                let here = format!("/actions/{index}");
                let mut object = match value {
                    serde_json::Value::Object(object) => object.clone(),
                    _ => return Err(vec![FieldError::new(here, "must be an object with an `action` member")]),
                };
                let name = match object.remove("action") {
                    Some(serde_json::Value::String(name)) => name,
                    Some(_) => return Err(vec![FieldError::new(format!("{here}/action"), "must be a string")]),
                    None => return Err(vec![FieldError::new(format!("{here}/action"), "is required")]),
                };
                let fields = serde_json::Value::Object(object);
                match name.as_str() {
                    $($name => {
                        let action_fields::$variant { $($field),* } =
                            crate::input::from_value(fields).map_err(|e| vec![e.under(&here)])?;
                        Ok(CartActionInput::$variant { $($field),* })
                    })*
                    other => Err(vec![FieldError::new(
                        format!("{here}/action"),
                        format!("unknown action '{other}'; expected one of: {}", Self::NAMES.join(", ")),
                    )]),
                }
            }
        }
    };
}

action_inputs! {
    "addLineItem" => AddLineItem { sku: String, quantity: i64 },
    "changeLineItemQuantity" => ChangeLineItemQuantity { line_item_id: String, quantity: i64 },
    "removeLineItem" => RemoveLineItem { line_item_id: String },
    "setShippingAddress" => SetShippingAddress { address: AddressInput },
    "setBillingAddress" => SetBillingAddress { address: AddressInput },
    "setShippingMethod" => SetShippingMethod { shipping_method_id: String },
    "addDiscountCode" => AddDiscountCode { code: String },
    "removeDiscountCode" => RemoveDiscountCode { code: String },
    "setCustomerEmail" => SetCustomerEmail { email: String },
    "setGuestDetails" => SetGuestDetails { email: String, name: String, phone: String },
    "recalculate" => Recalculate {},
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCartInput {
    pub version: u64,
    /// Parsed one by one by `CartAction::parse_all`, for exact pointers.
    pub actions: Vec<serde_json::Value>,
}

/// Different SKUs and codes per cart: a commit writes one item per SKU and per code, and a
/// DynamoDB transaction holds at most 100 items.
pub const MAX_LINES: usize = 50;
pub const MAX_CODES: usize = 5;

/// The most actions one update may carry.
pub const MAX_ACTIONS: usize = 100;

impl CartAction {
    /// Validates every action of a request, reporting all field errors with their pointers.
    pub fn parse_all(values: &[serde_json::Value]) -> Result<Vec<CartAction>, Error> {
        let mut errors = FieldErrors::new();

        if values.is_empty() {
            errors.push(FieldError::new("/actions", "needs at least one action"));
        }
        if values.len() > MAX_ACTIONS {
            errors.push(FieldError::new(
                "/actions",
                format!("allows at most {MAX_ACTIONS} actions"),
            ));
        }
        let mut actions = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate().take(MAX_ACTIONS) {
            match CartActionInput::from_json(index, value) {
                Ok(input) => actions.extend(Self::parse_one(index, &input, &mut errors)),
                Err(e) => errors.extend(e),
            }
        }
        errors.into_result()?;
        Ok(actions)
    }

    fn parse_one(
        index: usize,
        input: &CartActionInput,
        errors: &mut FieldErrors,
    ) -> Option<CartAction> {
        let at = |field: &str| format!("/actions/{index}{field}");
        match input {
            CartActionInput::Recalculate {} => Some(CartAction::Recalculate),
            CartActionInput::AddLineItem { sku, quantity } => {
                let sku = errors.check(&at("/sku"), Sku::parse(sku));
                let quantity = errors.check(&at("/quantity"), Quantity::parse(*quantity));
                sku.zip(quantity)
                    .map(|(sku, quantity)| CartAction::AddLineItem { sku, quantity })
            }
            CartActionInput::ChangeLineItemQuantity {
                line_item_id,
                quantity,
            } => {
                let id = errors.check(&at("/lineItemId"), LineItemId::parse(line_item_id));
                let quantity = errors.check(&at("/quantity"), Quantity::parse(*quantity));
                id.zip(quantity).map(|(line_item_id, quantity)| {
                    CartAction::ChangeLineItemQuantity {
                        line_item_id,
                        quantity,
                    }
                })
            }
            CartActionInput::RemoveLineItem { line_item_id } => errors
                .check(&at("/lineItemId"), LineItemId::parse(line_item_id))
                .map(|line_item_id| CartAction::RemoveLineItem { line_item_id }),
            CartActionInput::SetShippingAddress { address } => match Address::parse(address) {
                Ok(address) => Some(CartAction::SetShippingAddress { address }),
                Err(e) => {
                    errors.extend(e.into_iter().map(|e| e.under(&at("/address"))));
                    None
                }
            },
            CartActionInput::SetBillingAddress { address } => match Address::parse(address) {
                Ok(address) => Some(CartAction::SetBillingAddress { address }),
                Err(e) => {
                    errors.extend(e.into_iter().map(|e| e.under(&at("/address"))));
                    None
                }
            },
            CartActionInput::SetShippingMethod { shipping_method_id } => errors
                .check(
                    &at("/shippingMethodId"),
                    ShippingMethodId::parse(shipping_method_id),
                )
                .map(|shipping_method_id| CartAction::SetShippingMethod { shipping_method_id }),
            CartActionInput::AddDiscountCode { code } => errors
                .check(&at("/code"), DiscountCode::parse(code))
                .map(|code| CartAction::AddDiscountCode { code }),
            CartActionInput::RemoveDiscountCode { code } => errors
                .check(&at("/code"), DiscountCode::parse(code))
                .map(|code| CartAction::RemoveDiscountCode { code }),
            CartActionInput::SetCustomerEmail { email } => errors
                .check(&at("/email"), Email::parse(email))
                .map(|email| CartAction::SetCustomerEmail { email }),
            CartActionInput::SetGuestDetails { email, name, phone } => {
                let email = errors.check(&at("/email"), Email::parse(email));
                let name = errors.check(&at("/name"), Name::parse(name));
                let phone = errors.check(&at("/phone"), Phone::parse(phone));
                match (email, name, phone) {
                    (Some(email), Some(name), Some(phone)) => {
                        Some(CartAction::SetGuestDetails(GuestDetails {
                            email,
                            name,
                            phone,
                        }))
                    }
                    _ => None,
                }
            }
        }
    }

    /// The SKUs an action needs from the catalog.
    pub fn sku(&self) -> Option<&Sku> {
        match self {
            CartAction::AddLineItem { sku, .. } => Some(sku),
            _ => None,
        }
    }

    /// The discount code an action needs from the catalog.
    pub fn code(&self) -> Option<&DiscountCode> {
        match self {
            CartAction::AddDiscountCode { code } => Some(code),
            _ => None,
        }
    }
}
