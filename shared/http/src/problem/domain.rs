//! Domain failures as problem+json (RFC 9457): the one place that decides a refusal's
//! status, code, title and recovery hint.

#[cfg(test)]
mod tests;

use serde_json::{json, Map, Value};

use checkout_domain::model::error::PriceChange;
use checkout_domain::Error;

use super::Problem;

/// A price change's members: the totals before and after, and the lines that moved.
fn describe(change: &PriceChange, extensions: &mut Map<String, Value>) {
    extensions.insert("previous".into(), json!(change.previous));
    extensions.insert("current".into(), json!(change.current));
    extensions.insert("lines".into(), json!(change.lines));
}

/// The single mapping from a domain failure to what the client sees. Internal details
/// (storage messages, internal errors) never reach the body.
pub fn problem(error: &Error) -> Problem {
    let mut extensions = Map::new();
    let mut retry_after = None;
    let (status, code, title, recovery, detail): (u16, &str, &str, Option<&str>, String) =
        match error {
            Error::Invalid(errors) => {
                extensions.insert("errors".into(), json!(errors));
                let detail = match errors.as_slice() {
                    [one] if one.pointer.is_empty() => one.message.clone(),
                    [one] => format!("{}: {}", one.pointer, one.message),
                    many => format!("{} fields are invalid.", many.len()),
                };
                (
                    400,
                    "InvalidInput",
                    "The request is invalid",
                    Some("fix_request"),
                    detail,
                )
            }
            Error::Unauthorized => (
                401,
                "Unauthorized",
                "Authentication required",
                Some("sign_in"),
                "Sign in to continue.".into(),
            ),
            Error::Forbidden => (
                403,
                "Forbidden",
                "Not allowed",
                None,
                "Your account may not do this.".into(),
            ),
            Error::NotFound => (
                404,
                "NotFound",
                "Not found",
                None,
                "No such resource.".into(),
            ),
            Error::ConcurrentModification {
                expected,
                current_version,
            } => {
                extensions.insert("currentVersion".into(), json!(current_version));
                (
                    409,
                    "ConcurrentModification",
                    "The cart changed in the meantime",
                    Some("refetch_cart"),
                    format!(
                        "The request was for version {expected}, the cart is at version {current_version}."
                    ),
                )
            }
            Error::CartAlreadyOrdered { order_number } => {
                extensions.insert("orderNumber".into(), json!(order_number));
                (
                    409,
                    "CartAlreadyOrdered",
                    "The cart has already been ordered",
                    Some("show_order"),
                    format!("This cart became order {order_number}."),
                )
            }
            Error::OutOfStock(items) => {
                extensions.insert("items".into(), json!(items));
                let detail = items
                    .iter()
                    .map(|i| format!("Only {} of '{}' is left.", i.available, i.name))
                    .collect::<Vec<_>>()
                    .join(" ");
                (
                    409,
                    "OutOfStock",
                    "Some items are out of stock",
                    Some("adjust_quantities"),
                    detail,
                )
            }
            Error::DiscountCodeNonApplicable {
                code,
                reason,
                change,
            } => {
                if let Some(change) = change {
                    describe(change, &mut extensions);
                }
                // `code` is the problem's own member, so the discount code travels as `discountCode`.
                extensions.insert("discountCode".into(), json!(code));
                (
                    409,
                    "DiscountCodeNonApplicable",
                    "The discount code cannot be applied",
                    Some("remove_discount"),
                    format!("The code '{code}' {reason}."),
                )
            }
            Error::BelowMinimumOrderValue { minimum, total } => {
                extensions.insert("minimum".into(), json!(minimum));
                extensions.insert("total".into(), json!(total));
                (
                    422,
                    "BelowMinimumOrderValue",
                    "The order value is too low",
                    Some("add_items"),
                    format!("Orders start at {minimum}; this cart comes to {total}."),
                )
            }
            Error::CartNotReady { missing } => {
                extensions.insert("missing".into(), json!(missing));
                (
                    422,
                    "CartNotReady",
                    "The cart is not ready to order",
                    Some("complete_cart"),
                    format!("Still missing: {}.", missing.join(", ")),
                )
            }
            Error::EmptyCart => (
                422,
                "EmptyCart",
                "The cart is empty",
                Some("add_items"),
                "Add something to the cart first.".into(),
            ),
            Error::PaymentRequired { total } => {
                extensions.insert("total".into(), json!(total));
                (
                    402,
                    "PaymentRequired",
                    "Payment required",
                    Some("pay"),
                    format!("No payment covers the total of {total} yet."),
                )
            }
            Error::PaymentPending => {
                retry_after = Some(2);
                (
                    409,
                    "PaymentPending",
                    "The payment is still being processed",
                    Some("await_payment"),
                    "The payment provider has not confirmed the payment yet.".into(),
                )
            }
            Error::PaymentAmountMismatch { authorized, total } => {
                extensions.insert("authorized".into(), json!(authorized));
                extensions.insert("total".into(), json!(total));
                (
                    409,
                    "PaymentAmountMismatch",
                    "The payment does not match the total",
                    Some("reauthorize_payment"),
                    format!("Payments secure {authorized} but the cart costs {total}."),
                )
            }
            Error::StockChanged { sku, current_stock } => {
                extensions.insert("sku".into(), json!(sku));
                extensions.insert("currentStock".into(), json!(current_stock));
                (
                    409,
                    "StockChanged",
                    "The stock changed in the meantime",
                    Some("refetch"),
                    format!(
                        "The stock of {sku} changed while it was being set; it is {current_stock} now. Send the new stock again, or a stockDelta."
                    ),
                )
            }
            Error::StockOutOfRange {
                sku,
                current_stock,
                stock_delta,
            } => {
                extensions.insert("sku".into(), json!(sku));
                extensions.insert("currentStock".into(), json!(current_stock));
                extensions.insert("stockDelta".into(), json!(stock_delta));
                (
                    409,
                    "StockOutOfRange",
                    "The stock cannot change by that much",
                    Some("refetch"),
                    format!(
                        "The stock of {sku} is {current_stock}; adding {stock_delta} would take it below 0 (or above {}).",
                        u32::MAX
                    ),
                )
            }
            Error::OrderNumberTaken { order_number } => {
                extensions.insert("orderNumber".into(), json!(order_number));
                (
                    409,
                    "OrderNumberTaken",
                    "The order number is taken",
                    Some("choose_another_number"),
                    format!("Order number {order_number} is already in use."),
                )
            }
            Error::TooManyPayments { limit } => {
                extensions.insert("limit".into(), json!(limit));
                (
                    409,
                    "TooManyPayments",
                    "Too many payments",
                    Some("contact_support"),
                    format!("A cart or order takes at most {limit} payments."),
                )
            }
            Error::TooManyOpenOrders { limit } => {
                extensions.insert("limit".into(), json!(limit));
                (
                    409,
                    "TooManyOpenOrders",
                    "Too many unpaid orders",
                    Some("pay_or_cancel"),
                    format!(
                        "You hold {limit} unpaid saved orders, the most at once; pay one or let it expire first."
                    ),
                )
            }
            Error::AlreadyReserved { sku } => {
                extensions.insert("sku".into(), json!(sku));
                (
                    409,
                    "AlreadyReserved",
                    "Reserved for another of your carts",
                    Some("pay_or_cancel"),
                    format!(
                        "You hold '{sku}' for another cart until its payment ends; pay for it or let the hold end first."
                    ),
                )
            }
            Error::OrderAlreadyShipped => (
                409,
                "OrderAlreadyShipped",
                "The order has shipped",
                Some("refund"),
                "A shipment left already: refund the order (or its lines) instead.".into(),
            ),
            Error::RefundExceedsCaptured { refundable } => {
                extensions.insert("refundable".into(), json!(refundable));
                (
                    409,
                    "RefundExceedsCaptured",
                    "More than the order holds",
                    Some("fix_request"),
                    format!("At most {refundable} can still be refunded."),
                )
            }
            Error::OrderNotFulfillable { why } => (
                409,
                "OrderNotFulfillable",
                "The order cannot be fulfilled",
                None,
                format!("It cannot ship: {why}."),
            ),
            Error::CancellationNotAllowed { why } => (
                409,
                "CancellationNotAllowed",
                "The order can no longer be cancelled",
                Some("contact_support"),
                format!("It cannot be cancelled here: {why}."),
            ),
            Error::NothingOwed { order_number } => {
                extensions.insert("orderNumber".into(), json!(order_number));
                (
                    409,
                    "NothingOwed",
                    "The order owes nothing",
                    Some("show_order"),
                    format!("Order {order_number} is not awaiting payment."),
                )
            }
            Error::PriceChanged(change) => {
                describe(change, &mut extensions);
                (
                    409,
                    "PriceChanged",
                    "Prices changed",
                    Some("confirm_new_total"),
                    format!(
                        "The total changed from {} to {}; confirm the new total to order.",
                        change.previous.total, change.current.total
                    ),
                )
            }
            Error::EmailAlreadyRegistered => (
                409,
                "EmailAlreadyRegistered",
                "Email already registered",
                Some("sign_in"),
                "Email already registered. Please login to continue.".into(),
            ),
            Error::IdempotencyKeyReused => (
                422,
                "IdempotencyKeyReused",
                "The idempotency key was used for another request",
                Some("use_new_key"),
                "This Idempotency-Key was already used with a different request.".into(),
            ),
            Error::RequestInProgress {
                retry_after: seconds,
            } => {
                retry_after = Some(*seconds);
                (
                    409,
                    "RequestInProgress",
                    "The same request is in progress",
                    Some("retry_later"),
                    format!("A request with this Idempotency-Key is still running; retry in {seconds} s."),
                )
            }
            Error::InsufficientPayment { .. }
            | Error::PaymentDeclined { .. }
            | Error::CommandFailed { .. }
            | Error::GiftCardChanged { .. }
            | Error::TooMany { .. } => return super::programmatic::problem(error),
            // Contention outlasted the retries (DynamoDB's transaction conflicts or
            // throttling, as in a sale): nothing was written; the client tries again shortly.
            Error::Store(e) if e.contended => {
                retry_after = Some(1);
                (
                    503,
                    "Contended",
                    "Too many orders at once",
                    Some("retry_later"),
                    "Many customers are ordering the same items right now; please try again in a moment."
                        .into(),
                )
            }
            Error::Store(_) | Error::Internal(_) => {
                retry_after = Some(1);
                (
                    503,
                    "ServiceUnavailable",
                    "The service is temporarily unavailable",
                    Some("retry_later"),
                    "Please try again in a moment.".into(),
                )
            }
        };
    Problem {
        extensions,
        retry_after,
        ..Problem::simple(status, code, title, recovery, detail)
    }
}
