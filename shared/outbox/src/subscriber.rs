//! The order event subscribers: one side effect per consumer (the customer's email: the
//! confirmation for `OrderCreated`, the news of `OrderCancelled`, `OrderRefunded` and
//! `OrderShipped`; the ERP sync, for every event), each behind its own queue, so one's outage
//! never delays or repeats the other.
//!
//! Per message: the effect (consumer, event id) goes through the idempotency layer
//! (`usecases::idempotency`), like `POST /orders` and the webhook: its key is claimed by a
//! conditional put until a lease ends; a done effect is skipped, and one another delivery is
//! performing right now is retried later, so concurrent duplicates never both act. The
//! effect runs, its record turns done, and the message is acknowledged. A crash between the effect and the record repeats the
//! effect once the lease ends: the ERP recognizes the event's key and answers 409; an email
//! would go twice, which is the narrowest window this design leaves. Transient failures fail the message
//! (SQS redelivers it after its visibility timeout); permanent ones go to the dead-letter
//! queue explicitly and are acknowledged, so a refused message is neither retried forever nor
//! lost.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use time::OffsetDateTime;

use checkout_domain::model::events::{EventKind, OrderEvent};
use checkout_domain::model::idempotency::IdempotentRequest;
use checkout_domain::model::order::OrderState;
use checkout_domain::model::order_snapshot::OrderSnapshot;
use checkout_domain::ports::erp::{Erp, ErpReceipt};
use checkout_domain::ports::idempotency::IdempotencyStore;
use checkout_domain::ports::mailer::Mailer;
use checkout_domain::ports::queue::{EventQueue, QueueMessage};
use checkout_domain::ports::DeliveryError;
use checkout_domain::usecases::idempotency::{self, Once, Record};
use checkout_domain::Error;

use crate::email::{cancellation, confirmation, refund, shipment};
use checkout_domain::model::claim::{claim_link, ClaimTicket};
use checkout_domain::model::values::Email;
use checkout_domain::ports::claims::ClaimTickets;

/// How long a delivery may take to perform an effect before another may try: well above
/// an SES call or the ERP timeout, well below the queues' visibility timeouts.
pub const LEASE: time::Duration = time::Duration::seconds(60);

/// How long an effect is remembered done: longer than a message can live in SQS (14 days)
/// or a change in the stream (24 hours), so no redelivery outlives it.
const EFFECT_RETENTION: time::Duration = time::Duration::days(30);

/// What one consumer does for an event.
#[async_trait]
pub trait SideEffect: Send + Sync + 'static {
    /// The consumer's name in effect records and logs.
    fn consumer(&self) -> &'static str;
    /// Performs the effect; `Ok(false)` when the event needs none.
    async fn perform(&self, event: &OrderEvent) -> Result<bool, DeliveryError>;
}

/// The customer's emails, each once per event (so once per change of the order):
/// - `OrderCreated`: the order confirmation (a saved order's says it awaits payment; its
///   later payment sends nothing more). A guest's carries a claim link: a fresh token minted
///   here, whose hash is stored (with the email and a 7-day expiry) before the email leaves,
///   so the token exists in the email and nowhere else.
/// - `OrderCancelled`: the cancellation, with the money that goes back.
/// - `OrderRefunded`: the amount given back, once it landed; not for a cancelled order,
///   whose cancellation email said its money goes back.
/// - `OrderShipped`: the shipment's carrier, tracking number and link.
/// - `OrderPaid`, `OrderDelivered`: nothing.
///
/// A programmatic order with `sendReceipt: false` gets none of them: its integration talks
/// to its customer itself.
pub struct EmailConfirmation {
    pub mailer: Arc<dyn Mailer>,
    pub claims: Arc<dyn ClaimTickets>,
    /// Where the claim link points (`CLAIM_URL`): the storefront's page that signs the guest
    /// in and posts the email and token to `POST /customers/claim`.
    pub claim_url: String,
}

#[async_trait]
impl SideEffect for EmailConfirmation {
    fn consumer(&self) -> &'static str {
        "email"
    }

    async fn perform(&self, event: &OrderEvent) -> Result<bool, DeliveryError> {
        if !event.order.wants_receipt() {
            return Ok(false);
        }
        let email = match event.kind {
            EventKind::OrderCreated => {
                let claim_link = self.claim_link(&event.order).await?;
                confirmation(&event.order, claim_link.as_deref())?
            }
            EventKind::OrderCancelled => cancellation(&event.order)?,
            EventKind::OrderRefunded => match event.refunded {
                Some(amount) if !amount.is_zero() && event.order.state != OrderState::Cancelled => {
                    refund(&event.order, amount)?
                }
                _ => return Ok(false),
            },
            EventKind::OrderShipped => shipment(&event.order, event.fulfillment_id.as_deref())?,
            EventKind::OrderPaid | EventKind::OrderDelivered => return Ok(false),
        };
        let Some(email) = email else {
            tracing::warn!(order = %event.order_number, kind = ?event.kind, "order without an email address: no email");
            return Ok(false);
        };
        self.mailer.send(&email).await?;
        Ok(true)
    }
}

impl EmailConfirmation {
    /// A guest's claim link for the order's confirmation: `None` for a customer's order.
    async fn claim_link(&self, order: &OrderSnapshot) -> Result<Option<String>, DeliveryError> {
        let Some(email) = guest_email(order) else {
            return Ok(None);
        };
        // A retry after a failed send mints another token: the unsent one was never seen
        // by anyone, and expires unused.
        let (token, ticket) = ClaimTicket::mint(&email, OffsetDateTime::now_utc());
        self.claims
            .save_claim_ticket(&ticket)
            .await
            .map_err(|e| DeliveryError::Transient(e.to_string()))?;
        Ok(Some(claim_link(&self.claim_url, email.as_str(), &token)))
    }
}

/// The email of a guest order's view, if it is a guest's and has one.
fn guest_email(order: &OrderSnapshot) -> Option<Email> {
    order.customer_email.clone().filter(|_| order.is_guest)
}

/// Every order event, pushed to the ERP.
pub struct ErpSync {
    pub erp: Arc<dyn Erp>,
}

#[async_trait]
impl SideEffect for ErpSync {
    fn consumer(&self) -> &'static str {
        "erp"
    }

    async fn perform(&self, event: &OrderEvent) -> Result<bool, DeliveryError> {
        if !event.order.goes_to_erp() {
            return Ok(false);
        }
        match self.erp.push(event).await? {
            ErpReceipt::Created => {}
            ErpReceipt::AlreadySynced => {
                tracing::info!(order = %event.order_number, kind = ?event.kind, "the ERP had the event already")
            }
        }
        Ok(true)
    }
}

/// A consumer behind its SQS queue.
#[derive(Clone)]
pub struct Subscriber {
    effect: Arc<dyn SideEffect>,
    effects: Arc<dyn IdempotencyStore>,
    dead_letters: Arc<dyn EventQueue>,
}

/// How one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Done before (a redelivery): nothing happened.
    Duplicate,
    /// Nothing to do for this consumer.
    Skipped,
    /// Refused for good: moved to the dead-letter queue.
    DeadLettered,
    /// Worth another try: SQS redelivers it.
    Retry,
}

impl Subscriber {
    pub fn new(
        effect: Arc<dyn SideEffect>,
        effects: Arc<dyn IdempotencyStore>,
        dead_letters: Arc<dyn EventQueue>,
    ) -> Self {
        Subscriber {
            effect,
            effects,
            dead_letters,
        }
    }

    pub fn consumer(&self) -> &'static str {
        self.effect.consumer()
    }

    /// One SQS batch, as Lambda delivers it. Only the messages that should come back are
    /// reported; Lambda deletes the rest.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for message in event.records {
            let id = message.message_id.clone().unwrap_or_default();
            if self.process(&message).await == Outcome::Retry {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// One message.
    pub async fn process(&self, message: &SqsMessage) -> Outcome {
        let consumer = self.consumer();
        let body = message.body.as_deref().unwrap_or_default();
        let event: OrderEvent = match serde_json::from_str(body) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(consumer, %error, "unreadable message");
                return self.dead_letter(body).await;
            }
        };
        let now = OffsetDateTime::now_utc();
        let request = IdempotentRequest::effect(consumer, &event.id, EFFECT_RETENTION);
        let perform = async {
            let performed = self.effect.perform(&event).await;
            // Nothing happened unless it performed: the next delivery may try at once.
            let record = match performed {
                Ok(true) => Record::Done(None),
                _ => Record::Free,
            };
            (performed, record)
        };
        let store = self.effects.as_ref();
        let performed = match idempotency::run_once(store, request, now, now + LEASE, perform).await
        {
            Ok(Once::Ran { value, recorded }) => (value, recorded),
            Ok(Once::Replayed(_)) => return Outcome::Duplicate,
            // Another delivery is performing it right now.
            Err(Error::RequestInProgress { .. }) => return Outcome::Retry,
            Err(error) => {
                tracing::warn!(consumer, event = %event.id, %error, "effect log unavailable");
                return Outcome::Retry;
            }
        };
        match performed {
            (Ok(true), true) => {
                tracing::info!(consumer, event = %event.id, order = %event.order_number, "done");
                Outcome::Done
            }
            // A concurrent delivery of the same event finished first.
            (Ok(true), false) => Outcome::Duplicate,
            (Ok(false), _) => Outcome::Skipped,
            (Err(DeliveryError::Transient(error)), _) => {
                tracing::warn!(consumer, event = %event.id, %error, "will retry");
                Outcome::Retry
            }
            (Err(DeliveryError::Permanent(error)), _) => {
                tracing::error!(consumer, event = %event.id, %error, "refused for good");
                self.dead_letter(body).await
            }
        }
    }

    async fn dead_letter(&self, body: &str) -> Outcome {
        let message = QueueMessage {
            id: "0".into(),
            body: body.to_string(),
        };
        match self.dead_letters.send(std::slice::from_ref(&message)).await {
            Ok(refused) if refused.is_empty() => Outcome::DeadLettered,
            Ok(_) => Outcome::Retry,
            Err(error) => {
                tracing::warn!(consumer = self.consumer(), %error, "dead-letter queue unavailable");
                Outcome::Retry
            }
        }
    }
}
