//! The domain's values and aggregates, and the rules that need nothing but them: money,
//! validated values, the catalog, carts and their actions, pricing, orders, payments,
//! events, idempotency records. Nothing here does I/O or knows a port.

pub mod address;
pub mod cart;
pub mod cart_actions;
pub mod cart_apply;
pub mod cart_replicate;
pub mod catalog;
pub mod claim;
pub mod commit_plan;
pub mod discount;
pub mod error;
pub mod events;
pub mod field_error;
pub mod fulfillment;
pub mod gift_card;
pub mod idempotency;
pub mod identity;
pub mod limits;
pub mod money;
pub mod not_null;
pub mod order;
pub mod order_commands;
pub mod order_number;
pub mod order_snapshot;
pub mod payment;
pub mod payment_event;
pub mod price_list;
pub mod pricing;
pub mod pricing_config;
pub mod programmatic_order;
pub mod quantity;
pub mod random;
pub mod reservation;
pub mod values;
