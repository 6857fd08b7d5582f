//! The HTTP functions' apps as `lambda_http::run` serves them: their routes with problem+json
//! fallbacks, and the caller and deadline taken from each API Gateway request. The functions'
//! mains only build clients and call these; tests invoke them with API Gateway events.

use axum::middleware::from_fn_with_state;
use axum::Router;

use crate::identity::from_lambda_context;
use crate::jwks::Jwks;
use crate::routes::{self, with_problem_fallbacks, Webhooks};
use checkout_domain::usecases::Storefront;

/// The storefront function: catalog admin, shipping methods, carts, payments, order queries
/// and the claim.
pub fn storefront(storefront: Storefront, jwks: Jwks) -> Router {
    with_problem_fallbacks(routes::storefront(storefront))
        .layer(from_fn_with_state(Some(jwks), from_lambda_context))
}

/// The create-order function: `POST /orders`.
pub fn create_order(storefront: Storefront, jwks: Jwks) -> Router {
    with_problem_fallbacks(routes::create_order(storefront))
        .layer(from_fn_with_state(Some(jwks), from_lambda_context))
}

/// The payment-webhook function: `POST /webhooks/stripe` (authenticated by its signature)
/// and, with Adyen configured, `POST /webhooks/adyen` (Basic credentials and HMAC); it
/// accepts no bearer token.
pub fn payment_webhook(storefront: Storefront, webhooks: &Webhooks) -> Router {
    with_problem_fallbacks(webhooks.routes(storefront))
        .layer(from_fn_with_state(None, from_lambda_context))
}
