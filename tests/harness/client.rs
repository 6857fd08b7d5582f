//! A caller of the backend under test: [`Client`] sends requests through the router as
//! a guest, a customer or an operator, and [`TestResponse`] asserts on the answers.

use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::App;

impl App {
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
