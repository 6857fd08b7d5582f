//! The integration test harness: start a backend (embedded store or a fresh table in
//! DynamoDB Local), talk to it through the real HTTP router, and seed carts.
//!
//! DynamoDB tests need `CHECKOUT_TEST_DYNAMODB_ENDPOINT`, which `scripts/test.sh` sets after
//! starting DynamoDB Local; each test gets its own table, so tests run in parallel.

pub mod faults;
pub mod identity;
pub mod outbox;

mod app;
mod both_stores;
mod client;
mod fixtures;
mod local_aws;

pub use serde_json;

pub use app::{App, Backend, CountedMetrics, TestClock, CONTENTION_HOLD};
pub use client::{CartRef, Client, TestResponse};
pub use fixtures::{
    address_de, address_in, cents, order_request, ready_actions, webhook_secrets, webhooks,
    ADYEN_HMAC_KEY, ADYEN_HMAC_KEY_OLD, ADYEN_MERCHANT_ACCOUNT, ADYEN_PASSWORD, ADYEN_USER,
    CATALOG, STRIPE_CHARGE_REFUNDED, WEBHOOK_SECRET, WEBHOOK_SECRET_OLD,
};
pub use local_aws::{
    dynamodb_store, dynamodb_store_at, dynamodb_store_counted, keep_streams, local_aws,
    local_endpoint, store, LocalService, RequestCounter,
};
