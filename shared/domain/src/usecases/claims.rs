//! A signed-in customer claims the guest orders of an email they proved they own.

use serde::Deserialize;

use crate::model::error::{Error, FieldErrors};
use crate::model::identity::Caller;
use crate::model::order::Order;
use crate::model::values::Email;
use crate::ports::clock::Clock;
use crate::ports::orders::OrderStore;

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

/// Claiming guest orders, over the order store.
pub struct Claims<'a> {
    pub(crate) orders: &'a dyn OrderStore,
    pub(crate) clock: &'a dyn Clock,
}

impl Claims<'_> {
    /// Attaches every guest order placed with `email` to the signed-in caller, proven by a
    /// claim link's token sent to that email (unused, unexpired); the email then counts as
    /// registered. Returns the order numbers claimed.
    pub async fn claim(&self, caller: &Caller, input: &ClaimInput) -> Result<Vec<String>, Error> {
        let customer = caller.customer.as_ref().ok_or(Error::Unauthorized)?;
        let mut errors = FieldErrors::new();
        let email = errors.check("/email", Email::parse(&input.email));
        let token = errors.check(
            "/token",
            crate::model::values::SessionToken::from_client(&input.token)
                .ok_or("must be 1–256 characters"),
        );
        let (email, token) = errors.finish(email.zip(token))?;
        // The proof is spent first: a wrong, expired, used or other mailbox's token moves
        // nothing.
        if !self
            .orders
            .redeem_claim_ticket(&token.hash(), &email, customer, self.clock.now())
            .await?
        {
            return Err(Error::NotFound);
        }
        let mut claimed = Vec::new();
        for _ in 0..CLAIM_ROUNDS {
            let orders: Vec<Order> = self
                .orders
                .guest_orders(&email)
                .await?
                .into_iter()
                .filter(Order::is_guest)
                .collect();
            if orders.is_empty() {
                break;
            }
            // Each claim goes into its order's history (at the revision it makes).
            let now = self.clock.now();
            let orders: Vec<_> = orders
                .into_iter()
                .map(|mut order| {
                    order.change = Some(crate::model::fulfillment::HistoryEntry {
                        at: now,
                        actor: customer.to_string(),
                        action: "claimed".into(),
                        detail: "the guest's order was added to this customer's account".into(),
                        revision: order.revision + 1,
                    });
                    order
                })
                .collect();
            let moved = self
                .orders
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
}
