//! The order-commit domain. No AWS types: storage, events, mail and payment providers are
//! ports (`ports`), implemented by adapters elsewhere.

pub mod cart;
pub mod catalog;
pub mod error;
pub mod identity;
pub mod input;
pub mod money;
pub mod order_number;
pub mod ports;
pub mod pricing;
pub mod service;
pub mod values;

pub use error::{Error, FieldError, Problem, StoreError};
pub use money::{Currency, Money};
