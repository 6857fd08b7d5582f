//! `POST /webhooks/stripe`: authenticate, deduplicate by event id, record. Every authentic
//! event gets a 2xx, duplicates and ignored types included; a bad or stale signature is a
//! 400 and writes nothing; a malformed body is a 400, never a 5xx.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::identity::Deadline;
use crate::json::Json;
use crate::problem::{HttpError, Transport};
use checkout_domain::model::idempotency::{fingerprint, StoredResponse};
use checkout_domain::usecases::idempotency::{self, Begin};
use checkout_domain::usecases::payment_events::EventEffect;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;
use checkout_stripe::{self as stripe, Interpretation};

/// Webhook bodies may be larger than API requests (Stripe objects are verbose).
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;

/// The endpoint's secrets: the current one and, during a rotation, the previous one.
#[derive(Clone)]
pub struct WebhookSecrets(pub Arc<Vec<String>>);

impl WebhookSecrets {
    /// From a comma-separated list (`whsec_new,whsec_old`).
    pub fn parse(list: &str) -> Self {
        WebhookSecrets(Arc::new(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ))
    }
}

#[derive(Clone)]
struct WebhookState {
    storefront: Storefront,
    secrets: WebhookSecrets,
}

pub fn routes(storefront: Storefront, secrets: WebhookSecrets) -> Router {
    Router::new()
        .route("/webhooks/stripe", post(stripe_webhook))
        .with_state(WebhookState {
            storefront,
            secrets,
        })
}

async fn stripe_webhook(
    State(state): State<WebhookState>,
    Deadline(deadline): Deadline,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, HttpError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    receive(
        &state.storefront,
        &state.secrets,
        signature,
        &body,
        deadline,
    )
    .await
    .map(Json)
}

/// Handles one delivery; shared by the route and the local simulator.
pub async fn receive(
    storefront: &Storefront,
    secrets: &WebhookSecrets,
    signature: Option<&str>,
    body: &[u8],
    deadline: time::OffsetDateTime,
) -> Result<Value, HttpError> {
    if body.len() > WEBHOOK_BODY_LIMIT {
        return Err(Transport::PayloadTooLarge {
            limit: WEBHOOK_BODY_LIMIT,
        }
        .into());
    }
    let now = storefront.now();
    stripe::verify_signature(
        signature,
        body,
        &secrets.0,
        now.unix_timestamp(),
        Some(stripe::TOLERANCE_SECONDS),
    )
    .map_err(|e| Transport::InvalidSignature(e.to_string()))?;
    let event: stripe::Event = checkout_domain::model::input::from_slice(body)?;
    let key = format!("webhook#stripe#{}", event.id);
    let fingerprint = fingerprint("stripe event", &event.id);
    let ticket = match idempotency::begin(
        storefront.store().as_ref(),
        key,
        fingerprint,
        now,
        deadline,
    )
    .await
    {
        Ok(Begin::Proceed(ticket)) => ticket,
        // Seen and done: acknowledged.
        Ok(Begin::Replay(_)) | Err(Error::IdempotencyKeyReused) => {
            return Ok(json!({"received": true, "duplicate": true}));
        }
        // Being handled right now: not acknowledged, so Stripe delivers it again should the
        // first attempt fail.
        Err(e @ Error::RequestInProgress { .. }) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    let mut interpretation = stripe::interpret(&event);
    if let Ok(Interpretation::NeedsIntent(reference)) = &interpretation {
        match storefront.psp().retrieve(reference).await {
            Ok(cart) => interpretation = stripe::interpret_for(&event, cart),
            Err(e) => {
                let _ = storefront
                    .store()
                    .release_idempotency(&ticket.key, &ticket.fingerprint)
                    .await;
                return Err(Error::internal(e).into());
            }
        }
    }
    let outcome = match interpretation {
        Ok(Interpretation::Ignored(why)) => Ok(json!({"received": true, "ignored": why})),
        Ok(Interpretation::NeedsIntent(_)) => {
            Ok(json!({"received": true, "ignored": "intent is not ours"}))
        }
        Ok(Interpretation::Payment(payment)) => storefront
            .handle_payment_event(&payment)
            .await
            .map(|effect| json!({"received": true, "effect": describe(&effect)})),
        // Authentic but not the shape we know: acknowledged, logged, never retried forever.
        Err(why) => {
            tracing::warn!(event = %event.id, kind = %event.kind, %why, "unreadable payment event");
            Ok(json!({"received": true, "ignored": why}))
        }
    };
    match outcome {
        Ok(answer) => {
            let record = ticket.completion(
                StoredResponse {
                    status: 200,
                    body: answer.to_string(),
                },
                now,
            );
            storefront
                .store()
                .complete_idempotency(&record)
                .await
                .map_err(Error::Store)?;
            tracing::info!(event = %event.id, kind = %event.kind, answer = %answer, "payment event");
            Ok(answer)
        }
        Err(e) => {
            // Not remembered, so Stripe's retry is processed afresh.
            let _ = storefront
                .store()
                .release_idempotency(&ticket.key, &ticket.fingerprint)
                .await;
            Err(e.into())
        }
    }
}

fn describe(effect: &EventEffect) -> Value {
    match effect {
        EventEffect::Recorded => json!("recorded"),
        EventEffect::Ordered(number) => json!({"ordered": number}),
        EventEffect::Reversed => json!("reversed"),
        EventEffect::OrderPaid(number) => json!({"paid": number}),
        EventEffect::Duplicate => json!("duplicate"),
        EventEffect::Ignored(why) => json!({"ignored": why}),
    }
}
