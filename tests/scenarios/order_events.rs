//! Merchant operations through the outbox, on both stores: a cancellation, a refund, a
//! shipment and a delivery are each one event the ERP takes once (signed, under its own key),
//! and the customer hears of a cancellation, a refund (its amount) and a shipment (carrier,
//! tracking) in exactly one email each, however often each event is delivered.

use std::sync::Arc;
use std::time::Duration;

use checkout_domain::model::events::{EventKind, OrderEvent};
use checkout_domain::ports::mailer::OutgoingEmail;
use checkout_outbox::subscriber::Outcome;
use checkout_tests::outbox::{FakeErp, ERP_SECRET};
use checkout_tests::serde_json::json;
use checkout_tests::{on_both_stores, order_request, App, Backend};
use http::StatusCode;

use crate::gift_cards::{integration, paid_order};
use crate::merchant::{line_id, paid_order_of_two_mugs, support};
use crate::outbox::{order_events, KeptMail, RecordingQueue};

/// The two consumers, as the subscribers behind their queues run them.
struct Consumers {
    erp: FakeErp,
    erp_sync: checkout_outbox::Subscriber,
    mail: Arc<KeptMail>,
    email: checkout_outbox::Subscriber,
}

async fn consumers(app: &App) -> Consumers {
    let erp = FakeErp::start().await;
    let client = checkout_adapters::HttpErp::new(&erp.url, ERP_SECRET, Duration::from_secs(5));
    let erp_sync = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::ErpSync {
            erp: Arc::new(client.unwrap()),
        }),
        app.idempotency_store(),
        Arc::new(RecordingQueue::default()),
    );
    let mail = Arc::new(KeptMail::default());
    let email = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer: mail.clone(),
            claims: app.claim_tickets(),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        app.idempotency_store(),
        Arc::new(RecordingQueue::default()),
    );
    Consumers {
        erp,
        erp_sync,
        mail,
        email,
    }
}

impl Consumers {
    /// Delivers every event twice to both consumers (a redelivery is a duplicate); returns
    /// the kinds that mailed the customer.
    async fn deliver_twice(&self, events: &[OrderEvent]) -> Vec<EventKind> {
        let mut mailed = Vec::new();
        for event in events {
            let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
            message.body = Some(serde_json::to_string(event).unwrap());
            assert_eq!(self.erp_sync.process(&message).await, Outcome::Done);
            assert_eq!(self.erp_sync.process(&message).await, Outcome::Duplicate);
            match self.email.process(&message).await {
                Outcome::Done => {
                    mailed.push(event.kind);
                    assert_eq!(self.email.process(&message).await, Outcome::Duplicate);
                }
                Outcome::Skipped => {
                    // Nothing was sent, so nothing is remembered: a redelivery skips again.
                    assert_eq!(self.email.process(&message).await, Outcome::Skipped);
                }
                other => panic!("{:?}: {other:?}", event.kind),
            }
        }
        mailed
    }

    /// `(kind, sequence)` of what the ERP took for the order, by sequence.
    fn erp_took(&self, number: &str) -> Vec<(String, u64)> {
        let mut took: Vec<(String, u64)> = self
            .erp
            .records()
            .into_iter()
            .filter(|(key, _)| key.starts_with(&format!("{number}:")))
            .map(|(key, record)| {
                assert_eq!(key, format!("{number}:{}", record.sequence));
                (record.kind, record.sequence)
            })
            .collect();
        took.sort_by_key(|(_, sequence)| *sequence);
        took
    }

    fn emails_with(&self, subject: &str) -> Vec<OutgoingEmail> {
        self.mail
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.subject == subject)
            .cloned()
            .collect()
    }
}

fn kinds(events: &[OrderEvent], number: &str) -> Vec<EventKind> {
    events
        .iter()
        .filter(|e| e.order_number == number)
        .map(|e| e.kind)
        .collect()
}

async fn cancellations_mail_the_customer_once_and_reach_the_erp_once(backend: Backend) {
    checkout_tests::keep_streams();
    let app = App::start(backend).await;
    let mut feed = app.memory.as_ref().map(|m| m.changes());
    // A paid order a merchant cancels: its money goes back with the cancellation.
    let (paid, total) = paid_order_of_two_mugs(&app).await;
    support(&app)
        .post(
            &format!("/admin/orders/{paid}/cancel"),
            json!({"idempotencyKey": "c1", "reason": "Suspected fraud, internal note"}),
        )
        .await
        .assert_status(StatusCode::OK);
    // A saved order its customer cancels before paying: it holds no money.
    let (bob, cart) = app.ready_customer_cart("bob").await;
    let mut body = order_request(&cart);
    body["action"] = json!("save_order");
    let saved = bob.post("/orders", body).await;
    saved.assert_status(StatusCode::CREATED);
    let unpaid = saved.body["orderNumber"].as_str().unwrap().to_string();
    bob.post(&format!("/orders/{unpaid}/cancel"), json!({}))
        .await
        .assert_status(StatusCode::OK);

    let events = order_events(&app, 5, &mut feed).await;
    assert_eq!(
        kinds(&events, &paid),
        [
            EventKind::OrderCreated,
            EventKind::OrderCancelled,
            EventKind::OrderRefunded
        ],
        "the paid order's money landing back is news to the ERP"
    );
    assert_eq!(
        kinds(&events, &unpaid),
        [EventKind::OrderCreated, EventKind::OrderCancelled]
    );
    let refund = events
        .iter()
        .find(|e| e.kind == EventKind::OrderRefunded)
        .unwrap();
    assert_eq!(refund.refunded.map(|m| m.cent_amount), Some(total));

    let consumers = consumers(&app).await;
    let mailed = consumers.deliver_twice(&events).await;
    // The ERP took each change once; the cancellations once each.
    let took = consumers.erp_took(&paid);
    assert_eq!(
        took.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["OrderCreated", "OrderCancelled", "OrderRefunded"]
    );
    assert_eq!(
        consumers.erp_took(&unpaid),
        [
            ("OrderCreated".to_string(), 1),
            ("OrderCancelled".to_string(), 2)
        ]
    );
    assert_eq!(consumers.erp.calls(), 5, "no repeat reached the ERP");
    let cancelled = &consumers.erp.records()[&format!("{paid}:{}", took[1].1)];
    assert_eq!(cancelled.order["state"], "Cancelled");

    // Each customer: the confirmation and one cancellation; the paid order's money going
    // back is said in its cancellation, not in a refund email of its own.
    assert_eq!(
        mailed
            .iter()
            .filter(|k| **k == EventKind::OrderCancelled)
            .count(),
        2
    );
    assert!(!mailed.contains(&EventKind::OrderRefunded), "{mailed:?}");
    let paid_cancel = consumers.emails_with(&format!("Your order {paid} has been cancelled"));
    assert_eq!(paid_cancel.len(), 1);
    let amount = format!("{}.{:02} EUR", total / 100, total % 100);
    assert!(
        paid_cancel[0].text.contains(&amount),
        "{}",
        paid_cancel[0].text
    );
    assert!(
        paid_cancel[0].html.contains(&amount),
        "{}",
        paid_cancel[0].html
    );
    assert!(
        !paid_cancel[0].text.contains("internal note"),
        "the merchant's reason stays with the merchant"
    );
    let unpaid_cancel = consumers.emails_with(&format!("Your order {unpaid} has been cancelled"));
    assert_eq!(unpaid_cancel.len(), 1);
    assert!(
        !unpaid_cancel[0].text.contains("you paid"),
        "nothing was paid: {}",
        unpaid_cancel[0].text
    );
    assert!(
        unpaid_cancel[0].text.contains("MUG"),
        "{}",
        unpaid_cancel[0].text
    );
    assert_eq!(
        consumers.mail.0.lock().unwrap().len(),
        4,
        "two confirmations, two cancellations"
    );
}

async fn a_refund_and_shipments_mail_the_customer_once_each_and_delivery_only_tells_the_erp(
    backend: Backend,
) {
    checkout_tests::keep_streams();
    let app = App::start(backend).await;
    let mut feed = app.memory.as_ref().map(|m| m.changes());
    let (number, _) = paid_order_of_two_mugs(&app).await;
    let order = support(&app)
        .get(&format!("/admin/orders/{number}"))
        .await
        .body;
    // A partial refund by amount, settled by the provider at once.
    let refunded = support(&app)
        .post(
            &format!("/admin/orders/{number}/refunds"),
            json!({"idempotencyKey": "r1", "amount": 1000, "reason": "Scratched mug"}),
        )
        .await;
    refunded.assert_status(StatusCode::CREATED);
    assert_eq!(refunded.body["state"], "Succeeded");
    // One mug ships with a tracking link, the other without; both are delivered.
    let shipments = format!("/admin/orders/{number}/fulfillments");
    let first = support(&app)
        .post(
            &shipments,
            json!({"idempotencyKey": "s1", "lineItems": [{"lineItemId": line_id(&order, 0), "quantity": 1}],
                   "carrier": "DHL", "trackingNumber": "JJD000390007",
                   "trackingUrl": "https://dhl.example/track?id=JJD000390007&lang=en"}),
        )
        .await;
    first.assert_status(StatusCode::CREATED);
    let second = support(&app)
        .post(
            &shipments,
            json!({"idempotencyKey": "s2", "carrier": "UPS", "trackingNumber": "1Z999AA10123456784"}),
        )
        .await;
    second.assert_status(StatusCode::CREATED);
    for (shipment, key) in [(&first, "d1"), (&second, "d2")] {
        let id = shipment.body["id"].as_str().unwrap();
        support(&app)
            .post(
                &format!("{shipments}/{id}/delivered"),
                json!({"idempotencyKey": key}),
            )
            .await
            .assert_status(StatusCode::OK);
    }

    let events = order_events(&app, 6, &mut feed).await;
    assert_eq!(
        kinds(&events, &number),
        [
            EventKind::OrderCreated,
            EventKind::OrderRefunded,
            EventKind::OrderShipped,
            EventKind::OrderShipped,
            EventKind::OrderDelivered,
            EventKind::OrderDelivered,
        ],
        "a pending refund is no news; its settlement is"
    );
    let of_kind = |kind: EventKind| events.iter().filter(move |e| e.kind == kind);
    assert_eq!(
        of_kind(EventKind::OrderRefunded)
            .map(|e| e.refunded.map(|m| m.cent_amount))
            .collect::<Vec<_>>(),
        [Some(1000)]
    );
    let ids = |kind: EventKind| {
        of_kind(kind)
            .map(|e| e.fulfillment_id.clone().unwrap())
            .collect::<Vec<_>>()
    };
    let shipped_ids = [
        first.body["id"].as_str().unwrap().to_string(),
        second.body["id"].as_str().unwrap().to_string(),
    ];
    assert_eq!(ids(EventKind::OrderShipped), shipped_ids);
    assert_eq!(ids(EventKind::OrderDelivered), shipped_ids);
    let last = events.last().unwrap();
    assert_eq!(
        last.order.state,
        checkout_domain::model::order::OrderState::Complete
    );

    let consumers = consumers(&app).await;
    let mailed = consumers.deliver_twice(&events).await;
    assert_eq!(
        mailed,
        [
            EventKind::OrderCreated,
            EventKind::OrderRefunded,
            EventKind::OrderShipped,
            EventKind::OrderShipped
        ],
        "a delivery mails nobody"
    );
    let took = consumers.erp_took(&number);
    assert_eq!(
        took.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        [
            "OrderCreated",
            "OrderRefunded",
            "OrderShipped",
            "OrderShipped",
            "OrderDelivered",
            "OrderDelivered"
        ]
    );
    assert_eq!(consumers.erp.calls(), 6, "no repeat reached the ERP");
    let delivered = &consumers.erp.records()[&format!("{number}:{}", took[5].1)];
    assert_eq!(delivered.order["shipmentState"], "Delivered");

    let refund = consumers.emails_with(&format!("Your refund for order {number}"));
    assert_eq!(refund.len(), 1);
    assert!(
        refund[0].text.contains("refunded 10.00 EUR"),
        "{}",
        refund[0].text
    );
    assert!(refund[0].html.contains("10.00 EUR"), "{}", refund[0].html);

    let shipped = consumers.emails_with(&format!("Your order {number} is on its way"));
    assert_eq!(shipped.len(), 2, "one per shipment");
    let (with_link, without) = (&shipped[0], &shipped[1]);
    assert!(
        with_link.text.contains("part of your order"),
        "{}",
        with_link.text
    );
    for needle in [
        "DHL",
        "JJD000390007",
        "https://dhl.example/track?id=JJD000390007&lang=en",
    ] {
        assert!(
            with_link.text.contains(needle),
            "{needle}: {}",
            with_link.text
        );
    }
    // The link in the HTML is an attribute with its characters escaped (`&` as `&amp;`,
    // `/` as `&#x2f;`, as minijinja escapes them): it reads back as the URL the merchant gave.
    assert!(
        !with_link.html.contains("&lang"),
        "escaped: {}",
        with_link.html
    );
    let href = with_link
        .html
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link");
    assert_eq!(
        href.replace("&#x2f;", "/").replace("&amp;", "&"),
        "https://dhl.example/track?id=JJD000390007&lang=en"
    );
    assert!(with_link.text.contains("1 x "), "{}", with_link.text);
    assert!(
        !without.text.contains("part of your order"),
        "{}",
        without.text
    );
    assert!(without.text.contains("UPS"), "{}", without.text);
    assert!(
        without.text.contains("1Z999AA10123456784"),
        "{}",
        without.text
    );
    assert!(
        !without.text.contains("Track it"),
        "no link: {}",
        without.text
    );
    assert!(!without.html.contains("<a "), "no link: {}", without.html);
}

/// A programmatic order that asked for no receipt (`sendReceipt: false`) gets no email at
/// all, as its confirmation is not sent: its integration talks to its customer. The ERP,
/// which it asked to be told (`send_to_platform`), hears every change.
async fn an_order_without_receipts_mails_nobody_and_still_tells_the_erp(backend: Backend) {
    checkout_tests::keep_streams();
    let app = App::start(backend).await;
    let mut feed = app.memory.as_ref().map(|m| m.changes());
    let mut body = paid_order("quiet-1", 2, json!([{"paymentMethod": "pm_card_visa"}]));
    body["sendReceipt"] = json!(false);
    body["commands"] = json!([
        "calculate_shipping",
        "authorize_payments",
        "process_order",
        "send_to_platform",
        "charge_payments"
    ]);
    let created = integration(&app).post("/admin/orders", body).await;
    created.assert_status(StatusCode::CREATED);
    let number = created.body["orderNumber"].as_str().unwrap().to_string();
    support(&app)
        .post(
            &format!("/admin/orders/{number}/refunds"),
            json!({"idempotencyKey": "r1", "amount": 500, "reason": "Goodwill"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    support(&app)
        .post(
            &format!("/admin/orders/{number}/fulfillments"),
            json!({"idempotencyKey": "s1", "carrier": "DHL", "trackingNumber": "JJD1"}),
        )
        .await
        .assert_status(StatusCode::CREATED);
    let events = order_events(&app, 3, &mut feed).await;
    assert_eq!(
        kinds(&events, &number),
        [
            EventKind::OrderCreated,
            EventKind::OrderRefunded,
            EventKind::OrderShipped
        ]
    );
    let consumers = consumers(&app).await;
    assert_eq!(consumers.deliver_twice(&events).await, []);
    assert!(consumers.mail.0.lock().unwrap().is_empty());
    assert_eq!(consumers.erp_took(&number).len(), 3);
}

on_both_stores!(
    cancellations_mail_the_customer_once_and_reach_the_erp_once,
    a_refund_and_shipments_mail_the_customer_once_each_and_delivery_only_tells_the_erp,
    an_order_without_receipts_mails_nobody_and_still_tells_the_erp,
);
