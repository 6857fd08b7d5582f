//! Identity on the routes guests and customers share: the functions verify a bearer token
//! themselves against the identity provider's JWKS (RS256 keys made for these tests, a JWKS
//! server on 127.0.0.1). A token that does not verify is a 401 with nothing written, never a
//! guest; guests never cause a key fetch; and a signed-in customer checks out through the
//! Lambda handlers exactly as API Gateway invokes them.

use std::time::Duration;

use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

use checkout_http::jwks::{AudienceClaim, TokenError};
use checkout_tests::identity::{self, access_claims, claims, sign, token, IdentityProvider};
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{on_both_stores, ready_actions, App, Backend, CartRef, WEBHOOK_SECRET};

mod key_fetches;
mod lambda_handlers;
mod tokens;
