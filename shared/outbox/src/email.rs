//! The customer's emails, rendered from the order snapshot an event carries: the order
//! confirmation, and the news of a cancellation, a refund and a shipment. The templates
//! (`templates/<name>.{html,txt}`) are minijinja; the HTML ones escape every value
//! (auto-escaping by file extension), amounts are preformatted here from integers. The free
//! texts they show (names, carrier, tracking number) were accepted as plain text only.

use std::sync::OnceLock;

use minijinja::{context, Environment};
use serde::Serialize;

use checkout_domain::model::address::Address;
use checkout_domain::model::fulfillment::ShipmentState;
use checkout_domain::model::money::Money;
use checkout_domain::model::order::CommitAction;
use checkout_domain::model::order_snapshot::OrderSnapshot;
use checkout_domain::model::payment::PaymentState;
use checkout_domain::ports::mailer::OutgoingEmail;
use checkout_domain::ports::DeliveryError;

#[derive(Serialize)]
struct Line {
    name: String,
    sku: String,
    quantity: u32,
    unit_price: String,
    total: String,
}

fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        let sources = [
            (
                "confirmation.html",
                include_str!("../templates/confirmation.html"),
            ),
            (
                "confirmation.txt",
                include_str!("../templates/confirmation.txt"),
            ),
            (
                "cancellation.html",
                include_str!("../templates/cancellation.html"),
            ),
            (
                "cancellation.txt",
                include_str!("../templates/cancellation.txt"),
            ),
            ("refund.html", include_str!("../templates/refund.html")),
            ("refund.txt", include_str!("../templates/refund.txt")),
            ("shipment.html", include_str!("../templates/shipment.html")),
            ("shipment.txt", include_str!("../templates/shipment.txt")),
        ];
        for (name, source) in sources {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("the template {name} parses: {e}"));
        }
        env
    })
}

/// A saved order not paid yet: its confirmation asks for the money rather than thanks for it.
fn awaits_payment(order: &OrderSnapshot) -> bool {
    order.action == CommitAction::SaveOrder && order.payment_state != PaymentState::Paid
}

/// An address as the lines of a label.
fn label(address: &Address) -> Vec<String> {
    let mut lines = vec![
        format!("{} {}", address.first_name, address.last_name),
        address.line1.to_string(),
    ];
    lines.extend(address.line2.as_ref().map(ToString::to_string));
    lines.push(format!("{} {}", address.postal_code, address.city));
    lines.extend(address.region.as_ref().map(ToString::to_string));
    lines.push(address.country.to_string());
    lines
}

/// The confirmation for an order, with the guest's claim link if there is one; `None` when
/// the order has no email address. A template that does not render is a permanent failure
/// (it will not render better next time).
pub fn confirmation(
    order: &OrderSnapshot,
    claim_link: Option<&str>,
) -> Result<Option<OutgoingEmail>, DeliveryError> {
    let Some(to) = order.customer_email.as_ref().map(ToString::to_string) else {
        return Ok(None);
    };
    let name = greeting(order);
    let lines: Vec<Line> = order
        .line_items
        .iter()
        .map(|l| Line {
            name: l.name.to_string(),
            sku: l.sku.to_string(),
            quantity: l.quantity.get(),
            unit_price: l.unit_price.to_string(),
            total: l.subtotal.to_string(),
        })
        .collect();
    let t = &order.totals;
    let context = context! {
        order_number => &order.order_number,
        awaiting_payment => awaits_payment(order),
        name => name,
        lines => lines,
        subtotal => t.subtotal.to_string(),
        discount => (!t.discount.is_zero()).then(|| t.discount.to_string()),
        shipping => t.shipping.to_string(),
        shipping_method => order.shipping_info.as_ref().map(|s| s.name.to_string()),
        tax => t.tax.to_string(),
        total => t.total.to_string(),
        shipping_address => order.shipping_address.as_ref().map(label),
        billing_address => order.billing_address.as_ref().map(label),
        claim_link => claim_link,
    };
    render(
        "confirmation",
        to,
        format!("Your order {}", order.order_number),
        &context,
    )
    .map(Some)
}

/// Who the customer is called in a greeting: the guest's name, or the billing first name.
fn greeting(order: &OrderSnapshot) -> Option<String> {
    order
        .guest
        .as_ref()
        .map(|g| g.name.to_string())
        .or_else(|| {
            order
                .billing_address
                .as_ref()
                .map(|a| a.first_name.to_string())
        })
}

/// An email from the template pair `<template>.{html,txt}`. A template that does not render
/// is a permanent failure (it will not render better next time).
fn render(
    template: &str,
    to: String,
    subject: String,
    context: &minijinja::Value,
) -> Result<OutgoingEmail, DeliveryError> {
    let render = |name: String| {
        templates()
            .get_template(&name)
            .and_then(|t| t.render(context))
            .map_err(|e| DeliveryError::Permanent(format!("template {name}: {e}")))
    };
    Ok(OutgoingEmail {
        to,
        subject,
        html: render(format!("{template}.html"))?,
        text: render(format!("{template}.txt"))?,
    })
}

/// A line of a cancelled order or of a shipment: what, and how many.
#[derive(Serialize)]
struct Units {
    name: String,
    sku: String,
    quantity: u32,
}

/// The news that the order was cancelled (by a merchant, by the customer, or expired
/// unpaid), saying what money goes back; `None` when the order has no email address.
pub fn cancellation(order: &OrderSnapshot) -> Result<Option<OutgoingEmail>, DeliveryError> {
    let Some(to) = order.customer_email.as_ref().map(ToString::to_string) else {
        return Ok(None);
    };
    let held = checkout_domain::model::payment::secured(&order.payments, order.currency);
    let lines: Vec<Units> = order
        .line_items
        .iter()
        .map(|l| Units {
            name: l.name.to_string(),
            sku: l.sku.to_string(),
            quantity: l.quantity.get(),
        })
        .collect();
    let context = context! {
        order_number => &order.order_number,
        name => greeting(order),
        returned => (!held.is_zero()).then(|| held.to_string()),
        lines => lines,
    };
    let subject = format!("Your order {} has been cancelled", order.order_number);
    render("cancellation", to, subject, &context).map(Some)
}

/// The news that `amount` of the order's money was given back; `None` when the order has no
/// email address.
pub fn refund(
    order: &OrderSnapshot,
    amount: Money,
) -> Result<Option<OutgoingEmail>, DeliveryError> {
    let Some(to) = order.customer_email.as_ref().map(ToString::to_string) else {
        return Ok(None);
    };
    let in_all = order.refunded();
    let context = context! {
        order_number => &order.order_number,
        name => greeting(order),
        amount => amount.to_string(),
        refunded_in_all => (in_all != amount && !in_all.is_zero()).then(|| in_all.to_string()),
        total => order.totals.total.to_string(),
    };
    let subject = format!("Your refund for order {}", order.order_number);
    render("refund", to, subject, &context).map(Some)
}

/// The news that a shipment left: its carrier, tracking number (and link, if the merchant
/// gave one) and lines. `fulfillment_id` names it (the order's latest when `None`). `None`
/// when the order has no email address.
pub fn shipment(
    order: &OrderSnapshot,
    fulfillment_id: Option<&str>,
) -> Result<Option<OutgoingEmail>, DeliveryError> {
    let Some(to) = order.customer_email.as_ref().map(ToString::to_string) else {
        return Ok(None);
    };
    let fulfillment = match fulfillment_id {
        Some(id) => order.fulfillments.iter().find(|f| f.id == id),
        None => order.fulfillments.last(),
    };
    let Some(fulfillment) = fulfillment else {
        return Err(DeliveryError::Permanent(format!(
            "order {} has no shipment {}",
            order.order_number,
            fulfillment_id.unwrap_or("at all")
        )));
    };
    let lines: Vec<Units> = fulfillment
        .line_items
        .iter()
        .filter_map(|shipped| {
            let line = order
                .line_items
                .iter()
                .find(|l| l.id == shipped.line_item_id)?;
            Some(Units {
                name: line.name.to_string(),
                sku: line.sku.to_string(),
                quantity: shipped.quantity,
            })
        })
        .collect();
    let context = context! {
        order_number => &order.order_number,
        name => greeting(order),
        complete => order.shipment_state != ShipmentState::Partial,
        carrier => &fulfillment.carrier,
        tracking_number => &fulfillment.tracking_number,
        tracking_url => &fulfillment.tracking_url,
        lines => lines,
        shipping_address => order.shipping_address.as_ref().map(label),
    };
    let subject = format!("Your order {} is on its way", order.order_number);
    render("shipment", to, subject, &context).map(Some)
}
