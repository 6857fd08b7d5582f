//! The commands of a programmatic order, after Bold Checkout: their names, their
//! preconditions (each gap a JSON pointer into the request), and the order in which payments
//! are applied to a total.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::model::error::{Error, StockShortage};
use crate::model::field_error::FieldError;
use crate::model::gift_card::GiftCardCode;
use crate::model::money::Money;

/// One step of the pipeline; the request runs them in the order it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    CalculateShipping,
    CalculateTaxRates,
    AuthorizePayments,
    ProcessOrder,
    SendToPlatform,
    ChargePayments,
}

impl Command {
    pub const ALL: [Command; 6] = [
        Command::CalculateShipping,
        Command::CalculateTaxRates,
        Command::AuthorizePayments,
        Command::ProcessOrder,
        Command::SendToPlatform,
        Command::ChargePayments,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::CalculateShipping => "calculate_shipping",
            Command::CalculateTaxRates => "calculate_tax_rates",
            Command::AuthorizePayments => "authorize_payments",
            Command::ProcessOrder => "process_order",
            Command::SendToPlatform => "send_to_platform",
            Command::ChargePayments => "charge_payments",
        }
    }

    pub fn parse(name: &str) -> Result<Command, String> {
        Command::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Command::ALL.iter().map(|c| c.name()).collect();
                format!("unknown command; one of {}", names.join(", "))
            })
    }
}

/// A command the order went through, as its view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRun {
    pub name: Command,
    pub status: CommandStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    Completed,
}

/// What the order has, as far as preconditions look at it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    pub email: bool,
    pub shipping_address: bool,
    pub billing_address: bool,
    /// A shipping method is chosen (every order ships).
    pub shipping_settled: bool,
    pub payments: bool,
    pub lines: bool,
    /// `authorize_payments` ran (now or in an earlier request).
    pub authorized: bool,
}

/// The gaps that stop `command`, as JSON pointers into the request. Empty: it may run.
pub fn missing(command: Command, facts: &Facts) -> Vec<FieldError> {
    let mut gaps = Vec::new();
    let mut need = |held: bool, pointer: &str, what: &str| {
        if !held {
            gaps.push(FieldError::new(
                pointer,
                format!("{what} is required by {}", command.name()),
            ));
        }
    };
    match command {
        Command::CalculateShipping | Command::CalculateTaxRates => need(
            facts.shipping_address,
            "/shippingAddress",
            "a shipping address",
        ),
        Command::AuthorizePayments => {
            need(facts.email, "/customer/email", "an email");
            need(
                facts.billing_address,
                "/billingAddress",
                "a billing address",
            );
            need(facts.payments, "/payments", "at least one payment");
        }
        Command::ProcessOrder | Command::SendToPlatform => {
            need(facts.email, "/customer/email", "an email");
            need(
                facts.shipping_address,
                "/shippingAddress",
                "a shipping address",
            );
            need(
                facts.shipping_settled,
                "/shippingMethodId",
                "a shipping method",
            );
            need(facts.lines, "/lineItems", "at least one line item");
        }
        Command::ChargePayments => {
            need(facts.email, "/customer/email", "an email");
            need(
                facts.billing_address,
                "/billingAddress",
                "a billing address",
            );
            need(facts.authorized, "/commands", "authorize_payments before");
        }
    }
    gaps
}

/// A failed command as the idempotency record keeps it, so a replay answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRefusal {
    pub command: Command,
    pub index: usize,
    pub cause: Cause,
}

/// Why a command failed, for the causes a command can have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "code"
)]
pub enum Cause {
    InvalidInput { errors: Vec<FieldError> },
    InsufficientPayment { total: Money, covered: Money },
    PaymentDeclined { reason: String },
    OutOfStock { items: Vec<StockShortage> },
    EmailAlreadyRegistered,
}

impl CommandRefusal {
    /// The record of `error`, if it is a failed command with a cause that can be kept.
    pub fn of(error: &Error) -> Option<CommandRefusal> {
        let Error::CommandFailed {
            command,
            index,
            cause,
        } = error
        else {
            return None;
        };
        let cause = match cause.as_ref() {
            Error::Invalid(errors) => Cause::InvalidInput {
                errors: errors.clone(),
            },
            Error::InsufficientPayment { total, covered } => Cause::InsufficientPayment {
                total: *total,
                covered: *covered,
            },
            Error::PaymentDeclined { reason } => Cause::PaymentDeclined {
                reason: reason.clone(),
            },
            Error::OutOfStock(items) => Cause::OutOfStock {
                items: items.clone(),
            },
            Error::EmailAlreadyRegistered => Cause::EmailAlreadyRegistered,
            _ => return None,
        };
        Some(CommandRefusal {
            command: Command::parse(command).ok()?,
            index: *index,
            cause,
        })
    }

    /// The refusal again, as the error it was.
    pub fn error(&self) -> Error {
        let cause = match &self.cause {
            Cause::InvalidInput { errors } => Error::Invalid(errors.clone()),
            Cause::InsufficientPayment { total, covered } => Error::InsufficientPayment {
                total: *total,
                covered: *covered,
            },
            Cause::PaymentDeclined { reason } => Error::PaymentDeclined {
                reason: reason.clone(),
            },
            Cause::OutOfStock { items } => Error::OutOfStock(items.clone()),
            Cause::EmailAlreadyRegistered => Error::EmailAlreadyRegistered,
        };
        Error::CommandFailed {
            command: self.command.name(),
            index: self.index,
            cause: Box::new(cause),
        }
    }
}

/// Where a payment's money comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", untagged)]
pub enum PaymentSource {
    GiftCard {
        #[serde(rename = "giftCard")]
        gift_card: GiftCardCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Money>,
    },
    /// A customer's saved payment method at the provider (Stripe `pm_…`).
    Card {
        #[serde(rename = "paymentMethod")]
        payment_method: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Money>,
    },
}

impl PaymentSource {
    pub fn amount(&self) -> Option<Money> {
        match self {
            PaymentSource::GiftCard { amount, .. } | PaymentSource::Card { amount, .. } => *amount,
        }
    }
}

/// Each payment's share of `total`, as Bold applies them: first those with an amount, in the
/// order given, up to the total; then those without one cover what is left. A gift card
/// gives at most its balance (`balances`, taken down as cards are used). The shares never add
/// up to more than the total; less means the payments do not cover it.
pub fn apply_payments(
    total: Money,
    payments: &[PaymentSource],
    balances: &HashMap<GiftCardCode, i64>,
) -> Vec<Money> {
    let currency = total.currency();
    let mut left = total.cent_amount;
    let mut balances = balances.clone();
    let mut shares = vec![Money::zero(currency); payments.len()];
    let with_amount = payments
        .iter()
        .enumerate()
        .filter(|(_, p)| p.amount().is_some());
    let without = payments
        .iter()
        .enumerate()
        .filter(|(_, p)| p.amount().is_none());
    for (index, payment) in with_amount.chain(without) {
        let wanted = payment.amount().map_or(left, |a| a.cent_amount.min(left));
        let share = match payment {
            PaymentSource::GiftCard { gift_card, .. } => {
                let balance = balances.entry(gift_card.clone()).or_insert(0);
                let share = wanted.min(*balance).max(0);
                *balance -= share;
                share
            }
            PaymentSource::Card { .. } => wanted.max(0),
        };
        left -= share;
        shares[index] = Money::new(share, currency);
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::money::Currency;

    fn card(amount: Option<i64>) -> PaymentSource {
        PaymentSource::Card {
            payment_method: "pm_card_visa".into(),
            amount: amount.map(|a| Money::new(a, Currency::EUR)),
        }
    }

    fn gift(amount: Option<i64>) -> PaymentSource {
        PaymentSource::GiftCard {
            gift_card: GiftCardCode::parse("GIFT-1").unwrap(),
            amount: amount.map(|a| Money::new(a, Currency::EUR)),
        }
    }

    #[test]
    fn amounts_first_then_amountless_cover_the_rest() {
        let balances = HashMap::from([(GiftCardCode::parse("GIFT-1").unwrap(), 3000)]);
        let total = Money::new(10_000, Currency::EUR);
        let shares = apply_payments(total, &[card(None), gift(None)], &balances);
        // The amountless card comes after... both amountless: in the order given.
        assert_eq!(shares[0].cent_amount, 10_000);
        assert_eq!(shares[1].cent_amount, 0);
        let shares = apply_payments(total, &[card(None), gift(Some(5000))], &balances);
        assert_eq!((shares[0].cent_amount, shares[1].cent_amount), (7000, 3000));
        let shares = apply_payments(total, &[gift(None)], &balances);
        assert_eq!(shares[0].cent_amount, 3000);
    }

    #[test]
    fn preconditions_name_their_fields() {
        let gaps = missing(Command::AuthorizePayments, &Facts::default());
        let pointers: Vec<_> = gaps.iter().map(|g| g.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/customer/email", "/billingAddress", "/payments"]
        );
    }
}
