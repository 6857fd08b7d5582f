//! Order events. The order item itself is the outbox: every committed write to an order is
//! one change (the order before, the order after), and [`order_event`] says which event that
//! change is, if any. Consumers get at-least-once delivery and deduplicate by event id.

use serde::{Deserialize, Serialize};

use crate::model::fulfillment::{is_merchant_refund, FulfillmentState};
use crate::model::money::Money;
use crate::model::order::{Order, OrderState};
use crate::model::order_snapshot::OrderSnapshot;
use crate::model::payment::{PaymentState, TransactionKind, TransactionState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    OrderCreated,
    /// Paid in full for the first time (a saved order's payment, a webhook's success).
    OrderPaid,
    /// Cancelled by a merchant, by its customer, or expired unpaid.
    OrderCancelled,
    /// Money the order held landed back with the customer (a provider's refund settled
    /// `Success`, an authorization cancelled, a gift card credited), in part or in full; a
    /// refund still pending at the provider is no news yet.
    OrderRefunded,
    /// A shipment of some or all of its lines left (`fulfillmentId` names it).
    OrderShipped,
    /// A shipment was delivered (`fulfillmentId` names it; `shipmentState` says whether
    /// every line now is).
    OrderDelivered,
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
    /// `OrderRefunded`: the money this change gave back (the order's `refundedAmount` is
    /// the running sum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded: Option<Money>,
    /// `OrderShipped`, `OrderDelivered`: the fulfilment (in `order.fulfillments`) this change
    /// shipped or delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_id: Option<String>,
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
            refunded: None,
            fulfillment_id: None,
        }
    }
}

/// Whether a merchant's refund of the order is still pending at the provider: its money is
/// on its way back, so the order shows a balance until the answer comes.
fn merchant_refund_pending(order: &Order) -> bool {
    order
        .payments
        .iter()
        .flat_map(|p| &p.transactions)
        .any(|t| {
            t.kind == TransactionKind::Refund
                && t.state == TransactionState::Pending
                && is_merchant_refund(&t.interaction_id)
        })
}

/// The event a committed order write means: `old` and `new` are the order before and after.
/// Writes that keep the revision (an owner change by a guest claim, a replayed write) and
/// deletions are no news. A draft is no news either: a programmatic order is created when
/// it is processed (its draft becomes `Open`).
///
/// One write is one event, named by the first of: a cancellation; a new fulfilment
/// (`OrderShipped`); a fulfilment delivered (`OrderDelivered`); the first full payment
/// (`OrderPaid`); money given back (`OrderRefunded`, when it lands: a merchant's refund
/// recorded `Pending` is not news, its settlement `Success` is, and one the provider refused
/// is none). Anything else (a pending reversal, a payment that covers part) is no news.
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
    if new.state == OrderState::Cancelled && old.state != OrderState::Cancelled {
        return Some(OrderEvent::of(EventKind::OrderCancelled, new));
    }
    // A fulfilment write adds one shipment or delivers one: that shipment is the news.
    if let Some(shipped) = new
        .fulfillments
        .iter()
        .find(|f| !old.fulfillments.iter().any(|o| o.id == f.id))
    {
        return Some(OrderEvent {
            fulfillment_id: Some(shipped.id.clone()),
            ..OrderEvent::of(EventKind::OrderShipped, new)
        });
    }
    if let Some(delivered) = new.fulfillments.iter().find(|f| {
        f.state == FulfillmentState::Delivered
            && old
                .fulfillments
                .iter()
                .any(|o| o.id == f.id && o.state != FulfillmentState::Delivered)
    }) {
        return Some(OrderEvent {
            fulfillment_id: Some(delivered.id.clone()),
            ..OrderEvent::of(EventKind::OrderDelivered, new)
        });
    }
    let secured = |o: &Order| crate::model::payment::secured(&o.payments, o.currency).cent_amount;
    // A merchant's refund the provider refused puts a paid order back to `Paid`: that is not
    // a payment, and the pending refund was never news either.
    if new.payment_state != old.payment_state
        && new.payment_state == PaymentState::Paid
        && !merchant_refund_pending(old)
    {
        return Some(OrderEvent::of(EventKind::OrderPaid, new));
    }
    if secured(new) < secured(old)
        || (new.payment_state != old.payment_state && new.payment_state == PaymentState::Refunded)
    {
        // Money the order held was given back, in full or in part.
        let given_back = (secured(old) - secured(new))
            .max(new.refunded_amount().cent_amount - old.refunded_amount().cent_amount)
            .max(0);
        return Some(OrderEvent {
            refunded: Some(Money::new(given_back, new.currency)),
            ..OrderEvent::of(EventKind::OrderRefunded, new)
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::payment::{Payment, Transaction};

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

    fn card_payment(transactions: Vec<crate::model::payment::Transaction>) -> Payment {
        Payment {
            id: "p1".into(),
            amount_planned: Money::new(1000, crate::model::money::Currency::EUR),
            psp: "stripe".into(),
            psp_reference: "pi_1".into(),
            provider_payment: None,
            planned_for_total: None,
            transactions,
            failures_compacted: 0,
        }
    }

    fn transaction(kind: TransactionKind, state: TransactionState, id: &str) -> Transaction {
        Transaction {
            id: id.to_string(),
            kind,
            state,
            amount: Money::new(
                if kind == TransactionKind::Charge {
                    1000
                } else {
                    300
                },
                crate::model::money::Currency::EUR,
            ),
            interaction_id: id.to_string(),
            timestamp: time::OffsetDateTime::UNIX_EPOCH,
            reason: None,
            provider_id: None,
        }
    }

    /// A paid order of 10.00 EUR, one charge.
    fn paid() -> Order {
        let mut paid = order();
        paid.totals.total = Money::new(1000, crate::model::money::Currency::EUR);
        paid.payments = vec![card_payment(vec![transaction(
            TransactionKind::Charge,
            TransactionState::Success,
            "charge",
        )])];
        paid.payment_state =
            crate::model::payment::payment_state(&paid.payments, paid.totals.total);
        assert_eq!(paid.payment_state, PaymentState::Paid);
        paid.revision = 2;
        paid
    }

    /// `order` after a write that adds `transaction` to its payment.
    fn with(order: &Order, transaction: Transaction) -> Order {
        let mut next = order.clone();
        next.payments[0]
            .transactions
            .retain(|t| t.id != transaction.id);
        next.payments[0].transactions.push(transaction);
        next.payment_state =
            crate::model::payment::payment_state(&next.payments, next.totals.total);
        next.revision += 1;
        next
    }

    #[test]
    fn a_merchant_refund_is_news_when_its_money_lands_and_only_then() {
        let paid = paid();
        let pending = with(
            &paid,
            transaction(
                TransactionKind::Refund,
                TransactionState::Pending,
                "mrefund:r1:p1",
            ),
        );
        assert_eq!(
            order_event(Some(&paid), Some(&pending)),
            None,
            "pending is no news"
        );
        let settled = with(
            &pending,
            transaction(
                TransactionKind::Refund,
                TransactionState::Success,
                "mrefund:r1:p1",
            ),
        );
        let event = order_event(Some(&pending), Some(&settled)).unwrap();
        assert_eq!(event.kind, EventKind::OrderRefunded);
        assert_eq!(event.id, "6f1c:4");
        assert_eq!(event.refunded.map(|m| m.cent_amount), Some(300));
        assert_eq!(event.order.payment_state, PaymentState::PartiallyRefunded);
        // Refused by the provider: the order is paid again, which is not a payment.
        let refused = with(
            &pending,
            transaction(
                TransactionKind::Refund,
                TransactionState::Failure,
                "mrefund:r1:p1",
            ),
        );
        assert_eq!(refused.payment_state, PaymentState::Paid);
        assert_eq!(order_event(Some(&pending), Some(&refused)), None);
    }

    #[test]
    fn a_new_fulfilment_is_shipped_and_its_delivery_delivered() {
        use crate::model::fulfillment::{Fulfillment, ShipmentState};
        let paid = paid();
        let mut shipped = paid.clone();
        shipped.fulfillments.push(Fulfillment {
            id: "f1".into(),
            line_items: vec![],
            carrier: "DHL".into(),
            tracking_number: "JJD01".into(),
            tracking_url: None,
            state: FulfillmentState::Shipped,
            shipped_at: time::OffsetDateTime::UNIX_EPOCH,
            delivered_at: None,
        });
        shipped.shipment_state = ShipmentState::Shipped;
        shipped.state = OrderState::Confirmed;
        shipped.revision = 3;
        let event = order_event(Some(&paid), Some(&shipped)).unwrap();
        assert_eq!(
            (
                event.kind,
                event.id.as_str(),
                event.fulfillment_id.as_deref()
            ),
            (EventKind::OrderShipped, "6f1c:3", Some("f1"))
        );
        let mut delivered = shipped.clone();
        delivered.fulfillments[0].state = FulfillmentState::Delivered;
        delivered.shipment_state = ShipmentState::Delivered;
        delivered.state = OrderState::Complete;
        delivered.revision = 4;
        let event = order_event(Some(&shipped), Some(&delivered)).unwrap();
        assert_eq!(
            (event.kind, event.fulfillment_id.as_deref()),
            (EventKind::OrderDelivered, Some("f1"))
        );
        // Read back by a consumer: the extra fields survive, and older events still read.
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["fulfillmentId"], "f1");
        assert!(json.get("refunded").is_none());
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("fulfillmentId");
        let read: OrderEvent = serde_json::from_value(old).unwrap();
        assert_eq!(read.fulfillment_id, None);
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
