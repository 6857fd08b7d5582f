//! The [`Sizer`]: the proxy in front of DynamoDB Local that keeps each write's stored images
//! and each read's items, for [`super::units`] to count.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use super::{units, Action, Computed, ItemWrite, Read, Write, TABLE_KEYS};

/// The items a write request names: (action, key), and the new item of each put.
pub(super) fn write_targets(operation: &str, body: &Value) -> Vec<(Action, Map<String, Value>)> {
    let key_of = |item: &Map<String, Value>| -> Map<String, Value> {
        TABLE_KEYS
            .iter()
            .filter_map(|k| Some((k.to_string(), item.get(*k)?.clone())))
            .collect()
    };
    let object = |v: &Value, name: &str| v.get(name).and_then(Value::as_object).cloned();
    match operation {
        "PutItem" => object(body, "Item")
            .map(|item| vec![(Action::Put, key_of(&item))])
            .unwrap_or_default(),
        "UpdateItem" => object(body, "Key")
            .map(|k| vec![(Action::Update, k)])
            .unwrap_or_default(),
        "DeleteItem" => object(body, "Key")
            .map(|k| vec![(Action::Delete, k)])
            .unwrap_or_default(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|slot| {
                let (kind, inner) = slot.as_object()?.iter().next()?;
                match kind.as_str() {
                    "Put" => Some((Action::Put, key_of(&object(inner, "Item")?))),
                    "Update" => Some((Action::Update, object(inner, "Key")?)),
                    "Delete" => Some((Action::Delete, object(inner, "Key")?)),
                    "ConditionCheck" => Some((Action::Check, object(inner, "Key")?)),
                    _ => None,
                }
            })
            .collect(),
        // BatchWriteItem: the commit path sends none; counted as nothing (said in the report).
        _ => Vec::new(),
    }
}

/// The table a write request is for (one table: the bench's).
pub(super) fn table_of(operation: &str, body: &Value) -> Option<String> {
    match operation {
        "TransactWriteItems" => body["TransactItems"]
            .as_array()?
            .iter()
            .find_map(|slot| {
                slot.as_object()?
                    .values()
                    .next()?
                    .get("TableName")?
                    .as_str()
            })
            .map(str::to_string),
        _ => body["TableName"].as_str().map(str::to_string),
    }
}

/// The items a read request returned, and whether it read consistently.
fn read_items(
    operation: &str,
    request: &Value,
    response: &Value,
) -> Option<(bool, Vec<Map<String, Value>>)> {
    let objects = |v: &Value| -> Vec<Map<String, Value>> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_object().cloned())
            .collect()
    };
    let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
    match operation {
        "GetItem" => Some((
            consistent,
            response["Item"].as_object().cloned().into_iter().collect(),
        )),
        "Query" | "Scan" => Some((consistent, objects(&response["Items"]))),
        "BatchGetItem" => {
            let consistent = request["RequestItems"]
                .as_object()
                .into_iter()
                .flatten()
                .any(|(_, t)| t["ConsistentRead"].as_bool().unwrap_or(false));
            let items = response["Responses"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(_, items)| objects(items))
                .collect();
            Some((consistent, items))
        }
        "TransactGetItems" => Some((
            true,
            response["Responses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["Item"].as_object().cloned())
                .collect(),
        )),
        _ => None,
    }
}

#[derive(Default)]
struct Ledger {
    writes: Vec<Write>,
    reads: Vec<Read>,
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    ledger: Mutex<Ledger>,
}

/// The proxy. Dropping it stops it.
pub struct Sizer {
    endpoint: String,
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Sizer {
    /// Starts a proxy for DynamoDB Local at `upstream` on a free loopback port.
    pub async fn start(upstream: &str) -> Result<Sizer, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client,
            ledger: Mutex::default(),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let router = Router::new().fallback(proxy).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Sizer {
            endpoint: format!("http://{addr}"),
            shared,
            _stop: stop,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The requests since the last call, computed, and forgets them.
    pub fn take(&self) -> Computed {
        let ledger = std::mem::take(&mut *self.shared.ledger.lock().unwrap());
        units(&ledger.writes, &ledger.reads)
    }
}

/// Headers a proxy does not pass on.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "te"
        ) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

impl Shared {
    /// The stored item under `key`, read consistently (DynamoDB Local takes the caller's
    /// credentials headers as they are).
    async fn get(
        &self,
        headers: &HeaderMap,
        table: &str,
        key: &Map<String, Value>,
    ) -> Result<Option<Map<String, Value>>, String> {
        let mut headers = forwarded(headers);
        headers.insert(
            "x-amz-target",
            "DynamoDB_20120810.GetItem".parse().expect("a header value"),
        );
        let body = json!({"TableName": table, "Key": key, "ConsistentRead": true});
        let response = self
            .client
            .post(format!("{}/", self.upstream))
            .headers(headers)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GetItem for sizing: {status} {body}"));
        }
        Ok(body["Item"].as_object().cloned())
    }

    async fn images(
        &self,
        headers: &HeaderMap,
        table: &str,
        targets: &[(Action, Map<String, Value>)],
    ) -> Result<Vec<Option<Map<String, Value>>>, String> {
        let mut images = Vec::with_capacity(targets.len());
        for (_, key) in targets {
            images.push(self.get(headers, table, key).await?);
        }
        Ok(images)
    }
}

async fn proxy(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match sized(&shared, method, uri, headers, body).await {
        Ok(response) => response,
        Err(error) => (StatusCode::BAD_GATEWAY, format!("bench sizer: {error}")).into_response(),
    }
}

async fn sized(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, String> {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_string();
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let targets = write_targets(&operation, &request);
    let table = table_of(&operation, &request);
    let before = match (&table, targets.is_empty()) {
        (Some(table), false) => shared.images(&headers, table, &targets).await?,
        _ => Vec::new(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let upstream = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .headers(forwarded(&headers))
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = upstream.status();
    let response_headers = upstream.headers().clone();
    let bytes = upstream.bytes().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        if let (Some(table), false) = (&table, targets.is_empty()) {
            let after = shared.images(&headers, table, &targets).await?;
            let items = targets
                .into_iter()
                .zip(before.into_iter().zip(after))
                .map(|((action, key), (before, after))| ItemWrite {
                    action,
                    key,
                    before,
                    after,
                })
                .collect();
            shared.ledger.lock().unwrap().writes.push(Write {
                transactional: operation == "TransactWriteItems",
                operation: operation.clone(),
                items,
            });
        } else {
            let response: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if let Some((consistent, items)) = read_items(&operation, &request, &response) {
                shared.ledger.lock().unwrap().reads.push(Read {
                    operation: operation.clone(),
                    consistent,
                    items,
                });
            }
        }
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &response_headers {
        if !matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(response)
}
