//! A payment provider's webhook event, once: deduplicated by its event id through the
//! idempotency layer, linked to its cart (asking the provider when the event does not say),
//! then recorded (`handle_payment_event`). Only a handled event is remembered; a failure
//! releases the event id so the provider's retry is processed afresh.

use time::OffsetDateTime;

use crate::model::error::Error;
use crate::model::idempotency::{fingerprint, IdempotentRequest, RETENTION};
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::psp::ProviderReport;
use crate::usecases::idempotency::{self, Begin};
use crate::usecases::payment_events::EventEffect;
use crate::usecases::Storefront;

/// What became of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAnswer {
    Handled(EventEffect),
    Ignored(String),
    /// Seen and handled before.
    Duplicate,
}

impl Storefront {
    /// Handles event `event_id` of `provider` (e.g. "stripe"), holding its id until
    /// `locked_until`. An event being handled right now is `RequestInProgress`, so the
    /// provider delivers it again should that attempt fail.
    pub async fn receive_payment_report(
        &self,
        provider: &str,
        event_id: &str,
        report: ProviderReport,
        locked_until: OffsetDateTime,
    ) -> Result<WebhookAnswer, Error> {
        let store: &dyn IdempotencyStore = self.store().as_ref();
        let request = IdempotentRequest {
            key: format!("webhook#{provider}#{event_id}"),
            fingerprint: fingerprint(&format!("{provider} event"), &event_id),
            retention: RETENTION,
        };
        let now = self.now();
        let ticket = match idempotency::begin(store, request, now, locked_until).await {
            Ok(Begin::Proceed(ticket)) => ticket,
            Ok(Begin::Replay(_)) | Err(Error::IdempotencyKeyReused) => {
                return Ok(WebhookAnswer::Duplicate)
            }
            Err(e) => return Err(e),
        };
        let answer = self.handle_report(provider, report).await;
        match &answer {
            Ok(_) => {
                idempotency::complete(store, &ticket, None, now).await?;
            }
            Err(_) => idempotency::release(store, &ticket).await,
        }
        answer
    }

    async fn handle_report(
        &self,
        provider: &str,
        report: ProviderReport,
    ) -> Result<WebhookAnswer, Error> {
        let report = match report {
            ProviderReport::Unlinked { reference, relink } => {
                let cart = self
                    .psp_named(provider)?
                    .retrieve(&reference)
                    .await
                    .map_err(Error::internal)?;
                match (cart.is_some(), relink(cart)) {
                    (false, _) => return Ok(WebhookAnswer::Ignored("intent is not ours".into())),
                    (true, report) => report,
                }
            }
            report => report,
        };
        match report {
            ProviderReport::Payment(event) => Ok(WebhookAnswer::Handled(
                self.handle_payment_event(provider, &event).await?,
            )),
            ProviderReport::Ignored(why) => Ok(WebhookAnswer::Ignored(why)),
            ProviderReport::Unreadable(why) => {
                tracing::warn!(%why, "unreadable payment event");
                Ok(WebhookAnswer::Ignored(why))
            }
            ProviderReport::Unlinked { .. } => {
                Ok(WebhookAnswer::Ignored("intent is not ours".into()))
            }
        }
    }
}
