//! One run of the command pipeline over one order: the order is built as a cart is (same
//! actions, same pricing engine), and the run holds what its commands did (authorizations
//! held, whether `authorize_payments` ran, the order once committed).

use time::OffsetDateTime;

use crate::model::cart::{Cart, CartOwner, CatalogView, CreateCartInput};
use crate::model::cart_actions::CartAction;
use crate::model::error::Error;
use crate::model::field_error::FieldError;
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState, ProgrammaticTerms};
use crate::model::order_commands::{Command, CommandRun, CommandStatus, Facts};
use crate::model::order_number::OrderNumber;
use crate::model::payment::PaymentState;
use crate::model::pricing_config::PricingConfig;
use crate::model::programmatic_order::ProgrammaticOrder;
use crate::model::values::{CartId, SessionToken};

/// One run of the pipeline over one order.
pub(crate) struct Run {
    pub request: ProgrammaticOrder,
    pub cart: Cart,
    pub number: OrderNumber,
    /// The stored draft this run carries on (its revision), if any.
    pub draft: Option<Order>,
    /// Stripe's idempotency keys derive from this (the order's own key).
    pub key_basis: String,
    /// Authorizations this run holds at the provider.
    pub(crate) authorized: Vec<HeldAuthorization>,
    /// The committed order, once `process_order` ran.
    pub processed: Option<Order>,
    /// `authorize_payments` ran in this request.
    pub authorize_ran: bool,
    /// The pricing configuration the cart was priced with (its minimum order value).
    pub config: PricingConfig,
    /// The fingerprint of the request the order is made for, which the order keeps.
    pub request_fingerprint: Option<String>,
    /// Who asked for the order (kept in its terms for its history).
    pub created_by: Option<String>,
}

/// An authorization a run holds at the provider.
#[derive(Debug, Clone)]
pub(crate) struct HeldAuthorization {
    /// Which payment of the request it is for (its index).
    pub payment: usize,
    /// The provider's reference.
    pub reference: String,
    pub amount: Money,
}

/// A command's failure, with nothing left held by it.
pub(super) fn failed(command: Command, index: usize, cause: Error) -> Error {
    Error::CommandFailed {
        command: command.name(),
        index,
        cause: Box::new(cause),
    }
}

/// Re-points an action's field errors (`/actions/0/...`) at the request's field.
pub(super) fn at(pointer: &str, strip: &str, error: Error) -> Error {
    match error {
        Error::Invalid(errors) => Error::Invalid(
            errors
                .into_iter()
                .map(|e| {
                    let rest = e.pointer.trim_start_matches("/actions/0");
                    let rest = rest.strip_prefix(strip).unwrap_or(rest);
                    FieldError::new(format!("{pointer}{rest}"), e.message)
                })
                .collect(),
        ),
        other => other,
    }
}

impl Run {
    /// Builds the order's cart from the request, priced against `catalog` (stock is checked
    /// by `process_order`'s commit, not here).
    pub fn build(
        request: ProgrammaticOrder,
        cart_id: CartId,
        number: OrderNumber,
        key_basis: String,
        catalog: &CatalogView,
        now: OffsetDateTime,
    ) -> Result<Run, Error> {
        let owner = match &request.customer.customer_id {
            Some(customer_id) => CartOwner::Customer {
                customer_id: customer_id.clone(),
            },
            // Nobody holds this session: the guest finds the order by email and number.
            None => CartOwner::Guest {
                session_hash: SessionToken::generate().hash(),
            },
        };
        let input = CreateCartInput {
            currency: request.currency.code().to_string(),
            country: None,
        };
        let mut cart = Cart::create(&input, owner, &catalog.config, now)?;
        cart.id = cart_id;
        let building = catalog.clone().without_stock_limits();
        let apply = |cart: &mut Cart, action: CartAction, pointer: &str, strip: &str| {
            *cart = cart
                .apply(&[action], &building, now)
                .map_err(|e| at(pointer, strip, e))?;
            Ok::<(), Error>(())
        };
        for (i, (sku, quantity)) in request.lines.iter().enumerate() {
            let action = CartAction::AddLineItem {
                sku: sku.clone(),
                quantity: *quantity,
            };
            apply(&mut cart, action, &format!("/lineItems/{i}"), "")?;
        }
        if let Some(address) = &request.shipping_address {
            let action = CartAction::SetShippingAddress {
                address: address.clone(),
            };
            apply(&mut cart, action, "/shippingAddress", "/address")?;
        }
        if let Some(address) = &request.billing_address {
            let action = CartAction::SetBillingAddress {
                address: address.clone(),
            };
            apply(&mut cart, action, "/billingAddress", "/address")?;
        }
        if let (Some(id), Some(_)) = (&request.shipping_method_id, &request.shipping_address) {
            let action = CartAction::SetShippingMethod {
                shipping_method_id: id.clone(),
            };
            apply(&mut cart, action, "", "")?;
        }
        for (i, code) in request.discount_codes.iter().enumerate() {
            let action = CartAction::AddDiscountCode { code: code.clone() };
            apply(&mut cart, action, &format!("/discountCodes/{i}"), "/code")?;
        }
        if let Some(email) = &request.customer.email {
            let action = CartAction::SetCustomerEmail {
                email: email.clone(),
            };
            apply(&mut cart, action, "/customer/email", "/email")?;
        }
        Ok(Run {
            request,
            cart,
            number,
            draft: None,
            key_basis,
            authorized: Vec::new(),
            processed: None,
            authorize_ran: false,
            config: catalog.config.clone(),
            request_fingerprint: None,
            created_by: None,
        })
    }

    /// The index of the last command an earlier attempt did: resuming an order it
    /// committed, what led up to `process_order` is done.
    pub(super) fn done_before(&self) -> Option<usize> {
        self.processed.as_ref()?;
        self.request
            .commands
            .iter()
            .position(|&c| c == Command::ProcessOrder)
    }

    pub(super) fn facts(&self) -> Facts {
        let earlier = self
            .draft
            .iter()
            .chain(self.processed.iter())
            .any(|o| o.payments.iter().any(|p| !p.is_gift_card()));
        Facts {
            email: self.cart.customer_email.is_some(),
            shipping_address: self.cart.shipping_address.is_some(),
            billing_address: self.cart.billing_address.is_some(),
            shipping_settled: self.cart.shipping_method.is_some(),
            payments: !self.request.payments.is_empty(),
            lines: !self.cart.line_items.is_empty(),
            authorized: self.authorize_ran || earlier,
        }
    }

    /// The terms the order keeps: what it was asked for, and every command it goes through.
    pub(crate) fn terms(&self) -> ProgrammaticTerms {
        let mut commands: Vec<CommandRun> = self
            .draft
            .as_ref()
            .and_then(|d| d.programmatic.as_ref())
            .map(|t| t.commands.clone())
            .unwrap_or_default();
        commands.extend(self.request.commands.iter().map(|&name| CommandRun {
            name,
            status: CommandStatus::Completed,
        }));
        let sent_before = self
            .draft
            .as_ref()
            .and_then(|d| d.programmatic.as_ref())
            .is_some_and(|t| t.send_to_platform);
        ProgrammaticTerms {
            send_receipt: self.request.send_receipt,
            send_to_platform: sent_before
                || self.request.commands.contains(&Command::SendToPlatform),
            commands,
            payments: self.request.payments.clone(),
            shipping_method_id: self.request.shipping_method_id.clone(),
            first_name: self.request.customer.first_name.clone(),
            last_name: self.request.customer.last_name.clone(),
            request_fingerprint: self.request_fingerprint.clone(),
            created_by: self.created_by.clone(),
        }
    }

    /// The order as it stands before `process_order`: a draft holding nothing.
    pub fn draft_order(&self, now: OffsetDateTime) -> Order {
        let mut order = Order::from_cart(
            &self.cart,
            self.number.clone(),
            CommitAction::Checkout,
            PaymentState::Pending,
            now,
            None,
        );
        order.state = OrderState::Draft;
        order.programmatic = Some(self.terms());
        order
    }
}
