//! Programmatic orders, server to server, in one place:
//! - `requests`: what the API is asked (`POST /admin/orders`, its batch, a draft's commands),
//!   each once per key through the idempotency layer;
//! - `run`: what one run over one order holds (`Run`: the order's cart, the authorizations
//!   it holds, the commands done, the order once committed);
//! - `commands`: the pipeline that runs each command after checking its preconditions;
//! - `processing`: the pipeline's writes (`process_order` commits through the same single
//!   transaction as `POST /orders`, `charge_payments`, the draft).

mod commands;
mod processing;
mod requests;
mod run;

pub use requests::{AdminAnswer, BatchItem, ProgrammaticOrders, ORDERS_WRITE};
