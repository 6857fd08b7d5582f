//! The integration test harness: start a backend (embedded store or a fresh table in
//! DynamoDB Local), talk to it through the real HTTP router, and seed carts.
//!
//! DynamoDB tests need `CHECKOUT_TEST_DYNAMODB_ENDPOINT`, which `scripts/test.sh` sets after
//! starting DynamoDB Local; each test gets its own table, so tests run in parallel.

pub mod faults;
pub mod identity;
pub mod outbox;

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::middleware::from_fn_with_state;
use axum::Router;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use checkout_adapters::adyen_simulator::AdyenSimulator;
use checkout_adapters::psp_simulator::{record_charge, PspSimulator};
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
use checkout_http::adyen_webhook::AdyenWebhook;
use checkout_http::identity::DevTokens;
use checkout_http::routes;
use checkout_http::routes::Webhooks;
use checkout_http::webhook::WebhookSecrets;
use time::OffsetDateTime;

pub use serde_json;

/// Stripe's `charge.refunded` event as the Stripe CLI produced it (see fixtures/stripe/SOURCES.md).
pub const STRIPE_CHARGE_REFUNDED: &str = include_str!("../fixtures/stripe/charge.refunded.json");

/// The catalog every scenario starts from (prices and rates chosen for hand computation).
pub const CATALOG: &str = include_str!("../fixtures/catalog.json");

const DEV_SECRET: &str = "test-secret";

/// The webhook endpoint's secrets: the current one, and the previous one during a rotation.
pub const WEBHOOK_SECRET: &str = "whsec_test_current";
pub const WEBHOOK_SECRET_OLD: &str = "whsec_test_previous";

/// The webhook endpoint's secrets, as a rotation configures them: `current,previous`.
pub fn webhook_secrets() -> WebhookSecrets {
    WebhookSecrets::parse(&format!("{WEBHOOK_SECRET},{WEBHOOK_SECRET_OLD}"))
}

/// The Adyen webhook's merchant account, credentials and HMAC keys (`current,previous`).
pub const ADYEN_MERCHANT_ACCOUNT: &str = "TestShopECOM";
pub const ADYEN_USER: &str = "adyen-test";
pub const ADYEN_PASSWORD: &str = "adyen-test-password";
pub const ADYEN_HMAC_KEY: &str = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
pub const ADYEN_HMAC_KEY_OLD: &str =
    "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";

/// Both providers' webhooks, as the test deployment configures them.
pub fn webhooks() -> Webhooks {
    Webhooks {
        stripe: webhook_secrets(),
        adyen: Some(
            AdyenWebhook::new(
                ADYEN_USER,
                ADYEN_PASSWORD,
                &format!("{ADYEN_HMAC_KEY},{ADYEN_HMAC_KEY_OLD}"),
                ADYEN_MERCHANT_ACCOUNT,
            )
            .expect("the test webhook's settings"),
        ),
    }
}

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

/// Counts the DynamoDB operations a client sends, by name, via an SDK interceptor.
#[derive(Debug, Default)]
pub struct RequestCounter(Mutex<Vec<String>>);

impl RequestCounter {
    /// Operation names since the last call, and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug, Clone)]
struct CountingInterceptor(Arc<RequestCounter>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    /// Once per attempt on the wire; DynamoDB names the operation in `X-Amz-Target`.
    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _config: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_string();
        self.0 .0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// The two local AWS endpoints the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalService {
    /// DynamoDB Local (tables and their streams), at `CHECKOUT_TEST_DYNAMODB_ENDPOINT`.
    DynamoDb,
    /// moto (SQS and SES), at `CHECKOUT_TEST_AWS_ENDPOINT`.
    Moto,
}

impl LocalService {
    fn variable(self) -> &'static str {
        match self {
            LocalService::DynamoDb => "CHECKOUT_TEST_DYNAMODB_ENDPOINT",
            LocalService::Moto => "CHECKOUT_TEST_AWS_ENDPOINT",
        }
    }
}

/// This test process's endpoint of a local service. `scripts/backends.sh` runs two DynamoDB
/// Locals (each does its work on one core, and the suite waits on it) and lists both in
/// `CHECKOUT_TEST_DYNAMODB_ENDPOINTS`: a test process uses one of them for everything it
/// does (its tables, their streams, the emulator in front), picked by its process id, so
/// nextest's one process per test spreads the tests over both.
pub fn local_endpoint(service: LocalService) -> &'static str {
    static DYNAMODB: OnceLock<String> = OnceLock::new();
    static MOTO: OnceLock<String> = OnceLock::new();
    let cell = match service {
        LocalService::DynamoDb => &DYNAMODB,
        LocalService::Moto => &MOTO,
    };
    cell.get_or_init(|| {
        let variable = service.variable();
        let listed = match service {
            LocalService::DynamoDb => std::env::var("CHECKOUT_TEST_DYNAMODB_ENDPOINTS").ok(),
            LocalService::Moto => None,
        };
        let endpoints = listed
            .or_else(|| std::env::var(variable).ok())
            .unwrap_or_else(|| {
                panic!(
                    "{variable} is not set: run the suite with scripts/test.sh, which starts \
                 DynamoDB Local and moto (or `scripts/backends.sh start` and source its env)"
                )
            });
        let endpoints: Vec<&str> = endpoints.split(',').filter(|e| !e.is_empty()).collect();
        endpoints[std::process::id() as usize % endpoints.len()].to_string()
    })
}

/// The AWS configuration of a local service: its endpoint, one region, test credentials.
/// Built once per test process and shared by every client made from it; it holds no
/// connection, so clients made on different runtimes do not share one.
pub fn local_aws(service: LocalService) -> &'static aws_config::SdkConfig {
    static DYNAMODB: OnceLock<aws_config::SdkConfig> = OnceLock::new();
    static MOTO: OnceLock<aws_config::SdkConfig> = OnceLock::new();
    let cell = match service {
        LocalService::DynamoDb => &DYNAMODB,
        LocalService::Moto => &MOTO,
    };
    cell.get_or_init(|| {
        let endpoint = local_endpoint(service);
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"),
            ))
            .build()
    })
}

/// A fresh DynamoDB Local table, named uniquely for this test.
pub async fn dynamodb_store() -> DynamoStore {
    dynamodb_store_counted(Arc::default()).await
}

/// A fresh DynamoDB Local table whose every request is counted.
pub async fn dynamodb_store_counted(counter: Arc<RequestCounter>) -> DynamoStore {
    dynamodb_store_at(local_endpoint(LocalService::DynamoDb), counter).await
}

/// A fresh table reached at `endpoint` (DynamoDB Local, or the emulator in front of it),
/// its every request counted.
pub async fn dynamodb_store_at(endpoint: &str, counter: Arc<RequestCounter>) -> DynamoStore {
    let config = local_aws(LocalService::DynamoDb);
    let table = format!("test-{}", uuid::Uuid::new_v4());
    let client_config = aws_sdk_dynamodb::config::Builder::from(config)
        .endpoint_url(endpoint)
        .interceptor(CountingInterceptor(counter))
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(client_config), table);
    let created = if STREAMS.load(std::sync::atomic::Ordering::SeqCst) {
        store.create_table().await
    } else {
        store.create_table_without_stream().await
    };
    created.expect("create the test table");
    store
}

/// Whether tables made in this process keep their stream (see [`keep_streams`]).
static STREAMS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tables made from now on keep their stream, as the template's does: for tests that read it
/// (the outbox's relay). Others go without, since DynamoDB Local's every write costs more
/// with each stream it keeps, and a run makes hundreds of tables. Only ever turns streams on,
/// so tests sharing a process (plain `cargo test`) lose nothing.
pub fn keep_streams() {
    STREAMS.store(true, std::sync::atomic::Ordering::SeqCst);
}

pub async fn store(backend: Backend) -> Arc<dyn Store> {
    match backend {
        Backend::Memory => Arc::new(MemoryStore::new()),
        Backend::DynamoDb | Backend::DynamoDbContended => Arc::new(dynamodb_store().await),
    }
}

/// The backend under test, reached through the same router the Lambda and local server use.
#[derive(Clone)]
pub struct App {
    router: Router,
    pub store: Arc<dyn Store>,
    pub storefront: Storefront,
    tokens: DevTokens,
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

    /// Records a successful charge covering what the cart owes, as the payment webhook will;
    /// like any cart change it bumps the version. Returns the new version.
    pub async fn pay(&self, cart: &mut CartRef, cents: Option<i64>) -> u64 {
        let id = CartId::parse(&cart.id).unwrap();
        let stored = record_charge(self.store.as_ref(), &id, cents, self.clock.now()).await;
        cart.version = stored.version;
        stored.version
    }

    /// `POST /carts/{id}/payments` for what the cart owes (or `amount`); the intent's reference.
    pub async fn start_payment(
        &self,
        client: &Client,
        cart: &CartRef,
        amount: Option<i64>,
    ) -> String {
        let body = match amount {
            Some(amount) => json!({"amount": amount}),
            None => json!({}),
        };
        let response = client
            .post(&format!("/carts/{}/payments", cart.id), body)
            .await;
        response.assert_status(StatusCode::CREATED);
        response.body["pspReference"]
            .as_str()
            .expect("a reference")
            .to_string()
    }

    /// The signed webhook delivery of the simulator's success (or failure) event for `reference`.
    pub fn payment_event(&self, reference: &str, succeeded: bool) -> String {
        self.psp
            .event(reference, succeeded)
            .expect("a known intent")
    }

    /// `payment_intent.canceled` for the simulator's intent `reference`: the customer gave
    /// up, or an authorization nobody captured expired (Stripe's 7 days).
    pub fn canceled_event(&self, reference: &str) -> String {
        let mut event: Value = serde_json::from_str(&self.payment_event(reference, false)).unwrap();
        event["type"] = json!("payment_intent.canceled");
        event["data"]["object"]["status"] = json!("canceled");
        event["data"]["object"]["last_payment_error"] = Value::Null;
        event.to_string()
    }

    /// `charge.refunded` as Stripe sends it, with event id `id`: the charge `charge` of the
    /// intent `reference`, refunded `amount_refunded` in all so far, without the intent's
    /// metadata (the webhook looks the intent up for its cart).
    pub fn refunded_event(
        &self,
        reference: &str,
        charge: &str,
        amount_refunded: i64,
        id: &str,
    ) -> String {
        let mut event: Value = serde_json::from_str(STRIPE_CHARGE_REFUNDED).unwrap();
        event["id"] = json!(id);
        event["data"]["object"]["id"] = json!(charge);
        event["data"]["object"]["payment_intent"] = json!(reference);
        event["data"]["object"]["amount_refunded"] = json!(amount_refunded);
        event["data"]["object"]["currency"] = json!("eur");
        event["data"]["object"]["metadata"] = json!({});
        // As API versions since 2022-11-15 send it: the running total, no list of refunds.
        if let Some(charge) = event["data"]["object"].as_object_mut() {
            charge.remove("refunds");
        }
        event["created"] = json!(self.storefront.now().unix_timestamp());
        event.to_string()
    }

    /// Delivers a Stripe event body, signed now with the current webhook secret.
    pub async fn deliver(&self, body: &str) -> TestResponse {
        let header = checkout_adapters::stripe::sign(
            body.as_bytes(),
            WEBHOOK_SECRET,
            self.storefront.now().unix_timestamp(),
        );
        self.deliver_signed(body, &header).await
    }

    /// Adyen's notification of `reference`'s outcome (a session's payment, or a capture,
    /// cancel or refund Adyen received), signed with the current HMAC key.
    pub fn adyen_notification(&self, reference: &str, succeeded: bool) -> String {
        let key = checkout_adapters::adyen::signature::HmacKey::parse(ADYEN_HMAC_KEY).unwrap();
        self.adyen
            .notification(reference, succeeded, &key)
            .expect("a reference the Adyen simulator made")
    }

    /// Delivers an Adyen notification body with the webhook's Basic credentials.
    pub async fn deliver_adyen(&self, body: &str) -> TestResponse {
        self.anonymous()
            .with_header(
                "authorization",
                &checkout_adapters::adyen::signature::basic_credentials(ADYEN_USER, ADYEN_PASSWORD),
            )
            .post_raw("/webhooks/adyen", body.to_string())
            .await
    }

    pub async fn deliver_signed(&self, body: &str, header: &str) -> TestResponse {
        self.anonymous()
            .with_header("stripe-signature", header)
            .post_raw("/webhooks/stripe", body.to_string())
            .await
    }

    /// The PSP requests of one kind (`refund`, `cancel`, `create_intent`), repeats included.
    pub fn psp_requests(
        &self,
        operation: &str,
    ) -> Vec<checkout_adapters::psp_simulator::PspRequest> {
        self.psp
            .requests()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
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

    /// A guest cart ready to order: two mugs, addresses, standard shipping, guest details.
    pub async fn ready_guest_cart(&self) -> (Client, CartRef) {
        let (guest, mut cart) = self.guest_with_cart("EUR", "DE").await;
        guest
            .update(&mut cart, ready_actions(&[("MUG", 2)]))
            .await
            .assert_status(StatusCode::OK);
        (guest, cart)
    }

    /// A signed-in customer's cart ready to order, as `ready_guest_cart`'s (two mugs,
    /// addresses, standard shipping) with the customer's email: who may save an order.
    pub async fn ready_customer_cart(&self, sub: &str) -> (Client, CartRef) {
        let customer = self.customer(sub);
        let created = customer
            .post("/carts", json!({"currency": "EUR", "country": "DE"}))
            .await;
        created.assert_status(StatusCode::CREATED);
        let mut cart = CartRef::from(&created.body);
        let mut actions = ready_actions(&[("MUG", 2)]);
        let actions_list = actions.as_array_mut().expect("a list");
        actions_list.retain(|a| a["action"] != "setGuestDetails");
        actions_list
            .push(json!({"action": "setCustomerEmail", "email": format!("{sub}@example.com")}));
        customer
            .update(&mut cart, actions)
            .await
            .assert_status(StatusCode::OK);
        (customer, cart)
    }

    /// The same, paid in full.
    pub async fn paid_guest_cart(&self) -> (Client, CartRef) {
        let (guest, mut cart) = self.ready_guest_cart().await;
        self.pay(&mut cart, None).await;
        (guest, cart)
    }

    /// `count` guest carts, each ready to order one unit of `sku` and paid in full.
    pub async fn paid_carts_of_one(&self, sku: &str, count: usize) -> Vec<(Client, CartRef)> {
        let mut carts = Vec::with_capacity(count);
        for _ in 0..count {
            let (guest, mut cart) = self.guest_with_cart("EUR", "DE").await;
            guest
                .update(&mut cart, ready_actions(&[(sku, 1)]))
                .await
                .assert_status(StatusCode::OK);
            self.pay(&mut cart, None).await;
            carts.push((guest, cart));
        }
        carts
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

    /// A client with no identity at all.
    pub fn anonymous(&self) -> Client {
        Client {
            app: self.clone(),
            headers: HeaderMap::new(),
        }
    }

    /// A signed-in customer.
    pub fn customer(&self, sub: &str) -> Client {
        self.anonymous().with_header(
            "authorization",
            &format!("Bearer {}", self.tokens.issue(sub, None)),
        )
    }

    /// A caller whose token grants `scope` (e.g. `orders:write`).
    pub fn with_scope(&self, sub: &str, scope: &str) -> Client {
        self.anonymous().with_header(
            "authorization",
            &format!("Bearer {}", self.tokens.issue(sub, Some(scope))),
        )
    }

    pub fn admin(&self) -> Client {
        self.anonymous().with_header(
            "authorization",
            &format!("Bearer {}", self.tokens.issue("ops", Some("admin"))),
        )
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

    /// A guest with a fresh cart in `currency`, shipping to `country`.
    pub async fn guest_with_cart(&self, currency: &str, country: &str) -> (Client, CartRef) {
        let response = self
            .anonymous()
            .post("/carts", json!({"currency": currency, "country": country}))
            .await;
        response.assert_status(StatusCode::CREATED);
        let token = response.body["sessionToken"]
            .as_str()
            .expect("a session token")
            .to_string();
        let client = self.anonymous().with_header("x-session-id", &token);
        (client, CartRef::from(&response.body))
    }
}

/// A cart's id and the version last seen.
#[derive(Debug, Clone)]
pub struct CartRef {
    pub id: String,
    pub version: u64,
}

impl From<&Value> for CartRef {
    fn from(cart: &Value) -> Self {
        CartRef {
            id: cart["id"].as_str().expect("cart id").to_string(),
            version: cart["version"].as_u64().expect("cart version"),
        }
    }
}

#[derive(Clone)]
pub struct Client {
    app: App,
    headers: HeaderMap,
}

impl Client {
    /// The same caller (its token or session) talking to `app` instead.
    pub fn on(&self, app: &App) -> Client {
        Client {
            app: app.clone(),
            headers: self.headers.clone(),
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(
            self.status, expected,
            "unexpected status; body: {:#}",
            self.body
        );
        self
    }

    /// Asserts a problem+json answer with this status and `code`.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> &Value {
        self.assert_status(status);
        assert_eq!(
            self.headers
                .get("content-type")
                .map(|v| v.to_str().unwrap()),
            Some("application/problem+json"),
            "problems are application/problem+json"
        );
        assert_eq!(
            self.body["code"], code,
            "unexpected problem: {:#}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16());
        &self.body
    }

    /// The JSON pointers of an `InvalidInput` problem.
    #[track_caller]
    pub fn pointers(&self) -> Vec<String> {
        self.assert_problem(StatusCode::BAD_REQUEST, "InvalidInput");
        self.body["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["pointer"].as_str().unwrap().to_string())
            .collect()
    }
}

impl Client {
    /// The value of a header this client sends, if it sends it.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        self
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Body>) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let has_body = body.is_some();
        if has_body {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(body.unwrap_or_else(Body::empty)).unwrap();
        let response = self.app.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = headers
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"text/plain"));
        let body = if bytes.is_empty() {
            Value::Null
        } else if text {
            // Adyen's acknowledgement, `[accepted]`, is text.
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("a JSON body, got {:?}", String::from_utf8_lossy(&bytes))
            })
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send(Method::POST, path, Some(Body::from(body.to_string())))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> TestResponse {
        self.send(Method::PUT, path, Some(Body::from(body.to_string())))
            .await
    }

    pub async fn post_with_key(&self, path: &str, key: &str, body: Value) -> TestResponse {
        self.clone()
            .with_header("idempotency-key", key)
            .post(path, body)
            .await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<Body>) -> TestResponse {
        self.send(Method::POST, path, Some(body.into())).await
    }

    /// Applies `actions` to the cart at its last seen version; on success, remembers the new one.
    pub async fn update(&self, cart: &mut CartRef, actions: Value) -> TestResponse {
        let response = self
            .post(
                &format!("/carts/{}", cart.id),
                json!({"version": cart.version, "actions": actions}),
            )
            .await;
        if response.status == StatusCode::OK {
            *cart = CartRef::from(&response.body);
        }
        response
    }
}

/// Actions that make a cart orderable: the lines, German addresses, standard shipping, and
/// guest details (ignored for nobody: customers need an email too, which this sets).
pub fn ready_actions(lines: &[(&str, u32)]) -> Value {
    let mut actions: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity)| json!({"action": "addLineItem", "sku": sku, "quantity": quantity}))
        .collect();
    actions.extend([
        json!({"action": "setShippingAddress", "address": address_de()}),
        json!({"action": "setBillingAddress", "address": address_de()}),
        json!({"action": "setShippingMethod", "shippingMethodId": "standard"}),
        json!({"action": "setGuestDetails", "email": "ada@example.com", "name": "Ada Lovelace", "phone": "+49 30 1234567"}),
    ]);
    Value::Array(actions)
}

/// The body of `POST /orders` for a cart at its last seen version.
pub fn order_request(cart: &CartRef) -> Value {
    json!({"cartId": cart.id, "cartVersion": cart.version})
}

/// A complete German shipping address.
pub fn address_de() -> Value {
    json!({"firstName": "Ada", "lastName": "Lovelace", "line1": "Hauptstr. 1",
           "city": "Berlin", "postalCode": "10115", "country": "DE"})
}

pub fn address_in(country: &str) -> Value {
    let mut address = address_de();
    address["country"] = country.into();
    address
}

/// The cent amount of a money value.
#[track_caller]
pub fn cents(money: &Value) -> i64 {
    money["centAmount"]
        .as_i64()
        .unwrap_or_else(|| panic!("money, got {money}"))
}

/// Runs each listed scenario once on the embedded store and once on DynamoDB Local, so the
/// two stores cannot drift apart.
///
/// `on_both_stores!(multi_thread: scenario, ...)` runs them on a multi-threaded runtime, for
/// scenarios whose concurrent tasks must really run in parallel.
#[macro_export]
macro_rules! on_both_stores {
    (multi_thread: $($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    super::$scenario($crate::Backend::DynamoDb).await
                }
            )*
        }
    };
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::Backend::DynamoDb).await
                }
            )*
        }
    };
}
