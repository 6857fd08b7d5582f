//! An identity provider for tests: RS256 keys (test-only, `fixtures/jwt/`), a JWKS endpoint on
//! 127.0.0.1 that counts its fetches, can rotate to a second key, fail (an outage) or hold
//! every fetch until released, and tokens signed as the provider (or an impostor) would sign
//! them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use checkout_http::jwks::{AudienceClaim, Jwks, JwtSettings};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

pub const ISSUER: &str = "https://idp.example.com/pool-1";
pub const AUDIENCE: &str = "storefront-client";

/// The provider's signing key (`kid` [`KEY_ID`]) and the one it rotates to.
pub const SIGNING_KEY: &str = include_str!("../fixtures/jwt/idp.key.pem");
pub const PUBLIC_KEY: &str = include_str!("../fixtures/jwt/idp.pub.pem");
pub const ROTATED_KEY: &str = include_str!("../fixtures/jwt/rotated.key.pem");
pub const KEY_ID: &str = "idp-key-1";
pub const ROTATED_KEY_ID: &str = "idp-key-2";
const JWKS: &str = include_str!("../fixtures/jwt/jwks.json");
const JWKS_ROTATED: &str = include_str!("../fixtures/jwt/jwks-rotated.json");

pub struct IdentityProvider {
    pub jwks_url: String,
    fetches: Arc<AtomicUsize>,
    rotated: Arc<AtomicBool>,
    failing: Arc<AtomicBool>,
    /// A fetch passes only while nobody holds this for writing (`hold`).
    gate: Arc<RwLock<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl IdentityProvider {
    /// Serves the JWKS on a free port of 127.0.0.1.
    pub async fn start() -> IdentityProvider {
        let fetches = Arc::new(AtomicUsize::new(0));
        let rotated = Arc::new(AtomicBool::new(false));
        let failing = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(RwLock::new(()));
        let (count, rotation, outage, pass) = (
            fetches.clone(),
            rotated.clone(),
            failing.clone(),
            gate.clone(),
        );
        let app = Router::new().route(
            "/.well-known/jwks.json",
            get(move || async move {
                // Counted on arrival, so a test sees a held fetch has started.
                count.fetch_add(1, Ordering::SeqCst);
                let _pass = pass.read().await;
                let status = if outage.load(Ordering::SeqCst) {
                    http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    http::StatusCode::OK
                };
                let body = if rotation.load(Ordering::SeqCst) {
                    JWKS_ROTATED
                } else {
                    JWKS
                };
                (status, [("content-type", "application/json")], body)
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        IdentityProvider {
            jwks_url: format!("http://{address}/.well-known/jwks.json"),
            fetches,
            rotated,
            failing,
            gate,
            server,
        }
    }

    /// How often the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// From now on the JWKS also lists the rotated key.
    pub fn rotate(&self) {
        self.rotated.store(true, Ordering::SeqCst);
    }

    /// From now on (`true`) every fetch answers 503, as during an outage; `false` ends it.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Every fetch from now on waits until the returned guard is dropped.
    pub async fn hold(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    pub fn settings(&self) -> JwtSettings {
        JwtSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            audience_claim: AudienceClaim::Aud,
            jwks_url: self.jwks_url.clone(),
        }
    }

    /// A verifier as the functions build it.
    pub fn jwks(&self) -> Jwks {
        Jwks::new(self.settings())
    }

    /// A verifier that finds the app client in `claim` (`JWT_AUDIENCE_CLAIM`).
    pub fn jwks_by(&self, claim: AudienceClaim) -> Jwks {
        Jwks::new(JwtSettings {
            audience_claim: claim,
            ..self.settings()
        })
    }
}

/// The claims of a valid token for `sub`, valid for an hour from now.
pub fn claims(sub: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now - 5,
           "exp": now + 3600, "token_use": "access"})
}

/// The claims of a Cognito access token for `sub` issued to the app client `client_id`: no
/// `aud`, the client in `client_id`, `token_use: access`.
pub fn access_claims(sub: &str, client_id: &str) -> Value {
    let mut claims = claims(sub);
    let object = claims.as_object_mut().unwrap();
    object.remove("aud");
    object.insert("client_id".into(), client_id.into());
    object.insert("token_use".into(), "access".into());
    claims
}

/// `claims` signed RS256 with `pem` under key id `kid`.
pub fn sign(claims: &Value, pem: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A valid token for `sub`, signed by the provider.
pub fn token(sub: &str) -> String {
    sign(&claims(sub), SIGNING_KEY, KEY_ID)
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"idp-key-1"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

/// HS256 "signed" with the provider's public key as the HMAC secret (the key confusion
/// attack on verifiers that let the token pick the algorithm).
pub fn hs256_with_public_key(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KEY_ID.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(PUBLIC_KEY.as_bytes()),
    )
    .unwrap()
}
