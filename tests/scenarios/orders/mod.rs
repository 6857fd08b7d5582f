//! The commit step: `POST /orders` turns a cart into an order exactly once, on both stores.

use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, order_request, ready_actions, App, Backend, CartRef};
use http::StatusCode;

mod before_commit;
mod commit;
mod keys;
mod reading;
