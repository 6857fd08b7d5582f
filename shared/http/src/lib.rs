//! The public HTTP contract (see the OpenAPI document in the repo): routes, request parsing,
//! identity, and problem+json. Shared by the Lambda functions and the local server.

pub mod admin_orders;
pub mod adyen_webhook;
pub mod cart_body;
pub mod headers;
pub mod identity;
pub mod json;
pub mod jwks;
pub mod lambda;
pub mod merchant;
mod objects;
pub mod problem;
pub mod routes;
pub mod views;
pub mod webhook;

pub use problem::ApiError;
