//! The domain's refusals and failures: every way an operation can fail, typed. How each
//! reaches a client (status, code, title, recovery hint) is decided at the edge, in
//! `checkout_http::problem`.

use serde::Serialize;

use crate::model::money::Money;

use crate::model::field_error::FieldError;

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    pub previous: crate::model::pricing::Totals,
    pub current: crate::model::pricing::Totals,
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

/// Why a storage call failed for reasons that are not the client's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage unavailable: {detail}")]
pub struct StoreError {
    pub detail: String,
    /// The store could not take the write in time: other writes held its items (DynamoDB's
    /// transaction conflicts) or it throttled them. The client is told `Contended`, with
    /// `Retry-After`; nothing was written.
    pub contended: bool,
}

impl StoreError {
    pub fn new(detail: impl Into<String>) -> Self {
        StoreError {
            detail: detail.into(),
            contended: false,
        }
    }

    /// Contention that outlasted the retries.
    pub fn contended(detail: impl Into<String>) -> Self {
        StoreError {
            detail: detail.into(),
            contended: true,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
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
    #[error("at most {limit} unpaid saved orders at once")]
    TooManyOpenOrders { limit: u32 },
    /// The cart's owner holds this SKU for another cart whose hold has not ended.
    #[error("'{sku}' is reserved for another of your carts")]
    AlreadyReserved { sku: String },
    #[error("the order has shipped; refund it instead")]
    OrderAlreadyShipped,
    #[error("refunds may give back at most {refundable}")]
    RefundExceedsCaptured { refundable: Money },
    #[error("the order cannot be fulfilled: {why}")]
    OrderNotFulfillable { why: &'static str },
    #[error("the order can no longer be cancelled: {why}")]
    CancellationNotAllowed { why: &'static str },
    #[error("order {order_number} owes nothing")]
    NothingOwed { order_number: String },
    #[error("prices changed")]
    PriceChanged(Box<PriceChange>),
    #[error("email already registered")]
    EmailAlreadyRegistered,
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is in progress")]
    RequestInProgress { retry_after: u64 },
    #[error("payments cover {covered} of {total}")]
    InsufficientPayment { total: Money, covered: Money },
    #[error("the payment was declined: {reason}")]
    PaymentDeclined { reason: String },
    #[error("command {command} (#{index}) failed: {cause}")]
    CommandFailed {
        command: &'static str,
        index: usize,
        cause: Box<Error>,
    },
    #[error("gift card {code} changed; its balance is {current_balance} now")]
    GiftCardChanged { code: String, current_balance: i64 },
    #[error("at most {limit} {what} per request")]
    TooMany { what: &'static str, limit: usize },
    #[error("storage unavailable")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(pointer, message)])
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Error::Internal(context.to_string())
    }

    /// A failure of the system (storage, an internal error), not a refusal of the request:
    /// retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Store(_) | Error::Internal(_))
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
}

impl FieldErrors {
    pub fn into_vec(self) -> Vec<FieldError> {
        match self.into_result() {
            Ok(()) => Vec::new(),
            Err(crate::model::error::Error::Invalid(errors)) => errors,
            Err(_) => unreachable!("into_result only produces Invalid"),
        }
    }
}
