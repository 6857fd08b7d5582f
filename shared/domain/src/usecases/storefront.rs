//! The storefront: the wiring. It holds the store (every narrow port), the payment providers
//! and `Env`, and makes each use case over the ports it uses (`storefront.checkout()`,
//! `.sweeper()`, ...). Use cases are made per call from borrowed ports: nothing is allocated.

use std::sync::Arc;
use time::OffsetDateTime;

use crate::model::limits::Limits;
use crate::ports::clock::{Clock, SystemClock};
use crate::ports::metrics::{Metrics, NoMetrics};
use crate::ports::pause::{NoPause, Pause};
use crate::ports::psp::PaymentProvider;
use crate::ports::Store;
use crate::usecases::carts::Carts;
use crate::usecases::catalog_admin::CatalogAdmin;
use crate::usecases::checkout::Checkout;
use crate::usecases::claims::Claims;
use crate::usecases::commit::Commit;
use crate::usecases::env::Env;
use crate::usecases::gift_cards::GiftCards;
use crate::usecases::merchant_orders::MerchantOrders;
use crate::usecases::order_queries::OrderQueries;
use crate::usecases::order_search::OrderSearch;
use crate::usecases::payment_events::PaymentEvents;
use crate::usecases::payment_webhook::PaymentWebhook;
use crate::usecases::payments::Payments;
use crate::usecases::programmatic::ProgrammaticOrders;
use crate::usecases::providers::{NoPaymentProvider, Providers};
use crate::usecases::replicate::OrderReplication;
use crate::usecases::reservations::holds::Holds;
use crate::usecases::reservations::Reservations;
use crate::usecases::reversals::Reversals;
use crate::usecases::sweeper::Sweeper;

/// What a function builds once at init and asks for the use cases it serves.
#[derive(Clone)]
pub struct Storefront {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) psps: Providers,
    pub(crate) env: Env,
}

impl Storefront {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    pub fn with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Storefront {
            store,
            psps: Providers {
                default: Arc::new(NoPaymentProvider),
                others: Vec::new(),
            },
            env: Env {
                clock,
                limits: Limits::default(),
                metrics: Arc::new(NoMetrics),
                pause: Arc::new(NoPause),
            },
        }
    }

    /// The same storefront, waiting between retries of contended writes with `pause` (the
    /// runtime's timer; every deployed storefront is given one).
    pub fn with_pause(mut self, pause: Arc<dyn Pause>) -> Self {
        self.env.pause = pause;
        self
    }

    /// The same storefront, counting what operators alarm on into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.env.metrics = metrics;
        self
    }

    /// The same storefront, holding callers to `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.env.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.env.limits
    }

    /// The same storefront, taking payments through `psp` by default.
    pub fn with_psp(mut self, psp: Arc<dyn PaymentProvider>) -> Self {
        let before = std::mem::replace(&mut self.psps.default, psp);
        let name = self.psps.default.name();
        self.psps.others.retain(|other| other.name() != name);
        if before.name() != name && before.name() != NoPaymentProvider.name() {
            self.psps.others.push(before);
        }
        self
    }

    /// The same storefront, also taking payments through `psp` when a payment names it.
    pub fn with_other_psp(mut self, psp: Arc<dyn PaymentProvider>) -> Self {
        if psp.name() == self.psps.default.name() {
            self.psps.default = psp;
        } else {
            self.psps.others.retain(|other| other.name() != psp.name());
            self.psps.others.push(psp);
        }
        self
    }

    /// The default provider: new payments that name none go to it.
    pub fn psp(&self) -> &dyn PaymentProvider {
        self.psps.default.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Giving money back, for the use cases that do.
    pub(crate) fn reversals(&self) -> Reversals<'_> {
        Reversals {
            carts: self.store.as_ref(),
            payments: self.store.as_ref(),
            gift_cards: self.store.as_ref(),
            psps: &self.psps,
            env: &self.env,
        }
    }

    /// Catalog administration and the shipping methods offered.
    pub fn catalog_admin(&self) -> CatalogAdmin<'_> {
        CatalogAdmin {
            catalog: self.store.as_ref(),
            gift_cards: self.store.as_ref(),
            env: &self.env,
        }
    }

    /// After the order exists: a merchant finds, cancels, refunds and ships it; its owner
    /// cancels it.
    pub fn merchant_orders(&self) -> MerchantOrders<'_> {
        MerchantOrders {
            orders: self.store.as_ref(),
            carts: self.store.as_ref(),
            payments: self.store.as_ref(),
            catalog: self.store.as_ref(),
            idempotency: self.store.as_ref(),
            reversals: self.reversals(),
            queries: self.order_queries(),
            env: &self.env,
        }
    }

    /// Reservations' holds: given back, and counted.
    pub fn holds(&self) -> Holds<'_> {
        Holds {
            carts: self.store.as_ref(),
            reservations: self.store.as_ref(),
            env: &self.env,
        }
    }

    /// The sweeper (`functions/expire-orders`).
    pub fn sweeper(&self) -> Sweeper<'_> {
        Sweeper {
            sweep: self.store.as_ref(),
            carts: self.store.as_ref(),
            orders: self.store.as_ref(),
            holds: self.holds(),
            reversals: self.reversals(),
            env: &self.env,
        }
    }

    /// Carts, and the catalog as a cart is priced against it.
    pub fn carts(&self) -> Carts<'_> {
        Carts {
            carts: self.store.as_ref(),
            catalog: self.store.as_ref(),
            holds: self.holds(),
            reversals: self.reversals(),
            env: &self.env,
        }
    }

    /// The one commit path.
    pub(crate) fn commit_path(&self) -> Commit<'_> {
        Commit {
            catalog: self.store.as_ref(),
            orders: self.store.as_ref(),
            holds: self.holds(),
            env: &self.env,
        }
    }

    /// `POST /orders`, and the order of a paid cart.
    pub fn checkout(&self) -> Checkout<'_> {
        Checkout {
            carts: self.store.as_ref(),
            orders: self.store.as_ref(),
            idempotency: self.store.as_ref(),
            pricing: self.carts(),
            commit: self.commit_path(),
            env: &self.env,
        }
    }

    /// Reserving a drop's units when its payment starts.
    pub(crate) fn reservations(&self) -> Reservations<'_> {
        Reservations {
            carts: self.store.as_ref(),
            catalog: self.store.as_ref(),
            reservations: self.store.as_ref(),
            commit: self.commit_path(),
            holds: self.holds(),
            checkout: self.checkout(),
            env: &self.env,
        }
    }

    /// Starting payments.
    pub fn payments(&self) -> Payments<'_> {
        Payments {
            payments: self.store.as_ref(),
            psps: &self.psps,
            carts: self.carts(),
            queries: self.order_queries(),
            reservations: self.reservations(),
            holds: self.holds(),
            env: &self.env,
        }
    }

    /// Recording providers' reports about payments.
    pub(crate) fn payment_events(&self) -> PaymentEvents<'_> {
        PaymentEvents {
            carts: self.store.as_ref(),
            payments: self.store.as_ref(),
            psps: &self.psps,
            holds: self.holds(),
            reversals: self.reversals(),
            checkout: self.checkout(),
            env: &self.env,
        }
    }

    /// Payment providers' webhook events (`functions/payment-webhook`).
    pub fn payment_webhook(&self) -> PaymentWebhook<'_> {
        PaymentWebhook {
            idempotency: self.store.as_ref(),
            psps: &self.psps,
            events: self.payment_events(),
            env: &self.env,
        }
    }

    /// Programmatic orders (`POST /admin/orders`, its batch, a draft's commands).
    pub fn programmatic_orders(&self) -> ProgrammaticOrders<'_> {
        ProgrammaticOrders {
            carts: self.store.as_ref(),
            orders: self.store.as_ref(),
            payments: self.store.as_ref(),
            idempotency: self.store.as_ref(),
            gift_cards: self.store.as_ref(),
            psps: &self.psps,
            pricing: self.carts(),
            commit: self.commit_path(),
            env: &self.env,
        }
    }

    /// `POST /orders/{orderNumber}/replicate`.
    pub fn replication(&self) -> OrderReplication<'_> {
        OrderReplication {
            carts: self.store.as_ref(),
            idempotency: self.store.as_ref(),
            pricing: self.carts(),
            queries: self.order_queries(),
            env: &self.env,
        }
    }

    /// Gift card administration (`PUT` and `GET /admin/gift-cards/{code}`).
    pub fn gift_cards(&self) -> GiftCards<'_> {
        GiftCards {
            cards: self.store.as_ref(),
        }
    }

    /// Reading orders: the owner's, a page of them, a guest's by email and number.
    pub fn order_queries(&self) -> OrderQueries<'_> {
        OrderQueries {
            orders: self.store.as_ref(),
        }
    }

    /// `GET /admin/orders`.
    pub fn order_search(&self) -> OrderSearch<'_> {
        OrderSearch {
            orders: self.store.as_ref(),
            clock: self.env.clock.as_ref(),
        }
    }

    /// `POST /customers/claim`: a customer claims a guest's orders.
    pub fn claims(&self) -> Claims<'_> {
        Claims {
            orders: self.store.as_ref(),
            clock: self.env.clock.as_ref(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.env.now()
    }
}
