//! A payment provider's webhook event, once: deduplicated by its event id through the
//! idempotency layer, linked to its cart (asking the provider when the event does not say),
//! then recorded (`handle_payment_event`). Only a handled event is remembered; a failure
//! releases the event id so the provider's retry is processed afresh.

use time::OffsetDateTime;

use crate::model::error::Error;
use crate::model::idempotency::IdempotentRequest;
use crate::ports::idempotency::IdempotencyStore;
use crate::ports::psp::ProviderReport;
use crate::usecases::env::Env;
use crate::usecases::idempotency::{self, Once, Record};
use crate::usecases::payment_events::EventEffect;
use crate::usecases::payment_events::PaymentEvents;
use crate::usecases::providers::Providers;

/// What became of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAnswer {
    Handled(EventEffect),
    Ignored(String),
    /// Seen and handled before.
    Duplicate,
}

/// A provider's webhook event, once: over the idempotency records of event ids, the providers
/// it asks which cart an event is for, and the payment events it records.
pub struct PaymentWebhook<'a> {
    pub(crate) idempotency: &'a dyn IdempotencyStore,
    pub(crate) psps: &'a Providers,
    pub(crate) events: PaymentEvents<'a>,
    pub(crate) env: &'a Env,
}

impl PaymentWebhook<'_> {
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
        let store = self.idempotency;
        let request = IdempotentRequest::payment_event(provider, event_id);
        let handle = async {
            let answer = self.handle_report(provider, report).await;
            let record = match answer {
                Ok(_) => Record::Done(None),
                Err(_) => Record::Free,
            };
            (answer, record)
        };
        match idempotency::run_once(store, request, self.env.now(), locked_until, handle).await {
            Ok(Once::Ran { value, .. }) => value,
            Ok(Once::Replayed(_)) | Err(Error::IdempotencyKeyReused) => {
                Ok(WebhookAnswer::Duplicate)
            }
            Err(e) => Err(e),
        }
    }

    async fn handle_report(
        &self,
        provider: &str,
        report: ProviderReport,
    ) -> Result<WebhookAnswer, Error> {
        let report = match report {
            ProviderReport::Unlinked { reference, relink } => {
                let cart = self
                    .psps
                    .recorded(provider)?
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
                self.events.handle_payment_event(provider, &event).await?,
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
