//! The backend under test: [`App`] on either store, its clock, what it counted, and the
//! store as the scenarios read it back. Its payment helpers are in `payments`, its
//! ready-made carts in `carts`, its callers in the `client` module.

mod carts;
mod payments;

use std::sync::{Arc, Mutex};

use axum::middleware::from_fn_with_state;
use axum::Router;

use checkout_adapters::adyen_simulator::AdyenSimulator;
use checkout_adapters::psp_simulator::PspSimulator;
use checkout_adapters::{DynamoStore, MemoryStore};
use checkout_domain::model::identity::Caller;
use checkout_domain::model::values::CartId;
use checkout_domain::ports::claims::ClaimTickets;
use checkout_domain::ports::clock::Clock;
use checkout_domain::ports::mailer::OutgoingEmail;
use checkout_domain::ports::metrics::{Metric, Metrics};
use checkout_domain::ports::Store;
use checkout_domain::usecases::catalog_admin::CatalogImport;
use checkout_domain::usecases::Storefront;
use checkout_http::identity::DevTokens;
use checkout_http::routes;
use time::OffsetDateTime;

use crate::fixtures::DEV_SECRET;
use crate::local_aws::CountingInterceptor;
use crate::{
    dynamodb_store_at, dynamodb_store_counted, local_aws, local_endpoint, outbox, webhooks,
    CartRef, LocalService, RequestCounter, ADYEN_MERCHANT_ACCOUNT, CATALOG,
};

/// Which store a backend runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    DynamoDb,
    /// DynamoDB Local behind the contention emulator: DynamoDB's transaction-conflict rule
    /// applied, each transaction's items held for its round trip plus `CONTENTION_HOLD`.
    DynamoDbContended,
}

/// The transaction hold the contended backend emulates (DynamoDB's, as the bench measures
/// it).
pub const CONTENTION_HOLD: std::time::Duration = std::time::Duration::from_millis(20);

/// A clock the test moves by hand.
pub struct TestClock(Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The backend under test, reached through the same router the Lambda and local server use.
#[derive(Clone)]
pub struct App {
    pub(crate) router: Router,
    pub store: Arc<dyn Store>,
    pub storefront: Storefront,
    pub(crate) tokens: DevTokens,
    clock: Arc<TestClock>,
    /// DynamoDB operations sent (DynamoDB backends only).
    pub requests: Arc<RequestCounter>,
    /// The store as a DynamoDB table, for its stream (DynamoDB backends only).
    pub dynamo: Option<DynamoStore>,
    /// The embedded store, for its change feed (memory backends only).
    pub memory: Option<Arc<MemoryStore>>,
    /// The payment provider, simulated (Stripe's behaviour; the default).
    pub psp: Arc<PspSimulator>,
    /// Adyen, simulated: payments that name `"psp": "adyen"` go to it.
    pub adyen: Arc<AdyenSimulator>,
    /// What the storefront counted for operators (`Metric`s).
    pub metrics: Arc<CountedMetrics>,
    /// The contention emulator the store talks through (contended backends only).
    pub emulator: Option<Arc<ddb_contention::Emulator>>,
}

/// The metrics a storefront counted, kept for the test to read.
#[derive(Debug, Default)]
pub struct CountedMetrics(Mutex<std::collections::BTreeMap<Metric, u64>>);

impl CountedMetrics {
    /// How many of `metric` were counted so far.
    pub fn get(&self, metric: Metric) -> u64 {
        self.0.lock().unwrap().get(&metric).copied().unwrap_or(0)
    }
}

impl Metrics for CountedMetrics {
    fn count(&self, metric: Metric, n: u64) {
        *self.0.lock().unwrap().entry(metric).or_default() += n;
    }
}

impl App {
    /// A backend seeded with `fixtures/catalog.json`.
    pub async fn start(backend: Backend) -> App {
        App::start_with_store(backend, |store| store).await
    }

    /// A backend seeded with `fixtures/catalog.json`, whose store is `wrap` applied to the
    /// backend's store (a fault-injecting wrapper, say). `dynamo` and `memory` still name the
    /// unwrapped store, for its stream and change feed.
    pub async fn start_with_store(
        backend: Backend,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> App {
        let app = App::empty_with_store(backend, wrap).await;
        let catalog: CatalogImport = checkout_http::json::from_slice(CATALOG.as_bytes()).unwrap();
        app.storefront
            .catalog_admin()
            .import(&Caller::system(), &catalog)
            .await
            .expect("seed the catalog");
        app
    }

    /// A backend with nothing in its store.
    pub async fn empty(backend: Backend) -> App {
        App::empty_with_store(backend, |store| store).await
    }

    /// A backend with nothing in its store, which is `wrap` applied to the backend's store.
    pub async fn empty_with_store(
        backend: Backend,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> App {
        let requests = Arc::new(RequestCounter::default());
        let mut emulator = None;
        let dynamo = match backend {
            Backend::Memory => None,
            Backend::DynamoDb => Some(dynamodb_store_counted(requests.clone()).await),
            Backend::DynamoDbContended => {
                let upstream = local_endpoint(LocalService::DynamoDb);
                let started = ddb_contention::Emulator::start(
                    upstream,
                    ddb_contention::Settings::default().hold(CONTENTION_HOLD),
                )
                .await
                .expect("start the contention emulator");
                let store = dynamodb_store_at(started.endpoint(), requests.clone()).await;
                emulator = Some(Arc::new(started));
                Some(store)
            }
        };
        let memory = dynamo.is_none().then(|| Arc::new(MemoryStore::new()));
        let store: Arc<dyn Store> = match (&dynamo, &memory) {
            (Some(dynamo), _) => Arc::new(dynamo.clone()),
            (None, Some(memory)) => memory.clone(),
            (None, None) => unreachable!("one of the two stores"),
        };
        let store = wrap(store);
        let clock = Arc::new(TestClock(Mutex::new(OffsetDateTime::now_utc())));
        let storefront = Storefront::with_clock(store.clone(), clock.clone());
        let tokens = DevTokens::new(DEV_SECRET);
        let psp = Arc::new(PspSimulator::new());
        let adyen = Arc::new(AdyenSimulator::new(ADYEN_MERCHANT_ACCOUNT));
        let metrics = Arc::new(CountedMetrics::default());
        let storefront = storefront
            .with_psp(psp.clone())
            .with_other_psp(adyen.clone())
            .with_metrics(metrics.clone())
            .with_pause(Arc::new(checkout_adapters::bootstrap::TokioPause));
        let router = routes::all(storefront.clone(), &webhooks())
            .layer(from_fn_with_state(tokens.clone(), DevTokens::middleware));
        App {
            router,
            store,
            storefront,
            tokens,
            clock,
            requests,
            dynamo,
            memory,
            psp,
            adyen,
            metrics,
            emulator,
        }
    }

    /// The same app, its storefront also taking payments through `psp` when a payment names
    /// it (the simulator stays the default).
    pub fn with_other_psp(
        mut self,
        psp: Arc<dyn checkout_domain::ports::psp::PaymentProvider>,
    ) -> App {
        self.storefront = self.storefront.with_other_psp(psp);
        self.router = routes::all(self.storefront.clone(), &webhooks()).layer(from_fn_with_state(
            self.tokens.clone(),
            DevTokens::middleware,
        ));
        self
    }

    /// The same backend reached through DynamoDB's transaction-conflict rule: a second app
    /// over this app's table (and clock, catalog and payment provider), whose store talks to
    /// DynamoDB Local through the contention emulator started with `settings`. Set the scene
    /// with `self` (no contention), then race through the returned app. DynamoDB backends only.
    pub async fn contended(
        &self,
        settings: ddb_contention::Settings,
        limits: checkout_domain::model::limits::Limits,
    ) -> (App, ddb_contention::Emulator) {
        let dynamo = self.dynamo.as_ref().expect("a DynamoDB backend");
        let upstream = local_endpoint(LocalService::DynamoDb);
        let emulator = ddb_contention::Emulator::start(upstream, settings)
            .await
            .expect("start the contention emulator");
        let config = aws_sdk_dynamodb::config::Builder::from(local_aws(LocalService::DynamoDb))
            .endpoint_url(emulator.endpoint())
            .interceptor(CountingInterceptor(self.requests.clone()))
            .build();
        let through = DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            dynamo.table().to_string(),
        );
        let store: Arc<dyn Store> = Arc::new(through.clone());
        let storefront = Storefront::with_clock(store.clone(), self.clock.clone())
            .with_psp(self.psp.clone())
            .with_other_psp(self.adyen.clone())
            .with_metrics(self.metrics.clone())
            .with_pause(Arc::new(checkout_adapters::bootstrap::TokioPause))
            .with_limits(limits);
        let router = routes::all(storefront.clone(), &webhooks()).layer(from_fn_with_state(
            self.tokens.clone(),
            DevTokens::middleware,
        ));
        let app = App {
            router,
            store,
            storefront,
            tokens: self.tokens.clone(),
            clock: self.clock.clone(),
            requests: self.requests.clone(),
            dynamo: Some(through),
            memory: None,
            psp: self.psp.clone(),
            adyen: self.adyen.clone(),
            metrics: self.metrics.clone(),
            emulator: None,
        };
        (app, emulator)
    }

    /// This backend as the Lambda functions serve it: a bearer token is verified against the
    /// identity provider's keys (`jwks`), as on the routes without API Gateway's authorizer.
    pub fn behind_api_gateway(mut self, jwks: checkout_http::jwks::Jwks) -> App {
        self.router = routes::all(self.storefront.clone(), &webhooks()).layer(from_fn_with_state(
            Some(jwks),
            checkout_http::identity::from_lambda_context,
        ));
        self
    }

    /// Moves this backend's clock forward.
    pub fn advance(&self, by: time::Duration) {
        *self.clock.0.lock().unwrap() += by;
    }

    /// The cart and its order as stored.
    pub async fn stored(
        &self,
        cart: &CartRef,
    ) -> (
        checkout_domain::model::cart::Cart,
        Option<checkout_domain::model::order::Order>,
    ) {
        let (stored, order) = self
            .store
            .cart_and_order(&CartId::parse(&cart.id).unwrap())
            .await
            .unwrap();
        (stored.expect("the cart exists"), order)
    }

    /// Units of `sku` in stock now.
    pub async fn stock(&self, sku: &str) -> u32 {
        let sku = checkout_domain::model::values::Sku::parse(sku).unwrap();
        self.store.products(&[sku]).await.unwrap()[0].stock
    }

    /// How often `code` has been redeemed.
    pub async fn redemptions(&self, code: &str) -> u32 {
        let code = checkout_domain::model::values::DiscountCode::parse(code).unwrap();
        self.store.discounts(&[code]).await.unwrap()[0].redemptions
    }

    /// The claim tickets of this backend's store, as the email subscriber keeps them.
    pub fn claim_tickets(&self) -> Arc<dyn ClaimTickets> {
        match (&self.dynamo, &self.memory) {
            (Some(dynamo), _) => Arc::new(dynamo.clone()),
            (None, Some(memory)) => memory.clone(),
            (None, None) => unreachable!("one of the two stores"),
        }
    }

    /// The store's idempotency records (where the subscribers' effects are logged), whichever
    /// store the backend runs on.
    pub fn idempotency_store(
        &self,
    ) -> Arc<dyn checkout_domain::ports::idempotency::IdempotencyStore> {
        match (&self.dynamo, &self.memory) {
            (Some(dynamo), _) => Arc::new(dynamo.clone()),
            (None, Some(memory)) => memory.clone(),
            (None, None) => unreachable!("one of the two stores"),
        }
    }

    /// The confirmation email of the cart's order, as the email subscriber sends it when the
    /// order's `OrderCreated` event reaches it (through the idempotency records of this store).
    pub async fn confirmation_email(&self, cart: &CartRef) -> OutgoingEmail {
        let (_, order) = self.stored(cart).await;
        let event =
            checkout_domain::model::events::order_event(None, order.as_ref()).expect("an order");
        let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
        message.body = Some(serde_json::to_string(&event).unwrap());
        let mailbox = Arc::new(outbox::Mailbox::default());
        let effect_log = self.idempotency_store();
        let subscriber = checkout_outbox::Subscriber::new(
            Arc::new(checkout_outbox::EmailConfirmation {
                mailer: mailbox.clone(),
                claims: self.claim_tickets(),
                claim_url: outbox::CLAIM_URL.into(),
            }),
            effect_log,
            Arc::new(outbox::NoDeadLetters),
        );
        let outcome = subscriber.process(&message).await;
        assert_eq!(outcome, checkout_outbox::subscriber::Outcome::Done);
        mailbox.take().pop().expect("one email sent")
    }
}
