//! Stripe's webhooks: signatures (two secrets during a rotation), and events into the
//! domain's `PaymentEvent`.

mod events;
#[cfg(test)]
mod tests;

use hmac::digest::CtOutput;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use events::{interpret, interpret_for, report, Event, EventData, Interpretation};

/// Stripe's default tolerance between a signature's timestamp and now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// The longest `Stripe-Signature` header read. Stripe's own (a timestamp, two `v1` during a
/// secret's rotation and a `v0`) is about 250 bytes; anything past this bound is refused
/// before any parsing or hashing, so an unauthenticated request cannot buy work with it.
pub const MAX_HEADER_BYTES: usize = 1024;

/// The most `v1` entries a header may list (Stripe sends one per active secret: two during
/// a rotation). More is refused, whatever the entries hold, before any hashing.
pub const MAX_SIGNATURES: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error(
        "the Stripe-Signature header is over {MAX_HEADER_BYTES} bytes or lists more than \
         {MAX_SIGNATURES} v1 signatures"
    )]
    Oversized,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// A `Stripe-Signature` header, read: its timestamp and the `v1` candidates that can be
/// signatures at all (exactly 32 bytes, as 64 hex digits). An empty, non-hex or
/// wrongly sized `v1` is not one and is skipped, as Stripe's libraries skip it (a valid one
/// after it still verifies), but it counts toward [`MAX_SIGNATURES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub candidates: Vec<[u8; 32]>,
}

impl SignatureHeader {
    /// Reads `t=<unix>,v1=<hex>[,v1=<hex>…]` within the bounds, touching no body.
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        if header.len() > MAX_HEADER_BYTES {
            return Err(SignatureError::Oversized);
        }
        let mut timestamp = None;
        let mut entries = 0;
        let mut candidates = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                Some(("v1", hex_signature)) => {
                    entries += 1;
                    if entries > MAX_SIGNATURES {
                        return Err(SignatureError::Oversized);
                    }
                    let mut signature = [0u8; 32];
                    if hex::decode_to_slice(hex_signature, &mut signature).is_ok() {
                        candidates.push(signature);
                    }
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
        if candidates.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(SignatureHeader {
            timestamp,
            candidates,
        })
    }
}

/// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over `"<t>.<body>"` against each
/// secret (two during a rotation). The header is read within its bounds first; then each
/// secret's MAC is computed once and compared with every candidate in constant time.
/// `tolerance: None` skips the age check.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secrets: &[String],
    now: i64,
    tolerance: Option<i64>,
) -> Result<(), SignatureError> {
    let header = SignatureHeader::parse(header.ok_or(SignatureError::Missing)?)?;
    if tolerance.is_some_and(|tolerance| now - header.timestamp > tolerance) {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        let expected = mac(secret, header.timestamp, body).finalize();
        header
            .candidates
            .iter()
            // `CtOutput`'s equality is constant-time.
            .any(|candidate| expected == CtOutput::new((*candidate).into()))
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The interaction id of the intent `intent`'s charge (`latest_charge`): the same whether
/// the capture's answer or the webhook's `payment_intent.succeeded` reports it.
pub(crate) fn charge_interaction(intent: &str, latest_charge: Option<String>) -> String {
    let charge = latest_charge.unwrap_or_else(|| format!("{intent}:charge"));
    format!("charge:{charge}")
}

/// Stripe's signature scheme: HMAC-SHA256 over `"<timestamp>.<body>"`.
fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    #[cfg(test)]
    tests::MACS.with(|count| count.set(count.get() + 1));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp` (for the simulator and tests).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let signature = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(signature))
}
