//! Order events. The order item itself is the outbox: every committed write to an order is
//! one change (the order before, the order after), and [`order_event`] says which event that
//! change is, if any. Consumers get at-least-once delivery and deduplicate by event id.

use serde::{Deserialize, Serialize};

use crate::model::order::{Order, OrderState};
use crate::model::order_snapshot::OrderSnapshot;
use crate::model::payment::PaymentState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    OrderCreated,
    OrderPaid,
    OrderCancelled,
    OrderRefunded,
}

/// What a consumer receives: enough to act without reading the order back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    /// `<order id>:<revision>`: the same change always has the same id, however often it is
    /// delivered.
    pub id: String,
    pub kind: EventKind,
    pub order_id: String,
    pub order_number: String,
    /// The order's revision after the change: per order, consumers can ignore older news.
    pub sequence: u64,
    /// The order after the change, as the email and the ERP read it.
    pub order: OrderSnapshot,
}

impl OrderEvent {
    fn of(kind: EventKind, order: &Order) -> OrderEvent {
        OrderEvent {
            id: format!("{}:{}", order.id, order.revision),
            kind,
            order_id: order.id.clone(),
            order_number: order.order_number.to_string(),
            sequence: order.revision,
            order: order.snapshot(),
        }
    }
}

/// The event a committed order write means: `old` and `new` are the order before and after.
/// Writes that keep the revision (an owner change by a guest claim, a replayed write) and
/// deletions are no news. A draft is no news either: a programmatic order is created when
/// it is processed (its draft becomes `Open`).
pub fn order_event(old: Option<&Order>, new: Option<&Order>) -> Option<OrderEvent> {
    let new = new?;
    if new.state == OrderState::Draft {
        return None;
    }
    let old = old.filter(|o| o.state != OrderState::Draft);
    let Some(old) = old else {
        return Some(OrderEvent::of(EventKind::OrderCreated, new));
    };
    if new.revision <= old.revision {
        return None;
    }
    let secured = |o: &Order| crate::model::payment::secured(&o.payments, o.currency).cent_amount;
    let kind = if new.state == OrderState::Cancelled && old.state != OrderState::Cancelled {
        EventKind::OrderCancelled
    } else if new.payment_state != old.payment_state && new.payment_state == PaymentState::Paid {
        EventKind::OrderPaid
    } else if secured(new) < secured(old)
        || (new.payment_state != old.payment_state && new.payment_state == PaymentState::Refunded)
    {
        // Money the order held was given back, in full or in part.
        EventKind::OrderRefunded
    } else {
        return None;
    };
    Some(OrderEvent::of(kind, new))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        let json = serde_json::json!({
            "id": "6f1c", "orderNumber": "20261123-ABCDEFGH", "cartId": "6f1c0000-0000-4000-8000-000000000001", "cartVersion": 3,
            "action": "checkout", "state": "Open", "paymentState": "Pending",
            "owner": {"kind": "guest", "session_hash": "0000000000000000000000000000000000000000000000000000000000000000"}, "currency": "EUR",
            "lineItems": [], "discountCodes": [],
            "totals": {
                "subtotal": {"centAmount": 0, "currencyCode": "EUR"},
                "discount": {"centAmount": 0, "currencyCode": "EUR"},
                "shipping": {"centAmount": 0, "currencyCode": "EUR"},
                "tax": {"centAmount": 0, "currencyCode": "EUR"},
                "total": {"centAmount": 0, "currencyCode": "EUR"}
            },
            "createdAt": "2026-11-23T10:00:00Z"
        });
        serde_json::from_value(json).expect("a valid order")
    }

    #[test]
    fn an_insert_is_order_created_with_revision_one() {
        let created = order();
        assert_eq!(
            created.revision, 1,
            "items written before revisions start at 1"
        );
        let event = order_event(None, Some(&created)).unwrap();
        assert_eq!(event.kind, EventKind::OrderCreated);
        assert_eq!(event.id, "6f1c:1");
        assert_eq!(event.sequence, 1);
        assert_eq!(event.order_number, "20261123-ABCDEFGH");
        let order = serde_json::to_value(&event.order).unwrap();
        assert_eq!(order["orderNumber"], "20261123-ABCDEFGH");
        assert!(order.get("owner").is_none(), "the owner's view, no proofs");
        assert_eq!(order["isGuest"], true);
    }

    #[test]
    fn changes_are_named_by_what_changed() {
        let old = order();
        let mut cancelled = old.clone();
        cancelled.state = OrderState::Cancelled;
        cancelled.revision = 2;
        let event = order_event(Some(&old), Some(&cancelled)).unwrap();
        assert_eq!(
            (event.kind, event.id.as_str()),
            (EventKind::OrderCancelled, "6f1c:2")
        );

        let mut paid = old.clone();
        paid.payment_state = PaymentState::Paid;
        paid.revision = 2;
        assert_eq!(
            order_event(Some(&old), Some(&paid)).unwrap().kind,
            EventKind::OrderPaid
        );
        let mut refunded = paid.clone();
        refunded.payment_state = PaymentState::Refunded;
        refunded.revision = 3;
        let event = order_event(Some(&paid), Some(&refunded)).unwrap();
        assert_eq!((event.kind, event.sequence), (EventKind::OrderRefunded, 3));
    }

    #[test]
    fn rewrites_without_a_new_revision_and_deletions_are_no_news() {
        let old = order();
        let mut claimed = old.clone();
        claimed.customer_email = None;
        assert_eq!(order_event(Some(&old), Some(&claimed)), None);
        assert_eq!(order_event(Some(&old), None), None);
        assert_eq!(order_event(None, None), None);
    }
}
