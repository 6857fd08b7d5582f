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

mod dead_letters;
mod erp;
mod mailers;
mod moto;
mod queue;
mod stream;
mod wait;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use dead_letters::NoDeadLetters;
pub use erp::{ErpRecord, FakeErp, ERP_SECRET};
pub use mailers::{claim_link, Mailbox, NoMail};
pub use moto::{Outbox, SentEmail, VISIBILITY_TIMEOUT};
pub use queue::{QueueOptions, QueuePump};
pub use stream::{StreamOptions, StreamPump};
pub use wait::{eventually, settles};

/// How long a pump waits after finding nothing: the local services serve every test at once.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Where the claim links in test confirmation emails point.
pub const CLAIM_URL: &str = "https://shop.example.com/claim";

/// Aborts its task when dropped, so a test's pumps stop with the test.
pub struct Pump(JoinHandle<()>);

impl Drop for Pump {
    fn drop(&mut self) {
        self.0.abort();
    }
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
