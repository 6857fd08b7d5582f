//! The order as the outside world sees it: its owner through the API, the confirmation email
//! and the ERP through events, a client replaying a request through the idempotency record.
//! One typed snapshot for all of them; only the proof of ownership is left out.

use serde::{Deserialize, Serialize};

use crate::model::cart::CartOwner;
use crate::model::fulfillment::Fulfillment;
use crate::model::money::Money;
use crate::model::order::{Order, OrderDetails, ProgrammaticTerms};
use crate::model::values::CustomerId;

/// The order's details, and who owns it as the outside world may know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSnapshot {
    #[serde(flatten)]
    pub details: OrderDetails,
    /// Placed by a guest (who may claim it later), not a signed-in customer.
    pub is_guest: bool,
    /// The signed-in customer who owns it; `None` for a guest's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// Money the order's payments took and gave back since. Always written; absent only from
    /// snapshots stored before it existed (events in flight, idempotent replays), which
    /// [`OrderSnapshot::refunded`] derives from the payments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_amount: Option<Money>,
    #[serde(default)]
    pub fulfillments: Vec<Fulfillment>,
}

impl std::ops::Deref for OrderSnapshot {
    type Target = OrderDetails;

    fn deref(&self) -> &OrderDetails {
        &self.details
    }
}

impl std::ops::DerefMut for OrderSnapshot {
    fn deref_mut(&mut self) -> &mut OrderDetails {
        &mut self.details
    }
}

impl OrderSnapshot {
    /// The money given back so far, read from the snapshot or derived from its payments.
    pub fn refunded(&self) -> Money {
        self.refunded_amount.unwrap_or_else(|| {
            crate::model::payment::refunded_amount(&self.payments, self.totals.total)
        })
    }

    /// Whether the confirmation email goes out: always, unless a programmatic order asked
    /// for none (`sendReceipt: false`).
    pub fn wants_receipt(&self) -> bool {
        self.programmatic.as_ref().is_none_or(|t| t.send_receipt)
    }

    /// Whether the ERP hears of the order: always, unless it is a programmatic order that
    /// did not run `send_to_platform`.
    pub fn goes_to_erp(&self) -> bool {
        self.programmatic
            .as_ref()
            .is_none_or(|t| t.send_to_platform)
    }
}

impl Order {
    pub fn snapshot(&self) -> OrderSnapshot {
        let customer_id = match &self.owner {
            CartOwner::Customer { customer_id } => Some(customer_id.clone()),
            CartOwner::Guest { .. } => None,
        };
        let mut details = self.details.clone();
        details.programmatic = details.programmatic.map(|terms| ProgrammaticTerms {
            request_fingerprint: None,
            created_by: None,
            ..terms
        });
        OrderSnapshot {
            details,
            is_guest: customer_id.is_none(),
            customer_id,
            refunded_amount: Some(self.refunded_amount()),
            fulfillments: self.fulfillments.clone(),
        }
    }
}
