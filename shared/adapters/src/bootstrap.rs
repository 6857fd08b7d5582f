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
