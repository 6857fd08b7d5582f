//! A cart update's actions as the client sends them (read at the edge), and their validation
//! with exact JSON pointers.

use crate::model::address::{Address, AddressInput};
use crate::model::cart::GuestDetails;
use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::quantity::Quantity;
use crate::model::values::{DiscountCode, Email, LineItemId, Name, Phone, ShippingMethodId, Sku};

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

/// One action of an update as it arrived: readable as an action, or not (with why, pointed
/// below `/actions/{index}`). Reading happens at the edge; this is what the domain validates.
#[derive(Debug, Clone)]
pub enum ActionInput {
    Read(CartActionInput),
    Unreadable(Vec<FieldError>),
}

/// A cart update: the version the client saw and its actions, applied all or none.
#[derive(Debug, Clone)]
pub struct UpdateCartInput {
    pub version: u64,
    pub actions: Vec<ActionInput>,
}

/// Different SKUs and codes per cart: a commit writes one item per SKU and per code, and a
/// DynamoDB transaction holds at most 100 items.
pub const MAX_LINES: usize = 50;

pub const MAX_CODES: usize = 5;

/// The most actions one update may carry.
pub const MAX_ACTIONS: usize = 100;

impl CartAction {
    /// Validates every action of a request, reporting all field errors with their pointers.
    pub fn parse_all(values: &[ActionInput]) -> Result<Vec<CartAction>, Error> {
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
            match value {
                ActionInput::Read(input) => {
                    actions.extend(Self::parse_one(index, input, &mut errors))
                }
                ActionInput::Unreadable(e) => errors.extend(e.iter().cloned()),
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
                let name = errors.check(&at("/name"), Name::parse_person(name));
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
