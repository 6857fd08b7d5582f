//! The order-commit domain. No AWS types: storage, events, mail and payment providers are
//! ports (`ports`), implemented by adapters elsewhere.

pub mod cart;
pub mod catalog;
pub mod claim;
pub mod commit;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod identity;
pub mod input;
pub mod money;
pub mod order;
pub mod order_number;
pub mod orders;
pub mod payment;
pub mod payments;
pub mod ports;
pub mod pricing;
pub mod psp;
pub mod service;
pub mod sweeper;
pub mod values;

pub use error::{Error, FieldError, Problem, StoreError};
pub use money::{Currency, Money};
