//! The outbox: orders committed through the real API reach the customer (email through SES)
//! and the ERP exactly once in effect, through DynamoDB Local's stream, the relay, moto's SQS
//! queues and the subscribers, whatever is delivered twice, crashes, or fails for a while.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use checkout_adapters::DynamoStore;
use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::ports::DeliveryError;
use checkout_domain::StoreError;
use checkout_tests::outbox::{
    eventually, settles, FakeErp, Outbox, QueueOptions, QueuePump, StreamOptions, StreamPump,
    ERP_SECRET,
};
use checkout_tests::serde_json::json;
use checkout_tests::{cents, order_request, ready_actions, App, Backend};
use http::StatusCode;

/// A bound for failures only (polls return as soon as the condition holds): long enough for
/// every retry these scenarios script, on a machine busy with the rest of the suite.
const SETTLE: Duration = Duration::from_secs(90);

/// An order as the customer placed it.
#[derive(Debug, Clone)]
struct Placed {
    number: String,
    email: String,
    total: i64,
}

struct Scene {
    app: App,
    store: DynamoStore,
    outbox: Outbox,
    erp: FakeErp,
}

impl Scene {
    /// Drops the test's table and queues: DynamoDB Local gets slower with every table that has
    /// a stream, and this file makes hundreds of writes.
    async fn finish(self) {
        let _ = self
            .store
            .client()
            .delete_table()
            .table_name(self.store.table())
            .send()
            .await;
        self.outbox.delete().await;
    }
}

async fn scene() -> Scene {
    checkout_tests::keep_streams();
    let app = App::start(Backend::DynamoDb).await;
    let store = app.dynamo.clone().expect("a DynamoDB backend");
    Scene {
        app,
        store,
        outbox: Outbox::start().await,
        erp: FakeErp::start().await,
    }
}

/// `count` guest orders, each with its own email address and a different number of pens, ten
/// at a time.
async fn place_orders(scene: &Scene, count: usize) -> Vec<Placed> {
    let mut placed = Vec::new();
    let indexes: Vec<usize> = (0..count).collect();
    for chunk in indexes.chunks(10) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let app = scene.app.clone();
                let email = scene.outbox.address(&format!("customer{i}"));
                tokio::spawn(async move { place_order(&app, i, email).await })
            })
            .collect();
        for task in tasks {
            placed.push(task.await.unwrap());
        }
    }
    placed
}

async fn place_order(app: &App, i: usize, email: String) -> Placed {
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    let mut actions = ready_actions(&[("PEN", 2 + (i % 5) as u32)]);
    actions
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "setGuestDetails",
        "email": email, "name": format!("Customer {i}"), "phone": "+49 30 1234567"}));
    guest
        .update(&mut cart, actions)
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    let created = guest.post("/orders", order_request(&cart)).await;
    created.assert_status(StatusCode::CREATED);
    Placed {
        number: created.body["orderNumber"].as_str().unwrap().to_string(),
        email,
        total: cents(&created.body["totals"]["total"]),
    }
}

fn euros(cents: i64) -> String {
    format!("{}.{:02} EUR", cents / 100, cents % 100)
}

/// Waits until every order reached both consumers and both queues are drained, then checks
/// that each order made exactly one email, to its customer with its total, and one ERP record.
async fn assert_each_order_delivered_once(scene: &Scene, placed: &[Placed]) {
    let outbox = &scene.outbox;
    // (emails accepted, ERP records, messages left in the email and ERP queues)
    settles(
        "every email and ERP record",
        SETTLE,
        || async {
            (
                outbox.emails_accepted.get(),
                scene.erp.records().len(),
                outbox.depth(&outbox.email_queue).await,
                outbox.depth(&outbox.erp_queue).await,
            )
        },
        |&(emails, records, email_queue, erp_queue)| {
            emails >= placed.len() && records >= placed.len() && email_queue == 0 && erp_queue == 0
        },
    )
    .await;
    let emails = outbox.sent_emails().await;
    assert_eq!(emails.len(), placed.len(), "one email per order, no more");
    let mut by_address: HashMap<&str, usize> = HashMap::new();
    for email in &emails {
        assert_eq!(email.to.len(), 1);
        assert_eq!(email.from, outbox.sender);
        *by_address.entry(email.to[0].as_str()).or_default() += 1;
    }
    let records = scene.erp.records();
    assert_eq!(records.len(), placed.len(), "one ERP record per order");
    for order in placed {
        assert_eq!(by_address.get(order.email.as_str()), Some(&1), "{order:?}");
        let email = emails.iter().find(|e| e.to[0] == order.email).unwrap();
        assert_eq!(email.subject, format!("Your order {}", order.number));
        assert!(
            email.body.contains(&order.number) && email.body.contains(&euros(order.total)),
            "the email names the order and its total {}: {}",
            euros(order.total),
            email.body
        );
        assert!(!email.body.contains("awaiting payment"), "a paid order");
        let record = &records[&format!("{}:1", order.number)];
        assert_eq!((record.kind.as_str(), record.sequence), ("OrderCreated", 1));
        assert_eq!(cents(&record.order["totals"]["total"]), order.total);
        assert_eq!(record.order["customerEmail"], order.email.as_str());
        assert!(record.signature.starts_with("t="));
    }
    assert_eq!(outbox.depth(&outbox.email_dlq).await, 0);
    assert_eq!(outbox.depth(&outbox.erp_dlq).await, 0);
}

/// The relay and both subscribers, fed the way Lambda feeds them.
struct Running {
    _pumps: Vec<checkout_tests::outbox::Pump>,
}

async fn run_outbox(
    scene: &Scene,
    relay: checkout_outbox::Relay,
    stream: StreamOptions,
    mailer: Arc<dyn Mailer>,
    queues: QueueOptions,
) -> Running {
    let outbox = &scene.outbox;
    Running {
        _pumps: vec![
            StreamPump::start(&scene.store, relay, stream).await,
            QueuePump::start(
                &outbox.sqs,
                &outbox.email_queue,
                outbox.email_subscriber(&scene.store, mailer),
                queues,
            ),
            QueuePump::start(
                &outbox.sqs,
                &outbox.erp_queue,
                outbox.erp_subscriber(&scene.store, &scene.erp),
                queues,
            ),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_orders_make_a_hundred_emails_and_a_hundred_erp_records() {
    let scene = scene().await;
    let _running = run_outbox(
        &scene,
        scene.outbox.relay(),
        StreamOptions::default(),
        scene.outbox.mailer(),
        QueueOptions::default(),
    )
    .await;
    let placed = place_orders(&scene, 100).await;
    assert_each_order_delivered_once(&scene, &placed).await;
    scene.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_delivered_three_times_still_makes_one_email_and_one_record_per_order() {
    let scene = scene().await;
    let _running = run_outbox(
        &scene,
        scene.outbox.relay(),
        StreamOptions {
            batch_size: 100,
            deliveries: 3,
        },
        scene.outbox.mailer(),
        QueueOptions {
            extra_deliveries: 2,
            crash_before_ack_once: false,
        },
    )
    .await;
    let placed = place_orders(&scene, 40).await;
    assert_each_order_delivered_once(&scene, &placed).await;
    // The relay did send every event three times: the subscribers absorbed the repeats.
    assert_eq!(
        scene.erp.calls(),
        placed.len(),
        "repeats never reached the ERP"
    );
    scene.finish().await;
}

/// A queue that, once it has taken ten messages, sends half of the next batch and crashes.
struct CrashMidBatch {
    inner: Arc<dyn EventQueue>,
    sent: AtomicUsize,
    crashed: Arc<AtomicBool>,
}

#[async_trait]
impl EventQueue for CrashMidBatch {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        if self.sent.load(Ordering::SeqCst) >= 10 && !self.crashed.swap(true, Ordering::SeqCst) {
            let half = &messages[..messages.len() / 2];
            let refused = self.inner.send(half).await?;
            assert!(refused.is_empty());
            panic!(
                "the relay crashes after sending {} of {} messages",
                half.len(),
                messages.len()
            );
        }
        let refused = self.inner.send(messages).await?;
        self.sent
            .fetch_add(messages.len() - refused.len(), Ordering::SeqCst);
        Ok(refused)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_mid_batch_and_before_acknowledging_lose_nothing_and_double_nothing() {
    let scene = scene().await;
    let placed = place_orders(&scene, 30).await;
    let crashed = Arc::new(AtomicBool::new(false));
    let relay = scene.outbox.relay_with(|inner| {
        Arc::new(CrashMidBatch {
            inner,
            sent: AtomicUsize::new(0),
            crashed: crashed.clone(),
        })
    });
    let _running = run_outbox(
        &scene,
        relay,
        StreamOptions {
            batch_size: 100,
            deliveries: 1,
        },
        scene.outbox.mailer(),
        QueueOptions {
            extra_deliveries: 0,
            crash_before_ack_once: true,
        },
    )
    .await;
    assert_each_order_delivered_once(&scene, &placed).await;
    assert!(crashed.load(Ordering::SeqCst), "the relay did crash");
    assert_eq!(
        scene.erp.calls(),
        placed.len(),
        "redelivered after a crash, no order reached the ERP twice"
    );
    scene.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erp_outage_and_a_timeout_are_retried_and_a_refused_order_waits_in_the_dlq_for_a_redrive(
) {
    let scene = scene().await;
    let (erp, outbox) = (&scene.erp, &scene.outbox);
    // Four server errors, then an answer that comes after the client gave up (the ERP took
    // the order: the retry is told 409, already synced).
    erp.script(&[StatusCode::INTERNAL_SERVER_ERROR; 4]);
    erp.slow(1);
    let refused = outbox.address("customer0");
    erp.refuse_customer(&refused);
    let _running = run_outbox(
        &scene,
        outbox.relay(),
        StreamOptions::default(),
        outbox.mailer(),
        QueueOptions::default(),
    )
    .await;
    let placed = place_orders(&scene, 6).await;

    eventually("five orders synced, one dead-lettered", SETTLE, || async {
        let done = erp.records().len() == 5
            && outbox.depth(&outbox.erp_dlq).await == 1
            && outbox.depth(&outbox.erp_queue).await == 0;
        done.then_some(())
    })
    .await;
    assert!(
        erp.calls() >= 4 + 1 + 6,
        "the outage's and the timed-out calls were retried"
    );
    eventually("every email", SETTLE, || async {
        (outbox.emails_accepted.get() == 6).then_some(())
    })
    .await;
    let emails = outbox.sent_emails().await;
    assert_eq!(
        emails.iter().filter(|e| e.to == [refused.clone()]).count(),
        1,
        "the ERP's refusal does not touch the email"
    );

    // Fixed on the ERP's side: the redrive replays the dead letter.
    erp.accept_all();
    let moved = checkout_adapters::sqs::redrive(&outbox.sqs, &outbox.erp_dlq, &outbox.erp_queue)
        .await
        .unwrap();
    assert_eq!(moved, 1);
    assert_each_order_delivered_once(&scene, &placed).await;
    scene.finish().await;
}

/// SES that fails once for one address, and counts every attempt per address.
struct FailOnceFor {
    inner: Arc<dyn Mailer>,
    address: String,
    failed: AtomicBool,
    attempts: Mutex<HashMap<String, usize>>,
}

#[async_trait]
impl Mailer for FailOnceFor {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        *self
            .attempts
            .lock()
            .unwrap()
            .entry(email.to.clone())
            .or_default() += 1;
        if email.to == self.address && !self.failed.swap(true, Ordering::SeqCst) {
            return Err(DeliveryError::Transient("throttled".into()));
        }
        self.inner.send(email).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failing_email_in_a_batch_of_ten_is_the_only_one_retried() {
    let scene = scene().await;
    let outbox = &scene.outbox;
    let placed = place_orders(&scene, 10).await;
    let relay = StreamPump::start(&scene.store, outbox.relay(), StreamOptions::default()).await;
    eventually("ten events queued", SETTLE, || async {
        (outbox.depth(&outbox.email_queue).await == 10).then_some(())
    })
    .await;
    let mailer = Arc::new(FailOnceFor {
        inner: outbox.mailer(),
        address: placed[3].email.clone(),
        failed: AtomicBool::new(false),
        attempts: Mutex::default(),
    });
    let _email = QueuePump::start(
        &outbox.sqs,
        &outbox.email_queue,
        outbox.email_subscriber(&scene.store, mailer.clone()),
        QueueOptions::default(),
    );
    let _erp = QueuePump::start(
        &outbox.sqs,
        &outbox.erp_queue,
        outbox.erp_subscriber(&scene.store, &scene.erp),
        QueueOptions::default(),
    );
    assert_each_order_delivered_once(&scene, &placed).await;
    drop(relay);
    let attempts = mailer.attempts.lock().unwrap().clone();
    for order in &placed {
        let expected = if order.email == placed[3].email { 2 } else { 1 };
        assert_eq!(attempts[&order.email], expected, "{order:?}");
    }
    scene.finish().await;
}

// Without backends: the relay and a subscriber on Lambda's own event samples and fakes.

/// A queue that records every batch it is given and refuses the listed ids once each.
#[derive(Default)]
pub(crate) struct RecordingQueue {
    batches: Mutex<Vec<Vec<String>>>,
    bodies: Mutex<Vec<String>>,
    refuse_once: Mutex<Vec<String>>,
}

#[async_trait]
impl EventQueue for RecordingQueue {
    async fn send(&self, messages: &[QueueMessage]) -> Result<Vec<String>, StoreError> {
        self.batches
            .lock()
            .unwrap()
            .push(messages.iter().map(|m| m.id.clone()).collect());
        let mut refuse = self.refuse_once.lock().unwrap();
        let refused: Vec<String> = messages
            .iter()
            .filter(|m| refuse.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        refuse.retain(|id| !refused.contains(id));
        self.bodies.lock().unwrap().extend(
            messages
                .iter()
                .filter(|m| !refused.contains(&m.id))
                .map(|m| m.body.clone()),
        );
        Ok(refused)
    }
}

fn relay_to(queue: &Arc<RecordingQueue>) -> checkout_outbox::Relay {
    checkout_outbox::Relay::new(
        checkout_adapters::dynamodb::order_from_image,
        vec![checkout_outbox::relay::Destination {
            consumer: "test".into(),
            queue: queue.clone(),
        }],
    )
}

fn event(i: usize) -> checkout_domain::model::events::OrderEvent {
    checkout_domain::model::events::OrderEvent {
        id: format!("order-{i}:1"),
        kind: checkout_domain::model::events::EventKind::OrderCreated,
        order_id: format!("order-{i}"),
        order_number: format!("N-{i}"),
        sequence: 1,
        order: serde_json::from_value(json!({
            "id": format!("order-{i}"), "orderNumber": "20261124-ABCDEFGH", "cartId": "6f1c0000-0000-4000-8000-000000000001",
            "cartVersion": 1, "action": "checkout", "state": "Open", "paymentState": "Paid",
            "isGuest": true, "currency": "EUR", "lineItems": [], "discountCodes": [],
            "totals": {
                "subtotal": {"centAmount": 0, "currencyCode": "EUR"},
                "discount": {"centAmount": 0, "currencyCode": "EUR"},
                "shipping": {"centAmount": 0, "currencyCode": "EUR"},
                "tax": {"centAmount": 0, "currencyCode": "EUR"},
                "total": {"centAmount": 0, "currencyCode": "EUR"}
            },
            "createdAt": "2026-11-24T10:00:00Z", "revision": 1
        }))
        .expect("a valid order snapshot"),
        refunded: None,
        fulfillment_id: None,
    }
}

#[tokio::test]
async fn the_relay_sends_batches_of_ten_and_retries_exactly_the_refused_entries() {
    let queue = Arc::new(RecordingQueue::default());
    queue.refuse_once.lock().unwrap().push("3".into());
    let events: Vec<_> = (0..12).map(|i| (format!("seq-{i}"), event(i))).collect();
    let failed = relay_to(&queue).publish(&events).await;
    assert!(failed.is_empty());
    let batches = queue.batches.lock().unwrap().clone();
    let ids = |range: std::ops::Range<usize>| range.map(|i| i.to_string()).collect::<Vec<_>>();
    assert_eq!(batches, vec![ids(0..10), vec!["3".to_string()], ids(0..2)]);
}

#[tokio::test]
async fn lambdas_stream_samples_are_no_news_and_an_unreadable_order_record_is_reported() {
    let queue = Arc::new(RecordingQueue::default());
    let relay = relay_to(&queue);
    for sample in [
        include_str!("../fixtures/aws/example-dynamodb-event.json").to_string(),
        format!(
            r#"{{"Records": [{}]}}"#,
            include_str!("../fixtures/aws/example-dynamodb-event-record-with-optional-fields.json")
        ),
    ] {
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_str(&sample).unwrap();
        let response = relay.handle_stream(event).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert!(
        queue.batches.lock().unwrap().is_empty(),
        "no order, no event"
    );

    // An order item that does not read as an order: reported by its sequence number, so it is
    // retried and then set aside by the event source mapping, never skipped silently.
    let poison: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(json!({
        "Records": [{"eventName": "INSERT", "awsRegion": "us-east-1", "eventID": "1",
            "dynamodb": {"SequenceNumber": "42", "SizeBytes": 10,
                "Keys": {"pk": {"S": "CART#c"}, "sk": {"S": "ORDER"}},
                "NewImage": {"pk": {"S": "CART#c"}, "sk": {"S": "ORDER"}, "state": {"N": "7"}}}}]
    }))
    .unwrap();
    let response = relay.handle_stream(poison).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        response.batch_item_failures[0].item_identifier.as_deref(),
        Some("42")
    );
}

#[tokio::test]
async fn an_unreadable_message_goes_to_the_dlq_and_is_acknowledged() {
    let sample: aws_lambda_events::event::sqs::SqsEvent =
        serde_json::from_str(include_str!("../fixtures/aws/example-sqs-event.json")).unwrap();
    let dead_letters = Arc::new(RecordingQueue::default());
    let mailer = Arc::new(FailOnceFor {
        inner: Arc::new(checkout_tests::outbox::NoMail),
        address: String::new(),
        failed: AtomicBool::new(true),
        attempts: Mutex::default(),
    });
    let subscriber = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer,
            claims: Arc::new(checkout_adapters::MemoryStore::new()),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        Arc::new(checkout_adapters::MemoryStore::new()),
        dead_letters.clone(),
    );
    let response = subscriber.handle(sample).await;
    assert!(response.batch_item_failures.is_empty(), "acknowledged");
    assert_eq!(
        dead_letters.batches.lock().unwrap().len(),
        1,
        "dead-lettered"
    );
}

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
    assert_eq!(app.storefront.expire_saved_orders(10).await.unwrap(), 1);
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

/// A mailer that holds its first send open until the test lets it finish.
#[derive(Default)]
struct HeldMailer {
    sends: AtomicUsize,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl Mailer for HeldMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.sends.fetch_add(1, Ordering::SeqCst);
        self.started.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn two_deliveries_of_one_event_at_the_same_time_send_one_email() {
    let app = App::start(Backend::Memory).await;
    let (guest, cart) = app.paid_guest_cart().await;
    guest
        .post("/orders", order_request(&cart))
        .await
        .assert_status(StatusCode::CREATED);
    let (_, order) = app.stored(&cart).await;
    let event =
        checkout_domain::model::events::order_event(None, order.as_ref()).expect("OrderCreated");
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.body = Some(serde_json::to_string(&event).unwrap());

    let mailer = Arc::new(HeldMailer::default());
    let subscriber = checkout_outbox::Subscriber::new(
        Arc::new(checkout_outbox::EmailConfirmation {
            mailer: mailer.clone(),
            claims: Arc::new(checkout_adapters::MemoryStore::new()),
            claim_url: checkout_tests::outbox::CLAIM_URL.into(),
        }),
        Arc::new(checkout_adapters::MemoryStore::new()),
        Arc::new(RecordingQueue::default()),
    );
    let first = {
        let (subscriber, message) = (subscriber.clone(), message.clone());
        tokio::spawn(async move { subscriber.process(&message).await })
    };
    mailer.started.notified().await;
    // While the first delivery is sending, the duplicate is told to come back later.
    assert_eq!(
        subscriber.process(&message).await,
        checkout_outbox::subscriber::Outcome::Retry
    );
    mailer.release.notify_one();
    assert_eq!(
        first.await.unwrap(),
        checkout_outbox::subscriber::Outcome::Done
    );
    // When it does, the effect is done.
    assert_eq!(
        subscriber.process(&message).await,
        checkout_outbox::subscriber::Outcome::Duplicate
    );
    assert_eq!(mailer.sends.load(Ordering::SeqCst), 1);
}
