//! Adapters behind the domain's ports: stores (DynamoDB, embedded), queues (SQS), mail (SES
//! v2), the ERP (HTTP), and the secrets they need (Secrets Manager).

pub mod bootstrap;
pub mod dynamodb;
pub mod erp;
pub mod memory;
pub mod metrics;
pub mod psp_simulator;
pub mod secrets;
pub mod ses;
pub mod sqs;
/// Stripe lives in its own crate (`checkout-stripe`); this path keeps wiring short.
pub use checkout_stripe as stripe;

pub use bootstrap::{aws_config, payment_grace, required_env};
pub use dynamodb::DynamoStore;

/// Any AWS SDK error, as the domain's storage failure (its detail stays in logs, never in
/// answers).
pub(crate) fn store_error<E, R>(
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> checkout_domain::StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    checkout_domain::StoreError(aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string())
}
pub use erp::HttpErp;
pub use memory::MemoryStore;
pub use secrets::SecretStore;
pub use ses::SesMailer;
pub use sqs::SqsQueue;
