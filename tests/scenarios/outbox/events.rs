use super::*;

// Every order change is one event, with the order's revision as its sequence, on both stores:
// the embedded store's change feed and DynamoDB Local's stream read by the relay.

/// `(kind, order number, sequence)` of the events a store's changes made, oldest first.
type Seen = Vec<(String, String, u64)>;

async fn events_seen(app: &App, expected: usize, before: &mut Option<MemoryFeed>) -> Seen {
    order_events(app, expected, before)
        .await
        .into_iter()
        .map(|event| {
            (
                format!("{:?}", event.kind),
                event.order_number,
                event.sequence,
            )
        })
        .collect()
}

/// The events a store's changes made (at least `expected` of them on DynamoDB), checked for
/// their id and order number.
pub(crate) async fn order_events(
    app: &App,
    expected: usize,
    before: &mut Option<MemoryFeed>,
) -> Vec<checkout_domain::model::events::OrderEvent> {
    let bodies: Vec<String> = match (&app.dynamo, before) {
        (Some(store), _) => {
            let queue = Arc::new(RecordingQueue::default());
            let _pump = StreamPump::start(store, relay_to(&queue), StreamOptions::default()).await;
            eventually("the events", SETTLE, || async {
                let bodies = queue.bodies.lock().unwrap().clone();
                (bodies.len() >= expected).then_some(bodies)
            })
            .await
        }
        (None, Some(feed)) => {
            let mut bodies = Vec::new();
            while let Ok((old, new)) = feed.try_recv() {
                if let Some(event) =
                    checkout_domain::model::events::order_event(old.as_ref(), new.as_ref())
                {
                    bodies.push(serde_json::to_string(&event).unwrap());
                }
            }
            bodies
        }
        (None, None) => unreachable!("a memory backend subscribes first"),
    };
    bodies
        .iter()
        .map(|body| {
            let event: checkout_domain::model::events::OrderEvent =
                serde_json::from_str(body).unwrap();
            assert_eq!(event.id, format!("{}:{}", event.order_id, event.sequence));
            assert_eq!(event.order.order_number.to_string(), event.order_number);
            event
        })
        .collect()
}

pub(crate) type MemoryFeed =
    tokio::sync::broadcast::Receiver<checkout_adapters::memory::OrderChange>;

/// Two saved orders' lives: one paid later through the webhook, then refunded at Stripe; the
/// other never paid, so it expires. Their order numbers, in that order.
async fn a_saved_order_paid_then_refunded_and_one_expired(app: &App) -> (String, String) {
    // A saved order, paid later through the webhook, then refunded at Stripe.
    let (guest, cart) = app.ready_customer_cart("alice").await;
    let reference = app.start_payment(&guest, &cart, None).await;
    let mut body = order_request(&cart);
    body["action"] = json!("save_order");
    let saved = guest.post("/orders", body).await;
    saved.assert_status(StatusCode::CREATED);
    let paid_number = saved.body["orderNumber"].as_str().unwrap().to_string();
    app.deliver(&app.payment_event(&reference, true))
        .await
        .assert_status(StatusCode::OK);
    let refunded = app.refunded_event(
        &reference,
        "ch_1",
        cents(&saved.body["totals"]["total"]),
        &format!("evt_refund_{reference}"),
    );
    app.deliver(&refunded).await.assert_status(StatusCode::OK);

    // Another saved order that is never paid and expires.
    let (other, other_cart) = app.ready_customer_cart("bob").await;
    let mut body = order_request(&other_cart);
    body["action"] = json!("save_order");
    let expiring = other.post("/orders", body).await;
    expiring.assert_status(StatusCode::CREATED);
    let expired_number = expiring.body["orderNumber"].as_str().unwrap().to_string();
    app.advance(checkout_domain::model::commit_plan::SAVED_ORDER_HOLD + time::Duration::seconds(1));
    assert_eq!(
        app.storefront
            .sweeper()
            .expire_saved_orders(10)
            .await
            .unwrap(),
        1
    );
    (paid_number, expired_number)
}

async fn order_changes_are_events_in_revision_order(backend: Backend) {
    checkout_tests::keep_streams();
    let app = App::start(backend).await;
    let mut feed = app.memory.as_ref().map(|m| m.changes());
    let (paid_number, expired_number) =
        a_saved_order_paid_then_refunded_and_one_expired(&app).await;

    let seen = events_seen(&app, 5, &mut feed).await;
    let of = |number: &str| -> Vec<(String, u64)> {
        seen.iter()
            .filter(|(_, n, _)| n == number)
            .map(|(kind, _, sequence)| (kind.clone(), *sequence))
            .collect()
    };
    assert_eq!(
        of(&paid_number),
        [
            ("OrderCreated".to_string(), 1),
            ("OrderPaid".to_string(), 2),
            ("OrderRefunded".to_string(), 3)
        ]
    );
    assert_eq!(
        of(&expired_number),
        [
            ("OrderCreated".to_string(), 1),
            ("OrderCancelled".to_string(), 2)
        ]
    );
    assert_eq!(seen.len(), 5, "nothing else is news: {seen:?}");
}

/// A mailer that keeps what it is given.
#[derive(Default)]
pub(crate) struct KeptMail(pub(crate) Mutex<Vec<OutgoingEmail>>);

#[async_trait]
impl Mailer for KeptMail {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(email.clone());
        Ok(())
    }
}

async fn every_order_change_reaches_the_erp_once_and_the_customer_hears_of_each_once(
    backend: Backend,
) {
    use checkout_domain::model::events::EventKind;
    use checkout_outbox::subscriber::Outcome;
    checkout_tests::keep_streams();
    let app = App::start(backend).await;
    let mut feed = app.memory.as_ref().map(|m| m.changes());
    let (paid, expired) = a_saved_order_paid_then_refunded_and_one_expired(&app).await;
    let events = order_events(&app, 5, &mut feed).await;

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
    let confirmations = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer: mail.clone(),
            claims: Arc::new(checkout_adapters::MemoryStore::new()),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        app.idempotency_store(),
        Arc::new(RecordingQueue::default()),
    );
    // Every event delivered twice, to both consumers.
    for event in &events {
        let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
        message.body = Some(serde_json::to_string(event).unwrap());
        assert_eq!(erp_sync.process(&message).await, Outcome::Done);
        assert_eq!(erp_sync.process(&message).await, Outcome::Duplicate);
        let mailed = confirmations.process(&message).await;
        if event.kind == EventKind::OrderPaid {
            assert_eq!(mailed, Outcome::Skipped, "a payment mails nobody");
        } else {
            assert_eq!(mailed, Outcome::Done, "{:?} mails the customer", event.kind);
            assert_eq!(confirmations.process(&message).await, Outcome::Duplicate);
        }
    }

    // The ERP took each change once, signed (it refuses anything else), under its own key.
    let records = erp.records();
    let mut taken: Vec<(String, String, u64)> = records
        .iter()
        .map(|(key, record)| (key.clone(), record.kind.clone(), record.sequence))
        .collect();
    taken.sort();
    let mut expected = vec![
        (format!("{paid}:1"), "OrderCreated".to_string(), 1),
        (format!("{paid}:2"), "OrderPaid".to_string(), 2),
        (format!("{paid}:3"), "OrderRefunded".to_string(), 3),
        (format!("{expired}:1"), "OrderCreated".to_string(), 1),
        (format!("{expired}:2"), "OrderCancelled".to_string(), 2),
    ];
    expected.sort();
    assert_eq!(taken, expected);
    assert_eq!(erp.calls(), 5, "no repeat reached the ERP");
    assert_eq!(records[&format!("{paid}:2")].order["paymentState"], "Paid");
    assert_eq!(records[&format!("{expired}:2")].order["state"], "Cancelled");

    // One confirmation per saved order, saying it awaits payment; the payment sent none.
    // The refund at Stripe and the expiry (a cancellation) are news to the customer, once.
    let sent = mail.0.lock().unwrap().clone();
    let mut subjects: Vec<&str> = sent.iter().map(|e| e.subject.as_str()).collect();
    subjects.sort();
    let mut wanted = [
        format!("Your order {paid}"),
        format!("Your order {expired}"),
        format!("Your refund for order {paid}"),
        format!("Your order {expired} has been cancelled"),
    ];
    wanted.sort();
    assert_eq!(subjects, wanted);
    let confirmations = [
        format!("Your order {paid}"),
        format!("Your order {expired}"),
    ];
    for email in sent.iter().filter(|e| confirmations.contains(&e.subject)) {
        assert!(email.text.contains("awaiting payment"), "{}", email.text);
        assert!(email.html.contains("awaiting payment"), "{}", email.html);
    }
}

checkout_tests::on_both_stores!(
    order_changes_are_events_in_revision_order,
    every_order_change_reaches_the_erp_once_and_the_customer_hears_of_each_once,
);
