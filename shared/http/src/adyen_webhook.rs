//! `POST /webhooks/adyen`: Adyen's standard notifications. The request is trusted in this
//! order, each step before any work the next costs: the body's size, the HTTP Basic
//! credentials configured for the webhook, the body's shape (1 to 100 items), then every
//! item's HMAC (two keys during a rotation). Only then is anything recorded: a request with
//! one bad item records nothing. Each item of our merchant account goes to the payment
//! webhook use case (dedupe by Adyen's `pspReference` and event code, link, record); an item
//! of another merchant account is authentic but not ours, and left alone. Every authentic
//! notification is answered `[accepted]`, so Adyen stops delivering it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::identity::Deadline;
use crate::problem::{HttpError, Transport};
use crate::webhook::{describe, WEBHOOK_BODY_LIMIT};
use checkout_adyen::notification::{self, Notification};
use checkout_adyen::signature::{basic_credentials_match, HmacKey};
use checkout_domain::usecases::payment_webhook::WebhookAnswer;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;

/// Adyen's acknowledgement: the body it expects for a notification it may stop sending.
pub const ACCEPTED: &str = "[accepted]";

/// Who may deliver notifications, and for which merchant account.
#[derive(Clone)]
pub struct AdyenWebhook {
    user: String,
    password: String,
    keys: Arc<Vec<HmacKey>>,
    merchant_account: String,
}

impl std::fmt::Debug for AdyenWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials and keys are secrets.
        f.debug_struct("AdyenWebhook")
            .field("merchant_account", &self.merchant_account)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// The webhook's secret as stored in Secrets Manager.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoredSecret {
    username: String,
    password: String,
    /// The HMAC keys, hex, comma-separated: the current one and, during a rotation, the
    /// previous one.
    hmac_keys: String,
}

impl AdyenWebhook {
    /// `hmac_keys` is comma-separated hex (`NEW,OLD` during a rotation).
    pub fn new(
        user: &str,
        password: &str,
        hmac_keys: &str,
        merchant_account: &str,
    ) -> Result<Self, String> {
        let keys = hmac_keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| HmacKey::parse(k).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err("the Adyen webhook needs at least one HMAC key".into());
        }
        if user.is_empty() || password.is_empty() || merchant_account.is_empty() {
            return Err(
                "the Adyen webhook needs its username, password and merchant account".into(),
            );
        }
        Ok(AdyenWebhook {
            user: user.to_string(),
            password: password.to_string(),
            keys: Arc::new(keys),
            merchant_account: merchant_account.to_string(),
        })
    }

    /// From the secret's JSON, `{"username", "password", "hmacKeys": "NEW[,OLD]"}`.
    pub fn from_secret(secret: &str, merchant_account: &str) -> Result<Self, String> {
        let stored: StoredSecret = serde_json::from_str(secret).map_err(|e| {
            format!(
                "the Adyen webhook secret must be JSON with username, password and hmacKeys \
                 (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        Self::new(
            &stored.username,
            &stored.password,
            &stored.hmac_keys,
            merchant_account,
        )
    }

    /// The key new notifications are signed with (for the simulator).
    pub fn signing_key(&self) -> &HmacKey {
        &self.keys[0]
    }

    pub fn merchant_account(&self) -> &str {
        &self.merchant_account
    }

    /// The `Authorization` header Adyen sends (for the simulator).
    pub fn credentials(&self) -> String {
        checkout_adyen::signature::basic_credentials(&self.user, &self.password)
    }
}

#[derive(Clone)]
struct AdyenState {
    storefront: Storefront,
    webhook: AdyenWebhook,
}

pub fn routes(storefront: Storefront, webhook: AdyenWebhook) -> Router {
    Router::new()
        .route("/webhooks/adyen", post(adyen_webhook))
        .with_state(AdyenState {
            storefront,
            webhook,
        })
}

async fn adyen_webhook(
    State(state): State<AdyenState>,
    Deadline(deadline): Deadline,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    receive(
        &state.storefront,
        &state.webhook,
        authorization,
        &body,
        deadline,
    )
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], ACCEPTED).into_response())
}

/// Handles one delivery; shared by the route and the local simulator. Returns what became
/// of each item, in order.
pub async fn receive(
    storefront: &Storefront,
    webhook: &AdyenWebhook,
    authorization: Option<&str>,
    body: &[u8],
    deadline: time::OffsetDateTime,
) -> Result<Vec<Value>, HttpError> {
    if body.len() > WEBHOOK_BODY_LIMIT {
        return Err(Transport::PayloadTooLarge {
            limit: WEBHOOK_BODY_LIMIT,
        }
        .into());
    }
    if !basic_credentials_match(authorization, &webhook.user, &webhook.password) {
        return Err(Transport::Unauthenticated(
            "the Basic credentials are not the webhook's".into(),
        )
        .into());
    }
    let notification = Notification::parse(body)
        .map_err(|e| HttpError::from(Error::invalid("/notificationItems", e.to_string())))?;
    for (index, item) in notification.items().enumerate() {
        item.verify(&webhook.keys)
            .map_err(|e| Transport::Unauthenticated(format!("notification item {index}: {e}")))?;
    }
    let mut answers = Vec::new();
    for item in notification.items() {
        let event_id = item.event_id();
        let answer = if item.merchant_account_code != webhook.merchant_account {
            json!({"event": event_id, "ignored": "another merchant account"})
        } else {
            let answer = storefront
                .payment_webhook()
                .receive_payment_report("adyen", &event_id, notification::report(item), deadline)
                .await?;
            match &answer {
                WebhookAnswer::Handled(effect) => {
                    json!({"event": event_id, "effect": describe(effect)})
                }
                WebhookAnswer::Ignored(why) => json!({"event": event_id, "ignored": why}),
                WebhookAnswer::Duplicate => json!({"event": event_id, "duplicate": true}),
            }
        };
        tracing::info!(event = %event_id, merchant_account = %item.merchant_account_code, answer = %answer, "adyen notification");
        answers.push(answer);
    }
    Ok(answers)
}
