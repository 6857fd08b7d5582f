//! The public HTTP contract (see the OpenAPI document in the repo): routes, request parsing,
//! identity, and problem+json. Shared by the Lambda functions and the local server.

pub mod identity;
pub mod json;
pub mod jwks;
pub mod lambda;
pub mod problem;
pub mod routes;
pub mod webhook;

pub use problem::ApiError;

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
