//! Bearer tokens from the shop's identity provider, verified by the function itself against
//! the provider's JWKS. Routes that guests and customers share (carts, payments,
//! `POST /orders`, `GET /orders/{orderNumber}`) cannot sit behind API Gateway's JWT
//! authorizer, which lets no anonymous request through; there a token, when one is sent, is
//! checked here. A bad token is a 401, never a guest.
//!
//! Keys are fetched on the first token (never on a guest's request), cached, and fetched
//! again when a token names a key id the cache does not know (a rotation at the provider),
//! at most once per [`REFRESH_INTERVAL`], failed fetches included, so a flood of made-up key
//! ids costs one fetch even while the provider is down. One fetch runs at a time and tokens
//! with unknown key ids wait for its outcome; the cache's lock is never held across it, so a
//! token whose key is cached never waits for a fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use checkout_domain::model::values::CustomerId;

/// The soonest the keys are fetched again for an unknown key id.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Where the identity provider's keys are and what its tokens must say.
/// The authenticated part of a caller, established before routing.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub customer: CustomerId,
    pub admin: bool,
    /// Every scope the token grants (its space-separated `scope` claim).
    pub scopes: Vec<String>,
}

impl Authenticated {
    /// The caller `sub` with the scopes of a `scope` claim.
    pub fn new(customer: CustomerId, scope: Option<&str>) -> Self {
        Self::with_scopes(customer, scope.map(scopes).unwrap_or_default())
    }

    pub fn with_scopes(customer: CustomerId, scopes: Vec<String>) -> Self {
        Authenticated {
            admin: scopes.iter().any(|s| s == "admin"),
            customer,
            scopes,
        }
    }
}

/// The scopes of a space-separated `scope` claim.
pub(crate) fn scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_string).collect()
}

/// Which claim of a token names the app client it was issued to (`JWT_AUDIENCE_CLAIM`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AudienceClaim {
    /// `aud`: ID tokens, and the access tokens of most providers.
    #[default]
    Aud,
    /// `client_id`, on a token whose `token_use` is `access`: Cognito's access tokens, which
    /// carry no `aud`. Its ID tokens (`token_use: id`) are refused then.
    ClientId,
}

impl AudienceClaim {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "aud" => Ok(AudienceClaim::Aud),
            "client_id" => Ok(AudienceClaim::ClientId),
            other => Err(format!(
                "JWT_AUDIENCE_CLAIM must be `aud` or `client_id`, not {other:?}"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    /// `iss` of the tokens (e.g. a Cognito user pool URL).
    pub issuer: String,
    /// The app client id the tokens must be issued to, in `audience_claim`.
    pub audience: String,
    /// The claim that carries `audience`.
    pub audience_claim: AudienceClaim,
    /// The provider's JWKS document (e.g. `<issuer>/.well-known/jwks.json`).
    pub jwks_url: String,
}

impl JwtSettings {
    /// From `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_JWKS_URL` and, optionally,
    /// `JWT_AUDIENCE_CLAIM` (`aud`, the default, or `client_id`).
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(JwtSettings {
            issuer: var("JWT_ISSUER")?,
            audience: var("JWT_AUDIENCE")?,
            audience_claim: match std::env::var("JWT_AUDIENCE_CLAIM") {
                Ok(claim) if !claim.is_empty() => AudienceClaim::parse(&claim)?,
                _ => AudienceClaim::default(),
            },
            jwks_url: var("JWT_JWKS_URL")?,
        })
    }
}

/// Why a token was refused (logged; the client only ever sees a 401).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token does not verify: {0}")]
    Invalid(String),
    #[error("the token's key id {0:?} is not among the provider's keys")]
    UnknownKey(Option<String>),
    #[error("the identity provider's keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, DecodingKey>,
    /// When the keys were last asked for, whatever came of it: the rate limit counts a
    /// failed fetch too.
    attempted_at: Option<Instant>,
    /// Why the last fetch failed, until one succeeds.
    failure: Option<String>,
}

/// Verifies RS256 tokens against the provider's JWKS. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct Jwks {
    settings: Arc<JwtSettings>,
    refresh_interval: Duration,
    http: reqwest::Client,
    /// Locked only to read or replace the keys, never across a fetch.
    cache: Arc<Mutex<Cache>>,
    /// Held by the one fetch in progress, so concurrent unknown key ids cause one fetch.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

/// The claims this system reads from a token: the identity provider's (Cognito access
/// tokens) and the local server's dev tokens alike.
#[derive(serde::Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    #[serde(default)]
    pub(crate) scope: Option<String>,
    #[serde(default)]
    pub(crate) client_id: Option<String>,
    #[serde(default)]
    pub(crate) token_use: Option<String>,
    /// Unix seconds (the identity provider's tokens are checked by `jsonwebtoken`).
    #[serde(default)]
    pub(crate) exp: Option<i64>,
}

impl Jwks {
    pub fn new(settings: JwtSettings) -> Self {
        Jwks {
            settings: Arc::new(settings),
            refresh_interval: REFRESH_INTERVAL,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            cache: Arc::default(),
            refresh: Arc::default(),
        }
    }

    /// The same verifier, fetching again for an unknown key id at most once per `interval`.
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The caller a token proves, or why it proves nothing.
    pub async fn verify(&self, token: &str) -> Result<Authenticated, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        // Only the provider's asymmetric algorithm: `none` does not even parse, and an HS256
        // token "signed" with the public key is refused here.
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey(None))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        match self.settings.audience_claim {
            AudienceClaim::Aud => {
                validation.set_audience(&[&self.settings.audience]);
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            }
            // Checked below, on the claims.
            AudienceClaim::ClientId => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            }
        }
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if self.settings.audience_claim == AudienceClaim::ClientId {
            if data.claims.token_use.as_deref() != Some("access") {
                return Err(TokenError::Invalid("token_use is not access".into()));
            }
            if data.claims.client_id.as_deref() != Some(self.settings.audience.as_str()) {
                return Err(TokenError::Invalid(
                    "client_id is not the app client".into(),
                ));
            }
        }
        Ok(Authenticated::new(
            CustomerId::parse(&data.claims.sub)
                .map_err(|e| TokenError::Invalid(format!("sub {e}")))?,
            data.claims.scope.as_deref(),
        ))
    }

    /// The key with id `kid`: from the cache, or after a (rate-limited) fetch.
    async fn key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        // One fetch at a time: whoever waited here finds the keys it brought (or, within the
        // interval, learns that the key id is unknown or the provider down) without fetching.
        let refreshing = self.refresh.clone().lock_owned().await;
        {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(key) = cache.keys.get(kid) {
                return Ok(key.clone());
            }
            let due = cache
                .attempted_at
                .is_none_or(|at| at.elapsed() >= self.refresh_interval);
            if !due {
                return Err(match &cache.failure {
                    Some(cause) => TokenError::KeysUnavailable(cause.clone()),
                    None => TokenError::UnknownKey(Some(kid.to_string())),
                });
            }
            cache.attempted_at = Some(Instant::now());
        }
        // In a task of its own, holding the single-flight lock, so that a request dropped
        // mid-fetch neither cancels the fetch nor lets a second one start beside it.
        let jwks = self.clone();
        let fetched = tokio::spawn(async move {
            let fetched = jwks.fetch().await;
            let mut cache = jwks.cache.lock().unwrap_or_else(PoisonError::into_inner);
            match &fetched {
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "fetched the identity provider's keys");
                    cache.keys = keys.clone();
                    cache.failure = None;
                }
                Err(TokenError::KeysUnavailable(cause)) => {
                    tracing::warn!(%cause, "fetching the identity provider's keys failed");
                    cache.failure = Some(cause.clone());
                }
                Err(other) => cache.failure = Some(other.to_string()),
            }
            drop(refreshing);
            fetched
        })
        .await
        .map_err(|e| TokenError::KeysUnavailable(e.to_string()))??;
        fetched
            .get(kid)
            .cloned()
            .ok_or_else(|| TokenError::UnknownKey(Some(kid.to_string())))
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.keys.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, TokenError> {
        let unavailable = |e: reqwest::Error| TokenError::KeysUnavailable(e.to_string());
        let set: JwkSet = self
            .http
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_claim_is_aud_or_client_id() {
        assert_eq!(AudienceClaim::parse("aud"), Ok(AudienceClaim::Aud));
        assert_eq!(
            AudienceClaim::parse("client_id"),
            Ok(AudienceClaim::ClientId)
        );
        assert!(AudienceClaim::parse("clientId").is_err());
        assert_eq!(AudienceClaim::default(), AudienceClaim::Aud);
    }
}
