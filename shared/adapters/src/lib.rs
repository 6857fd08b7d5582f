//! Adapters behind the domain's ports: stores (DynamoDB, embedded), queues (SQS), mail (SES
//! v2), the ERP (HTTP), and the secrets they need (Secrets Manager).

pub mod dynamodb;
mod dynamodb_commit;
mod dynamodb_product;
pub mod erp;
pub mod memory;
pub mod psp_simulator;
pub mod secrets;
pub mod ses;
pub mod sqs;
pub mod stripe;

pub use dynamodb::DynamoStore;
pub use erp::HttpErp;
pub use memory::MemoryStore;
pub use secrets::SecretStore;
pub use ses::SesMailer;
pub use sqs::SqsQueue;

/// A Lambda's required setting, or a message naming the missing variable.
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// `PAYMENT_GRACE_SECONDS`: how long a paid cart may stay un-ordered before the sweeper gives
/// its money back (default 1800).
pub fn payment_grace() -> Result<time::Duration, String> {
    match std::env::var("PAYMENT_GRACE_SECONDS") {
        Err(_) => Ok(checkout_domain::sweeper::DEFAULT_PAYMENT_GRACE),
        Ok(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|&s| s > 0)
            .map(|s| time::Duration::seconds(s.into()))
            .ok_or_else(|| {
                format!("PAYMENT_GRACE_SECONDS must be a positive number of seconds, not {raw:?}")
            }),
    }
}

/// Builds the AWS SDK configuration once, from the environment (region, credentials and
/// `AWS_ENDPOINT_URL*` for local endpoints), as Lambda and the local server both need.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
