//! The command pipeline of a programmatic order: the order is built as a cart is (same
//! actions, same pricing engine), each command checks its preconditions and runs, and
//! `process_order` commits through the same single transaction as `POST /orders`, with the
//! gift card redemptions as conditions. A failure cancels what this run authorized.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::model::cart::{Cart, CartOwner, CatalogView, CreateCartInput};
use crate::model::cart_actions::CartAction;
use crate::model::error::Error;
use crate::model::field_error::FieldError;
use crate::model::gift_card::GiftCardCode;
use crate::model::money::Money;
use crate::model::order::{CommitAction, Order, OrderState, ProgrammaticTerms};
use crate::model::order_commands::{
    apply_payments, missing, Command, CommandRun, CommandStatus, Facts, PaymentSource,
};
use crate::model::order_number::OrderNumber;
use crate::model::payment::PaymentState;
use crate::model::pricing_config::PricingConfig;
use crate::model::programmatic_order::ProgrammaticOrder;
use crate::model::values::{CartId, SessionToken};
use crate::ports::psp::{Authorization, SavedMethodRequest};
use crate::usecases::storefront::Storefront;

/// One run of the pipeline over one order.
pub(crate) struct Run {
    pub request: ProgrammaticOrder,
    pub cart: Cart,
    pub number: OrderNumber,
    /// The stored draft this run carries on (its revision), if any.
    pub draft: Option<Order>,
    /// Stripe's idempotency keys derive from this (the order's own key).
    pub key_basis: String,
    /// Authorizations this run holds: payment index, reference, amount.
    pub(crate) authorized: Vec<(usize, String, Money)>,
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

/// A command's failure, with nothing left held by it.
fn failed(command: Command, index: usize, cause: Error) -> Error {
    Error::CommandFailed {
        command: command.name(),
        index,
        cause: Box::new(cause),
    }
}

/// Re-points an action's field errors (`/actions/0/...`) at the request's field.
fn at(pointer: &str, strip: &str, error: Error) -> Error {
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

    fn facts(&self) -> Facts {
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

impl Storefront {
    /// Runs every command of `run` in order. On failure, what this run authorized is cancelled
    /// (unless an order holds it) and the failure names the command.
    pub(crate) async fn run_commands(&self, run: &mut Run) -> Result<Order, Error> {
        let commands = run.request.commands.clone();
        // Resuming an order an earlier attempt committed: what led up to it is done.
        let done = match &run.processed {
            Some(_) => commands.iter().position(|&c| c == Command::ProcessOrder),
            None => None,
        };
        for (index, &command) in commands.iter().enumerate() {
            if done.is_some_and(|last| index <= last) {
                // Done by the earlier attempt, `authorize_payments` included.
                run.authorize_ran |= command == Command::AuthorizePayments;
                continue;
            }
            let mut result = match missing(command, &run.facts()) {
                gaps if !gaps.is_empty() => Err((command, index, Error::Invalid(gaps))),
                _ => Ok(()),
            };
            // Nothing after the commit may fail for a gap the request had all along: the
            // later commands' preconditions are checked before the order is committed.
            if command == Command::ProcessOrder && result.is_ok() {
                for (later, &next) in commands.iter().enumerate().skip(index + 1) {
                    let gaps = missing(next, &run.facts());
                    if !gaps.is_empty() {
                        result = Err((next, later, Error::Invalid(gaps)));
                        break;
                    }
                }
            }
            if result.is_ok() {
                result = self
                    .run_command(run, command)
                    .await
                    .map_err(|e| (command, index, e));
            }
            if let Err((command, index, cause)) = result {
                if cause.is_unavailable() || matches!(cause, Error::RequestInProgress { .. }) {
                    // Whether the commit happened is unknown: what was authorized stays for
                    // the retry, which asks the provider under the same keys (an order it
                    // finds holds it; else, never captured, it lapses at the provider).
                    return Err(cause);
                }
                if run.processed.is_none() {
                    self.cancel_authorizations(run).await;
                }
                return Err(failed(command, index, cause));
            }
        }
        match run.processed.clone() {
            Some(order) => Ok(order),
            None => self.save_draft(run).await,
        }
    }

    async fn run_command(&self, run: &mut Run, command: Command) -> Result<(), Error> {
        match command {
            Command::CalculateShipping => self.calculate_shipping(run).await,
            // The cart is priced with its destination's rates whenever it has one.
            Command::CalculateTaxRates | Command::SendToPlatform => Ok(()),
            Command::AuthorizePayments => self.authorize_payments(run).await,
            Command::ProcessOrder => self.process_order(run).await,
            Command::ChargePayments => self.charge_payments(run).await,
        }
    }

    async fn calculate_shipping(&self, run: &mut Run) -> Result<(), Error> {
        let building = self
            .catalog_for(&run.cart, std::iter::empty(), std::iter::empty())
            .await?
            .without_stock_limits();
        let country = run
            .cart
            .destination()
            .cloned()
            .ok_or_else(|| Error::invalid("/shippingAddress", "is required"))?;
        let currency = run.cart.currency;
        let mut serving = building.config.shipping_methods_for(&country, currency);
        let chosen = match &run.request.shipping_method_id {
            Some(id) => serving.find(|m| &m.id == id),
            None => serving.min_by_key(|m| m.prices[&currency]),
        };
        let method = chosen.ok_or_else(|| {
            Error::invalid(
                "/shippingAddress/country",
                format!("no shipping method ships to {country} in {currency}"),
            )
        })?;
        let action = CartAction::SetShippingMethod {
            shipping_method_id: method.id.clone(),
        };
        run.cart = run
            .cart
            .apply(&[action], &building, self.now())
            .map_err(|e| at("/shippingMethodId", "/shippingMethodId", e))?;
        Ok(())
    }

    pub(crate) async fn balances(
        &self,
        payments: &[PaymentSource],
    ) -> Result<HashMap<GiftCardCode, i64>, Error> {
        let mut balances = HashMap::new();
        for payment in payments {
            if let PaymentSource::GiftCard { gift_card, .. } = payment {
                if !balances.contains_key(gift_card) {
                    let card = self.store().gift_card(gift_card).await?;
                    balances.insert(gift_card.clone(), card.map_or(0, |c| c.balance));
                }
            }
        }
        Ok(balances)
    }

    async fn authorize_payments(&self, run: &mut Run) -> Result<(), Error> {
        run.authorize_ran = true;
        let balances = self.balances(&run.request.payments).await?;
        let shares = apply_payments(run.cart.totals.total, &run.request.payments, &balances);
        for (index, (payment, share)) in run.request.payments.iter().zip(shares).enumerate() {
            let PaymentSource::Card { payment_method, .. } = payment else {
                continue;
            };
            if share.is_zero() {
                continue;
            }
            let request = SavedMethodRequest {
                amount: share,
                payment_method: payment_method.clone(),
                customer_id: run.request.customer.customer_id.clone(),
                cart_id: run.cart.id.clone(),
                idempotency_key: format!(
                    "{}:authorize:{index}:{}",
                    run.key_basis, share.cent_amount
                ),
            };
            match self.psp().authorize_saved(&request).await {
                Ok(Authorization::Held { reference }) => {
                    run.authorized.push((index, reference, share))
                }
                Ok(Authorization::Declined { reason }) => {
                    return Err(Error::PaymentDeclined { reason })
                }
                Err(e) => return Err(Error::internal(e)),
            }
        }
        Ok(())
    }

    /// Releases what this run authorized (an order holds nothing of it).
    pub(crate) async fn cancel_authorizations(&self, run: &mut Run) {
        for (_, reference, _) in std::mem::take(&mut run.authorized) {
            if let Err(e) = self
                .psp()
                .cancel(&reference, &run.cart.id, &format!("cancel:{reference}"))
                .await
            {
                // Uncaptured, it expires at the provider by itself; logged for the operator.
                tracing::error!(%reference, error = %e, "cancelling an authorization failed");
            }
        }
    }
}
