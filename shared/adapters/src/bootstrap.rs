//! What every function (and the local server) does first: JSON logs, the AWS configuration,
//! and its settings from the environment. The functions' `main` only wires what this builds.

/// JSON logs, as CloudWatch wants them; `RUST_LOG` filters (default `info`): a level, and
/// `target=level` pairs (`info,aws_smithy_runtime=debug`). A target filter, not `EnvFilter`:
/// that one's span and field directives cost a regex engine in every binary.
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing_subscriber::filter::LevelFilter::INFO)
        });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .without_time(),
        )
        .with(filter)
        .try_init();
}

/// A Lambda's required setting, or a message naming the missing variable.
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// `DEFAULT_PSP`: the provider of payments that name none (`stripe` when unset).
pub fn default_psp() -> Result<String, String> {
    match std::env::var("DEFAULT_PSP").as_deref() {
        Err(_) | Ok("") => Ok("stripe".into()),
        Ok(name @ ("stripe" | "adyen")) => Ok(name.to_string()),
        Ok(other) => Err(format!(
            "DEFAULT_PSP must be 'stripe' or 'adyen', not '{other}'"
        )),
    }
}

/// `storefront` taking payments through `stripe` and, when given, `adyen`; new payments
/// that name no provider go to `default` (which must be one of them).
pub fn with_providers(
    storefront: checkout_domain::Storefront,
    stripe: std::sync::Arc<dyn checkout_domain::ports::psp::PaymentProvider>,
    adyen: Option<std::sync::Arc<dyn checkout_domain::ports::psp::PaymentProvider>>,
    default: &str,
) -> Result<checkout_domain::Storefront, String> {
    match (default, adyen) {
        ("adyen", None) => Err("DEFAULT_PSP is 'adyen' but Adyen is not configured".into()),
        ("adyen", Some(adyen)) => Ok(storefront.with_psp(stripe).with_psp(adyen)),
        (_, Some(adyen)) => Ok(storefront.with_psp(adyen).with_psp(stripe)),
        (_, None) => Ok(storefront.with_psp(stripe)),
    }
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

/// The bounds a storefront holds callers to (rule 13), from the environment:
/// `MAX_OPEN_SAVED_ORDERS` (default 3) unpaid saved orders per customer, and
/// `CONTENTION_BUDGET_MS` (default 3000), how long a request retries a contended write before
/// it answers 503 `Contended`.
pub fn limits() -> Result<checkout_domain::model::limits::Limits, String> {
    let mut limits = checkout_domain::model::limits::Limits::default();
    let positive = |name: &str| -> Result<Option<u32>, String> {
        match std::env::var(name) {
            Err(_) => Ok(None),
            Ok(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .map(Some)
                .ok_or_else(|| format!("{name} must be a positive whole number, not {raw:?}")),
        }
    };
    if let Some(n) = positive("MAX_OPEN_SAVED_ORDERS")? {
        limits.max_open_saved_orders = n;
    }
    if let Some(ms) = positive("CONTENTION_BUDGET_MS")? {
        limits.contention_budget = std::time::Duration::from_millis(ms.into());
    }
    if let Some(seconds) = positive("RESERVATION_SECONDS")? {
        limits.reservation = time::Duration::seconds(seconds.into());
    }
    if let Ok(raw) = std::env::var("CANCEL_WINDOW_SECONDS") {
        let seconds = raw.parse::<u32>().map_err(|_| {
            format!("CANCEL_WINDOW_SECONDS must be a whole number of seconds, not {raw:?}")
        })?;
        limits.cancel_window = time::Duration::seconds(seconds.into());
    }
    Ok(limits)
}

/// The runtime's timer, for the storefront's backoff between attempts at a contended write.
pub struct TokioPause;

#[async_trait::async_trait]
impl checkout_domain::ports::pause::Pause for TokioPause {
    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A storefront over `store` as every deployed function runs it: the runtime's timer for
/// backoff, the limits from the environment, and its metrics published.
pub fn storefront_over(
    store: std::sync::Arc<dyn checkout_domain::ports::Store>,
) -> Result<checkout_domain::Storefront, String> {
    Ok(checkout_domain::Storefront::new(store)
        .with_pause(std::sync::Arc::new(TokioPause))
        .with_limits(limits()?)
        .with_metrics(std::sync::Arc::new(crate::metrics::EmfMetrics::from_env())))
}

/// Builds the AWS SDK configuration once, from the environment (region, credentials and
/// `AWS_ENDPOINT_URL*` for local endpoints), as Lambda and the local server both need.
///
/// In a Lambda execution environment (`AWS_LAMBDA_FUNCTION_NAME` set) the region is
/// `AWS_REGION` and the credentials are the execution role's, in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`: both are taken from there, without the
/// provider chains that would look for them (profile files, web identity, ECS, IMDS). Where
/// Lambda does not set the keys (SnapStart), the default chain finds the container's.
///
/// Every SDK client built from it shares one HTTP client, so one connection pool and one TLS
/// configuration per connector setting rather than per client (the system's root certificates
/// are read from disk once per process either way).
pub async fn aws_config() -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http_client());
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if var("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        if let Some(region) = var("AWS_REGION") {
            loader = loader.region(aws_config::Region::new(region));
        }
        if var("AWS_ACCESS_KEY_ID").is_some() && var("AWS_SECRET_ACCESS_KEY").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
    }
    loader.load().await
}

/// The SDK's default HTTPS client (hyper 1, rustls with aws-lc, the system's roots, a proxy
/// from the environment), built once so every client of a configuration shares it.
fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::{proxy::ProxyConfig, tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Starts, in the background, the work the SDK otherwise does on a function's first DynamoDB
/// request (the HTTP client and its root certificates, the connection, endpoint resolution,
/// credentials and signing): one GetItem of a key no item has, in `partition`, which must be a
/// partition the function's policy lets it read (half a read unit). Its outcome is only
/// logged; the function's own first request no longer pays for any of that.
pub fn warm_up_dynamodb(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    partition: &str,
) -> tokio::task::JoinHandle<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let request = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(partition.to_string()))
        .key("sk", AttributeValue::S("WARMUP".into()))
        .projection_expression("pk");
    tokio::spawn(async move {
        if let Err(error) = request.send().await {
            tracing::warn!(
                error = %aws_sdk_dynamodb::error::DisplayErrorContext(&error),
                "the DynamoDB warm-up request failed"
            );
        }
    })
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

    /// Adyen's Checkout API when this deployment has Adyen (`ADYEN_API_KEY_ARN` set): at
    /// `ADYEN_API_BASE` for `ADYEN_MERCHANT_ACCOUNT`, shoppers returning to `ADYEN_RETURN_URL`.
    pub async fn adyen(&self) -> Result<Option<crate::adyen::client::AdyenClient>, String> {
        if std::env::var("ADYEN_API_KEY_ARN").map_or(true, |arn| arn.is_empty()) {
            return Ok(None);
        }
        Ok(Some(crate::adyen::client::AdyenClient::new(
            crate::adyen::client::AdyenSettings {
                base_url: required_env("ADYEN_API_BASE")?,
                api_key: self.secret("ADYEN_API_KEY_ARN").await?,
                merchant_account: required_env("ADYEN_MERCHANT_ACCOUNT")?,
                return_url: required_env("ADYEN_RETURN_URL")?,
            },
        )))
    }

    /// The storefront over `store` with this deployment's payment providers: Stripe, Adyen
    /// when configured; new payments go to `DEFAULT_PSP`. Both keys are read side by side.
    pub async fn with_providers(
        &self,
        storefront: checkout_domain::Storefront,
    ) -> Result<checkout_domain::Storefront, String> {
        let (stripe, adyen) = tokio::try_join!(self.stripe(), self.adyen())?;
        with_providers(
            storefront,
            std::sync::Arc::new(stripe),
            adyen.map(|a| std::sync::Arc::new(a) as _),
            &default_psp()?,
        )
    }

    /// The storefront over the table, taking payments (and giving them back) through the
    /// deployment's providers.
    pub async fn storefront(&self) -> Result<checkout_domain::Storefront, String> {
        self.with_providers(storefront_over(std::sync::Arc::new(self.store()?))?)
            .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn storefront() -> checkout_domain::Storefront {
        checkout_domain::Storefront::new(Arc::new(crate::MemoryStore::new()))
    }

    #[test]
    fn new_payments_go_to_the_default_provider_which_must_be_configured() {
        let stripe = || Arc::new(crate::psp_simulator::PspSimulator::new()) as _;
        let adyen = || Arc::new(crate::adyen_simulator::AdyenSimulator::new("Shop")) as _;
        let both = with_providers(storefront(), stripe(), Some(adyen()), "stripe").unwrap();
        assert_eq!(both.psp().name(), "stripe");
        let both = with_providers(storefront(), stripe(), Some(adyen()), "adyen").unwrap();
        assert_eq!(both.psp().name(), "adyen");
        let stripe_only = with_providers(storefront(), stripe(), None, "stripe").unwrap();
        assert_eq!(stripe_only.psp().name(), "stripe");
        let refused = with_providers(storefront(), stripe(), None, "adyen")
            .err()
            .unwrap();
        assert!(refused.contains("Adyen is not configured"), "{refused}");
    }
}
