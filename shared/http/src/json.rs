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

/// A JSON request body, parsed with pointers on failure; as a response, a JSON body.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = HttpError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || Transport::PayloadTooLarge { limit: BODY_LIMIT }.into();
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > BODY_LIMIT) {
            return Err(too_large());
        }
        let bytes = match Limited::new(request.into_body(), BODY_LIMIT)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
            Err(_) => return Err(Error::invalid("", "the request body could not be read").into()),
        };
        checkout_domain::model::input::from_slice(&bytes)
            .map(Json)
            .map_err(HttpError::from)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
