//! The idempotency layer's records, in the shape of AWS Powertools' persistence layer: one
//! record per key, in flight until a deadline or done with an optional stored response. The
//! first request with a key runs and its response is stored; the same key with the same
//! request gets that response again; with a different request, a reuse refusal; while the
//! first still runs, "in progress". An in-flight lock expires with the invocation that took
//! it (its deadline), so a crash never wedges a key. `POST /orders`, the payment webhook's
//! event dedupe and the subscribers' effects all use it (`usecases::idempotency`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::model::identity::Caller;
use crate::model::order_commands::CommandRefusal;
use crate::model::order_snapshot::OrderSnapshot;

/// How long a completed key is honoured.
pub const RETENTION: Duration = Duration::hours(24);

/// A client's `Idempotency-Key`: 1–255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// What a valid key looks like.
pub const KEY_FORMAT: &str = "must be 1–255 visible ASCII characters";

impl IdempotencyKey {
    /// A key as the client sent it; the message says what is wrong (the caller knows where
    /// the key came from).
    pub fn parse(value: &str) -> Result<Self, String> {
        if (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(IdempotencyKey(value.to_string()))
        } else {
            Err(KEY_FORMAT.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a completed request answered, kept so a replay answers the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StoredResponse {
    /// `POST /orders`: the order as it was committed (or found already committed).
    Order(Box<OrderSnapshot>),
    /// `POST /admin/orders`: the order made (processed, or a draft).
    AdminOrder(Box<OrderSnapshot>),
    /// `POST /admin/orders`: the command that failed, and why.
    CommandFailed(Box<CommandRefusal>),
    /// A merchant's (or a customer's) change of an order: the order after it.
    ChangedOrder(Box<OrderSnapshot>),
    /// `POST /admin/orders/{n}/refunds`: the refund made.
    Refund(Box<crate::model::fulfillment::RefundView>),
    /// `POST /admin/orders/{n}/fulfillments`: the shipment recorded.
    Fulfillment(Box<crate::model::fulfillment::Fulfillment>),
    /// `POST /orders/{n}/replicate`: the cart made, and what it left out.
    ReplicatedCart(Box<crate::model::cart_replicate::Replicated>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "state"
)]
pub enum RecordState {
    InFlight {
        /// Unix seconds, so stores can compare it in a condition.
        #[serde(with = "time::serde::timestamp")]
        locked_until: OffsetDateTime,
    },
    /// Done; the response to replay, if the operation answers with one (an effect, or an
    /// acknowledged webhook event, only needs to be known done).
    Done {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response: Option<StoredResponse>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    /// The key, scoped to its caller and operation so keys never collide across customers.
    pub key: String,
    /// SHA-256 of the request the key was first used with.
    pub fingerprint: String,
    #[serde(flatten)]
    pub state: RecordState,
    /// Unix seconds; DynamoDB's TTL attribute, and checked in code since TTL deletes late.
    pub expires_at: i64,
}

impl IdempotencyRecord {
    /// Whether the record still holds its key at `now`: done and not expired, or in flight
    /// under a lock that has not run out.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now.unix_timestamp()
            && match self.state {
                RecordState::InFlight { locked_until } => locked_until > now,
                RecordState::Done { .. } => true,
            }
    }
}

/// One operation's use of the layer: which key, for which request, kept how long once done.
/// Built only by the constructors below, so every key's prefix and scope are said here.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub key: String,
    pub fingerprint: String,
    /// How long a completed record is honoured: a client's retries (`RETENTION`), or longer
    /// than any redelivery can come (the subscribers' effects).
    pub retention: Duration,
}

/// The operations a caller runs once per key. Each names its records' prefix and what the
/// fingerprint binds, so a key used for one operation is never found by another.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    /// `POST /orders`.
    CreateOrder,
    /// `POST /orders/{orderNumber}/replicate`.
    ReplicateOrder,
    /// `POST /admin/orders` (and each body of a batch).
    ProgrammaticOrder,
    /// `POST /admin/orders/{orderNumber}/cancel`.
    CancelOrder(&'a str),
    /// `POST /orders/{orderNumber}/cancel`.
    CustomerCancel(&'a str),
    /// `POST /admin/orders/{orderNumber}/refunds`.
    Refund(&'a str),
    /// `POST /admin/orders/{orderNumber}/fulfillments`.
    Fulfill(&'a str),
    /// `POST /admin/orders/{orderNumber}/fulfillments/{id}/delivered`.
    Delivered(&'a str, &'a str),
}

impl Operation<'_> {
    fn prefix(&self) -> String {
        match self {
            Operation::CreateOrder => "orders".into(),
            Operation::ReplicateOrder => "replicate".into(),
            Operation::ProgrammaticOrder => "admin-orders".into(),
            Operation::CancelOrder(number) => format!("cancel#{number}"),
            Operation::CustomerCancel(number) => format!("customer-cancel#{number}"),
            Operation::Refund(number) => format!("refund#{number}"),
            Operation::Fulfill(number) => format!("fulfill#{number}"),
            Operation::Delivered(number, id) => format!("delivered#{number}#{id}"),
        }
    }

    /// What the fingerprint binds besides the body: the route, or the change of one order.
    fn name(&self) -> String {
        match self {
            Operation::CreateOrder => "POST /orders".into(),
            Operation::ReplicateOrder => "POST /orders/{orderNumber}/replicate".into(),
            Operation::ProgrammaticOrder => "POST /admin/orders".into(),
            changes_an_order => changes_an_order.prefix(),
        }
    }
}

impl IdempotentRequest {
    /// A caller's request to `operation` under their `key`, bound to `body`: the key is
    /// the caller's alone, so it is never replayed to anyone else.
    pub fn keyed(
        operation: Operation<'_>,
        caller: &Caller,
        key: &IdempotencyKey,
        body: &impl Serialize,
    ) -> Self {
        IdempotentRequest {
            key: format!(
                "{}#{}#{}",
                operation.prefix(),
                key_owner(caller),
                key.as_str()
            ),
            fingerprint: fingerprint(&operation.name(), body),
            retention: RETENTION,
        }
    }

    /// A payment provider's event, handled once per provider and event id.
    pub fn payment_event(provider: &str, event_id: &str) -> Self {
        IdempotentRequest {
            key: format!("webhook#{provider}#{event_id}"),
            fingerprint: fingerprint(&format!("{provider} event"), &event_id),
            retention: RETENTION,
        }
    }

    /// A subscriber's effect of an order event, performed once per consumer and event, and
    /// remembered for `retention`.
    pub fn effect(consumer: &str, event_id: &str, retention: Duration) -> Self {
        IdempotentRequest {
            key: format!("effect#{consumer}#{event_id}"),
            fingerprint: fingerprint("effect", &(consumer, event_id)),
            retention,
        }
    }
}

/// Whose keys these are: a customer's, the system's (an administrator with no customer), a
/// guest session's, or nobody's.
fn key_owner(caller: &Caller) -> String {
    match (&caller.customer, caller.admin, &caller.session) {
        (Some(customer), _, _) => format!("customer:{customer}"),
        (None, true, _) => "system".into(),
        (None, false, Some(session)) => format!("guest:{}", session.hash()),
        (None, false, None) => "anonymous".into(),
    }
}

/// The caller holds the key and must complete or release it.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub key: String,
    pub fingerprint: String,
    pub retention: Duration,
}

impl Ticket {
    /// The record that marks this key done with `response`.
    pub fn completion(
        &self,
        response: Option<StoredResponse>,
        now: OffsetDateTime,
    ) -> IdempotencyRecord {
        IdempotencyRecord {
            key: self.key.clone(),
            fingerprint: self.fingerprint.clone(),
            state: RecordState::Done { response },
            expires_at: (now + self.retention).unix_timestamp(),
        }
    }
}

/// The fingerprint of a request: its operation and canonical body.
pub fn fingerprint(operation: &str, body: &impl Serialize) -> String {
    let canonical = serde_json::to_string(body).unwrap_or_default();
    hex::encode(Sha256::digest(
        format!("{operation}\n{canonical}").as_bytes(),
    ))
}
