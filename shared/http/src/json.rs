//! Request bodies: at most 64 KiB, JSON, and every deserialization failure reported as a
//! field error with a JSON pointer (RFC 6901), so a bad request is always a 400/413 and never
//! a 5xx.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::objects::Objects;
use crate::problem::{HttpError, Transport};
use checkout_domain::{Error, FieldError};

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
    from_slice(&bytes).map_err(HttpError::from)
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

/// Parses a request body; an empty or malformed body (trailing characters included) is a
/// field error at the root. Structs are read from objects only (`Objects`).
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("", "a JSON body is required"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Objects(&mut deserializer))
        .map_err(|e| Error::Invalid(vec![field_error(e)]))?;
    deserializer
        .end()
        .map_err(|e| Error::invalid("", format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// Parses an already decoded JSON value (e.g. one element of an array).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Objects(value)).map_err(field_error)
}

fn field_error(error: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    use serde_path_to_error::Segment;
    let pointer: String = error
        .path()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", key.replace('~', "~0").replace('/', "~1"))),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect();
    let inner = error.into_inner();
    let message = match inner.classify() {
        // Where the syntax broke is the useful part; for type errors the pointer is.
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            return FieldError::new("", format!("malformed JSON: {inner}"));
        }
        _ => {
            let text = inner.to_string();
            text.split(" at line ").next().unwrap_or(&text).to_string()
        }
    };
    FieldError::new(pointer, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cart_body::UpdateCartBody;

    #[test]
    fn wrong_types_point_at_the_field() {
        let error =
            from_slice::<UpdateCartBody>(br#"{"version": "one", "actions": []}"#).unwrap_err();
        let Error::Invalid(errors) = error else {
            panic!()
        };
        assert_eq!(errors[0].pointer, "/version");
    }

    #[test]
    fn trailing_characters_are_malformed_json() {
        let Error::Invalid(errors) =
            from_slice::<UpdateCartBody>(br#"{"version": 1, "actions": []} []"#).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(errors[0].pointer, "");
        assert!(errors[0]
            .message
            .starts_with("malformed JSON: trailing characters"));
    }

    #[test]
    fn malformed_json_is_reported_at_the_root() {
        let Error::Invalid(errors) =
            from_slice::<UpdateCartBody>(br#"{"version": 1,"#).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(errors[0].pointer, "");
        assert!(errors[0].message.starts_with("malformed JSON"));
    }
}
