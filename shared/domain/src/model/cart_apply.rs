//! Applying a client's update actions to a cart: all of them or none, then reprice.

use time::OffsetDateTime;

use crate::model::cart::{
    AppliedDiscount, Cart, CatalogView, DiscountState, LineItem, ShippingInfo,
};
use crate::model::cart_actions::{CartAction, MAX_CODES, MAX_LINES};
use crate::model::catalog::Product;
use crate::model::error::{Error, StockShortage};
use crate::model::field_error::FieldError;
use crate::model::money::Money;
use crate::model::quantity::Quantity;
use crate::model::values::LineItemId;

impl Cart {
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
                        reserve_on_payment: product.reserve_on_payment,
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
}

fn check_stock(product: &Product, quantity: Quantity) -> Result<(), ActionError> {
    if let Some(max) = product.max_per_order.filter(|&max| quantity.get() > max) {
        return Err(ActionError::field(
            "/quantity",
            format!("at most {max} of '{}' per order", product.name),
        ));
    }
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
