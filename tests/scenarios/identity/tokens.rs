use super::*;

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

on_both_stores!(
    every_bad_token_is_a_401_and_writes_nothing,
    a_guest_and_a_customer_share_the_cart_routes,
    cognito_access_tokens_are_accepted_by_client_id_when_so_configured,
);
