//! The payment providers a storefront works with.

use std::sync::Arc;

use crate::model::error::Error;
use crate::model::money::Money;
use crate::model::values::CartId;
use crate::ports::psp::{PaymentProvider, PspError};

/// The payment providers a storefront works with: the default, for a new payment that names
/// none, and every other a payment may name. A payment's captures, cancels and refunds go to
/// the provider recorded on it, whichever is the default now.
#[derive(Clone)]
pub(crate) struct Providers {
    pub(crate) default: Arc<dyn PaymentProvider>,
    pub(crate) others: Vec<Arc<dyn PaymentProvider>>,
}

impl Providers {
    /// The provider called `name` (a recorded payment's): one this deployment is not
    /// configured with is an operator's problem, not the caller's.
    pub(crate) fn recorded(&self, name: &str) -> Result<&dyn PaymentProvider, Error> {
        self.named(name).ok_or_else(|| {
            Error::internal(format!(
                "payment provider {name} is not configured (configured: {:?})",
                self.names()
            ))
        })
    }

    /// The provider a new payment asked for (`None`: the default); one this deployment is
    /// not configured with is the caller's invalid input.
    pub(crate) fn for_new_payment(
        &self,
        asked: Option<&str>,
    ) -> Result<&dyn PaymentProvider, Error> {
        let Some(asked) = asked else {
            return Ok(self.default.as_ref());
        };
        let known = KNOWN_PROVIDERS.contains(&asked);
        let configured = known.then(|| self.named(asked)).flatten();
        configured.ok_or_else(|| {
            if !known {
                return Error::Invalid(vec![crate::model::field_error::FieldError::new(
                    "/psp",
                    format!("must be one of {}", KNOWN_PROVIDERS.join(", ")),
                )]);
            }
            Error::Invalid(vec![crate::model::field_error::FieldError::new(
                "/psp",
                format!(
                    "payment provider {asked} is not configured here (configured: {})",
                    self.names().join(", ")
                ),
            )])
        })
    }

    /// The provider new payments go to when they name none.
    pub(crate) fn default_provider(&self) -> &dyn PaymentProvider {
        self.default.as_ref()
    }

    fn named(&self, name: &str) -> Option<&dyn PaymentProvider> {
        std::iter::once(&self.default)
            .chain(&self.others)
            .find(|psp| psp.name() == name)
            .map(|psp| psp.as_ref())
    }

    fn names(&self) -> Vec<&'static str> {
        std::iter::once(&self.default)
            .chain(&self.others)
            .map(|psp| psp.name())
            .filter(|name| *name != NoPaymentProvider.name())
            .collect()
    }
}

/// The providers a payment may name (the contract's `psp`).
const KNOWN_PROVIDERS: [&str; 2] = ["stripe", "adyen"];

/// The provider of a deployment that takes no payments: every call is refused.
pub(crate) struct NoPaymentProvider;

#[async_trait::async_trait]
impl PaymentProvider for NoPaymentProvider {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn create_intent(
        &self,
        _: &crate::ports::psp::IntentRequest,
    ) -> Result<crate::ports::psp::Intent, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn retrieve(&self, _: &str) -> Result<Option<crate::model::values::CartId>, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn cancel(
        &self,
        _: &str,
        _: &CartId,
        _: &str,
    ) -> Result<crate::ports::psp::Reversal, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }

    async fn refund(
        &self,
        _: &str,
        _: &CartId,
        _: Money,
        _: &str,
    ) -> Result<crate::ports::psp::Reversal, PspError> {
        Err(PspError("no payment provider is configured".into()))
    }
}
