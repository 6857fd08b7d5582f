//! Adapters behind the domain's ports: stores (DynamoDB, embedded), queues (SQS), mail (SES
//! v2) and the ERP (HTTP).

pub mod dynamodb;
mod dynamodb_commit;
pub mod erp;
pub mod memory;
pub mod ses;
pub mod sqs;

pub use dynamodb::DynamoStore;
pub use erp::HttpErp;
pub use memory::MemoryStore;
pub use ses::SesMailer;
pub use sqs::SqsQueue;

/// Builds the AWS SDK configuration once, from the environment (region, credentials and
/// `AWS_ENDPOINT_URL*` for local endpoints), as Lambda and the local server both need.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}
