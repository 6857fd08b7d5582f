//! Who is calling. In Lambda: on routes behind API Gateway's JWT authorizer, its claims in
//! the request context; on routes guests and customers share, a bearer token the function
//! verifies itself against the identity provider's JWKS (`crate::jwks`). The local server
//! verifies an HS256 dev token and fills in the same thing. Guest carts add the
//! `X-Session-Id` header. No other header is ever trusted for identity, and a token that does
//! not verify is a 401, never a guest.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::jwks::{scopes, Authenticated, Claims, Jwks, TokenError};
use crate::problem::ApiError;
use checkout_domain::model::identity::Caller;
use checkout_domain::model::values::{CustomerId, SessionToken};
use checkout_domain::{Error, StoreError};

pub const SESSION_HEADER: &str = "x-session-id";

/// When this invocation must be done: an idempotency lock taken now expires then, so a
/// crashed or timed-out invocation never wedges a key.
#[derive(Debug, Clone, Copy)]
pub struct Deadline(pub time::OffsetDateTime);

/// Outside Lambda (the local server, tests), requests get this long.
pub const LOCAL_DEADLINE: time::Duration = time::Duration::seconds(30);

impl<S: Send + Sync> FromRequestParts<S> for Deadline {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Deadline>()
            .copied()
            .unwrap_or_else(|| Deadline(time::OffsetDateTime::now_utc() + LOCAL_DEADLINE)))
    }
}

/// The token of an `Authorization` header, if the request has one (the `Bearer` scheme, in
/// any case, stripped; any other value is taken whole, and fails verification).
/// The providers' webhooks authenticate their sender themselves (Stripe's signature,
/// Adyen's Basic credentials and HMAC): an `Authorization` header there is theirs to check,
/// never a customer's token.
fn is_webhook(request: &Request) -> bool {
    request.uri().path().starts_with("/webhooks/")
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .unwrap_or_default()
        .trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
        _ => value,
    };
    Some(token.trim().to_string())
}

/// Middleware for Lambda: the invocation's deadline, and the caller from the JWT authorizer's
/// claims in the API Gateway context or, on routes without the authorizer, from a bearer
/// token verified against the provider's keys (`jwks`; without one, no token is accepted).
pub async fn from_lambda_context(
    axum::extract::State(jwks): axum::extract::State<Option<Jwks>>,
    mut request: Request,
    next: Next,
) -> Response {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    if let Some(deadline) = request.lambda_context_ref().and_then(|context| {
        time::OffsetDateTime::from_unix_timestamp_nanos(context.deadline as i128 * 1_000_000).ok()
    }) {
        request.extensions_mut().insert(Deadline(deadline));
    }
    let from_authorizer = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| {
                let customer = CustomerId::parse(jwt.claims.get("sub")?).ok()?;
                let mut granted = jwt
                    .claims
                    .get("scope")
                    .map(|s| scopes(s))
                    .unwrap_or_default();
                granted.extend(jwt.scopes.iter().flatten().cloned());
                Some(Authenticated::with_scopes(customer, granted))
            }),
        _ => None,
    };
    let token = (!is_webhook(&request))
        .then(|| bearer(request.headers()))
        .flatten();
    let authenticated = match (from_authorizer, token) {
        (Some(authenticated), _) => Some(authenticated),
        (None, None) => None,
        (None, Some(token)) => {
            let Some(jwks) = jwks else {
                return ApiError(Error::Unauthorized).into_response();
            };
            match jwks.verify(&token).await {
                Ok(authenticated) => Some(authenticated),
                Err(TokenError::KeysUnavailable(cause)) => {
                    return ApiError(Error::Store(StoreError::new(cause))).into_response()
                }
                Err(refused) => {
                    tracing::info!(%refused, "bearer token refused");
                    return ApiError(Error::Unauthorized).into_response();
                }
            }
        }
    };
    if let Some(authenticated) = authenticated {
        request.extensions_mut().insert(authenticated);
    }
    next.run(request).await
}

/// Signs and verifies the local server's development tokens (HS256 JWTs).
#[derive(Clone)]
pub struct DevTokens {
    secret: Vec<u8>,
}

impl DevTokens {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        DevTokens {
            secret: secret.into(),
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts keys of any length")
    }

    /// A token for `sub`, valid for a day, with `scope` if given (e.g. `"admin"`).
    pub fn issue(&self, sub: &str, scope: Option<&str>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 86_400;
        let mut claims = serde_json::json!({"sub": sub, "exp": exp});
        if let Some(scope) = scope {
            claims["scope"] = scope.into();
        }
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = self.mac();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }

    pub fn verify(&self, token: &str) -> Option<Authenticated> {
        let mut parts = token.split('.');
        let (encoded_header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded_header).ok()?).ok()?;
        if header["alg"] != "HS256" {
            return None;
        }
        let mut mac = self.mac();
        mac.update(format!("{encoded_header}.{payload}").as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?)
            .ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims
            .exp
            .is_some_and(|exp| exp < time::OffsetDateTime::now_utc().unix_timestamp())
        {
            return None;
        }
        Some(Authenticated::new(
            CustomerId::parse(&claims.sub).ok()?,
            claims.scope.as_deref(),
        ))
    }

    /// Middleware for the local server: a present but invalid token is a 401, not a guest.
    pub async fn middleware(
        axum::extract::State(tokens): axum::extract::State<DevTokens>,
        mut request: Request,
        next: Next,
    ) -> Response {
        let token = (!is_webhook(&request))
            .then(|| bearer(request.headers()))
            .flatten();
        if let Some(token) = token {
            match tokens.verify(&token) {
                Some(authenticated) => {
                    request.extensions_mut().insert(authenticated);
                }
                None => return ApiError(Error::Unauthorized).into_response(),
            }
        }
        next.run(request).await
    }
}

/// Extracts the `Caller` of a request.
pub struct Identity(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let authenticated = parts.extensions.get::<Authenticated>().cloned();
        let session = parts
            .headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(SessionToken::from_client);
        Ok(Identity(Caller {
            customer: authenticated.as_ref().map(|a| a.customer.clone()),
            admin: authenticated.as_ref().is_some_and(|a| a.admin),
            scopes: authenticated.map(|a| a.scopes).unwrap_or_default(),
            session,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_tokens_round_trip_and_reject_tampering() {
        let tokens = DevTokens::new("dev-secret");
        let token = tokens.issue("alice", Some("openid admin"));
        let who = tokens.verify(&token).unwrap();
        assert_eq!(who.customer.as_str(), "alice");
        assert!(who.admin);
        assert!(DevTokens::new("other").verify(&token).is_none());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 2, 'x');
        assert!(tokens.verify(&tampered).is_none());
        assert!(!tokens.verify(&tokens.issue("bob", None)).unwrap().admin);
    }
}
