//! A minimal Lambda Runtime API (`/2018-06-01/runtime/...`) for one execution environment:
//! it hands out queued events on `invocation/next`, one at a time as Lambda does, and records
//! when each answer arrives. It also serves a stub ERP endpoint (`POST /erp`, 200) for the
//! order-created subscriber.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

/// How one invocation ended, as the runtime reported it.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Position of the event in the order queued.
    pub index: usize,
    pub ok: bool,
    pub body: Bytes,
    /// When `invocation/next` handed the event out.
    pub dispatched: Instant,
    /// When the answer arrived.
    pub answered: Instant,
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<(usize, Value)>,
    next_index: usize,
    in_flight: HashMap<String, (usize, Instant)>,
    first_poll: Option<Instant>,
    init_error: Option<String>,
}

struct Inner {
    queue: Mutex<Queue>,
    ready: Notify,
    done: mpsc::UnboundedSender<Completion>,
}

/// One emulated execution environment's Runtime API, on a free loopback port.
pub struct Emulator {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    done: mpsc::UnboundedReceiver<Completion>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    pub async fn start() -> Emulator {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            done: tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/erp", post(|| async { StatusCode::OK }))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Emulator {
            addr,
            inner,
            done: rx,
            server,
        }
    }

    /// Queues an event; the runtime gets it on its next poll.
    pub fn push(&self, event: Value) {
        let mut queue = self.inner.queue.lock().unwrap();
        let index = queue.next_index;
        queue.next_index += 1;
        queue.pending.push_back((index, event));
        drop(queue);
        self.inner.ready.notify_one();
    }

    /// The next answer, or an error naming what the runtime reported instead.
    pub async fn completion(&mut self, timeout: Duration) -> Result<Completion, String> {
        match tokio::time::timeout(timeout, self.done.recv()).await {
            Ok(Some(completion)) => Ok(completion),
            Ok(None) => Err("emulator stopped".into()),
            Err(_) => Err(match self.inner.queue.lock().unwrap().init_error.clone() {
                Some(error) => format!("init error: {error}"),
                None => format!("no answer within {timeout:?}"),
            }),
        }
    }

    /// When the runtime first asked for work (its init is done by then).
    pub fn first_poll(&self) -> Option<Instant> {
        self.inner.queue.lock().unwrap().first_poll
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    inner
        .queue
        .lock()
        .unwrap()
        .first_poll
        .get_or_insert_with(Instant::now);
    let (index, event) = loop {
        let notified = inner.ready.notified();
        if let Some(item) = inner.queue.lock().unwrap().pending.pop_front() {
            break item;
        }
        notified.await;
    };
    let id = uuid::Uuid::new_v4().to_string();
    inner
        .queue
        .lock()
        .unwrap()
        .in_flight
        .insert(id.clone(), (index, Instant::now()));
    let deadline = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000 + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).expect("ASCII"));
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:bench".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event.to_string()).into_response()
}

fn finish(inner: &Inner, id: &str, ok: bool, body: Bytes) -> StatusCode {
    let answered = Instant::now();
    let Some((index, dispatched)) = inner.queue.lock().unwrap().in_flight.remove(id) else {
        return StatusCode::BAD_REQUEST;
    };
    let _ = inner.done.send(Completion {
        index,
        ok,
        body,
        dispatched,
        answered,
    });
    StatusCode::ACCEPTED
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    finish(&inner, &id, true, body)
}

async fn error(State(inner): State<Arc<Inner>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&inner, &id, false, body)
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    inner.queue.lock().unwrap().init_error = Some(String::from_utf8_lossy(&body).into_owned());
    StatusCode::ACCEPTED
}

/// An API Gateway HTTP API (payload 2.0) event, as the gateway sends it to a function.
pub fn http_event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut header_map = serde_json::Map::new();
    for (name, value) in headers {
        header_map.insert(name.to_string(), Value::String(value.to_string()));
    }
    if body.is_some() {
        header_map.insert("content-type".into(), "application/json".into());
    }
    let now = time::OffsetDateTime::now_utc();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": header_map,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "checkout-bench"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "24/Nov/2026:00:00:00 +0000",
            "timeEpoch": now.unix_timestamp() * 1000
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The HTTP status in an API Gateway proxy answer (`statusCode`), if it is one.
pub fn http_status(body: &[u8]) -> Option<u16> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value["statusCode"].as_u64().map(|s| s as u16)
}
