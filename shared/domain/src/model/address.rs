//! Postal addresses, validated field by field.

use serde::{Deserialize, Serialize};

use crate::model::error::FieldErrors;
use crate::model::field_error::FieldError;
use crate::model::values::{bounded, CountryCode, Name, Phone};

/// A postal address. `country` decides tax and which shipping methods apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub first_name: Name,
    pub last_name: Name,
    pub line1: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<Name>,
    pub city: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Name>,
    pub postal_code: Name,
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
}

/// An address as a client sends it, before validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressInput {
    pub first_name: String,
    pub last_name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
    #[serde(default)]
    pub phone: Option<String>,
}

impl Address {
    /// Validates every field, reporting all problems with pointers relative to the address.
    pub fn parse(input: &AddressInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let optional = |errors: &mut FieldErrors, pointer: &str, value: &Option<String>| {
            value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| errors.check(pointer, Name::parse_plain(v)))
        };
        let first_name = errors.check("/firstName", Name::parse_person(&input.first_name));
        let last_name = errors.check("/lastName", Name::parse_person(&input.last_name));
        let line1 = errors.check("/line1", Name::parse_plain(&input.line1));
        let line2 = optional(&mut errors, "/line2", &input.line2);
        let city = errors.check("/city", Name::parse_plain(&input.city));
        let region = optional(&mut errors, "/region", &input.region);
        let postal_code = errors.check("/postalCode", bounded(&input.postal_code, 2, 12));
        let country = errors.check("/country", CountryCode::parse(&input.country));
        let phone = match input.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => errors.check("/phone", Phone::parse(p)),
            None => None,
        };
        match (first_name, last_name, line1, city, postal_code, country) {
            (
                Some(first_name),
                Some(last_name),
                Some(line1),
                Some(city),
                Some(postal),
                Some(country),
            ) if errors.is_empty() => Ok(Address {
                first_name,
                last_name,
                line1,
                line2,
                city,
                region,
                postal_code: Name::from_checked(postal),
                country,
                phone,
            }),
            _ => Err(errors.into_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_reports_every_bad_field() {
        let input = AddressInput {
            first_name: "".into(),
            last_name: "Lovelace".into(),
            line1: "1 Analytical St".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: "N1".into(),
            country: "uk".into(),
            phone: Some("call me".into()),
        };
        let errors = Address::parse(&input).unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/firstName", "/country", "/phone"]);
    }
}
