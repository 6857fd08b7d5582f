//! Who is calling. Built only from the API Gateway authorizer context (or, locally, a token
//! the dev server verified) and the guest session token — never from anything else.

use crate::model::cart::CartOwner;
use crate::model::error::Error;
use crate::model::values::{CustomerId, SessionToken};

#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The signed-in customer (`sub`), if any.
    pub customer: Option<CustomerId>,
    /// Whether the token grants the `admin` scope.
    pub admin: bool,
    /// Every scope the token grants.
    pub scopes: Vec<String>,
    /// The guest session token from `X-Session-Id`, if sent.
    pub session: Option<SessionToken>,
}

impl Caller {
    pub fn customer(id: CustomerId) -> Self {
        Caller {
            customer: Some(id),
            ..Caller::default()
        }
    }

    pub fn guest(session: SessionToken) -> Self {
        Caller {
            session: Some(session),
            ..Caller::default()
        }
    }

    /// The system itself (seeding, scheduled jobs): an administrator with no customer.
    pub fn system() -> Self {
        Caller {
            admin: true,
            ..Caller::default()
        }
    }

    pub fn require_admin(&self) -> Result<(), Error> {
        match (&self.customer, self.admin) {
            (_, true) => Ok(()),
            (Some(_), false) => Err(Error::Forbidden),
            (None, false) => Err(Error::Unauthorized),
        }
    }

    /// Admits callers whose token grants `scope` or `admin`: 401 without a token, 403 without
    /// the scope.
    pub fn require_scope(&self, scope: &str) -> Result<(), Error> {
        match (
            &self.customer,
            self.admin || self.scopes.iter().any(|s| s == scope),
        ) {
            (_, true) => Ok(()),
            (Some(_), false) => Err(Error::Forbidden),
            (None, false) => Err(Error::Unauthorized),
        }
    }

    /// Whether this caller may see and change what `owner` owns. Anyone else gets a 404,
    /// indistinguishable from a missing cart.
    pub fn owns(&self, owner: &CartOwner) -> bool {
        match owner {
            CartOwner::Customer { customer_id } => self.customer.as_ref() == Some(customer_id),
            CartOwner::Guest { session_hash } => self
                .session
                .as_ref()
                .is_some_and(|token| &token.hash() == session_hash),
        }
    }
}
