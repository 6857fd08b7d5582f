//! The command pipeline: each command checks its preconditions and runs in order; a failure
//! cancels what this run authorized and names the command.

use std::collections::HashMap;

use crate::model::cart_actions::CartAction;
use crate::model::error::Error;
use crate::model::gift_card::GiftCardCode;
use crate::model::order::Order;
use crate::model::order_commands::{apply_payments, missing, Command, PaymentSource};
use crate::ports::psp::{Authorization, SavedMethodRequest};

use super::requests::ProgrammaticOrders;
use super::run::{at, failed, HeldAuthorization, Run};

impl ProgrammaticOrders<'_> {
    /// Runs every command of `run` in order. On failure, what this run authorized is cancelled
    /// (unless an order holds it) and the failure names the command.
    pub(crate) async fn run_commands(&self, run: &mut Run) -> Result<Order, Error> {
        let commands = run.request.commands.clone();
        let done = run.done_before();
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
            .pricing
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
            .apply(&[action], &building, self.env.now())
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
                    let card = self.gift_cards.gift_card(gift_card).await?;
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
            match self.psps.default_provider().authorize_saved(&request).await {
                Ok(Authorization::Held { reference }) => run.authorized.push(HeldAuthorization {
                    payment: index,
                    reference,
                    amount: share,
                }),
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
        for HeldAuthorization { reference, .. } in std::mem::take(&mut run.authorized) {
            if let Err(e) = self
                .psps
                .default_provider()
                .cancel(&reference, &run.cart.id, &format!("cancel:{reference}"))
                .await
            {
                // Uncaptured, it expires at the provider by itself; logged for the operator.
                tracing::error!(%reference, error = %e, "cancelling an authorization failed");
            }
        }
    }
}
