//! Guest claims: a guest who signs up later attaches their guest orders to the account by
//! proving control of the mailbox. The proof is a random token that reaches the guest only
//! inside the order confirmation email, as a link `<CLAIM_URL>?email=<email>&token=<token>`.
//! No API response carries it; only its SHA-256 is stored, with the email it was sent to and
//! an expiry 7 days out, and redeeming it is a conditional write that marks it used.

use time::OffsetDateTime;

use crate::model::values::{Email, SessionHash, SessionToken};

/// How long a claim link works.
pub const CLAIM_TOKEN_LIFETIME: time::Duration = time::Duration::days(7);

/// A stored claim token: its hash, the mailbox it was sent to, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimTicket {
    pub token_hash: SessionHash,
    pub email: Email,
    pub expires_at: OffsetDateTime,
}

impl ClaimTicket {
    /// A fresh token for `email` and the ticket to store for it. The token itself goes into
    /// the email and nowhere else.
    pub fn mint(email: &Email, now: OffsetDateTime) -> (SessionToken, ClaimTicket) {
        let token = SessionToken::generate();
        let ticket = ClaimTicket {
            token_hash: token.hash(),
            email: email.clone(),
            expires_at: now + CLAIM_TOKEN_LIFETIME,
        };
        (token, ticket)
    }
}

/// The link the confirmation email carries: `base?email=<email>&token=<token>`, both
/// percent-encoded.
pub fn claim_link(base: &str, email: &str, token: &SessionToken) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{separator}email={}&token={}",
        percent_encode(email),
        percent_encode(token.expose())
    )
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_ticket_stores_only_the_hash_and_expires_in_seven_days() {
        let email = Email::parse("ada+shop@example.com").unwrap();
        let now = OffsetDateTime::now_utc();
        let (token, ticket) = ClaimTicket::mint(&email, now);
        assert_eq!(ticket.token_hash, token.hash());
        assert_ne!(ticket.token_hash.as_str(), token.expose());
        assert_eq!(ticket.expires_at - now, time::Duration::days(7));
        let link = claim_link(
            "http://127.0.0.1:3000/claim",
            "ada+shop@example.com",
            &token,
        );
        assert_eq!(
            link,
            format!(
                "http://127.0.0.1:3000/claim?email=ada%2Bshop%40example.com&token={}",
                token.expose()
            )
        );
    }
}
