//! The ERP over HTTP behind the `Erp` port: `POST` of each order event as JSON (`kind`:
//! `OrderCreated`, `OrderPaid`, `OrderCancelled`, `OrderRefunded`, `OrderShipped` or
//! `OrderDelivered`; `refunded` (the money a refund gave back) and `fulfillmentId` (the
//! shipment shipped or delivered) where they apply; `id`, `orderId`,
//! `orderNumber`, `sequence` (the order's revision) and `order`, the order view), keyed by
//! `Idempotency-Key: <order number>:<sequence>` and signed with a shared secret, so the ERP
//! can recognize a repeat of one event, order events by sequence, and trust the sender.
//!
//! Signature header `X-Checkout-Signature: t=<unix seconds>,v1=<hex>` with
//! `v1 = HMAC-SHA256(secret, "<t>.<raw body>")`: the scheme the PSP webhooks use, so the ERP
//! can reject stale replays by `t`.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use checkout_domain::model::events::OrderEvent;
use checkout_domain::ports::erp::{Erp, ErpReceipt};
use checkout_domain::ports::DeliveryError;

pub const SIGNATURE_HEADER: &str = "x-checkout-signature";

#[derive(Clone)]
pub struct HttpErp {
    client: reqwest::Client,
    endpoint: String,
    secret: Vec<u8>,
}

impl HttpErp {
    /// `timeout` bounds each request; a timeout is a transient failure (retried).
    pub fn new(
        endpoint: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(HttpErp {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            endpoint: endpoint.into(),
            secret: secret.into(),
        })
    }
}

/// What the ERP recognizes one event by: `<order number>:<sequence>`.
pub fn idempotency_key(event: &OrderEvent) -> String {
    format!("{}:{}", event.order_number, event.sequence)
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[async_trait]
impl Erp for HttpErp {
    async fn push(&self, event: &OrderEvent) -> Result<ErpReceipt, DeliveryError> {
        let body =
            serde_json::to_vec(event).map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("idempotency-key", idempotency_key(event))
            .header(SIGNATURE_HEADER, signature(&self.secret, now, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("ERP unreachable: {e}")))?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => Ok(ErpReceipt::Created),
            409 => Ok(ErpReceipt::AlreadySynced),
            // Timeouts, throttling and server errors pass; other refusals would repeat.
            408 | 425 | 429 | 500..=599 => {
                Err(DeliveryError::Transient(format!("ERP answered {status}")))
            }
            _ => {
                let detail = response.text().await.unwrap_or_default();
                Err(DeliveryError::Permanent(format!(
                    "ERP refused the event ({status}): {detail}"
                )))
            }
        }
    }
}
