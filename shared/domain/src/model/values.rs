//! Validated domain values. Each has a `parse` constructor, and deserializing one goes
//! through it too (a stored or received value is checked like a typed one); once built, it is
//! valid, so the rest of the domain never re-checks. Errors are plain messages: the caller
//! knows the field.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

macro_rules! string_value {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(value: String) -> Result<Self, String> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) fn bounded(value: &str, min: usize, max: usize) -> Result<&str, String> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        Err(if min == 1 {
            "must not be empty".to_string()
        } else {
            format!("must be at least {min} characters")
        })
    } else if len > max {
        Err(format!("must be at most {max} characters"))
    } else if trimmed.chars().any(char::is_control) {
        Err("must not contain control characters".to_string())
    } else {
        Ok(trimmed)
    }
}

string_value!(
    /// A stock keeping unit: 1–64 of `A–Z 0–9 - _ .`, case-sensitive as given.
    Sku
);

impl Sku {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if valid {
            Ok(Sku(value.to_string()))
        } else {
            Err("must be 1–64 characters of letters, digits, '-', '_' or '.'".into())
        }
    }
}

string_value!(
    /// A cart id, a UUID chosen by the server.
    CartId
);

impl CartId {
    pub fn new() -> Self {
        CartId(uuid::Uuid::new_v4().to_string())
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        uuid::Uuid::try_parse(value)
            .map(|u| CartId(u.to_string()))
            .map_err(|_| "is not a cart id".to_string())
    }
}

impl Default for CartId {
    fn default() -> Self {
        Self::new()
    }
}

string_value!(
    /// A line item id, a UUID chosen by the server.
    LineItemId
);

impl LineItemId {
    pub fn new() -> Self {
        LineItemId(uuid::Uuid::new_v4().to_string())
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        uuid::Uuid::try_parse(value)
            .map(|u| LineItemId(u.to_string()))
            .map_err(|_| "is not a line item id".to_string())
    }
}

impl Default for LineItemId {
    fn default() -> Self {
        Self::new()
    }
}

string_value!(
    /// The identity provider's subject (`sub`) of a signed-in customer.
    CustomerId
);

impl CustomerId {
    pub fn parse(value: &str) -> Result<Self, String> {
        bounded(value, 1, 256).map(|v| CustomerId(v.to_string()))
    }
}

string_value!(
    /// An email address, trimmed, with its domain lower-cased. Deliberately permissive
    /// beyond structure: the mail system is the real judge.
    Email
);

impl Email {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let invalid = || "is not an email address".to_string();
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The form used to match a guest's email against order lookups and registrations.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

string_value!(
    /// An ISO 3166-1 alpha-2 country code, upper case.
    CountryCode
);

impl CountryCode {
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.len() == 2 && value.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(CountryCode(value.to_string()))
        } else {
            Err("must be an ISO 3166-1 alpha-2 country code such as 'DE'".into())
        }
    }
}

string_value!(
    /// A discount code as customers type it; matched case-insensitively (stored upper case).
    DiscountCode
);

impl DiscountCode {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if valid {
            Ok(DiscountCode(value.to_ascii_uppercase()))
        } else {
            Err("must be 1–64 letters, digits, '-' or '_'".into())
        }
    }
}

string_value!(
    /// A tax category such as `standard` or `reduced`.
    TaxCategory
);

impl TaxCategory {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = !value.is_empty()
            && value.len() <= 32
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(TaxCategory(value.to_string()))
        } else {
            Err("must be 1–32 lower-case letters, digits, '-' or '_'".into())
        }
    }
}

string_value!(
    /// A shipping method id from the configuration.
    ShippingMethodId
);

impl ShippingMethodId {
    pub fn parse(value: &str) -> Result<Self, String> {
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(ShippingMethodId(value.to_string()))
        } else {
            Err("must be 1–64 letters, digits, '-' or '_'".into())
        }
    }
}

string_value!(
    /// A free-text name (product, person): 1–200 characters, trimmed.
    Name
);

impl Name {
    /// A value `bounded` already checked (a postal code keeps its own format rules).
    pub(crate) fn from_checked(value: &str) -> Self {
        Name(value.to_string())
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        bounded(value, 1, 200).map(|v| Name(v.to_string()))
    }

    /// A person's name as a customer types it, which the shop's emails greet them by: 1–100
    /// letters (any script), digits, spaces and `' ’ - . ,`, a dot never directly before a
    /// letter or digit (`J. Doe`, not `evil.example`): plain text that can carry no link,
    /// address, markup or line break into a message sent to whatever address the caller chose.
    pub fn parse_person(value: &str) -> Result<Self, String> {
        let value = bounded(value, 1, 100)?;
        let chars: Vec<char> = value.chars().collect();
        let plain = chars.iter().enumerate().all(|(i, &c)| {
            let allowed = c.is_alphanumeric()
                || matches!(c, ' ' | '\'' | '’' | '-' | '.' | ',')
                // Combining marks (accents typed as their own code point).
                || ('\u{0300}'..='\u{036F}').contains(&c);
            let dotted_word = c == '.' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            allowed && !dotted_word
        });
        if plain {
            Ok(Name(value.to_string()))
        } else {
            Err("must be plain text: letters, digits, spaces and ' - . , (at most 100)".into())
        }
    }

    /// Free text that is shown back to its author and in their emails (an address line): no
    /// control characters, no markup, no link.
    pub fn parse_plain(value: &str) -> Result<Self, String> {
        let name = Name::parse(value)?;
        let lower = name.0.to_lowercase();
        if name
            .0
            .chars()
            .any(|c| c.is_control() || matches!(c, '<' | '>'))
            || lower.contains("://")
            || lower.contains("www.")
        {
            return Err("must be plain text (no markup, links or control characters)".into());
        }
        Ok(name)
    }
}

string_value!(
    /// A phone number as people write it: digits with optional `+`, spaces, dashes, dots,
    /// parentheses; 5–20 digits.
    Phone
);

impl Phone {
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let allowed = value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'));
        if allowed && (5..=20).contains(&digits) && value.len() <= 32 {
            Ok(Phone(value.to_string()))
        } else {
            Err("is not a phone number".into())
        }
    }
}

/// The secret a guest's browser keeps for its cart. Only its SHA-256 is ever stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Self {
        use base64::Engine;
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        SessionToken(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Anything a client sends is hashed; an unknown token simply matches nothing.
    pub fn from_client(value: &str) -> Option<Self> {
        let value = value.trim();
        (!value.is_empty() && value.len() <= 256).then(|| SessionToken(value.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SessionHash {
        SessionHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

string_value!(
    /// SHA-256 (hex) of a guest's session token.
    SessionHash
);

impl SessionHash {
    /// A stored hash: 64 lowercase hex digits, as `SessionToken::hash` writes it.
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.len() == 64
            && value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(SessionHash(value.to_string()))
        } else {
            Err("is not a session hash".into())
        }
    }
}

#[cfg(test)]
mod tests;
