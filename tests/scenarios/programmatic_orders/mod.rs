//! Programmatic orders (server to server): one call carries an order through its commands;
//! a failing command answers 422 naming it and leaves nothing held, charged or written;
//! drafts hold nothing until processed; a batch answers each body on its own and posting it
//! again creates nothing twice — on both stores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use checkout_domain::model::events::order_event;
use checkout_domain::model::order_number::OrderNumber;
use checkout_domain::ports::erp::{Erp, ErpReceipt};
use checkout_domain::ports::DeliveryError;
use checkout_outbox::{EmailConfirmation, ErpSync, SideEffect};
use checkout_tests::faults::{FaultPoint, FaultSpec, FaultyStore};
use checkout_tests::outbox::Mailbox;
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{cents, on_both_stores, App, Backend};
use http::StatusCode;

use crate::gift_cards::{balance, integration, paid_order, put_card};

/// Five mugs to Germany: 64.95 + 19 % tax (12.34), shipping free above 50.00.
const FIVE_MUGS: i64 = 7729;

/// What must not move when a request fails.
#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    mugs: u32,
    lamps: u32,
    card: i64,
    open_authorizations: usize,
}

async fn holdings(app: &App) -> Holdings {
    Holdings {
        mugs: app.stock("MUG").await,
        lamps: app.stock("LAMP").await,
        card: balance(app, "GIFT-20").await,
        open_authorizations: app.psp.open_authorizations().len(),
    }
}

mod drafts;
mod pipeline;
mod rejected;
mod retries;
mod stripe_adapter;
