//! Routes that exist only in the local server: the payment simulators' controls. Never in a
//! Lambda.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use checkout_adapters::adyen_simulator::AdyenSimulator;
use checkout_adapters::psp_simulator::PspSimulator;
use checkout_adapters::stripe;
use checkout_domain::usecases::Storefront;
use checkout_domain::Error;
use checkout_http::identity::Deadline;
use checkout_http::json::Json;
use checkout_http::problem::HttpError;
use checkout_http::routes::Webhooks;
use checkout_http::{adyen_webhook, webhook};

#[derive(Clone)]
struct Dev {
    storefront: Storefront,
    stripe: Arc<PspSimulator>,
    adyen: Arc<AdyenSimulator>,
    webhooks: Webhooks,
}

pub fn routes(
    storefront: Storefront,
    stripe: Arc<PspSimulator>,
    adyen: Arc<AdyenSimulator>,
    webhooks: Webhooks,
) -> Router {
    Router::new()
        .route("/_dev/payments/{reference}/{outcome}", post(settle))
        .with_state(Dev {
            storefront,
            stripe,
            adyen,
            webhooks,
        })
}

/// `POST /_dev/payments/{reference}/succeed|fail`: the simulator of the provider that made
/// `reference` delivers the notification that outcome produces, through the same
/// verification a real one goes through: a signed Stripe event for a payment intent (`pi_…`),
/// a signed Adyen notification for a Checkout session (`CS…`: its payment authorised or
/// refused) or for a capture, cancel or refund Adyen received (its result).
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
    if let Some(body) = dev.stripe.event(&reference, succeeded) {
        let secret = dev
            .webhooks
            .stripe
            .0
            .first()
            .ok_or_else(|| Error::internal("no webhook secret"))?;
        let header = stripe::sign(
            body.as_bytes(),
            secret,
            dev.storefront.now().unix_timestamp(),
        );
        return webhook::receive(
            &dev.storefront,
            &dev.webhooks.stripe,
            Some(&header),
            body.as_bytes(),
            deadline,
        )
        .await
        .map(Json);
    }
    let adyen = dev
        .webhooks
        .adyen
        .as_ref()
        .ok_or_else(|| Error::internal("no Adyen webhook"))?;
    let body = dev
        .adyen
        .notification(&reference, succeeded, adyen.signing_key())
        .ok_or(Error::NotFound)?;
    let answers = adyen_webhook::receive(
        &dev.storefront,
        adyen,
        Some(&adyen.credentials()),
        body.as_bytes(),
        deadline,
    )
    .await?;
    Ok(Json(json!({"accepted": answers})))
}
