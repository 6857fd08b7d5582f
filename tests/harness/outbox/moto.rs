//! [`Outbox`]: one test's SQS queues and SES sender on moto, and the relay and
//! subscribers built on them as the functions build theirs.

use std::sync::Arc;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use checkout_adapters::{DynamoStore, HttpErp, SesMailer, SqsQueue};
use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::queue::EventQueue;
use checkout_domain::ports::DeliveryError;
use checkout_outbox::relay::{Destination, Relay};
use checkout_outbox::{EmailConfirmation, ErpSync, Subscriber};

use super::erp::ERP_TIMEOUT;
use super::{Counter, FakeErp, CLAIM_URL, ERP_SECRET};
use crate::{local_aws, LocalService};

/// Seconds a received message stays invisible: short, so retries come quickly.
pub const VISIBILITY_TIMEOUT: i32 = 1;

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
