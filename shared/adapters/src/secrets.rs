//! Secrets (the Stripe secret key, the Stripe webhook signing secrets, the ERP's signing key)
//! from AWS Secrets Manager. A function reads each once while it initializes and keeps it for
//! the life of its execution environment: no request pays for a secret, and a rotated value
//! reaches the functions as their environments are replaced (see docs/operations.md,
//! "Rotating the Stripe webhook secret").

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// Secrets Manager, read by secret id or ARN.
#[derive(Clone)]
pub struct SecretStore {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretStore {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretStore { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        SecretStore::new(aws_sdk_secretsmanager::Client::new(config))
    }

    /// The current string value of the secret `id` (an ARN or a name).
    pub async fn read(&self, id: &str) -> Result<String, String> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| format!("secret {id}: {}", DisplayErrorContext(&e)))?;
        output
            .secret_string
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("secret {id} has no string value"))
    }

    /// The secret named by the environment variable `variable` (its ARN), read now.
    pub async fn read_env(&self, variable: &str) -> Result<String, String> {
        self.read(&crate::required_env(variable)?).await
    }
}
