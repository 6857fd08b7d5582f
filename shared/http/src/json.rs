//! Request bodies: at most 64 KiB, JSON, and every deserialization failure reported as a
//! field error with a JSON pointer, so a bad request is always a 400/413 and never a 5xx.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::{HttpError, Transport};
use checkout_domain::Error;

/// The largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The largest batch body accepted (`POST /admin/orders/batch`).
pub const BATCH_LIMIT: usize = 1024 * 1024;

/// A JSON request body, parsed with pointers on failure; as a response, a JSON body.
pub struct Json<T>(pub T);

/// A JSON request body of up to [`BATCH_LIMIT`] bytes.
pub struct BatchJson<T>(pub T);

/// Reads and parses a body of at most `limit` bytes.
async fn parse<T: DeserializeOwned>(request: Request, limit: usize) -> Result<T, HttpError> {
    let too_large = || Transport::PayloadTooLarge { limit }.into();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let bytes = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Err(_) => return Err(Error::invalid("", "the request body could not be read").into()),
    };
    checkout_domain::model::input::from_slice(&bytes).map_err(HttpError::from)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        parse(request, BODY_LIMIT).await.map(Json)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for BatchJson<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        parse(request, BATCH_LIMIT).await.map(BatchJson)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
