//! The error taxonomy of the public contract, and its one mapping to problem+json (RFC 9457).
//! Every failure a client can see is a variant here; `Error::problem` is the only place that
//! decides its status, code, title and recovery hint.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::money::Money;

/// One invalid field, located by a JSON pointer into the request body (RFC 6901).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// Places an error found inside a nested value under that value's pointer.
    pub fn under(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

/// Collects every field error of a request so the client hears about all of them at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of a successful parse, or records its error under `pointer`.
    pub fn check<T>(&mut self, pointer: &str, parsed: Result<T, impl Into<String>>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.0.push(FieldError::new(pointer, message));
                None
            }
        }
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded and the value was built.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Error> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if self.0.is_empty() => {
                Err(Error::Invalid(vec![FieldError::new("", "invalid request")]))
            }
            _ => Err(Error::Invalid(self.0)),
        }
    }

    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockShortage {
    pub sku: String,
    pub name: String,
    pub requested: u32,
    pub available: u32,
}

/// What changed between the cart a customer saw and what ordering it would cost now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceChange {
    pub previous: crate::pricing::Totals,
    pub current: crate::pricing::Totals,
    pub lines: Vec<ChangedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedLine {
    pub sku: String,
    pub previous_unit_price: Money,
    pub current_unit_price: Money,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_tax_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_tax_rate: Option<u32>,
}

impl PriceChange {
    fn describe(&self, extensions: &mut Map<String, Value>) {
        extensions.insert("previous".into(), json!(self.previous));
        extensions.insert("current".into(), json!(self.current));
        extensions.insert("lines".into(), json!(self.lines));
    }
}

/// Why a storage call failed for reasons that are not the client's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage unavailable: {0}")]
pub struct StoreError(pub String);

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("no route matches")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("cart version {expected} is stale; current is {current_version}")]
    ConcurrentModification { expected: u64, current_version: u64 },
    #[error("cart already ordered as {order_number}")]
    CartAlreadyOrdered { order_number: String },
    #[error("only {} of the requested items are available", .0.len())]
    OutOfStock(Vec<StockShortage>),
    #[error("discount code {code} cannot be applied: {reason}")]
    DiscountCodeNonApplicable {
        code: String,
        reason: String,
        /// At commit: what the cart comes to without the code.
        change: Option<Box<PriceChange>>,
    },
    #[error("the cart total {total} is below the minimum order value {minimum}")]
    BelowMinimumOrderValue { minimum: Money, total: Money },
    #[error("the cart is missing {missing:?}")]
    CartNotReady { missing: Vec<&'static str> },
    #[error("the cart is empty")]
    EmptyCart,
    #[error("payment required")]
    PaymentRequired { total: Money },
    #[error("payment pending")]
    PaymentPending,
    #[error("payments secure {authorized}, the cart costs {total}")]
    PaymentAmountMismatch { authorized: Money, total: Money },
    #[error("the stock of {sku} changed; it is {current_stock} now")]
    StockChanged { sku: String, current_stock: u32 },
    #[error("stock {current_stock} of {sku} plus {stock_delta} is out of range")]
    StockOutOfRange {
        sku: String,
        current_stock: u32,
        stock_delta: i64,
    },
    #[error("order number taken")]
    OrderNumberTaken { order_number: String },
    #[error("at most {limit} payments per cart or order")]
    TooManyPayments { limit: usize },
    #[error("order {order_number} owes nothing")]
    NothingOwed { order_number: String },
    #[error("prices changed")]
    PriceChanged(Box<PriceChange>),
    #[error("email already registered")]
    EmailAlreadyRegistered,
    #[error("webhook signature rejected: {0}")]
    InvalidSignature(String),
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is in progress")]
    RequestInProgress { retry_after: u64 },
    #[error("storage unavailable")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// A problem+json document, ready to serialize.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub recovery: Option<&'static str>,
    pub extensions: Map<String, Value>,
    /// Seconds the client should wait before retrying (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!("about:blank"));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status));
        body.insert("code".into(), json!(self.code));
        body.insert("detail".into(), json!(self.detail));
        if let Some(recovery) = self.recovery {
            body.insert("recovery".into(), json!(recovery));
        }
        for (key, value) in &self.extensions {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }
}

impl Error {
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(pointer, message)])
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Error::Internal(context.to_string())
    }

    /// A commit refusal that no fix can mend without changing the cart's total (stock,
    /// price, tax, a discount, the minimum order value): a payment made for that total can
    /// no longer fit.
    pub fn changes_the_total(&self) -> bool {
        matches!(
            self,
            Error::OutOfStock(_)
                | Error::PriceChanged(_)
                | Error::DiscountCodeNonApplicable { .. }
                | Error::BelowMinimumOrderValue { .. }
        )
    }

    /// The single mapping from domain failure to what the client sees. Internal details
    /// (storage messages, internal errors) never reach the body.
    pub fn problem(&self) -> Problem {
        let mut extensions = Map::new();
        let mut retry_after = None;
        let (status, code, title, recovery, detail): (u16, &str, &str, Option<&str>, String) =
            match self {
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
                Error::PayloadTooLarge { limit } => (
                    413,
                    "PayloadTooLarge",
                    "The request body is too large",
                    Some("fix_request"),
                    format!("Request bodies are limited to {limit} bytes."),
                ),
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
                Error::RouteNotFound => (
                    404,
                    "NotFound",
                    "Not found",
                    None,
                    "No route matches this path; see the API's OpenAPI document.".into(),
                ),
                Error::MethodNotAllowed => (
                    405,
                    "MethodNotAllowed",
                    "Method not allowed",
                    Some("fix_request"),
                    "This resource does not support that method.".into(),
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
                        change.describe(&mut extensions);
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
                    change.describe(&mut extensions);
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
                Error::InvalidSignature(reason) => (
                    400,
                    "InvalidSignature",
                    "The webhook signature is not valid",
                    Some("fix_request"),
                    format!("The webhook was not accepted: {reason}."),
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
            status,
            code,
            title,
            detail,
            recovery,
            extensions,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_lists_every_pointer() {
        let problem = Error::Invalid(vec![
            FieldError::new("/currency", "unsupported currency 'XXX'"),
            FieldError::new("/country", "must be an ISO 3166-1 alpha-2 code"),
        ])
        .problem();
        assert_eq!(problem.status, 400);
        let body = problem.to_json();
        assert_eq!(body["code"], "InvalidInput");
        assert_eq!(body["recovery"], "fix_request");
        assert_eq!(body["errors"][1]["pointer"], "/country");
    }

    #[test]
    fn storage_failures_leak_nothing() {
        let body = Error::Store(StoreError("table arn:aws:... throttled".into()))
            .problem()
            .to_json();
        assert!(!body.to_string().contains("arn:aws"));
        assert_eq!(body["status"], 503);
    }

    #[test]
    fn stock_refusals_carry_the_current_stock() {
        let changed = Error::StockChanged {
            sku: "MUG".into(),
            current_stock: 7,
        }
        .problem();
        assert_eq!((changed.status, changed.code), (409, "StockChanged"));
        assert_eq!(changed.to_json()["currentStock"], 7);
        assert_eq!(changed.recovery, Some("refetch"));
        let range = Error::StockOutOfRange {
            sku: "MUG".into(),
            current_stock: 2,
            stock_delta: -3,
        }
        .problem()
        .to_json();
        assert_eq!(range["code"], "StockOutOfRange");
        assert_eq!(range["stockDelta"], -3);
    }

    #[test]
    fn stale_version_carries_the_current_one() {
        let body = Error::ConcurrentModification {
            expected: 3,
            current_version: 4,
        }
        .problem()
        .to_json();
        assert_eq!(body["currentVersion"], 4);
        assert_eq!(body["recovery"], "refetch_cart");
    }
}
