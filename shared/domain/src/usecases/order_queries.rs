//! Reading orders: the owner's, a guest's by email and number, and the guest claim.

use serde::Deserialize;

use crate::model::error::{Error, FieldErrors};
use crate::model::identity::Caller;
use crate::model::order::Order;
use crate::model::order_number::OrderNumber;
use crate::model::values::Email;
use crate::ports::orders::OrderStore;
use crate::ports::orders::{decode_cursor, encode_cursor, OrderPage};

/// Orders per page unless the client asks for fewer (or more, up to `MAX_PAGE`).
pub const DEFAULT_PAGE: usize = 20;

pub const MAX_PAGE: usize = 100;

/// A page's size as the client asked for it (`DEFAULT_PAGE` when it did not), checked.
pub(crate) fn page_limit(errors: &mut FieldErrors, raw: Option<&str>) -> Option<usize> {
    match raw {
        None => Some(DEFAULT_PAGE),
        Some(raw) => errors.check(
            "/limit",
            raw.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or(format!("must be between 1 and {MAX_PAGE}")),
        ),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LookupInput {
    pub email: String,
    pub order_number: String,
}

/// Reading orders, over the order store.
pub struct OrderQueries<'a> {
    pub(crate) orders: &'a dyn OrderStore,
}

impl OrderQueries<'_> {
    /// The caller's order; anyone else's is `NotFound`.
    pub async fn order(&self, caller: &Caller, number: &str) -> Result<Order, Error> {
        let number = OrderNumber::parse(number).map_err(|_| Error::NotFound)?;
        match self.orders.order(&number).await? {
            Some(order) if caller.owns(&order.owner) => Ok(order),
            _ => Err(Error::NotFound),
        }
    }

    /// A signed-in customer's orders, newest first.
    pub async fn orders(
        &self,
        caller: &Caller,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> Result<OrderPage, Error> {
        let customer = caller.customer.as_ref().ok_or(Error::Unauthorized)?;
        let mut errors = FieldErrors::new();
        let limit = page_limit(&mut errors, limit);
        let after = match cursor {
            None => Some(None),
            Some(raw) => errors
                .check(
                    "/cursor",
                    decode_cursor(raw).ok_or("is not a cursor from this API"),
                )
                .map(Some),
        };
        let (limit, after) = errors.finish(limit.zip(after))?;
        let mut page = self
            .orders
            .customer_orders(customer, after.as_deref(), limit)
            .await?;
        page.next = page.next.as_deref().map(encode_cursor);
        Ok(page)
    }

    /// A guest's order by email and number; any mismatch is `NotFound`.
    pub async fn lookup(&self, input: &LookupInput) -> Result<Order, Error> {
        let mut errors = FieldErrors::new();
        let email = errors.check("/email", Email::parse(&input.email));
        let number = errors.check("/orderNumber", OrderNumber::parse(&input.order_number));
        let (email, number) = errors.finish(email.zip(number))?;
        match self.orders.order(&number).await? {
            Some(order)
                if order.is_guest()
                    && order.customer_email.as_ref().map(Email::normalized)
                        == Some(email.normalized()) =>
            {
                Ok(order)
            }
            _ => Err(Error::NotFound),
        }
    }
}
