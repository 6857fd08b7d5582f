//! DynamoDB Local clients for the bench: a plain one, and one whose every request is counted
//! and asks for `ReturnConsumedCapacity: INDEXES`, summing the capacity DynamoDB reports (in
//! all, and the part of it spent on secondary indexes). `INDEXES`, not `TOTAL`: for the
//! commit's transaction DynamoDB Local's `TOTAL` leaves the index writes out.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use checkout_adapters::DynamoStore;
use serde_json::Value;

/// What a piece of work cost in DynamoDB.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Usage {
    /// Operation names, in order sent (one per attempt on the wire).
    pub requests: Vec<String>,
    pub read_units: f64,
    pub write_units: f64,
    /// Of `write_units`, those spent on global secondary indexes.
    pub index_write_units: f64,
}

#[derive(Debug, Default)]
pub struct Meter(Mutex<Usage>);

impl Meter {
    /// Usage since the last call, and forgets it.
    pub fn take(&self) -> Usage {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Debug, Clone)]
struct Metering(Arc<Meter>);

impl Intercept for Metering {
    fn name(&self) -> &'static str {
        "BenchMeter"
    }

    /// Counts the attempt and adds `ReturnConsumedCapacity: INDEXES` to its JSON body (before signing).
    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        self.0 .0.lock().unwrap().requests.push(operation.clone());
        let wants_capacity = !matches!(
            operation.as_str(),
            "CreateTable" | "DescribeTable" | "DeleteTable" | "UpdateTimeToLive"
        );
        if let (true, Some(bytes)) = (wants_capacity, request.body().bytes()) {
            let mut body: Value = serde_json::from_slice(bytes)?;
            if let Some(object) = body.as_object_mut() {
                object
                    .entry("ReturnConsumedCapacity")
                    .or_insert_with(|| "INDEXES".into());
                let bytes = serde_json::to_vec(&body)?;
                let length = bytes.len().to_string();
                *request.body_mut() = SdkBody::from(bytes);
                request.headers_mut().insert("content-length", length);
            }
        }
        Ok(())
    }

    /// Sums the capacity in the answer (an object, or a list for transactions and batches).
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(bytes) = context.response().and_then(|r| r.body().bytes()) else {
            return Ok(());
        };
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            return Ok(());
        };
        let entries = match &body["ConsumedCapacity"] {
            Value::Array(list) => list.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        let mut usage = self.0 .0.lock().unwrap();
        for entry in entries {
            if let Some(indexes) = entry["GlobalSecondaryIndexes"].as_object() {
                for index in indexes.values() {
                    usage.index_write_units += index["WriteCapacityUnits"]
                        .as_f64()
                        .or_else(|| index["CapacityUnits"].as_f64())
                        .unwrap_or(0.0);
                }
            }
            let total = entry["CapacityUnits"].as_f64().unwrap_or(0.0);
            let read = entry["ReadCapacityUnits"].as_f64();
            let write = entry["WriteCapacityUnits"].as_f64();
            match (read, write) {
                (None, None) => {
                    // Only the total: reads and writes are told apart by the operation.
                    if usage.requests.last().is_some_and(|op| {
                        matches!(
                            op.as_str(),
                            "GetItem" | "Query" | "Scan" | "BatchGetItem" | "TransactGetItems"
                        )
                    }) {
                        usage.read_units += total;
                    } else {
                        usage.write_units += total;
                    }
                }
                (read, write) => {
                    usage.read_units += read.unwrap_or(0.0);
                    usage.write_units += write.unwrap_or(0.0);
                }
            }
        }
        Ok(())
    }
}

/// The SDK configuration for DynamoDB Local at `endpoint`, with the fake credentials it accepts.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await
}

/// A store over `table`; when `meter` is given, every request is counted and metered.
pub fn store(
    config: &aws_config::SdkConfig,
    table: &str,
    meter: Option<Arc<Meter>>,
) -> DynamoStore {
    store_at(config, None, table, meter)
}

/// [`store`], its requests sent to `endpoint` (a proxy in front of DynamoDB Local: the
/// contention emulator, the capacity sizer) instead of the configuration's.
pub fn store_at(
    config: &aws_config::SdkConfig,
    endpoint: Option<&str>,
    table: &str,
    meter: Option<Arc<Meter>>,
) -> DynamoStore {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    if let Some(meter) = meter {
        builder = builder.interceptor(Metering(meter));
    }
    DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(builder.build()), table)
}
