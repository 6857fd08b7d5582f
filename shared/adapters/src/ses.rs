//! SES v2 behind the `Mailer` port.

use async_trait::async_trait;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use checkout_domain::ports::mailer::{Mailer, OutgoingEmail};
use checkout_domain::ports::DeliveryError;

/// Sends from one verified identity.
#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        SesMailer {
            client,
            from: from.into(),
        }
    }
}

fn content(data: &str) -> Result<Content, DeliveryError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| DeliveryError::Permanent(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), DeliveryError> {
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .html(content(&email.html)?)
                    .text(content(&email.text)?)
                    .build(),
            )
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => Err(classify(error)),
        }
    }
}

/// A message SES refuses as it is (bad address, unverified sender, rejected content) will be
/// refused again; everything else (throttling, outages, timeouts, a paused account) is worth
/// a retry, and ends in the queue's DLQ through its receive limit if it never passes.
fn classify<R: std::fmt::Debug>(error: SdkError<SendEmailError, R>) -> DeliveryError {
    let detail = DisplayErrorContext(&error).to_string();
    match error.as_service_error() {
        Some(
            SendEmailError::BadRequestException(_)
            | SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_),
        ) => DeliveryError::Permanent(detail),
        _ => DeliveryError::Transient(detail),
    }
}
