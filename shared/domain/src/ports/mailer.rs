//! Outgoing email.

use async_trait::async_trait;

use crate::ports::DeliveryError;

/// An email ready to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Sends email (SES in AWS, a mailbox in the local server).
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError>;
}
