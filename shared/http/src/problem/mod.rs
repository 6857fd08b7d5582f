//! Every failure as an `application/problem+json` response (RFC 9457): the domain's refusals
//! (mapped in [`domain`]) and the transport's own ([`Transport`]: no route, wrong method, a
//! body too large, a webhook signature not ours).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use checkout_domain::Error;

mod domain;
mod programmatic;

pub use domain::problem;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem+json document, ready to serialize.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub recovery: Option<&'static str>,
    pub extensions: Map<String, Value>,
    /// Seconds the client should wait before retrying (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!("about:blank"));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status));
        body.insert("code".into(), json!(self.code));
        body.insert("detail".into(), json!(self.detail));
        if let Some(recovery) = self.recovery {
            body.insert("recovery".into(), json!(recovery));
        }
        for (key, value) in &self.extensions {
            body.insert(key.clone(), value.clone());
        }
        Value::Object(body)
    }

    /// The response: this document, its status, and `Retry-After` when it has one.
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.to_json().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }

    pub(crate) fn simple(
        status: u16,
        code: &'static str,
        title: &'static str,
        recovery: Option<&'static str>,
        detail: String,
    ) -> Problem {
        Problem {
            status,
            code,
            title,
            detail,
            recovery,
            extensions: Map::new(),
            retry_after: None,
        }
    }
}

/// The transport's own refusals: the request never reached a domain operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Transport {
    #[error("no route matches")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("webhook signature rejected: {0}")]
    InvalidSignature(String),
    /// A webhook whose sender is not who it must be (Adyen's Basic credentials or an
    /// item's HMAC).
    #[error("webhook sender not authenticated: {0}")]
    Unauthenticated(String),
}

impl Transport {
    pub fn problem(&self) -> Problem {
        match self {
            Transport::RouteNotFound => Problem::simple(
                404,
                "NotFound",
                "Not found",
                None,
                "No route matches this path; see the API's OpenAPI document.".into(),
            ),
            Transport::MethodNotAllowed => Problem::simple(
                405,
                "MethodNotAllowed",
                "Method not allowed",
                Some("fix_request"),
                "This resource does not support that method.".into(),
            ),
            Transport::PayloadTooLarge { limit } => Problem::simple(
                413,
                "PayloadTooLarge",
                "The request body is too large",
                Some("fix_request"),
                format!("Request bodies are limited to {limit} bytes."),
            ),
            Transport::InvalidSignature(reason) => Problem::simple(
                400,
                "InvalidSignature",
                "The webhook signature is not valid",
                Some("fix_request"),
                format!("The webhook was not accepted: {reason}."),
            ),
            Transport::Unauthenticated(reason) => Problem::simple(
                401,
                "Unauthorized",
                "The webhook's sender is not authenticated",
                None,
                format!("The notification was not accepted: {reason}."),
            ),
        }
    }
}

impl IntoResponse for Transport {
    fn into_response(self) -> Response {
        self.problem().into_response()
    }
}

/// The HTTP face of a domain error; handlers return `Result<_, ApiError>`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl From<checkout_domain::StoreError> for ApiError {
    fn from(error: checkout_domain::StoreError) -> Self {
        ApiError(Error::Store(error))
    }
}

/// The problem `error` answers with; a server-side failure's cause goes to the logs only (the
/// client sees a generic problem).
pub fn logged_problem(error: &Error) -> Problem {
    let problem = problem(error);
    if problem.status >= 500 {
        tracing::error!(%error, cause = ?error, "request failed");
    }
    problem
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        logged_problem(&self.0).into_response()
    }
}

/// Either kind of failure, for what can fail both ways (request bodies, webhooks).
#[derive(Debug)]
pub enum HttpError {
    Domain(ApiError),
    Transport(Transport),
}

impl From<Error> for HttpError {
    fn from(error: Error) -> Self {
        HttpError::Domain(ApiError(error))
    }
}

impl From<ApiError> for HttpError {
    fn from(error: ApiError) -> Self {
        HttpError::Domain(error)
    }
}

impl From<checkout_domain::StoreError> for HttpError {
    fn from(error: checkout_domain::StoreError) -> Self {
        HttpError::Domain(error.into())
    }
}

impl From<Transport> for HttpError {
    fn from(error: Transport) -> Self {
        HttpError::Transport(error)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        match self {
            HttpError::Domain(error) => error.into_response(),
            HttpError::Transport(error) => error.into_response(),
        }
    }
}
