//! Routes that exist only in the local server: the payment simulator's controls. Never in a
//! Lambda.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::sync::Arc;

use checkout_adapters::psp_simulator::PspSimulator;
use checkout_adapters::stripe;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;
use checkout_http::identity::Deadline;
use checkout_http::json::Json;
use checkout_http::problem::HttpError;
use checkout_http::webhook::{self, WebhookSecrets};

#[derive(Clone)]
struct Dev {
    storefront: Storefront,
    psp: Arc<PspSimulator>,
    secrets: WebhookSecrets,
}

pub fn routes(storefront: Storefront, psp: Arc<PspSimulator>, secrets: WebhookSecrets) -> Router {
    Router::new()
        .route("/_dev/payments/{reference}/{outcome}", post(settle))
        .with_state(Dev {
            storefront,
            psp,
            secrets,
        })
}

/// `POST /_dev/payments/{pi}/succeed|fail`: the simulator delivers the signed Stripe webhook
/// that outcome produces, through the same verification a real one goes through.
async fn settle(
    State(dev): State<Dev>,
    Deadline(deadline): Deadline,
    Path((reference, outcome)): Path<(String, String)>,
) -> Result<Json<Value>, HttpError> {
    let succeeded = match outcome.as_str() {
        "succeed" => true,
        "fail" => false,
        _ => return Err(Error::NotFound.into()),
    };
    let body = dev
        .psp
        .event(&reference, succeeded)
        .ok_or(Error::NotFound)?;
    let secret = dev
        .secrets
        .0
        .first()
        .ok_or_else(|| Error::internal("no webhook secret"))?;
    let header = stripe::sign(
        body.as_bytes(),
        secret,
        dev.storefront.now().unix_timestamp(),
    );
    webhook::receive(
        &dev.storefront,
        &dev.secrets,
        Some(&header),
        body.as_bytes(),
        deadline,
    )
    .await
    .map(Json)
}
