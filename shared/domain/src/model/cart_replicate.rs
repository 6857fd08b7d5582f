//! A new cart from an order: the storefront's "buy again", and the "cancel the order and
//! create a new cart" path of unpaid orders.
//!
//! The order's addresses, lines, shipping method, discount codes and customer are applied to
//! a fresh cart one by one, as the customer's own update actions (same checks, same
//! refusals), and the cart is priced now. What cannot be carried over is left out rather
//! than refusing the whole cart:
//!
//! - a line whose SKU is out of stock (too few units for the quantity ordered) or no longer
//!   sold (gone from the catalog, or without a price in the order's currency): listed in
//!   `not_replicated` with what was asked and what is available;
//! - a discount code that no longer applies (expired, fully redeemed, its minimum not met at
//!   today's prices, deleted): listed too, with why;
//! - a shipping address the shop no longer ships to, or a shipping method that no longer
//!   serves the destination: dropped, as a re-priced cart drops such a method. The cart
//!   shows them missing, and ordering it names them in `CartNotReady.missing`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::cart::{Cart, CartOwner, CatalogView, CreateCartInput};
use crate::model::cart_actions::CartAction;
use crate::model::error::Error;
use crate::model::order::Order;
use crate::model::quantity::Quantity;
use crate::model::values::{CartId, DiscountCode, Sku};

/// Why part of an order was not carried over to its new cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotReplicatedReason {
    /// Fewer units in stock than the order had (`available` says how many).
    OutOfStock,
    /// The SKU is no longer sold: not in the catalog, or not in the order's currency.
    Unavailable,
    /// The discount code no longer applies (`detail` says why).
    DiscountCodeNonApplicable,
}

/// A line or a discount code of the order that the new cart does not have. A line names its
/// `sku` with the units `requested` and `available`; a code names its `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotReplicated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<DiscountCode>,
    pub reason: NotReplicatedReason,
    /// In words, for people.
    pub detail: String,
}

impl NotReplicated {
    fn line(sku: &Sku, requested: u32, available: u32, reason: NotReplicatedReason) -> Self {
        let detail = match (reason, available) {
            (NotReplicatedReason::OutOfStock, 0) => format!("'{sku}' is out of stock"),
            (NotReplicatedReason::OutOfStock, _) => {
                format!("only {available} of '{sku}' left, {requested} ordered")
            }
            _ => format!("'{sku}' is no longer sold"),
        };
        NotReplicated {
            sku: Some(sku.clone()),
            requested: Some(requested),
            available: Some(available),
            code: None,
            reason,
            detail,
        }
    }

    /// The same, saying why in the words of the refusal.
    fn because(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    fn code(code: &DiscountCode, detail: String) -> Self {
        NotReplicated {
            sku: None,
            requested: None,
            available: None,
            code: Some(code.clone()),
            reason: NotReplicatedReason::DiscountCodeNonApplicable,
            detail,
        }
    }
}

/// The new cart, and what of the order it leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replicated {
    pub cart: Cart,
    pub not_replicated: Vec<NotReplicated>,
}

impl Cart {
    /// A new `Active` cart `id` for `owner` (the order's) with what of `order` still
    /// applies under `catalog` (the order's SKUs and codes, and the configuration), priced
    /// now, at version 1. Built in memory: the caller stores it in one write.
    pub fn replicate(
        order: &Order,
        id: CartId,
        owner: CartOwner,
        catalog: &CatalogView,
        now: OffsetDateTime,
    ) -> Result<Replicated, Error> {
        let input = CreateCartInput {
            currency: order.currency.to_string(),
            country: None,
        };
        let mut cart = Cart::create(&input, owner, &catalog.config, now)?;
        cart.id = id;
        let mut left_out = Vec::new();

        // The destination first: tax rates and shipping depend on it.
        if let Some(address) = &order.shipping_address {
            let action = CartAction::SetShippingAddress {
                address: address.clone(),
            };
            dropped_if_invalid(cart.apply_alone(&action, catalog, now))?;
        }
        if let Some(address) = &order.billing_address {
            let action = CartAction::SetBillingAddress {
                address: address.clone(),
            };
            cart.apply_alone(&action, catalog, now)?;
        }

        // Lines before codes: a code's minimum is checked against today's subtotal.
        for (sku, requested) in units_by_sku(order) {
            let Ok(quantity) = Quantity::parse(i64::from(requested)) else {
                // More units of one SKU than a cart line holds (separate lines of a
                // programmatic order): not something a cart can take.
                left_out.push(
                    NotReplicated::line(&sku, requested, 0, NotReplicatedReason::Unavailable)
                        .because(format!("more than {} units of '{sku}'", Quantity::MAX)),
                );
                continue;
            };
            let action = CartAction::AddLineItem {
                sku: sku.clone(),
                quantity,
            };
            match cart.apply_alone(&action, catalog, now) {
                Ok(()) => {}
                Err(Error::OutOfStock(shortages)) => {
                    let available = shortages.first().map_or(0, |s| s.available);
                    left_out.push(NotReplicated::line(
                        &sku,
                        requested,
                        available,
                        NotReplicatedReason::OutOfStock,
                    ));
                }
                // Unknown, not sold in this currency, or over a cart's limits.
                Err(Error::Invalid(errors)) => {
                    let line =
                        NotReplicated::line(&sku, requested, 0, NotReplicatedReason::Unavailable);
                    left_out.push(match errors.first() {
                        Some(error) => line.because(error.message.clone()),
                        None => line,
                    });
                }
                Err(other) => return Err(other),
            }
        }

        if let Some(method) = &order.shipping_info {
            let action = CartAction::SetShippingMethod {
                shipping_method_id: method.id.clone(),
            };
            dropped_if_invalid(cart.apply_alone(&action, catalog, now))?;
        }

        for applied in &order.discount_codes {
            let action = CartAction::AddDiscountCode {
                code: applied.code.clone(),
            };
            match cart.apply_alone(&action, catalog, now) {
                Ok(()) => {}
                Err(Error::DiscountCodeNonApplicable { reason, .. }) => {
                    left_out.push(NotReplicated::code(
                        &applied.code,
                        format!("'{}' {reason}", applied.code),
                    ));
                }
                Err(Error::Invalid(errors)) => left_out.push(NotReplicated::code(
                    &applied.code,
                    errors
                        .first()
                        .map_or_else(|| "does not apply".into(), |e| e.message.clone()),
                )),
                Err(other) => return Err(other),
            }
        }

        // Who the order was for: a guest's details, or the customer's email.
        let customer = match (&order.owner, &order.guest, &order.customer_email) {
            (CartOwner::Guest { .. }, Some(details), _) => {
                Some(CartAction::SetGuestDetails(details.clone()))
            }
            (_, _, Some(email)) => Some(CartAction::SetCustomerEmail {
                email: email.clone(),
            }),
            _ => None,
        };
        if let Some(action) = customer {
            cart.apply_alone(&action, catalog, now)?;
        }

        cart.version = 1;
        cart.created_at = now;
        cart.updated_at = now;
        Ok(Replicated {
            cart,
            not_replicated: left_out,
        })
    }

    /// Applies one action (re-pricing the cart), or leaves the cart as it was.
    fn apply_alone(
        &mut self,
        action: &CartAction,
        catalog: &CatalogView,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        *self = self.apply(std::slice::from_ref(action), catalog, now)?;
        Ok(())
    }
}

/// Ignores a refusal of the request's fields (an address not shipped to, a method that no
/// longer serves); anything else is an error.
fn dropped_if_invalid(result: Result<(), Error>) -> Result<(), Error> {
    match result {
        Err(Error::Invalid(_)) => Ok(()),
        other => other,
    }
}

/// The order's units per SKU, in the order its lines name them (a programmatic order may
/// have several lines of one SKU; a cart has one).
fn units_by_sku(order: &Order) -> Vec<(Sku, u32)> {
    let mut units: Vec<(Sku, u32)> = Vec::new();
    for line in &order.line_items {
        match units.iter_mut().find(|(sku, _)| sku == &line.sku) {
            Some((_, n)) => *n = n.saturating_add(line.quantity.get()),
            None => units.push((line.sku.clone(), line.quantity.get())),
        }
    }
    units
}
