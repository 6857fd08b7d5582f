//! [`FakeErp`]: an ERP on 127.0.0.1 that records what it gets and answers as scripted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::Pump;

/// The ERP's shared signing secret in tests.
pub const ERP_SECRET: &str = "erp-test-secret";

/// One order event as the fake ERP got it, stored under its `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct ErpRecord {
    /// The event's `kind`, e.g. `OrderPaid`.
    pub kind: String,
    pub sequence: u64,
    /// The order view the event carries.
    pub order: Value,
    pub signature: String,
}

#[derive(Default)]
struct ErpState {
    records: HashMap<String, ErpRecord>,
    /// Answers to give before behaving normally, in order.
    script: Vec<StatusCode>,
    /// Customers whose orders are refused with 400 (while listed).
    refuse: Vec<String>,
    /// Calls (after the script) answered only after [`SLOW_ANSWER`]: the client times out,
    /// though the ERP takes the order.
    slow: usize,
    calls: usize,
}

/// Longer than the ERP client's timeout in these tests.
const SLOW_ANSWER: Duration = Duration::from_millis(1500);
/// The ERP client's timeout in these tests.
pub(super) const ERP_TIMEOUT: Duration = Duration::from_millis(1000);

/// An ERP on 127.0.0.1: stores each order event once by its `Idempotency-Key`, answers 409
/// for a key it has, checks the signature, and can be told to fail.
#[derive(Clone)]
pub struct FakeErp {
    pub url: String,
    state: Arc<Mutex<ErpState>>,
    _server: Arc<Pump>,
}

impl FakeErp {
    pub async fn start() -> FakeErp {
        let state = Arc::new(Mutex::new(ErpState::default()));
        let app = axum::Router::new()
            .route("/orders", post(erp_receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/orders", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeErp {
            url,
            state,
            _server: Arc::new(Pump(server)),
        }
    }

    /// The next calls get these answers, whatever they carry.
    pub fn script(&self, answers: &[StatusCode]) {
        self.state.lock().unwrap().script = answers.to_vec();
    }

    /// The next `calls` (after the script) are answered too late for the client.
    pub fn slow(&self, calls: usize) {
        self.state.lock().unwrap().slow = calls;
    }

    /// Orders of the customer with this email are refused with 400 until `accept_all`.
    pub fn refuse_customer(&self, email: &str) {
        self.state.lock().unwrap().refuse.push(email.into());
    }

    pub fn accept_all(&self) {
        self.state.lock().unwrap().refuse.clear();
    }

    /// Every event taken, by `Idempotency-Key` (`<order number>:<sequence>`).
    pub fn records(&self) -> HashMap<String, ErpRecord> {
        self.state.lock().unwrap().records.clone()
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

async fn erp_receive(
    State(state): State<Arc<Mutex<ErpState>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let slow = {
        let mut state = state.lock().unwrap();
        state.calls += 1;
        if !state.script.is_empty() {
            return state.script.remove(0);
        }
        let slow = state.slow > 0;
        state.slow = state.slow.saturating_sub(1);
        slow
    };
    if slow {
        tokio::time::sleep(SLOW_ANSWER).await;
    }
    let mut state = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (key, signature) = (header("idempotency-key"), header("x-checkout-signature"));
    let timestamp: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    if signature != checkout_adapters::erp::signature(ERP_SECRET.as_bytes(), timestamp, &body) {
        return StatusCode::UNAUTHORIZED;
    }
    let event: Value = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    let customer = event["order"]["customerEmail"].as_str().unwrap_or_default();
    if state.refuse.iter().any(|refused| refused == customer) {
        return StatusCode::BAD_REQUEST;
    }
    if state.records.contains_key(&key) {
        return StatusCode::CONFLICT;
    }
    let record = ErpRecord {
        kind: event["kind"].as_str().unwrap_or_default().to_string(),
        sequence: event["sequence"].as_u64().unwrap_or_default(),
        order: event["order"].clone(),
        signature,
    };
    state.records.insert(key, record);
    StatusCode::CREATED
}
