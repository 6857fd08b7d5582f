//! `POST /webhooks/stripe`: authenticate and read the event here, then hand it to the
//! payment webhook use case (dedupe by event id, link, record). Every authentic
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
use checkout_domain::usecases::payment_events::EventEffect;
use checkout_domain::usecases::payment_webhook::WebhookAnswer;
use checkout_domain::usecases::Storefront;
use checkout_stripe as stripe;

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
    let event: stripe::Event = crate::json::from_slice(body)?;
    let answer = storefront
        .payment_webhook()
        .receive_payment_report("stripe", &event.id, stripe::report(&event), deadline)
        .await?;
    let body = match &answer {
        WebhookAnswer::Handled(effect) => json!({"received": true, "effect": describe(effect)}),
        WebhookAnswer::Ignored(why) => json!({"received": true, "ignored": why}),
        WebhookAnswer::Duplicate => json!({"received": true, "duplicate": true}),
    };
    tracing::info!(event = %event.id, kind = %event.kind, answer = %body, "payment event");
    Ok(body)
}

pub(crate) fn describe(effect: &EventEffect) -> Value {
    match effect {
        EventEffect::Recorded => json!("recorded"),
        EventEffect::Ordered(number) => json!({"ordered": number}),
        EventEffect::Reversed => json!("reversed"),
        EventEffect::OrderPaid(number) => json!({"paid": number}),
        EventEffect::Duplicate => json!("duplicate"),
        EventEffect::Ignored(why) => json!({"ignored": why}),
    }
}
