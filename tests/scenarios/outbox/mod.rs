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

mod delivery;
mod events;
mod failures;
mod relay;

pub(crate) use events::{order_events, KeptMail};
