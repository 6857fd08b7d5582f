//! A programmatic order request (`POST /admin/orders`) as the client sends it, and its
//! validation into a `ProgrammaticOrder`: every field error at once, with JSON pointers.

use serde::{Deserialize, Serialize};

use crate::model::address::{Address, AddressInput};
use crate::model::error::{Error, FieldErrors};
use crate::model::field_error::FieldError;
use crate::model::gift_card::GiftCardCode;
use crate::model::idempotency::IdempotencyKey;
use crate::model::money::{Currency, Money};
use crate::model::not_null::not_null;
use crate::model::order_commands::{Command, PaymentSource};
use crate::model::quantity::Quantity;
use crate::model::values::{CustomerId, DiscountCode, Email, Name, ShippingMethodId, Sku};

/// Line items one order takes at most.
pub const MAX_ORDER_LINES: usize = 100;
/// Bodies one batch takes at most.
pub const MAX_BATCH: usize = 50;
/// The currency of an order that names none.
pub const DEFAULT_CURRENCY: Currency = Currency::EUR;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgrammaticOrderInput {
    #[serde(default, deserialize_with = "not_null")]
    pub idempotency_key: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub currency: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineInput>,
    #[serde(default, deserialize_with = "not_null")]
    pub customer: Option<CustomerInput>,
    #[serde(default, deserialize_with = "not_null")]
    pub shipping_address: Option<AddressInput>,
    #[serde(default, deserialize_with = "not_null")]
    pub billing_address: Option<AddressInput>,
    #[serde(default, deserialize_with = "not_null")]
    pub shipping_method_id: Option<String>,
    #[serde(default)]
    pub discount_codes: Vec<String>,
    #[serde(default)]
    pub payments: Vec<PaymentInput>,
    #[serde(default, deserialize_with = "not_null")]
    pub send_receipt: Option<bool>,
    #[serde(default)]
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineInput {
    pub sku: String,
    pub quantity: i64,
    #[serde(default, deserialize_with = "not_null")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerInput {
    #[serde(default, deserialize_with = "not_null")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentInput {
    #[serde(default, deserialize_with = "not_null")]
    pub gift_card: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub payment_method: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub amount: Option<i64>,
}

/// `POST /admin/orders/{orderNumber}/commands`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandsInput {
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub email: Option<Email>,
    pub first_name: Option<Name>,
    pub last_name: Option<Name>,
    pub customer_id: Option<CustomerId>,
}

/// A valid programmatic order request. What the catalog must confirm (SKUs exist, gift cards
/// exist in the order's currency) is checked by the use case before anything is written.
#[derive(Debug, Clone)]
pub struct ProgrammaticOrder {
    pub key: IdempotencyKey,
    pub currency: Currency,
    pub lines: Vec<(Sku, Quantity)>,
    pub customer: Customer,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
    pub shipping_method_id: Option<ShippingMethodId>,
    pub discount_codes: Vec<DiscountCode>,
    pub payments: Vec<PaymentSource>,
    pub send_receipt: bool,
    pub commands: Vec<Command>,
}

/// Command names, each at most once; `authorize_payments` only where `process_order` runs in
/// the same request, `charge_payments` only after it.
pub fn parse_commands(names: &[String], pointer: &str) -> Result<Vec<Command>, Vec<FieldError>> {
    let mut errors = FieldErrors::new();
    let mut commands: Vec<Command> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let here = format!("{pointer}/{i}");
        if let Some(command) = errors.check(&here, Command::parse(name)) {
            if commands.contains(&command) {
                errors.push(FieldError::new(here, "names a command twice"));
            } else {
                commands.push(command);
            }
        }
    }
    let at = |c: Command| commands.iter().position(|&x| x == c);
    let process = at(Command::ProcessOrder);
    if at(Command::AuthorizePayments).is_some_and(|a| process.is_none_or(|p| p < a)) {
        errors.push(FieldError::new(
            pointer,
            "authorize_payments must come before process_order in the same request",
        ));
    }
    if let (Some(charge), Some(process)) = (at(Command::ChargePayments), process) {
        if charge < process {
            errors.push(FieldError::new(
                pointer,
                "charge_payments must come after process_order",
            ));
        }
    }
    match errors.into_result() {
        Ok(()) => Ok(commands),
        Err(Error::Invalid(errors)) => Err(errors),
        Err(_) => unreachable!("into_result only produces Invalid"),
    }
}

impl ProgrammaticOrderInput {
    pub fn parse(&self) -> Result<ProgrammaticOrder, Error> {
        let mut errors = FieldErrors::new();
        let key = match self.idempotency_key.as_deref() {
            Some(key) => errors.check("/idempotencyKey", IdempotencyKey::parse(key)),
            None => {
                errors.push(FieldError::new("/idempotencyKey", "is required"));
                None
            }
        };
        let currency = match self.currency.as_deref() {
            Some(c) => errors.check("/currency", Currency::parse(c)),
            None => Some(DEFAULT_CURRENCY),
        };
        if self.line_items.len() > MAX_ORDER_LINES {
            errors.push(FieldError::new(
                "/lineItems",
                format!("at most {MAX_ORDER_LINES} line items"),
            ));
        }
        let lines: Vec<_> = self
            .line_items
            .iter()
            .enumerate()
            .filter_map(|(i, line)| {
                let sku = errors.check(&format!("/lineItems/{i}/sku"), Sku::parse(&line.sku));
                let quantity = errors.check(
                    &format!("/lineItems/{i}/quantity"),
                    Quantity::parse(line.quantity),
                );
                sku.zip(quantity)
            })
            .collect();
        let customer = self.customer.as_ref().map_or(
            Customer {
                email: None,
                first_name: None,
                last_name: None,
                customer_id: None,
            },
            |c| Customer {
                email: c
                    .email
                    .as_deref()
                    .and_then(|e| errors.check("/customer/email", Email::parse(e))),
                first_name: c
                    .first_name
                    .as_deref()
                    .and_then(|n| errors.check("/customer/firstName", Name::parse(n))),
                last_name: c
                    .last_name
                    .as_deref()
                    .and_then(|n| errors.check("/customer/lastName", Name::parse(n))),
                customer_id: c
                    .customer_id
                    .as_deref()
                    .and_then(|id| errors.check("/customer/customerId", CustomerId::parse(id))),
            },
        );
        let mut address = |input: &Option<AddressInput>, pointer: &str| {
            input.as_ref().and_then(|a| match Address::parse(a) {
                Ok(address) => Some(address),
                Err(found) => {
                    errors.extend(found.into_iter().map(|e| e.under(pointer)));
                    None
                }
            })
        };
        let shipping_address = address(&self.shipping_address, "/shippingAddress");
        let billing_address = address(&self.billing_address, "/billingAddress");
        let shipping_method_id = self
            .shipping_method_id
            .as_deref()
            .and_then(|m| errors.check("/shippingMethodId", ShippingMethodId::parse(m)));
        let discount_codes = self
            .discount_codes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                errors.check(&format!("/discountCodes/{i}"), DiscountCode::parse(c))
            })
            .collect();
        if self.payments.len() > crate::model::payment::MAX_PAYMENTS {
            errors.push(FieldError::new(
                "/payments",
                format!("at most {} payments", crate::model::payment::MAX_PAYMENTS),
            ));
        }
        let payments = self
            .payments
            .iter()
            .enumerate()
            .filter_map(|(i, p)| payment(p, currency?, &format!("/payments/{i}"), &mut errors))
            .collect();
        let commands = match parse_commands(&self.commands, "/commands") {
            Ok(commands) => Some(commands),
            Err(found) => {
                errors.extend(found);
                None
            }
        };
        let valid = key.zip(currency).zip(commands);
        errors.finish(valid.map(|((key, currency), commands)| ProgrammaticOrder {
            key,
            currency,
            lines,
            customer,
            shipping_address,
            billing_address,
            shipping_method_id,
            discount_codes,
            payments,
            send_receipt: self.send_receipt.unwrap_or(true),
            commands,
        }))
    }
}

fn payment(
    input: &PaymentInput,
    currency: Currency,
    here: &str,
    errors: &mut FieldErrors,
) -> Option<PaymentSource> {
    let amount = match input.amount {
        Some(a) => Money::parse_amount(a, currency)
            .map_err(|e| errors.push(e.under(&format!("{here}/amount"))))
            .ok()
            .map(Some)?,
        None => None,
    };
    match (&input.gift_card, &input.payment_method) {
        (Some(code), None) => errors
            .check(&format!("{here}/giftCard"), GiftCardCode::parse(code))
            .map(|gift_card| PaymentSource::GiftCard { gift_card, amount }),
        (None, Some(method)) => {
            let valid = method.starts_with("pm_")
                && method.len() <= 255
                && method
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if valid {
                Some(PaymentSource::Card {
                    payment_method: method.clone(),
                    amount,
                })
            } else {
                errors.push(FieldError::new(
                    format!("{here}/paymentMethod"),
                    "must be a saved payment method id (pm_…)",
                ));
                None
            }
        }
        _ => {
            errors.push(FieldError::new(
                here,
                "must name exactly one of giftCard or paymentMethod",
            ));
            None
        }
    }
}
