//! The order confirmation email, rendered from the order snapshot an event carries. The
//! templates (`templates/confirmation.{html,txt}`) are minijinja; the HTML one escapes every
//! value (auto-escaping by file extension), amounts are preformatted here from integers.

use std::sync::OnceLock;

use minijinja::{context, Environment};
use serde::Serialize;

use checkout_domain::model::address::Address;
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
        env.add_template(
            "confirmation.html",
            include_str!("../templates/confirmation.html"),
        )
        .expect("the HTML template parses");
        env.add_template(
            "confirmation.txt",
            include_str!("../templates/confirmation.txt"),
        )
        .expect("the text template parses");
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
    let name = order
        .guest
        .as_ref()
        .map(|g| g.name.to_string())
        .or_else(|| {
            order
                .billing_address
                .as_ref()
                .map(|a| a.first_name.to_string())
        });
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
    let render = |name: &str| {
        templates()
            .get_template(name)
            .and_then(|t| t.render(&context))
            .map_err(|e| DeliveryError::Permanent(format!("template {name}: {e}")))
    };
    Ok(Some(OutgoingEmail {
        to,
        subject: format!("Your order {}", order.order_number),
        html: render("confirmation.html")?,
        text: render("confirmation.txt")?,
    }))
}
