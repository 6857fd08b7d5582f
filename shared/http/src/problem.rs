//! Renders the domain's problems as `application/problem+json` responses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use checkout_domain::Error;

pub const PROBLEM_JSON: &str = "application/problem+json";

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.0.problem();
        if problem.status >= 500 {
            // The client sees a generic problem; the cause goes to the logs only.
            tracing::error!(error = %self.0, cause = ?self.0, "request failed");
        }
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, problem.to_json().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = problem.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
