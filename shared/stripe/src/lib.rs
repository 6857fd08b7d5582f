//! Stripe, the payment provider: its webhooks (signatures and events) and its REST API
//! behind the domain's `PaymentProvider` port. A crate of its own, so the HTTP crate can
//! verify webhooks without linking the AWS adapters.

mod client;
mod webhook;

pub use client::StripeClient;
pub use webhook::*;
