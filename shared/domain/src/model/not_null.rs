//! Optional members of request bodies that the contract does not make nullable. serde reads
//! `null` as an absent `Option`; for these members `null` is not a value of their type, so
//! it is refused at the member's pointer like any other wrong type. Members the contract
//! documents as nullable (address lines, a discount's limits, a payment's amount, ...) keep
//! a plain `Option`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// On an `Option<T>` member with `#[serde(default, deserialize_with = "not_null")]`: left
/// out, it is `None`; `null` is an error.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(D::Error::custom("may be left out, but not null")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "not_null")]
        flag: Option<bool>,
    }

    #[test]
    fn absent_is_none_a_value_is_some_and_null_is_refused() {
        let read = |json: &str| serde_json::from_str::<Body>(json).map(|b| b.flag);
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"flag": false}"#).unwrap(), Some(false));
        let refused = read(r#"{"flag": null}"#).unwrap_err().to_string();
        assert!(
            refused.starts_with("may be left out, but not null"),
            "{refused}"
        );
        assert!(read(r#"{"flag": "yes"}"#).is_err());
    }
}
