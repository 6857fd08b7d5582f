//! The local AWS services the suite runs against: their endpoints, the AWS configuration
//! built once per process, fresh DynamoDB tables (their requests counted) and the stores
//! a backend runs on.

use std::sync::{Arc, Mutex, OnceLock};

use checkout_adapters::{DynamoStore, MemoryStore};
use checkout_domain::ports::Store;

use crate::Backend;

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
pub(crate) struct CountingInterceptor(pub(crate) Arc<RequestCounter>);

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
