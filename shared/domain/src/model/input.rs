//! Client JSON into input structs, with every failure located by a JSON pointer (RFC 6901).

use serde::de::DeserializeOwned;

use crate::model::error::Error;
use crate::model::field_error::FieldError;

/// Parses a request body; an empty or malformed body is a field error at the root.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("", "a JSON body is required"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|e| Error::Invalid(vec![field_error(e)]))
}

/// Parses an already decoded JSON value (e.g. one element of an array).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(field_error)
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
    use crate::model::cart_actions::UpdateCartInput;

    #[test]
    fn wrong_types_point_at_the_field() {
        let error =
            from_slice::<UpdateCartInput>(br#"{"version": "one", "actions": []}"#).unwrap_err();
        let Error::Invalid(errors) = error else {
            panic!()
        };
        assert_eq!(errors[0].pointer, "/version");
    }

    #[test]
    fn malformed_json_is_reported_at_the_root() {
        let Error::Invalid(errors) =
            from_slice::<UpdateCartInput>(br#"{"version": 1,"#).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(errors[0].pointer, "");
        assert!(errors[0].message.starts_with("malformed JSON"));
    }
}
