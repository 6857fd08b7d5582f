//! Stock reserved when a payment starts, for the SKUs that ask for it (`reserveOnPayment`):
//! the cart's units are taken off the shelf and held for the cart and its payment until the
//! hold ends; the commit turns them into the sale, anything else gives them back.
//!
//! Every hold has an owner and a limit (rule 13): one reservation per cart, one hold of a SKU
//! per customer or guest session (its item is keyed by both, so a second cart of the same
//! owner cannot hold the SKU too), a product's `maxPerOrder` on the cart's quantity, and an
//! end (`RESERVATION_SECONDS`) after which the hold counts against nobody.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::cart::{Cart, CartOwner, LineItem};
use crate::model::values::{CartId, Sku};

/// How long a reservation holds its units (`RESERVATION_SECONDS`).
pub const DEFAULT_RESERVATION: Duration = Duration::seconds(600);

/// A cart's one reservation: the units of its reserving SKUs, held for the payment that was
/// started with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartReservation {
    /// The payment it was made for (a new id when the payment is not recorded yet).
    pub payment_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub holds: Vec<Hold>,
}

/// One SKU's units held for a cart, and the shards they were taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub sku: Sku,
    pub units: u32,
    /// `(shard, units)`, summing to `units`: where they go back to.
    pub takes: Vec<(u32, u32)>,
}

/// A hold as stored beside the stock: what releasing it needs without reading its cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHold {
    pub cart_id: CartId,
    pub owner: String,
    pub payment_id: String,
    pub until: OffsetDateTime,
    pub hold: Hold,
}

impl CartReservation {
    /// The hold has ended: its units count against nobody and may go to anyone.
    pub fn ended(&self, now: OffsetDateTime) -> bool {
        self.until <= now
    }

    /// Every hold is of a line of the cart with exactly its quantity: what the commit may
    /// turn into the sale as it is.
    pub fn matches(&self, lines: &[LineItem]) -> bool {
        self.holds.iter().all(|h| {
            lines
                .iter()
                .any(|l| l.sku == h.sku && l.quantity.get() == h.units)
        })
    }

    /// The units held of `sku`, if any.
    pub fn held(&self, sku: &Sku) -> Option<u32> {
        self.holds.iter().find(|h| &h.sku == sku).map(|h| h.units)
    }

    /// Each hold with its cart and owner, as stored beside the stock.
    pub fn stored(&self, cart: &CartId, owner: &CartOwner) -> Vec<StoredHold> {
        self.holds
            .iter()
            .map(|hold| StoredHold {
                cart_id: cart.clone(),
                owner: owner_key(owner),
                payment_id: self.payment_id.clone(),
                until: self.until,
                hold: hold.clone(),
            })
            .collect()
    }
}

/// No payment of the cart can still pay for its reservation: the payment it was made for is
/// recorded, and every payment failed, was cancelled or given back (none pending, none holding
/// money). Its units go back at once.
pub fn unpayable(cart: &Cart) -> bool {
    cart.reservation.as_ref().is_some_and(|r| {
        cart.payments.iter().any(|p| p.id == r.payment_id)
            && cart
                .payments
                .iter()
                .all(|p| !p.is_pending() && p.secured() == 0)
    })
}

/// Whose holds these are, as the hold items' keys spell it: one hold of a SKU per owner.
pub fn owner_key(owner: &CartOwner) -> String {
    match owner {
        CartOwner::Customer { customer_id } => format!("customer:{customer_id}"),
        CartOwner::Guest { session_hash } => format!("session:{session_hash}"),
    }
}

/// The cart's reservation, when it no longer fits the cart's lines or its hold ended: to be
/// given back.
pub fn stale(cart: &Cart, now: OffsetDateTime) -> Option<&CartReservation> {
    cart.reservation
        .as_ref()
        .filter(|r| r.ended(now) || !r.matches(&cart.line_items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::values::CustomerId;

    fn reservation(units: u32) -> CartReservation {
        CartReservation {
            payment_id: "p1".into(),
            until: OffsetDateTime::UNIX_EPOCH + Duration::seconds(600),
            holds: vec![Hold {
                sku: Sku::parse("SNEAKER").unwrap(),
                units,
                takes: vec![(3, units)],
            }],
        }
    }

    #[test]
    fn a_hold_ends_at_its_end_not_before() {
        let r = reservation(1);
        assert!(!r.ended(OffsetDateTime::UNIX_EPOCH + Duration::seconds(599)));
        assert!(r.ended(OffsetDateTime::UNIX_EPOCH + Duration::seconds(600)));
    }

    #[test]
    fn owners_are_told_apart_by_kind() {
        let customer = CartOwner::Customer {
            customer_id: CustomerId::parse("c-1").unwrap(),
        };
        assert_eq!(owner_key(&customer), "customer:c-1");
        assert_eq!(
            reservation(2).held(&Sku::parse("SNEAKER").unwrap()),
            Some(2)
        );
        assert_eq!(reservation(2).held(&Sku::parse("OTHER").unwrap()), None);
    }
}
