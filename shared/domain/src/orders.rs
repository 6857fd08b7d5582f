//! Reading orders: the owner's, a guest's by email and number, and the guest claim.

use serde::Deserialize;

use crate::error::{Error, FieldErrors};
use crate::identity::Caller;
use crate::order::Order;
use crate::order_number::OrderNumber;
use crate::ports::{decode_cursor, encode_cursor, OrderPage};
use crate::service::Storefront;
use crate::values::Email;

/// Orders per page unless the client asks for fewer (or more, up to `MAX_PAGE`).
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LookupInput {
    pub email: String,
    pub order_number: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimInput {
    pub email: String,
    /// The token of the claim link in a guest order's confirmation email.
    pub token: String,
}

/// How often a claim re-reads the email's guest orders when some changed (a payment landed)
/// between its read and its write.
const CLAIM_ROUNDS: usize = 4;

impl Storefront {
    /// Attaches every guest order placed with `email` to the signed-in caller, proven by a
    /// claim link's token sent to that email (unused, unexpired); the email then counts as
    /// registered. Returns the order numbers claimed.
    pub async fn claim(&self, caller: &Caller, input: &ClaimInput) -> Result<Vec<String>, Error> {
        let customer = caller.customer.as_ref().ok_or(Error::Unauthorized)?;
        let mut errors = FieldErrors::new();
        let email = errors.check("/email", Email::parse(&input.email));
        let token = errors.check(
            "/token",
            crate::values::SessionToken::from_header(&input.token)
                .ok_or("must be 1–256 characters"),
        );
        let (email, token) = errors.finish(email.zip(token))?;
        // The proof is spent first: a wrong, expired, used or other mailbox's token moves
        // nothing.
        if !self
            .store()
            .redeem_claim_ticket(&token.hash(), &email, customer, self.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        let mut claimed = Vec::new();
        for _ in 0..CLAIM_ROUNDS {
            let orders: Vec<Order> = self
                .store()
                .guest_orders(&email)
                .await?
                .into_iter()
                .filter(Order::is_guest)
                .collect();
            if orders.is_empty() {
                break;
            }
            let moved = self
                .store()
                .claim_guest_orders(customer, &email, &orders)
                .await?
                .ok_or(Error::EmailAlreadyRegistered)?;
            claimed.extend(moved.iter().map(ToString::to_string));
            if moved.len() == orders.len() {
                break;
            }
        }
        Ok(claimed)
    }

    /// The caller's order; anyone else's is `NotFound`.
    pub async fn order(&self, caller: &Caller, number: &str) -> Result<Order, Error> {
        let number = OrderNumber::parse(number).map_err(|_| Error::NotFound)?;
        match self.store().order(&number).await? {
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
        let limit = match limit {
            None => Some(DEFAULT_PAGE),
            Some(raw) => errors.check(
                "/limit",
                raw.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or(format!("must be between 1 and {MAX_PAGE}")),
            ),
        };
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
            .store()
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
        match self.store().order(&number).await? {
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
