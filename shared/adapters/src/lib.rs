//! Adapters behind the domain's ports: stores (DynamoDB, embedded), queues (SQS), mail (SES
//! v2), the ERP (HTTP), and the secrets they need (Secrets Manager).

pub mod adyen_simulator;
pub mod bootstrap;
pub mod dynamodb;
pub mod erp;
pub mod memory;
pub mod metrics;
pub mod psp_simulator;
pub mod secrets;
pub mod ses;
pub mod sqs;
/// Adyen and Stripe live in their own crates; these paths keep wiring short.
pub use checkout_adyen as adyen;
pub use checkout_stripe as stripe;

pub use bootstrap::{aws_config, payment_grace, required_env};
pub use dynamodb::DynamoStore;

/// Any AWS SDK error, as the domain's storage failure (its detail stays in logs, never in
/// answers); contention (a transaction conflict, throttling) is marked so.
pub(crate) fn store_error<E, R>(
    error: aws_sdk_dynamodb::error::SdkError<E, R>,
) -> checkout_domain::StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    let contended = error.code().is_some_and(is_contention);
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(&error).to_string();
    if contended {
        checkout_domain::StoreError::contended(detail)
    } else {
        checkout_domain::StoreError::new(detail)
    }
}

/// Whether an error code or a transaction's cancellation reason is contention: DynamoDB could
/// not take the write now (another transaction holds the item, or it throttled), which a
/// later attempt may pass; never a refusal.
pub(crate) fn is_contention(code: &str) -> bool {
    matches!(
        code,
        "TransactionConflict"
            | "TransactionConflictException"
            | "TransactionInProgressException"
            | "ThrottlingError"
            | "ThrottlingException"
            | "ProvisionedThroughputExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
    )
}
pub use erp::HttpErp;
pub use memory::MemoryStore;
pub use secrets::SecretStore;
pub use ses::SesMailer;
pub use sqs::SqsQueue;
