//! The outbox, after the commit: the relay reads order changes from the table's stream and
//! fans each event out to one queue per consumer; the subscribers behind those queues send the
//! confirmation email and sync the ERP, each side effect at most once per event id.
//!
//! Lambda event shapes (`aws_lambda_events`) stop here: the functions' mains only build
//! clients, and the local server drives the same types in process.

pub mod email;
pub mod relay;
pub mod subscriber;

pub use relay::Relay;
pub use subscriber::{EmailConfirmation, ErpSync, SideEffect, Subscriber};
