//! The outbox's event sources, run the way Lambda runs them, against the real local services:
//!
//! - [`StreamPump`] reads the table's stream from DynamoDB Local (DescribeStream,
//!   GetShardIterator, GetRecords) and hands batches to the relay as Lambda's stream event
//!   source mapping would: a batch whose handler crashed comes again whole; a reported item
//!   failure comes again from that record on.
//! - [`QueuePump`] reads a moto SQS queue (ReceiveMessage) and hands batches to a subscriber
//!   as Lambda's SQS event source mapping would: acknowledged messages are deleted, failed and
//!   crashed ones reappear after their visibility timeout.
//! - [`FakeErp`] is an ERP on 127.0.0.1 that records what it gets and answers as scripted.
//! - [`Outbox`] makes per-test queues and reads the emails moto's SES kept.
//!
//! Tests need `CHECKOUT_TEST_DYNAMODB_ENDPOINT` and `CHECKOUT_TEST_AWS_ENDPOINT` (moto), which
//! `scripts/test.sh` sets.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use axum::extract::State;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;

use checkout_adapters::{DynamoStore, HttpErp, SesMailer, SqsQueue};
use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::queue::EventQueue;
use checkout_domain::ports::DeliveryError;
use checkout_outbox::relay::{Destination, Relay};
use checkout_outbox::{EmailConfirmation, ErpSync, Subscriber};

use crate::{local_aws, LocalService};

/// The ERP's shared signing secret in tests.
pub const ERP_SECRET: &str = "erp-test-secret";

/// How long a pump waits after finding nothing: the local services serve every test at once.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Seconds a received message stays invisible: short, so retries come quickly.
pub const VISIBILITY_TIMEOUT: i32 = 1;

/// Where the claim links in test confirmation emails point.
pub const CLAIM_URL: &str = "https://shop.example.com/claim";

/// Polls `check` until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `state` until `done` holds for it, and fails only when the state has not moved for
/// `stall` (or after ten times that in all): a machine busy with other suites gets the time
/// it needs, while a pipeline that stopped still fails, naming where it stood.
pub async fn settles<S, F, Fut>(
    what: &str,
    stall: Duration,
    mut state: F,
    done: impl Fn(&S) -> bool,
) -> S
where
    S: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let started = Instant::now();
    let mut last = state().await;
    let mut moved = Instant::now();
    loop {
        if done(&last) {
            return last;
        }
        assert!(
            moved.elapsed() < stall && started.elapsed() < stall * 10,
            "waiting for {what}: stuck at {last:?} for {:?} ({:?} in all)",
            moved.elapsed(),
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = state().await;
        if now != last {
            last = now;
            moved = Instant::now();
        }
    }
}

/// An email as moto's SES kept it (moto keeps the HTML body when there is one).
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// One test's queues (each with its DLQ) and mail sender, all named after the test's tag.
pub struct Outbox {
    pub sqs: aws_sdk_sqs::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub email_queue: String,
    pub email_dlq: String,
    pub erp_queue: String,
    pub erp_dlq: String,
    pub sender: String,
    /// Unique to this test: in queue names and in every address the test mails to.
    pub tag: String,
    /// Emails SES accepted through [`Outbox::mailer`]: cheap to poll, where reading them back
    /// from moto is not.
    pub emails_accepted: Arc<Counter>,
    endpoint: String,
}

impl Outbox {
    pub async fn start() -> Outbox {
        let config = local_aws(LocalService::Moto);
        let endpoint = config.endpoint_url().expect("an endpoint").to_string();
        let sqs = aws_sdk_sqs::Client::new(config);
        let ses = aws_sdk_sesv2::Client::new(config);
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let sender = format!("shop-{tag}@example.com");
        ses.create_email_identity()
            .email_identity(&sender)
            .send()
            .await
            .expect("verify the sender identity");
        let mut outbox = Outbox {
            sqs,
            ses,
            email_queue: String::new(),
            email_dlq: String::new(),
            erp_queue: String::new(),
            erp_dlq: String::new(),
            sender,
            tag,
            emails_accepted: Arc::default(),
            endpoint,
        };
        outbox.email_queue = outbox.create_queue("email").await;
        outbox.email_dlq = outbox.create_queue("email-dlq").await;
        outbox.erp_queue = outbox.create_queue("erp").await;
        outbox.erp_dlq = outbox.create_queue("erp-dlq").await;
        outbox
    }

    async fn create_queue(&self, name: &str) -> String {
        self.sqs
            .create_queue()
            .queue_name(format!("test-{}-{name}", self.tag))
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT.to_string(),
            )
            .send()
            .await
            .expect("create a test queue")
            .queue_url
            .expect("a queue URL")
    }

    /// An email address unique to this test.
    pub fn address(&self, local: &str) -> String {
        format!("{local}@{}.example.org", self.tag)
    }

    pub fn queue(&self, url: &str) -> Arc<dyn EventQueue> {
        Arc::new(SqsQueue::new(self.sqs.clone(), url))
    }

    /// The relay as the function builds it, each queue passed through `wrap` (for faults).
    pub fn relay_with(&self, wrap: impl Fn(Arc<dyn EventQueue>) -> Arc<dyn EventQueue>) -> Relay {
        Relay::new(
            checkout_adapters::dynamodb::order_from_image,
            vec![
                Destination {
                    consumer: "email".into(),
                    queue: wrap(self.queue(&self.email_queue)),
                },
                Destination {
                    consumer: "erp".into(),
                    queue: wrap(self.queue(&self.erp_queue)),
                },
            ],
        )
    }

    pub fn relay(&self) -> Relay {
        self.relay_with(|queue| queue)
    }

    /// SES as the function uses it, counting what it accepted.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        Arc::new(CountingMailer {
            inner: SesMailer::new(self.ses.clone(), &self.sender),
            accepted: self.emails_accepted.clone(),
        })
    }

    /// The email subscriber as the function builds it, sending through `mailer`.
    pub fn email_subscriber(&self, store: &DynamoStore, mailer: Arc<dyn Mailer>) -> Subscriber {
        Subscriber::new(
            Arc::new(EmailConfirmation {
                mailer,
                claims: Arc::new(store.clone()),
                claim_url: CLAIM_URL.into(),
            }),
            Arc::new(store.clone()),
            self.queue(&self.email_dlq),
        )
    }

    /// The ERP subscriber as the function builds it, pushing to `erp`.
    pub fn erp_subscriber(&self, store: &DynamoStore, erp: &FakeErp) -> Subscriber {
        let client = HttpErp::new(&erp.url, ERP_SECRET, ERP_TIMEOUT).unwrap();
        Subscriber::new(
            Arc::new(ErpSync {
                erp: Arc::new(client),
            }),
            Arc::new(store.clone()),
            self.queue(&self.erp_dlq),
        )
    }

    /// Every email moto's SES sent to this test's addresses. Moto serves its whole state at
    /// once, so this is slow: poll [`Outbox::emails_accepted`] instead, then read them here.
    pub async fn sent_emails(&self) -> Vec<SentEmail> {
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", self.endpoint))
            .await
            .expect("moto's data")
            .json()
            .await
            .expect("moto's data is JSON");
        let suffix = format!("@{}.example.org", self.tag);
        data["ses"]["Message"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|m| SentEmail {
                from: m["source"].as_str().unwrap_or_default().to_string(),
                to: m["destinations"]["ToAddresses"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect(),
                subject: m["subject"].as_str().unwrap_or_default().to_string(),
                body: m["body"].as_str().unwrap_or_default().to_string(),
            })
            .filter(|m| m.to.iter().any(|to| to.ends_with(&suffix)))
            .collect()
    }

    /// Deletes this test's queues (tests that pass clean up; a failed one leaves them to look at).
    pub async fn delete(&self) {
        for url in [
            &self.email_queue,
            &self.email_dlq,
            &self.erp_queue,
            &self.erp_dlq,
        ] {
            let _ = self.sqs.delete_queue().queue_url(url).send().await;
        }
    }

    /// Messages in a queue, visible or in flight.
    pub async fn depth(&self, url: &str) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        attributes
            .values()
            .map(|v| v.parse::<usize>().unwrap_or(0))
            .sum()
    }
}

struct CountingMailer {
    inner: SesMailer,
    accepted: Arc<Counter>,
}

#[async_trait::async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.inner.send(email).await?;
        self.accepted.bump();
        Ok(())
    }
}

/// A mailer that keeps what it is given.
#[derive(Default)]
pub struct Mailbox(Mutex<Vec<OutgoingEmail>>);

impl Mailbox {
    /// The emails kept so far, oldest first; forgets them.
    pub fn take(&self) -> Vec<OutgoingEmail> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl Mailer for Mailbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().push(email.clone());
        Ok(())
    }
}

/// A dead-letter queue that must never be used.
pub struct NoDeadLetters;

#[async_trait::async_trait]
impl EventQueue for NoDeadLetters {
    async fn send(
        &self,
        messages: &[checkout_domain::ports::queue::QueueMessage],
    ) -> Result<Vec<String>, checkout_domain::StoreError> {
        panic!("dead-lettered: {messages:?}")
    }
}

/// The `email` and `token` of the claim link in an email's text.
pub fn claim_link(email: &OutgoingEmail) -> (String, String) {
    let start = email
        .text
        .find(CLAIM_URL)
        .unwrap_or_else(|| panic!("a claim link in {:?}", email.text));
    let link = email.text[start..].split_whitespace().next().unwrap();
    let query = link.split_once('?').expect("a query").1;
    let mut pairs = query.split('&').map(|pair| pair.split_once('=').unwrap());
    let (email_key, address) = pairs.next().unwrap();
    let (token_key, token) = pairs.next().unwrap();
    assert_eq!((email_key, token_key), ("email", "token"));
    (percent_decode(address), percent_decode(token))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A mailer that accepts everything and sends nothing.
pub struct NoMail;

#[async_trait::async_trait]
impl Mailer for NoMail {
    async fn send(&self, _email: &OutgoingEmail) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// Aborts its task when dropped, so a test's pumps stop with the test.
pub struct Pump(JoinHandle<()>);

impl Drop for Pump {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How the stream event source mapping behaves.
#[derive(Debug, Clone, Copy)]
pub struct StreamOptions {
    /// Records per invocation (Lambda's `BatchSize`).
    pub batch_size: usize,
    /// How often each batch is handed to the relay (at-least-once delivery, exaggerated).
    pub deliveries: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            batch_size: 20,
            deliveries: 1,
        }
    }
}

/// Reads a table's stream into the relay until dropped.
pub struct StreamPump;

impl StreamPump {
    pub async fn start(store: &DynamoStore, relay: Relay, options: StreamOptions) -> Pump {
        let streams = aws_sdk_dynamodbstreams::Client::new(local_aws(LocalService::DynamoDb));
        let arn = store
            .client()
            .describe_table()
            .table_name(store.table())
            .send()
            .await
            .expect("describe the table")
            .table
            .and_then(|t| t.latest_stream_arn)
            .expect(
                "the table has a stream: call checkout_tests::keep_streams() before App::start",
            );
        Pump(tokio::spawn(pump_stream(streams, arn, relay, options)))
    }
}

/// Lambda's stream polling, for one table: shards in the order listed (parents first), each
/// read from its start; a batch is retried until the relay reports no failure.
async fn pump_stream(
    streams: aws_sdk_dynamodbstreams::Client,
    arn: String,
    relay: Relay,
    options: StreamOptions,
) {
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut pending: Vec<EventRecord> = Vec::new();
    for round in 0u64.. {
        // New shards, in listing order; they are rare, so not every round.
        let describe = round % 20 == 0 || order.is_empty();
        let described = if describe {
            streams.describe_stream().stream_arn(&arn).send().await.ok()
        } else {
            None
        };
        if let Some(described) = described {
            for shard in described
                .stream_description
                .and_then(|d| d.shards)
                .unwrap_or_default()
            {
                let Some(id) = shard.shard_id else { continue };
                if iterators.contains_key(&id) {
                    continue;
                }
                let iterator = streams
                    .get_shard_iterator()
                    .stream_arn(&arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .ok()
                    .and_then(|o| o.shard_iterator);
                iterators.insert(id.clone(), iterator);
                order.push(id);
            }
        }
        let mut found = false;
        for id in &order {
            let Some(Some(iterator)) = iterators.get(id).cloned() else {
                continue;
            };
            let Ok(output) = streams.get_records().shard_iterator(iterator).send().await else {
                continue;
            };
            let records = output.records.unwrap_or_default();
            found |= !records.is_empty();
            pending.extend(records.into_iter().map(to_lambda));
            iterators.insert(id.clone(), output.next_shard_iterator);
        }
        while !pending.is_empty() {
            let batch: Vec<EventRecord> =
                pending.iter().take(options.batch_size).cloned().collect();
            let mut retry_from: Option<usize> = None;
            for _ in 0..options.deliveries {
                let mut event = Event::default();
                event.records = batch.clone();
                let relay = relay.clone();
                // A panic in the handler is a crashed invocation: the whole batch comes again.
                match tokio::spawn(async move { relay.handle_stream(event).await }).await {
                    Ok(response) => {
                        let failed: Vec<String> = response
                            .batch_item_failures
                            .into_iter()
                            .filter_map(|f| f.item_identifier)
                            .collect();
                        if let Some(first) = batch.iter().position(|r| {
                            r.change
                                .sequence_number
                                .as_ref()
                                .is_some_and(|s| failed.contains(s))
                        }) {
                            retry_from = Some(retry_from.map_or(first, |r: usize| r.min(first)));
                        }
                    }
                    Err(_) => retry_from = Some(0),
                }
            }
            match retry_from {
                // Checkpoint: everything before the first failed record is done.
                Some(first) => {
                    pending.drain(..first);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => {
                    pending.drain(..batch.len());
                }
            }
        }
        if !found {
            tokio::time::sleep(IDLE_POLL).await;
        }
    }
}

/// A stream record as Lambda's event carries it.
fn to_lambda(record: aws_sdk_dynamodbstreams::types::Record) -> EventRecord {
    let stream = record
        .dynamodb
        .unwrap_or_else(|| aws_sdk_dynamodbstreams::types::StreamRecord::builder().build());
    let mut change = StreamRecord::default();
    change.keys = stream.keys.unwrap_or_default().into();
    change.new_image = stream.new_image.unwrap_or_default().into();
    change.old_image = stream.old_image.unwrap_or_default().into();
    change.sequence_number = stream.sequence_number;
    change.size_bytes = stream.size_bytes.unwrap_or_default();
    let mut event = EventRecord::default();
    event.change = change;
    event.event_id = record.event_id.unwrap_or_default();
    event.event_name = record
        .event_name
        .map(|n| n.as_str().to_string())
        .unwrap_or_default();
    event.event_source = record.event_source;
    event.aws_region = record.aws_region.unwrap_or_default();
    event
}

/// How the SQS event source mapping behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueOptions {
    /// Extra times each received batch is handed to the subscriber before acknowledging.
    pub extra_deliveries: usize,
    /// The first handling of each message "crashes" after the subscriber returned: nothing is
    /// acknowledged, so the message reappears after its visibility timeout.
    pub crash_before_ack_once: bool,
}

/// Reads a queue into a subscriber until dropped.
pub struct QueuePump;

impl QueuePump {
    pub fn start(
        sqs: &aws_sdk_sqs::Client,
        url: &str,
        subscriber: Subscriber,
        options: QueueOptions,
    ) -> Pump {
        Pump(tokio::spawn(pump_queue(
            sqs.clone(),
            url.to_string(),
            subscriber,
            options,
        )))
    }
}

async fn pump_queue(
    sqs: aws_sdk_sqs::Client,
    url: String,
    subscriber: Subscriber,
    options: QueueOptions,
) {
    let mut crashed: Vec<String> = Vec::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await;
        let messages = received.ok().and_then(|r| r.messages).unwrap_or_default();
        if messages.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id.clone();
                record.receipt_handle = m.receipt_handle.clone();
                record.body = m.body.clone();
                record.event_source = Some("aws:sqs".into());
                record
            })
            .collect();
        let mut failed: Vec<String> = Vec::new();
        let mut crash = false;
        for _ in 0..=options.extra_deliveries {
            let (subscriber, event) = (subscriber.clone(), event.clone());
            match tokio::spawn(async move { subscriber.handle(event).await }).await {
                Ok(response) => failed.extend(
                    response
                        .batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier),
                ),
                Err(_) => crash = true,
            }
        }
        if options.crash_before_ack_once {
            for m in &messages {
                let id = m.message_id.clone().unwrap_or_default();
                if !crashed.contains(&id) {
                    crashed.push(id);
                    crash = true;
                }
            }
        }
        if crash {
            continue;
        }
        let delete: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !failed.contains(m.message_id.as_ref().unwrap()))
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .build()
                    .unwrap()
            })
            .collect();
        if !delete.is_empty() {
            let _ = sqs
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(delete))
                .send()
                .await;
        }
    }
}

/// One order event as the fake ERP got it, stored under its `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct ErpRecord {
    /// The event's `kind`, e.g. `OrderPaid`.
    pub kind: String,
    pub sequence: u64,
    /// The order view the event carries.
    pub order: Value,
    pub signature: String,
}

#[derive(Default)]
struct ErpState {
    records: HashMap<String, ErpRecord>,
    /// Answers to give before behaving normally, in order.
    script: Vec<StatusCode>,
    /// Customers whose orders are refused with 400 (while listed).
    refuse: Vec<String>,
    /// Calls (after the script) answered only after [`SLOW_ANSWER`]: the client times out,
    /// though the ERP takes the order.
    slow: usize,
    calls: usize,
}

/// Longer than the ERP client's timeout in these tests.
const SLOW_ANSWER: Duration = Duration::from_millis(1500);
/// The ERP client's timeout in these tests.
const ERP_TIMEOUT: Duration = Duration::from_millis(1000);

/// An ERP on 127.0.0.1: stores each order event once by its `Idempotency-Key`, answers 409
/// for a key it has, checks the signature, and can be told to fail.
#[derive(Clone)]
pub struct FakeErp {
    pub url: String,
    state: Arc<Mutex<ErpState>>,
    _server: Arc<Pump>,
}

impl FakeErp {
    pub async fn start() -> FakeErp {
        let state = Arc::new(Mutex::new(ErpState::default()));
        let app = axum::Router::new()
            .route("/orders", post(erp_receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/orders", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeErp {
            url,
            state,
            _server: Arc::new(Pump(server)),
        }
    }

    /// The next calls get these answers, whatever they carry.
    pub fn script(&self, answers: &[StatusCode]) {
        self.state.lock().unwrap().script = answers.to_vec();
    }

    /// The next `calls` (after the script) are answered too late for the client.
    pub fn slow(&self, calls: usize) {
        self.state.lock().unwrap().slow = calls;
    }

    /// Orders of the customer with this email are refused with 400 until `accept_all`.
    pub fn refuse_customer(&self, email: &str) {
        self.state.lock().unwrap().refuse.push(email.into());
    }

    pub fn accept_all(&self) {
        self.state.lock().unwrap().refuse.clear();
    }

    /// Every event taken, by `Idempotency-Key` (`<order number>:<sequence>`).
    pub fn records(&self) -> HashMap<String, ErpRecord> {
        self.state.lock().unwrap().records.clone()
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

async fn erp_receive(
    State(state): State<Arc<Mutex<ErpState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let slow = {
        let mut state = state.lock().unwrap();
        state.calls += 1;
        if !state.script.is_empty() {
            return state.script.remove(0);
        }
        let slow = state.slow > 0;
        state.slow = state.slow.saturating_sub(1);
        slow
    };
    if slow {
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    let mut state = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (key, signature) = (header("idempotency-key"), header("x-checkout-signature"));
    let timestamp: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    if signature != checkout_adapters::erp::signature(ERP_SECRET.as_bytes(), timestamp, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    let customer = event["order"]["customerEmail"].as_str().unwrap_or_default();
    if state.refuse.iter().any(|refused| refused == customer) {
        return StatusCode::BAD_REQUEST;
    }
    if state.records.contains_key(&key) {
        return StatusCode::CONFLICT;
    }
    let record = ErpRecord {
        kind: event["kind"].as_str().unwrap_or_default().to_string(),
        sequence: event["sequence"].as_u64().unwrap_or_default(),
        order: event["order"].clone(),
        signature,
    };
    state.records.insert(key, record);
    StatusCode::CREATED
}

/// Counts calls, e.g. to see which sends were retried.
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Counter {
    pub fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}
