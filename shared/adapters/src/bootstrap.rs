//! What every function (and the local server) does first: JSON logs, the AWS configuration,
//! and its settings from the environment. The functions' `main` only wires what this builds.

/// JSON logs, as CloudWatch wants them; `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}

/// A Lambda's required setting, or a message naming the missing variable.
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// `PAYMENT_GRACE_SECONDS`: how long a paid cart may stay un-ordered before the sweeper gives
/// its money back (default 1800).
pub fn payment_grace() -> Result<time::Duration, String> {
    match std::env::var("PAYMENT_GRACE_SECONDS") {
        Err(_) => Ok(checkout_domain::usecases::sweeper::DEFAULT_PAYMENT_GRACE),
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

/// What a function builds from its environment, once per execution environment: the AWS
/// configuration, and from it every store and client a function names. Each function's
/// `main` shows which of these it needs.
pub struct Environment {
    config: aws_config::SdkConfig,
}

impl Environment {
    /// JSON logs first, then the AWS configuration.
    pub async fn load() -> Self {
        init_tracing();
        Environment {
            config: aws_config().await,
        }
    }

    pub fn config(&self) -> &aws_config::SdkConfig {
        &self.config
    }

    /// The table, `TABLE_NAME`.
    pub fn store(&self) -> Result<crate::DynamoStore, String> {
        Ok(crate::DynamoStore::from_config(
            &self.config,
            required_env("TABLE_NAME")?,
        ))
    }

    /// The secret whose ARN is in the variable `variable`, read now.
    pub async fn secret(&self, variable: &str) -> Result<String, String> {
        crate::SecretStore::from_config(&self.config)
            .read_env(variable)
            .await
    }

    /// Stripe at `STRIPE_API_BASE`, with the key in the secret `STRIPE_SECRET_KEY_ARN`.
    pub async fn stripe(&self) -> Result<crate::stripe::StripeClient, String> {
        Ok(crate::stripe::StripeClient::new(
            required_env("STRIPE_API_BASE")?,
            self.secret("STRIPE_SECRET_KEY_ARN").await?,
        ))
    }

    /// The storefront over the table, taking payments (and giving them back) through Stripe.
    pub async fn storefront(&self) -> Result<checkout_domain::Storefront, String> {
        Ok(
            checkout_domain::Storefront::new(std::sync::Arc::new(self.store()?))
                .with_psp(std::sync::Arc::new(self.stripe().await?)),
        )
    }

    /// The SQS queue whose URL is in the variable `url_variable`.
    pub fn queue(&self, url_variable: &str) -> Result<crate::SqsQueue, String> {
        Ok(crate::SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.config),
            required_env(url_variable)?,
        ))
    }

    /// SES v2, sending from `MAIL_FROM`.
    pub fn mailer(&self) -> Result<crate::SesMailer, String> {
        Ok(crate::SesMailer::new(
            aws_sdk_sesv2::Client::new(&self.config),
            required_env("MAIL_FROM")?,
        ))
    }

    /// The ERP at `ERP_ENDPOINT`, signing with the key in the secret `ERP_SECRET_ARN`, giving
    /// up after `ERP_TIMEOUT_MS` (default 5000).
    pub async fn erp(&self) -> Result<crate::HttpErp, String> {
        let timeout = std::env::var("ERP_TIMEOUT_MS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(5000);
        crate::HttpErp::new(
            required_env("ERP_ENDPOINT")?,
            self.secret("ERP_SECRET_ARN").await?,
            std::time::Duration::from_millis(timeout),
        )
        .map_err(|e| e.to_string())
    }
}
