//! The HTTP side: forwards every request to the upstream as it came (method, path, headers
//! with the SigV4 `Authorization` and `Host`, body) and answers with the upstream's answer,
//! except where [`crate::rules::Core`] refuses a write or a transactional read.

mod emulate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::request::{self, ItemKey, Target};
use crate::rules::Core;

use emulate::emulate;

/// DynamoDB's largest request (a 16 MB `BatchWriteItem`), with room.
const MAX_BODY: usize = 32 << 20;

/// Headers that belong to one hop, never forwarded. `content-length` is set again from the
/// body, to the same value.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub(crate) struct Shared {
    core: Mutex<Core>,
    upstream: String,
    client: reqwest::Client,
    /// Key attribute names per table, partition key first: learned from `CreateTable` and
    /// `DescribeTable` answers through the proxy, or asked of the upstream once.
    schemas: Mutex<HashMap<String, Arc<[String]>>>,
    pub(crate) paused: watch::Sender<bool>,
    pub(crate) parked: watch::Sender<usize>,
}

impl Shared {
    pub(crate) fn new(core: Core, upstream: String, client: reqwest::Client) -> Self {
        Shared {
            core: Mutex::new(core),
            upstream,
            client,
            schemas: Mutex::new(HashMap::new()),
            paused: watch::Sender::new(false),
            parked: watch::Sender::new(0),
        }
    }

    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn schemas(&self) -> MutexGuard<'_, HashMap<String, Arc<[String]>>> {
        self.schemas
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key attribute names of `table`, asking the upstream (`DescribeTable`, with the
    /// caller's headers) when no answer about it came through the proxy yet.
    async fn schema(&self, parts: &Parts, table: &str) -> Option<Arc<[String]>> {
        if let Some(schema) = self.schemas().get(table) {
            return Some(schema.clone());
        }
        let mut headers = forwarded_headers(&parts.headers);
        headers.insert(
            HeaderName::from_static("x-amz-target"),
            HeaderValue::from_static("DynamoDB_20120810.DescribeTable"),
        );
        let response = self
            .client
            .post(format!("{}/", self.upstream))
            .headers(headers)
            .body(json!({ "TableName": table }).to_string())
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: Value = response.json().await.ok()?;
        let schema: Arc<[String]> =
            request::key_schema(body.get("Table")?.get("KeySchema")?)?.into();
        self.schemas().insert(table.to_string(), schema.clone());
        Some(schema)
    }

    /// The items `targets` name, in order; `None` when one cannot be named.
    async fn keys(&self, parts: &Parts, targets: &[Target]) -> Option<Vec<ItemKey>> {
        let mut keys = Vec::with_capacity(targets.len());
        for target in targets {
            let schema = if target.needs_schema() {
                Some(self.schema(parts, &target.table).await?)
            } else {
                None
            };
            keys.push(target.item_key(schema.as_deref())?);
        }
        Some(keys)
    }

    /// Keeps what a table-level answer says about key schemas.
    fn learn(&self, operation: &str, request: &[u8], answer: &Answer) {
        if !answer.status.is_success() {
            return;
        }
        let table = serde_json::from_slice::<Value>(request)
            .ok()
            .and_then(|body| Some(body.get("TableName")?.as_str()?.to_string()));
        let Some(table) = table else { return };
        let description = match operation {
            "CreateTable" => "TableDescription",
            "DescribeTable" => "Table",
            "DeleteTable" => {
                self.schemas().remove(&table);
                return;
            }
            _ => return,
        };
        let schema = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|body| request::key_schema(body.get(description)?.get("KeySchema")?));
        if let Some(schema) = schema {
            self.schemas().insert(table, schema.into());
        }
    }

    /// While a [`crate::Pause`] is on, an admitted request waits here, before its upstream
    /// call, holding what it claimed.
    async fn wait_while_paused(&self) {
        let mut paused = self.paused.subscribe();
        if !*paused.borrow_and_update() {
            return;
        }
        self.parked.send_modify(|n| *n += 1);
        struct Unpark<'a>(&'a watch::Sender<usize>);
        impl Drop for Unpark<'_> {
            fn drop(&mut self) {
                self.0.send_modify(|n| *n -= 1);
            }
        }
        let _unpark = Unpark(&self.parked);
        let _ = paused.wait_for(|paused| !*paused).await;
    }

    async fn forward(&self, parts: &Parts, body: Bytes) -> Result<Answer, Response> {
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let response = self
            .client
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .headers(forwarded_headers(&parts.headers))
            .body(body)
            .send()
            .await
            .map_err(upstream_failed)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(upstream_failed)?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The upstream's answer, kept whole so the proxy can read it before passing it on.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    /// Whether DynamoDB ran the transaction: it committed, or it evaluated the conditions
    /// and cancelled (as opposed to refusing the request before touching any item).
    fn ran_transaction(&self) -> bool {
        self.status.is_success()
            || serde_json::from_slice::<Value>(&self.body)
                .ok()
                .and_then(|body| Some(body.get("__type")?.as_str()?.to_string()))
                .is_some_and(|kind| kind.ends_with("#TransactionCanceledException"))
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            if !is_hop_by_hop(name) && name != http::header::CONTENT_LENGTH {
                headers.append(name.clone(), value.clone());
            }
        }
        response
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut forwarded = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name) && name != http::header::CONTENT_LENGTH {
            forwarded.append(name.clone(), value.clone());
        }
    }
    forwarded
}

fn upstream_failed(error: reqwest::Error) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        format!("ddb-contention: the upstream did not answer: {error}"),
    )
        .into_response()
}

fn respond(answer: Result<Answer, Response>) -> Response {
    match answer {
        Ok(answer) => answer.into_response(),
        Err(response) => response,
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_stats", get(stats).delete(reset_stats))
        .fallback(dynamodb)
        .with_state(shared)
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.core().stats(Instant::now())).into_response()
}

async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.core().reset_stats();
    StatusCode::NO_CONTENT
}

async fn dynamodb(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("ddb-contention: unreadable body: {error}"),
            )
                .into_response()
        }
    };
    shared.core().count_request();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|target| target.to_str().ok())
        .and_then(request::operation_name)
        .unwrap_or_default()
        .to_string();
    match request::parse(&operation, &body) {
        Some(parsed) => emulate(&shared, &parts, body, parsed).await,
        None if request::emulated(&operation) => {
            // A body DynamoDB will refuse: let it say so.
            shared.core().count_unemulated();
            respond(shared.forward(&parts, body).await)
        }
        None => {
            let answer = shared.forward(&parts, body.clone()).await;
            if let Ok(answer) = &answer {
                shared.learn(&operation, &body, answer);
            }
            respond(answer)
        }
    }
}
