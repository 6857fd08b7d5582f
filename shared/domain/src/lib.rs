//! The order-commit domain, in three layers without circles: `model` (values, aggregates and
//! their rules), `ports` (what the domain needs from the outside world: stores by aggregate,
//! clock, payment provider, queue, mailer, ERP) and `usecases` (what the API can be asked to
//! do, over those ports). No AWS types, no HTTP: adapters and the edge live elsewhere.

pub mod model;
pub mod ports;
pub mod usecases;

pub use model::error::{Error, StoreError};
pub use model::field_error::FieldError;
pub use model::money::{Currency, Money};
pub use usecases::Storefront;
