//! Identity on the routes guests and customers share: the functions verify a bearer token
//! themselves against the identity provider's JWKS (RS256 keys made for these tests, a JWKS
//! server on 127.0.0.1). A token that does not verify is a 401 with nothing written, never a
//! guest; guests never cause a key fetch; and a signed-in customer checks out through the
//! Lambda handlers exactly as API Gateway invokes them.

use std::time::Duration;

use axum::Router;
use http::StatusCode;
use http_body_util::BodyExt;
use tower::ServiceExt;

use checkout_http::jwks::{AudienceClaim, TokenError};
use checkout_tests::identity::{self, access_claims, claims, sign, token, IdentityProvider};
use checkout_tests::serde_json::{json, Value};
use checkout_tests::{on_both_stores, ready_actions, App, Backend, CartRef, WEBHOOK_SECRET};

/// Every kind of token the functions must refuse, by name.
fn bad_tokens() -> Vec<(&'static str, String)> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |field: &str, value: Value| {
        let mut claims = claims("mallory");
        claims[field] = value;
        claims
    };
    let mut no_sub = claims("mallory");
    no_sub.as_object_mut().unwrap().remove("sub");
    vec![
        ("malformed", "not-a-jwt".to_string()),
        ("empty", String::new()),
        (
            "unsigned (alg none)",
            identity::unsigned(&claims("mallory")),
        ),
        (
            "HS256 signed with the public key",
            identity::hs256_with_public_key(&claims("mallory")),
        ),
        (
            "expired",
            token_with(&with("exp", json!(now - 3600)), identity::SIGNING_KEY),
        ),
        (
            "not yet valid",
            token_with(&with("nbf", json!(now + 3600)), identity::SIGNING_KEY),
        ),
        (
            "wrong audience",
            token_with(&with("aud", json!("another-app")), identity::SIGNING_KEY),
        ),
        (
            "wrong issuer",
            token_with(
                &with("iss", json!("https://evil.example.com")),
                identity::SIGNING_KEY,
            ),
        ),
        (
            "signed by another key under the provider's key id",
            token_with(&claims("mallory"), identity::ROTATED_KEY),
        ),
        (
            "a key id the provider does not have",
            sign(&claims("mallory"), identity::ROTATED_KEY, "idp-key-9"),
        ),
        ("no subject", token_with(&no_sub, identity::SIGNING_KEY)),
        (
            "tampered claims",
            tamper(&token("alice"), &claims("mallory")),
        ),
    ]
}

fn token_with(claims: &Value, pem: &str) -> String {
    sign(claims, pem, identity::KEY_ID)
}

/// `token` with its payload swapped for `claims`, signature kept.
fn tamper(token: &str, claims: &Value) -> String {
    use base64::Engine;
    let parts: Vec<&str> = token.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

async fn every_bad_token_is_a_401_and_writes_nothing(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await.behind_api_gateway(idp.jwks());
    let (guest, mut cart) = app.guest_with_cart("EUR", "DE").await;
    guest
        .update(&mut cart, ready_actions(&[("MUG", 1)]))
        .await
        .assert_status(StatusCode::OK);
    app.pay(&mut cart, None).await;
    assert_eq!(idp.fetches(), 0, "a guest never causes a key fetch");

    for (name, bad) in bad_tokens() {
        let caller = guest
            .clone()
            .with_header("authorization", &format!("Bearer {bad}"));
        let attempts = [
            caller
                .post(
                    &format!("/carts/{}", cart.id),
                    json!({"version": cart.version, "actions": [
                        {"action": "addLineItem", "sku": "MUG", "quantity": 1}]}),
                )
                .await,
            caller
                .post("/orders", checkout_tests::order_request(&cart))
                .await,
            caller
                .post("/carts", json!({"currency": "EUR", "country": "DE"}))
                .await,
            caller.get(&format!("/carts/{}", cart.id)).await,
        ];
        for refused in attempts {
            let problem = refused.assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
            assert_eq!(problem["recovery"], "sign_in", "{name}");
        }
    }
    for scheme in ["Basic YWxpY2U6c2VjcmV0", "Bearer", "Token abc"] {
        guest
            .clone()
            .with_header("authorization", scheme)
            .get(&format!("/carts/{}", cart.id))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let (stored, order) = app.stored(&cart).await;
    assert_eq!(stored.version, cart.version, "no refused request wrote");
    assert!(order.is_none(), "no order was placed");
    assert_eq!(app.stock("MUG").await, 100);
}

async fn a_guest_and_a_customer_share_the_cart_routes(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await.behind_api_gateway(idp.jwks());
    let (guest, guest_cart) = app.guest_with_cart("EUR", "DE").await;
    assert_eq!(idp.fetches(), 0, "guests never fetch keys");

    let alice = app
        .anonymous()
        .with_header("authorization", &format!("Bearer {}", token("alice")));
    let created = alice
        .post("/carts", json!({"currency": "EUR", "country": "DE"}))
        .await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["customerId"], "alice");
    assert!(created.body.get("sessionToken").is_none());
    let alice_cart = CartRef::from(&created.body);
    assert_eq!(idp.fetches(), 1, "the first token fetches the keys");

    alice
        .get(&format!("/carts/{}", alice_cart.id))
        .await
        .assert_status(StatusCode::OK);
    alice
        .get(&format!("/carts/{}", guest_cart.id))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    guest
        .get(&format!("/carts/{}", alice_cart.id))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    guest
        .get(&format!("/carts/{}", guest_cart.id))
        .await
        .assert_status(StatusCode::OK);
    let bob = app
        .anonymous()
        .with_header("authorization", &format!("Bearer {}", token("bob")));
    bob.get(&format!("/carts/{}", alice_cart.id))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "NotFound");
    app.anonymous()
        .with_header("authorization", &format!("bearer {}", token("alice")))
        .get(&format!("/carts/{}", alice_cart.id))
        .await
        .assert_status(StatusCode::OK);
    assert_eq!(idp.fetches(), 1, "the keys are cached");
}

#[tokio::test]
async fn keys_are_fetched_again_for_a_new_key_id_at_most_once_per_interval() {
    let idp = IdentityProvider::start().await;
    let rotated = sign(
        &claims("alice"),
        identity::ROTATED_KEY,
        identity::ROTATED_KEY_ID,
    );

    let jwks = idp.jwks();
    let eager = idp.jwks().with_refresh_interval(Duration::ZERO);
    for verifier in [&jwks, &eager] {
        verifier
            .verify(&token("alice"))
            .await
            .expect("a valid token");
    }
    assert_eq!(idp.fetches(), 2, "each verifier fetches on its first token");
    idp.rotate();
    assert!(
        jwks.verify(&rotated).await.is_err(),
        "within the interval an unknown key id fetches nothing"
    );
    let made_up = sign(&claims("x"), identity::ROTATED_KEY, "made-up");
    assert!(jwks.verify(&made_up).await.is_err());
    assert_eq!(idp.fetches(), 2);

    let who = eager
        .verify(&rotated)
        .await
        .expect("the rotated key, fetched");
    assert_eq!(who.customer.as_str(), "alice");
    assert_eq!(idp.fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_a_503_not_a_guest_and_not_a_401() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let jwks_url = format!(
        "http://{}/.well-known/jwks.json",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let jwks = checkout_http::jwks::Jwks::new(checkout_http::jwks::JwtSettings {
        issuer: identity::ISSUER.into(),
        audience: identity::AUDIENCE.into(),
        audience_claim: checkout_http::jwks::AudienceClaim::Aud,
        jwks_url,
    });
    let app = App::start(Backend::Memory).await.behind_api_gateway(jwks);
    let refused = app
        .anonymous()
        .with_header("authorization", &format!("Bearer {}", token("alice")))
        .post("/carts", json!({"currency": "EUR", "country": "DE"}))
        .await;
    refused.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable");
    assert!(refused.headers.contains_key("retry-after"));
    // Guests never need the provider.
    app.guest_with_cart("EUR", "DE").await;
}

/// A token with a made-up key id, `n`: none of them is among the provider's keys.
fn unknown_key(n: usize) -> String {
    sign(
        &claims("mallory"),
        identity::ROTATED_KEY,
        &format!("made-up-{n}"),
    )
}

/// Polls `condition` every 10 ms until it holds; fails after 5 s.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tokens_with_unknown_key_ids_at_once_cause_one_fetch() {
    let idp = IdentityProvider::start().await;
    let jwks = idp.jwks();
    let mut checks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let jwks = jwks.clone();
        checks.spawn(async move { jwks.verify(&unknown_key(n)).await });
    }
    let valid = jwks.clone();
    checks.spawn(async move { valid.verify(&token("alice")).await });
    let mut refused = 0;
    while let Some(checked) = checks.join_next().await {
        match checked.unwrap() {
            Ok(who) => assert_eq!(who.customer.as_str(), "alice"),
            Err(TokenError::UnknownKey(_)) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(refused, 20);
    assert_eq!(idp.fetches(), 1, "one fetch for all of them");
}

/// During the provider's outage a flood of tokens (their key ids unknown to a cold cache)
/// costs one fetch per interval, failed fetches counted: each is a 503's cause, not a 401's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_identity_provider_is_not_hammered() {
    let idp = IdentityProvider::start().await;
    idp.fail(true);
    let jwks = idp.jwks();
    let mut checks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (unknown, known) = (jwks.clone(), jwks.clone());
        checks.spawn(async move { unknown.verify(&unknown_key(n)).await });
        checks.spawn(async move { known.verify(&token("alice")).await });
    }
    while let Some(checked) = checks.join_next().await {
        assert!(
            matches!(checked.unwrap(), Err(TokenError::KeysUnavailable(_))),
            "the keys are unavailable, the tokens not refused"
        );
    }
    for n in 0..20 {
        assert!(jwks.verify(&unknown_key(n)).await.is_err());
    }
    assert_eq!(idp.fetches(), 1, "one failed fetch, not one per token");

    // Once the interval has passed, one fetch again; when the provider is back, it works.
    let quick = idp.jwks().with_refresh_interval(Duration::from_millis(200));
    assert!(quick.verify(&token("alice")).await.is_err());
    assert!(quick.verify(&token("alice")).await.is_err());
    assert_eq!(idp.fetches(), 2);
    idp.fail(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match quick.verify(&token("alice")).await {
            Ok(who) => break assert_eq!(who.customer.as_str(), "alice"),
            Err(TokenError::KeysUnavailable(_)) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never fetched again"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(idp.fetches(), 3, "one fetch after the interval");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_with_a_cached_key_does_not_wait_for_a_fetch_in_progress() {
    let idp = IdentityProvider::start().await;
    let jwks = idp.jwks().with_refresh_interval(Duration::ZERO);
    jwks.verify(&token("alice"))
        .await
        .expect("the keys, fetched");
    assert_eq!(idp.fetches(), 1);

    let held = idp.hold().await;
    let stuck = jwks.clone();
    let fetching = tokio::spawn(async move { stuck.verify(&unknown_key(1)).await });
    eventually("the fetch reaches the provider", || idp.fetches() == 2).await;
    let who = tokio::time::timeout(Duration::from_secs(5), jwks.verify(&token("bob")))
        .await
        .expect("a cached key is checked without waiting for the fetch")
        .expect("a valid token");
    assert_eq!(who.customer.as_str(), "bob");
    assert!(!fetching.is_finished(), "the fetch was still held");
    drop(held);
    assert!(matches!(
        fetching.await.unwrap(),
        Err(TokenError::UnknownKey(_))
    ));
}

/// Cognito's access tokens name the app client in `client_id` and carry no `aud`: with
/// `JWT_AUDIENCE_CLAIM=client_id` they are accepted (and another client's, or an ID token,
/// refused); by default, checking `aud`, they are a 401.
async fn cognito_access_tokens_are_accepted_by_client_id_when_so_configured(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let access = |client: &str| {
        sign(
            &access_claims("alice", client),
            identity::SIGNING_KEY,
            identity::KEY_ID,
        )
    };
    let mut id_token = claims("alice");
    id_token["token_use"] = json!("id");
    let id_token = sign(&id_token, identity::SIGNING_KEY, identity::KEY_ID);
    // The right client, but not an access token.
    let mut not_access = access_claims("alice", identity::AUDIENCE);
    not_access["token_use"] = json!("id");
    let not_access = sign(&not_access, identity::SIGNING_KEY, identity::KEY_ID);
    let create_cart = |app: &App, token: &str| {
        let client = app
            .anonymous()
            .with_header("authorization", &format!("Bearer {token}"));
        async move {
            client
                .post("/carts", json!({"currency": "EUR", "country": "DE"}))
                .await
        }
    };

    let by_client = App::start(backend)
        .await
        .behind_api_gateway(idp.jwks_by(AudienceClaim::ClientId));
    let created = create_cart(&by_client, &access(identity::AUDIENCE)).await;
    created.assert_status(StatusCode::CREATED);
    assert_eq!(created.body["customerId"], "alice");
    let cart = CartRef::from(&created.body);
    let alice = by_client.anonymous().with_header(
        "authorization",
        &format!("Bearer {}", access(identity::AUDIENCE)),
    );
    alice
        .get(&format!("/carts/{}", cart.id))
        .await
        .assert_status(StatusCode::OK);
    for refused in [access("another-app"), id_token.clone(), not_access] {
        create_cart(&by_client, &refused)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
        alice
            .clone()
            .with_header("authorization", &format!("Bearer {refused}"))
            .post("/orders", checkout_tests::order_request(&cart))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    }

    let by_aud = App::start(backend).await.behind_api_gateway(idp.jwks());
    create_cart(&by_aud, &access(identity::AUDIENCE))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    create_cart(&by_aud, &id_token)
        .await
        .assert_status(StatusCode::CREATED);
}

/// The three HTTP functions, routed as the HTTP API routes them.
struct Gateway {
    storefront: Router,
    create_order: Router,
    payment_webhook: Router,
}

impl Gateway {
    fn new(app: &App, idp: &IdentityProvider) -> Gateway {
        Gateway {
            storefront: checkout_http::lambda::storefront(app.storefront.clone(), idp.jwks()),
            create_order: checkout_http::lambda::create_order(app.storefront.clone(), idp.jwks()),
            payment_webhook: checkout_http::lambda::payment_webhook(
                app.storefront.clone(),
                &checkout_tests::webhooks(),
            ),
        }
    }

    /// Invokes the function behind `method path` with an HTTP API (payload 2.0) event built on
    /// the no-authorizer sample, as API Gateway invokes it on a route without the JWT
    /// authorizer. Returns the status and JSON body.
    async fn invoke(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, Value) {
        let mut event: Value = serde_json::from_str(include_str!(
            "../fixtures/aws/example-apigw-v2-request-no-authorizer.json"
        ))
        .unwrap();
        let route = format!("{method} {path}");
        event["routeKey"] = route.clone().into();
        event["requestContext"]["routeKey"] = route.into();
        event["rawPath"] = path.into();
        event["requestContext"]["http"]["method"] = method.into();
        event["requestContext"]["http"]["path"] = path.into();
        for (name, value) in headers {
            event["headers"][*name] = (*value).into();
        }
        if let Some(body) = body {
            event["headers"]["content-type"] = "application/json".into();
            event["headers"]["content-length"] = body.len().to_string().into();
            event["body"] = body.into();
        }
        let request = lambda_http::request::from_str(&event.to_string()).expect("an API event");
        let function = match path {
            "/orders" if method == "POST" => &self.create_order,
            "/webhooks/stripe" | "/webhooks/adyen" => &self.payment_webhook,
            _ => &self.storefront,
        };
        let response = function.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }
}

async fn a_signed_in_customer_orders_through_the_lambda_handlers(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await;
    let gateway = Gateway::new(&app, &idp);
    let bearer = format!("Bearer {}", token("carol"));
    let auth = [("authorization", bearer.as_str())];

    let (status, cart) = gateway
        .invoke(
            "POST",
            "/carts",
            &auth,
            Some(json!({"currency": "EUR", "country": "DE"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cart:#}");
    assert_eq!(cart["customerId"], "carol");
    let id = cart["id"].as_str().unwrap().to_string();
    let (status, cart) = gateway
        .invoke(
            "POST",
            &format!("/carts/{id}"),
            &auth,
            Some(
                json!({"version": cart["version"], "actions": ready_actions(&[("MUG", 2)])})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cart:#}");
    let version = cart["version"].as_u64().unwrap();

    let (status, payment) = gateway
        .invoke(
            "POST",
            &format!("/carts/{id}/payments"),
            &auth,
            Some("{}".into()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payment:#}");
    let event = app.payment_event(payment["pspReference"].as_str().unwrap(), true);
    let signature = checkout_adapters::stripe::sign(
        event.as_bytes(),
        WEBHOOK_SECRET,
        app.storefront.now().unix_timestamp(),
    );
    let (status, delivered) = gateway
        .invoke(
            "POST",
            "/webhooks/stripe",
            &[("stripe-signature", &signature)],
            Some(event),
        )
        .await;
    assert!(status.is_success(), "{delivered:#}");

    let (status, order) = gateway
        .invoke(
            "POST",
            "/orders",
            &[("authorization", &bearer), ("idempotency-key", "carol-1")],
            Some(json!({"cartId": id, "cartVersion": version}).to_string()),
        )
        .await;
    assert!(
        status == StatusCode::CREATED || status == StatusCode::OK,
        "{status}: {order:#}"
    );
    assert_eq!(order["customerId"], "carol");
    assert_eq!(order["paymentState"], "Paid");
    let number = order["orderNumber"].as_str().unwrap();

    let (status, read) = gateway
        .invoke("GET", &format!("/orders/{number}"), &auth, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{read:#}");
    assert_eq!(read["customerId"], "carol");
    let (status, _) = gateway
        .invoke("GET", &format!("/orders/{number}"), &[], None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a guest sees nothing");
    let (status, problem) = gateway
        .invoke(
            "GET",
            &format!("/orders/{number}"),
            &[("authorization", "Bearer forged")],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem:#}");
    assert_eq!(problem["code"], "Unauthorized");
    assert_eq!(
        idp.fetches(),
        2,
        "once per function (execution environment)"
    );
}

/// Adyen's notification through the payment-webhook function as API Gateway invokes it: its
/// Basic credentials are the webhook's to check, never taken for a customer's token.
async fn a_cart_paid_through_adyen_is_ordered_through_the_lambda_handlers(backend: Backend) {
    let idp = IdentityProvider::start().await;
    let app = App::start(backend).await;
    let gateway = Gateway::new(&app, &idp);
    let (guest, cart) = app.ready_guest_cart().await;
    let started = guest
        .post(
            &format!("/carts/{}/payments", cart.id),
            json!({"psp": "adyen"}),
        )
        .await;
    started.assert_status(StatusCode::CREATED);
    let session = started.body["pspReference"].as_str().unwrap();
    let credentials = checkout_adapters::adyen::signature::basic_credentials(
        checkout_tests::ADYEN_USER,
        checkout_tests::ADYEN_PASSWORD,
    );
    let notification = app.adyen_notification(session, true);
    let (status, _) = gateway
        .invoke(
            "POST",
            "/webhooks/adyen",
            &[("authorization", "Basic d3Jvbmc6d3Jvbmc=")],
            Some(notification.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong credentials");
    let (status, _) = gateway
        .invoke(
            "POST",
            "/webhooks/adyen",
            &[("authorization", &credentials)],
            Some(notification),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.stored(&cart).await.1.is_some(),
        "the order was committed"
    );
}

on_both_stores!(
    a_cart_paid_through_adyen_is_ordered_through_the_lambda_handlers,
    every_bad_token_is_a_401_and_writes_nothing,
    a_guest_and_a_customer_share_the_cart_routes,
    a_signed_in_customer_orders_through_the_lambda_handlers,
    cognito_access_tokens_are_accepted_by_client_id_when_so_configured,
);
